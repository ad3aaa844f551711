//! Drivers: the code that talks to the world. They know nothing of plans, the executor, the
//! state store or validation: they take the desired state ([`NodeSpec`], [`SiteSpec`]: typed
//! data the plan computed) and answer with facts or progress. They never print: what they
//! have to say goes through `tracing` or into their errors.
//!
//! Three interfaces, shaped after the real protocols (MAAS, Redfish, IPMI):
//! - [`Provisioner`]: identify, commission (configure hardware), apply networking, storage and
//!   platform, deploy, destroy, observe;
//! - [`OobDriver`]: power on/off/cycle, next boot device, power state, hardware inventory;
//! - [`SiteDriver`]: verify services, prepare the site (networks, credentials, images).
//!
//! Long operations never block: they answer [`Progress::Done`] or
//! [`Progress::Pending`] ("in progress, ask again after D"), and the executor polls. Errors are
//! [`DriverError::Transient`] (retry) or [`DriverError::Permanent`] (fail this node's task).
//!
//! Every operation is idempotent (check, then act): called again after it succeeded, or after
//! a crash half-way, it finds the work done and answers `Done` without redoing it.
//!
//! - `sim`: the embedded simulator, the default provisioner, BMC and site services;
//! - `maas`: a MAAS region through its REST API (provisioner, site services, and the power
//!   MAAS drives itself);
//! - `pxe`: drydock as its own provisioner, through its boot service (`crate::boot`);
//! - `redfish`, `ipmi`, `libvirt`, `manual`: BMC drivers (`oob.type`); `credential` resolves
//!   BMC credentials, `endpoints` serializes calls to one BMC.

pub mod credential;
pub mod endpoints;
pub mod ipmi;
pub mod libvirt;
pub mod maas;
pub mod manual;
pub mod pxe;
pub mod redfish;
pub mod sim;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::observed::{Power, Status};
pub use crate::spec::{NodeSpec, OobKind, OobSpec, SiteSpec};
pub use crate::vocab::Secret;

/// What a long operation answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Not finished: ask again after this long. `what` says what is being waited for.
    Pending {
        after: Duration,
        what: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// Worth retrying: a timeout, a 5xx, a dropped connection, a busy BMC.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help: wrong credentials, a machine that failed commissioning.
    #[error("{0}")]
    Permanent(String),
}

impl DriverError {
    pub fn is_transient(&self) -> bool {
        matches!(self, DriverError::Transient(_))
    }
}

pub type DriverResult<T> = Result<T, DriverError>;

/// What a provisioner reports about one machine.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Machine {
    pub status: Status,
    pub power: Power,
    pub deployed_fingerprint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    On,
    Off,
    /// Power off then on (or on, when off).
    Cycle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    Pxe,
    Disk,
}

/// Basic hardware inventory, for VerifyNode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub model: Option<String>,
    pub serial: Option<String>,
    pub memory_gib: Option<u64>,
    pub cpus: Option<u64>,
    pub macs: Vec<String>,
}

/// A provisioner (MAAS, or the simulator).
///
/// # Guarantees
/// Every method is idempotent and safe to call again after a crash at any point: it checks the
/// machine's state before acting. `observe` changes nothing.
///
/// # Assumptions
/// The executor serializes calls for one node; calls for different nodes run concurrently.
///
/// # Errors
/// `Transient` for what a retry may fix, `Permanent` otherwise; the message says what failed
/// and never contains a credential.
#[async_trait::async_trait]
pub trait Provisioner: Send + Sync {
    fn name(&self) -> &str;
    /// Site-level objects the provisioner holds that the design does not name (`links`: the
    /// design's link names, `cidrs`: its networks' CIDRs), e.g. `fabric lab-7`: PrepareSite
    /// leaves them alone and the plan lists them. Most provisioners hold none.
    async fn foreign(&self, _links: &[String], _cidrs: &[String]) -> DriverResult<Vec<String>> {
        Ok(Vec::new())
    }
    /// The machines the provisioner knows, by node name.
    async fn observe(&self, nodes: &[String]) -> DriverResult<BTreeMap<String, Machine>>;
    /// Find (or enlist) the machine behind the node.
    async fn identify(&self, node: &NodeSpec) -> DriverResult<Progress>;
    /// Commission: inventory and configure the hardware.
    async fn configure_hardware(&self, node: &NodeSpec) -> DriverResult<Progress>;
    async fn apply_networking(&self, node: &NodeSpec) -> DriverResult<Progress>;
    async fn apply_storage(&self, node: &NodeSpec) -> DriverResult<Progress>;
    async fn apply_platform(&self, node: &NodeSpec) -> DriverResult<Progress>;
    /// Install the OS with the node's configuration (its fingerprint is recorded).
    async fn deploy(&self, node: &NodeSpec) -> DriverResult<Progress>;
    /// Wait for the boot actions' final status.
    async fn boot_action_report(&self, node: &NodeSpec) -> DriverResult<Progress>;
    /// Apply changes that need no redeploy (tags, owner data, BMC settings), and make the
    /// machine report the node's new fingerprint (`Machine::deployed_fingerprint`).
    async fn update_metadata(&self, node: &NodeSpec) -> DriverResult<Progress>;
    /// Release the machine (erase it, power it off); it stays known.
    async fn destroy(&self, node: &NodeSpec) -> DriverResult<Progress>;
}

/// An out-of-band (BMC) driver.
///
/// # Guarantees
/// `set_power` and `set_boot_device` are idempotent: asking for the state a machine is
/// already in does nothing. `Cycle` is the exception by nature (it reboots again).
#[async_trait::async_trait]
pub trait OobDriver: Send + Sync {
    fn name(&self) -> &str;
    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power>;
    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress>;
    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress>;
    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory>;
}

/// Site services.
#[async_trait::async_trait]
pub trait SiteDriver: Send + Sync {
    async fn verify_services(&self) -> DriverResult<Progress>;
    async fn prepare_networks(&self, site: &SiteSpec) -> DriverResult<Progress>;
    async fn prepare_credentials(&self, site: &SiteSpec) -> DriverResult<Progress>;
    async fn prepare_images(&self, site: &SiteSpec) -> DriverResult<Progress>;
}
