//! `oob.type: manual`: nothing to drive, as in Drydock. The operator powers the node and sets
//! its boot device; every call succeeds without doing anything, and says so in the log. The
//! plan says so too (a reason on the node). Also `Unsupported`, for BMC types drydock has no
//! driver for.

use crate::driver::{
    BootDevice, DriverResult, Inventory, NodeSpec, OobDriver, PowerAction, Progress,
};
use crate::model::observed::Power;

pub struct Manual;

#[async_trait::async_trait]
impl OobDriver for Manual {
    fn name(&self) -> &str {
        "manual"
    }

    async fn power_state(&self, _node: &NodeSpec) -> DriverResult<Power> {
        Ok(Power::Unknown)
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        tracing::info!(node = %node.name, ?action, "manual BMC: the operator powers this node; nothing to drive");
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        tracing::info!(node = %node.name, ?device, "manual BMC: the operator sets the boot device; nothing to drive");
        Ok(Progress::Done)
    }

    async fn interrogate(&self, _node: &NodeSpec) -> DriverResult<Inventory> {
        Ok(Inventory::default())
    }
}

/// A BMC type drydock has no driver for (`libvirt` for now): every call fails permanently,
/// naming the type, so a node is never driven by the wrong protocol.
pub struct Unsupported(pub &'static str);

#[async_trait::async_trait]
impl OobDriver for Unsupported {
    fn name(&self) -> &str {
        self.0
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        Err(self.refuse(node))
    }

    async fn set_power(&self, node: &NodeSpec, _: PowerAction) -> DriverResult<Progress> {
        Err(self.refuse(node))
    }

    async fn set_boot_device(&self, node: &NodeSpec, _: BootDevice) -> DriverResult<Progress> {
        Err(self.refuse(node))
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        Err(self.refuse(node))
    }
}

impl Unsupported {
    fn refuse(&self, node: &NodeSpec) -> crate::driver::DriverError {
        crate::driver::DriverError::Permanent(format!(
            "{} has oob.type {}, which this drydock cannot drive; use redfish, ipmi or manual, or --bmc simulated",
            node.name, self.0
        ))
    }
}
