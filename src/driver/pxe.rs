//! The PXE provisioner (`--provisioner pxe`): drydock provisions machines itself through its
//! boot service (`crate::boot`) and the nodes' BMCs, as Pelagos-style sites do without MAAS.
//!
//! One netboot per deploy. `identify` registers the machine by its boot MAC and arms a deploy
//! (a one-time token); PrepareNode's PXE boot and power cycle boot the deploy agent, which
//! reports the hardware (`configure_hardware` waits for it and checks it: the boot MAC among
//! the NICs, a disk); the apply-* steps check that the design can be deployed on that
//! hardware (the deploy script is built as a dry run); `deploy` releases the deploy script to
//! the waiting agent (or netboots the machine again when no agent waits, after a rerun),
//! follows its phases, fails with the reason when the agent reports a failure or the machine
//! powers off before it reported completion, and when the disk is written waits for the agent
//! to power off, sets the boot device to disk and powers the node on; `boot_action_report`
//! waits for the signals of the node's signaling boot actions; the token dies when the deploy
//! ends. `destroy` releases the machine (token gone, powered off; the disk is not erased).
//!
//! Without a running boot service (`plan`, `status`) only `observe` works: from the boot
//! records in the state directory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::boot::records::{Records, Stage};
use crate::boot::{ActionReport, BootState, script};
use crate::driver::{
    BootDevice, DriverError, DriverResult, Machine, NodeSpec, OobDriver, OobKind, PowerAction,
    Progress, Provisioner, SiteDriver, SiteSpec,
};
use crate::model::observed::{Power, Status};
use crate::vocab::now_ms;

/// How often a waiting step asks again.
const POLL: Duration = Duration::from_secs(2);

pub struct Pxe {
    boot: Option<Arc<BootState>>,
    read_only: Option<Records>,
    oob: HashMap<OobKind, Arc<dyn OobDriver>>,
    default_oob: Arc<dyn OobDriver>,
    health: Option<Health>,
}

/// What `verify_services` checks: the HTTP listener's address and dnsmasq's status.
#[derive(Clone)]
pub struct Health {
    pub addr: std::net::SocketAddr,
    pub dnsmasq: Option<Arc<dyn Fn() -> Option<u32> + Send + Sync>>,
}

fn permanent(s: impl Into<String>) -> DriverError {
    DriverError::Permanent(s.into())
}

fn pending(what: String) -> DriverResult<Progress> {
    Ok(Progress::Pending { after: POLL, what })
}

impl Pxe {
    /// A provisioner on a running boot service, driving power and boot through `oob` (by
    /// `oob.type`; `default_oob` for the others).
    pub fn new(
        boot: Arc<BootState>,
        oob: HashMap<OobKind, Arc<dyn OobDriver>>,
        default_oob: Arc<dyn OobDriver>,
        health: Health,
    ) -> Pxe {
        Pxe {
            boot: Some(boot),
            read_only: None,
            oob,
            default_oob,
            health: Some(health),
        }
    }

    /// Observing only, from the boot records as they stand (`plan`, `status`).
    pub fn observer(state_dir: &std::path::Path) -> Result<Pxe, String> {
        let r = Records::read(&crate::boot::dir(state_dir)).map_err(|e| e.to_string())?;
        Ok(Pxe {
            boot: None,
            read_only: Some(r),
            oob: HashMap::new(),
            default_oob: Arc::new(crate::driver::manual::Manual),
            health: None,
        })
    }

    fn boot(&self) -> DriverResult<&Arc<BootState>> {
        self.boot.as_ref().ok_or_else(|| {
            permanent(
                "the PXE provisioner has no boot service running (it was opened to observe only)",
            )
        })
    }

    fn records(&self) -> &Records {
        match (&self.boot, &self.read_only) {
            (Some(b), _) => &b.records,
            (None, Some(r)) => r,
            (None, None) => unreachable!("a Pxe has records"),
        }
    }

    fn oob_for(&self, node: &NodeSpec) -> &dyn OobDriver {
        node.oob
            .kind
            .and_then(|k| self.oob.get(&k))
            .unwrap_or(&self.default_oob)
            .as_ref()
    }

    async fn update<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut crate::boot::Record) -> R,
    ) -> DriverResult<R> {
        self.boot()?
            .records
            .update(name, f)
            .await
            .map_err(DriverError::Permanent)
    }

    /// Arm a deploy and netboot the machine into the agent.
    async fn netboot(&self, node: &NodeSpec) -> DriverResult<()> {
        let boot = self.boot()?;
        boot.arm(Arc::new(node.clone()))
            .await
            .map_err(DriverError::Permanent)?;
        let oob = self.oob_for(node);
        oob.set_boot_device(node, BootDevice::Pxe).await?;
        oob.set_power(node, PowerAction::Cycle).await?;
        tracing::info!(node = %node.name, "netbooting into the deploy agent");
        Ok(())
    }

    /// The agent has not reported within the boot timeout: say what was seen.
    fn boot_timed_out(&self, node: &NodeSpec, rec: &crate::boot::Record) -> Option<DriverError> {
        let boot = self.boot.as_ref()?;
        let since = rec.armed_ms?;
        let limit = boot.config.boot_timeout_secs * 1000;
        (now_ms().saturating_sub(since) > limit).then(|| {
            permanent(format!(
                "the deploy agent of {} did not report within {} s of the netboot (last seen: {}); check the node's console, its boot MAC {} and the PXE network",
                node.name,
                boot.config.boot_timeout_secs,
                rec.last_phase().unwrap_or("nothing"),
                node.boot_mac.as_deref().unwrap_or("(none)")
            ))
        })
    }

    /// Check the agent's hardware report against the design.
    fn check_inventory(&self, node: &NodeSpec, rec: &crate::boot::Record) -> DriverResult<()> {
        let Some(inv) = &rec.inventory else {
            return Err(permanent(format!(
                "{} has no hardware report from its deploy agent",
                node.name
            )));
        };
        if let Some(mac) = &node.boot_mac {
            let want = crate::boot::normal_mac(mac);
            if !inv.nics.iter().any(|n| n.mac == want) {
                let macs: Vec<&str> = inv.nics.iter().map(|n| n.mac.as_str()).collect();
                return Err(permanent(format!(
                    "the machine that booted as {} has no NIC with its boot MAC {want} (it has {}); is metadata.boot_mac right?",
                    node.name,
                    macs.join(", ")
                )));
            }
        }
        if inv.disks.is_empty() {
            return Err(permanent(format!(
                "the deploy agent of {} found no disk",
                node.name
            )));
        }
        Ok(())
    }

    /// The deploy script, built as a dry run (the HTTP service builds it again for the agent).
    fn dry_run(&self, node: &NodeSpec) -> DriverResult<()> {
        let boot = self.boot()?;
        let rec = self.records().get(&node.name).unwrap_or_default();
        let image_name = node.platform.image.as_deref().ok_or_else(|| {
            permanent(format!(
                "{} has no platform.image: the PXE provisioner deploys an image of its catalogue",
                node.name
            ))
        })?;
        let c = boot.config.images.get(image_name).ok_or_else(|| {
            permanent(format!(
                "image `{image_name}` of {} is not in the boot service's catalogue; add it under `images` in the boot config (it has: {})",
                node.name,
                boot.config.images.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if c.mode == crate::boot::config::DeployMode::Installer {
            return Ok(());
        }
        let img = crate::boot::http::image_ref(boot, node).map_err(DriverError::Permanent)?;
        if let Some(inv) = &rec.inventory {
            script::deploy(node, inv, &img).map_err(DriverError::Permanent)?;
        }
        for ba in &node.boot_actions {
            for a in &ba.assets {
                if a.kind != "pkg_list" {
                    let cx = boot.action_context(&node.name, &ba.name, "");
                    crate::boot::cloudinit::render_asset(a, node, &cx).map_err(|e| {
                        permanent(format!("node {}: boot action {}: {e}", node.name, ba.name))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The disk is written: wait for the agent's power-off, then boot the disk.
    async fn boot_disk(
        &self,
        node: &NodeSpec,
        rec: &crate::boot::Record,
    ) -> DriverResult<Progress> {
        let oob = self.oob_for(node);
        match oob.power_state(node).await? {
            Power::Off => {}
            Power::On | Power::Unknown => {
                // The agent powers off right after it reports; give it a minute.
                let written = rec.phases.last().map_or(0, |(t, _)| *t);
                if now_ms().saturating_sub(written) < 60_000 {
                    return pending(format!(
                        "{}: waiting for the deploy agent to power off",
                        node.name
                    ));
                }
                oob.set_power(node, PowerAction::Off).await?;
            }
        }
        oob.set_boot_device(node, BootDevice::Disk).await?;
        oob.set_power(node, PowerAction::On).await?;
        let fp = node.fingerprint.clone();
        let signaling = node.boot_actions.iter().any(|a| a.signaling);
        self.update(&node.name, |r| {
            r.status = Status::Deployed;
            r.deployed_fingerprint = Some(fp);
            r.stage = Stage::Idle;
            r.push_phase(now_ms(), "deployed: booting the disk".into());
        })
        .await?;
        if !signaling {
            self.boot()?
                .disarm(&node.name)
                .await
                .map_err(DriverError::Permanent)?;
        }
        tracing::info!(node = %node.name, "deployed; booting its disk");
        Ok(Progress::Done)
    }
}

#[async_trait::async_trait]
impl Provisioner for Pxe {
    fn name(&self) -> &str {
        "pxe"
    }

    async fn observe(&self, _nodes: &[String]) -> DriverResult<BTreeMap<String, Machine>> {
        Ok(self
            .records()
            .all()
            .into_iter()
            .filter(|(_, r)| r.status != Status::Unknown)
            .map(|(n, r)| {
                (
                    n,
                    Machine {
                        status: r.status,
                        power: Power::Unknown,
                        deployed_fingerprint: r.deployed_fingerprint,
                    },
                )
            })
            .collect())
    }

    async fn identify(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        if node.boot_mac.is_none() {
            return Err(permanent(format!(
                "{} has no metadata.boot_mac: the PXE provisioner knows a machine by the MAC it boots from",
                node.name
            )));
        }
        let rec = self.records().get(&node.name).unwrap_or_default();
        if rec.status == Status::Deployed
            && rec.deployed_fingerprint.as_deref() == Some(&node.fingerprint)
        {
            return Ok(Progress::Done);
        }
        // Armed before PrepareNode's power cycle, so the machine finds its script.
        if !boot.armed(&node.name) {
            boot.arm(Arc::new(node.clone()))
                .await
                .map_err(DriverError::Permanent)?;
        }
        Ok(Progress::Done)
    }

    async fn configure_hardware(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        let rec = self.records().get(&node.name).unwrap_or_default();
        if rec.status == Status::Deployed
            && rec.deployed_fingerprint.as_deref() == Some(&node.fingerprint)
        {
            return Ok(Progress::Done);
        }
        if !boot.armed(&node.name) {
            // A rerun resumed here: this process has no token for the machine's agent.
            self.netboot(node).await?;
            return pending(format!("{}: netbooting the deploy agent", node.name));
        }
        match rec.stage {
            Stage::Failed => Err(permanent(
                rec.failure.unwrap_or_else(|| "the deploy failed".into()),
            )),
            Stage::Armed | Stage::Idle => match self.boot_timed_out(node, &rec) {
                Some(e) => Err(e),
                None => pending(format!(
                    "{}: waiting for the deploy agent to netboot and report ({})",
                    node.name,
                    rec.last_phase().unwrap_or("not booted yet")
                )),
            },
            _ => {
                self.check_inventory(node, &rec)?;
                if rec.status != Status::Ready {
                    self.update(&node.name, |r| {
                        if matches!(
                            r.status,
                            Status::New | Status::Unknown | Status::FailedDeployment
                        ) {
                            r.status = Status::Ready;
                        }
                    })
                    .await?;
                }
                Ok(Progress::Done)
            }
        }
    }

    async fn apply_networking(&self, node: &NodeSpec) -> DriverResult<Progress> {
        if node.interfaces.is_empty() {
            return Err(permanent(format!(
                "{} has no interfaces in its design: its network-config would be empty",
                node.name
            )));
        }
        Ok(Progress::Done)
    }

    async fn apply_storage(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.dry_run(node)?;
        Ok(Progress::Done)
    }

    async fn apply_platform(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.dry_run(node)?;
        Ok(Progress::Done)
    }

    async fn deploy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        let rec = self.records().get(&node.name).unwrap_or_default();
        if rec.status == Status::Deployed
            && rec.deployed_fingerprint.as_deref() == Some(&node.fingerprint)
        {
            return Ok(Progress::Done);
        }
        if !boot.armed(&node.name) || matches!(rec.stage, Stage::Idle) {
            self.netboot(node).await?;
            self.update(&node.name, |r| r.status = Status::Deploying)
                .await?;
            return pending(format!("{}: netbooting the deploy agent", node.name));
        }
        let last = rec.last_phase().unwrap_or("booting").to_string();
        match rec.stage {
            Stage::Failed => {
                let why = rec
                    .failure
                    .clone()
                    .unwrap_or_else(|| "the deploy failed".into());
                self.update(&node.name, |r| r.status = Status::FailedDeployment)
                    .await?;
                boot.disarm(&node.name)
                    .await
                    .map_err(DriverError::Permanent)?;
                Err(permanent(format!("deploying {}: {why}", node.name)))
            }
            Stage::Written => self.boot_disk(node, &rec).await,
            Stage::Armed | Stage::Idle => match self.boot_timed_out(node, &rec) {
                Some(e) => Err(e),
                None => pending(format!(
                    "{}: waiting for the deploy agent ({last})",
                    node.name
                )),
            },
            Stage::Inventoried | Stage::Deploying => {
                if !boot.released(&node.name) {
                    self.check_inventory(node, &rec)?;
                    boot.release(&node.name, Arc::new(node.clone()));
                    self.update(&node.name, |r| {
                        r.status = Status::Deploying;
                        r.push_phase(now_ms(), "deploy released to the agent".into());
                    })
                    .await?;
                    return pending(format!("{}: deploy released to the agent", node.name));
                }
                // A machine that is off while its agent has not finished was lost.
                if self.oob_for(node).power_state(node).await? == Power::Off {
                    // The agent may have reported completion just now.
                    let again = self.records().get(&node.name).unwrap_or_default();
                    if again.stage == Stage::Written {
                        return self.boot_disk(node, &again).await;
                    }
                    let why = format!(
                        "{} powered off during the deploy before its agent reported completion (last phase: {last}); the machine was reset, destroyed or lost power",
                        node.name
                    );
                    self.update(&node.name, |r| {
                        r.stage = Stage::Failed;
                        r.status = Status::FailedDeployment;
                        r.failure = Some(why.clone());
                    })
                    .await?;
                    boot.disarm(&node.name)
                        .await
                        .map_err(DriverError::Permanent)?;
                    return Err(permanent(why));
                }
                pending(format!("{}: {last}", node.name))
            }
        }
    }

    async fn boot_action_report(&self, node: &NodeSpec) -> DriverResult<Progress> {
        match self
            .boot()?
            .action_report(node)
            .await
            .map_err(DriverError::Permanent)?
        {
            ActionReport::Done => Ok(Progress::Done),
            ActionReport::Waiting(what) => pending(what),
            ActionReport::Failed(why) => Err(permanent(why)),
        }
    }

    async fn update_metadata(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let rec = self.records().get(&node.name).unwrap_or_default();
        if rec.deployed_fingerprint.as_deref() == Some(&node.fingerprint) {
            return Ok(Progress::Done);
        }
        if rec.status != Status::Deployed {
            return Err(permanent(format!(
                "update_metadata: {} is {}, not Deployed",
                node.name,
                rec.status.as_str()
            )));
        }
        // Nothing of the in-place fields lives on the machine: the record says what it has.
        let fp = node.fingerprint.clone();
        self.update(&node.name, |r| r.deployed_fingerprint = Some(fp))
            .await?;
        Ok(Progress::Done)
    }

    async fn destroy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        let rec = self.records().get(&node.name).unwrap_or_default();
        if matches!(rec.status, Status::Unknown | Status::New | Status::Ready)
            && rec.deployed_fingerprint.is_none()
            && rec.token_hash.is_none()
        {
            return Ok(Progress::Done);
        }
        boot.disarm(&node.name)
            .await
            .map_err(DriverError::Permanent)?;
        self.oob_for(node).set_power(node, PowerAction::Off).await?;
        self.update(&node.name, |r| {
            r.status = Status::Ready;
            r.deployed_fingerprint = None;
            r.stage = Stage::Idle;
        })
        .await?;
        Ok(Progress::Done)
    }
}

#[async_trait::async_trait]
impl SiteDriver for Pxe {
    async fn verify_services(&self) -> DriverResult<Progress> {
        let h = self
            .health
            .as_ref()
            .ok_or_else(|| permanent("the boot service is not running"))?;
        tokio::net::TcpStream::connect(h.addr).await.map_err(|e| {
            DriverError::Transient(format!(
                "the boot service at {} does not answer: {e}",
                h.addr
            ))
        })?;
        if let Some(pid) = &h.dnsmasq
            && pid().is_none()
        {
            return Err(DriverError::Transient(
                "dnsmasq is not running (it is restarted when it dies; see its log in STATE/boot/dnsmasq/dnsmasq.log)".into(),
            ));
        }
        Ok(Progress::Done)
    }

    async fn prepare_networks(&self, site: &SiteSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        let (_, nodes) = boot.all_nodes();
        let r = crate::boot::dnsmasq::render(
            site,
            &nodes,
            &boot.config,
            &crate::boot::dnsmasq::Paths::new(&boot.boot_dir),
        );
        tracing::info!(hosts = r.hosts, "PXE networks configured in dnsmasq");
        Ok(Progress::Done)
    }

    async fn prepare_credentials(&self, _site: &SiteSpec) -> DriverResult<Progress> {
        Ok(Progress::Done)
    }

    async fn prepare_images(&self, site: &SiteSpec) -> DriverResult<Progress> {
        let boot = self.boot()?;
        for image in &site.images {
            let c = boot.config.images.get(image).ok_or_else(|| {
                permanent(format!(
                    "image `{image}` is used by the design but not in the boot service's catalogue (--boot-config images)"
                ))
            })?;
            for p in [&c.file, &c.kernel, &c.initrd].into_iter().flatten() {
                let a = boot.image_artifact(p).map_err(|e| {
                    permanent(format!(
                        "image `{image}`: {e}: check the boot config's path"
                    ))
                })?;
                tracing::info!(image = %image, sha256 = %a.sha256, bytes = a.bytes, "image ready");
            }
        }
        Ok(Progress::Done)
    }
}
