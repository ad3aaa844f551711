//! The simulator driver: the embedded default provisioner, BMC and site services, so that
//! `drydock plan` and `drydock apply` work on a fresh machine with nothing else running.
//!
//! It models MAAS's machine states (New → Commissioning → Ready → Deploying → Deployed, the
//! failed states, Releasing), BMC power and one-time boot device, and keeps its world in the
//! state directory (`world`). Latency, transient errors, permanent failures and hangs are
//! injected as configured (`config`). Long operations (commissioning, deployment, release)
//! answer "in progress" until their simulated time has passed, like MAAS does.

pub mod config;
pub mod world;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub use config::{Fault, SimConfig};
pub use world::{Machine as SimMachine, World};

use crate::driver::{
    BootDevice, DriverError, DriverResult, Inventory, Machine, NodeSpec, OobDriver, PowerAction,
    Progress, Provisioner, SiteDriver, SiteSpec,
};
use crate::model::observed::{Power, Status};
use crate::vocab::now_ms;

pub struct Simulator {
    config: SimConfig,
    /// The world's log; `None` when opened read-only (beside a running apply).
    db: Option<world::Db>,
    machines: Mutex<HashMap<String, world::Machine>>,
    /// Site preparation steps done, by `step:fingerprint`.
    site: Mutex<std::collections::BTreeSet<String>>,
    attempts: Mutex<HashMap<(String, &'static str), u64>>,
}

impl Simulator {
    /// Open the simulator's world in `state_dir` for an apply (the caller holds the site lock).
    pub fn open(state_dir: &Path, config: SimConfig) -> Result<Simulator, world::WorldError> {
        let (db, w) = world::Db::open(state_dir)?;
        Ok(Simulator::with(Some(db), w, config))
    }

    /// The simulator's world in `state_dir` as it stands, for observing only: it takes no
    /// lock and writes nothing (an apply may be running).
    pub fn read_only(state_dir: &Path, config: SimConfig) -> Result<Simulator, world::WorldError> {
        Ok(Simulator::with(None, World::load(state_dir)?, config))
    }

    fn with(db: Option<world::Db>, w: World, config: SimConfig) -> Simulator {
        Simulator {
            config,
            machines: Mutex::new(w.machines.into_iter().collect()),
            site: Mutex::new(w.site.into_iter().collect()),
            db,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Record that the world's log is complete up to here (the end of an apply).
    pub fn checkpoint(&self) -> Result<(), world::WorldError> {
        self.db.as_ref().map_or(Ok(()), world::Db::checkpoint)
    }

    fn db(&self) -> DriverResult<&world::Db> {
        self.db.as_ref().ok_or_else(|| {
            DriverError::Permanent("the simulator's world was opened read-only".into())
        })
    }

    /// Make the world's changes durable. A local disk error is not a BMC's hiccup: it is
    /// permanent (a retry would not help), with the file in the message.
    async fn sync(&self) -> DriverResult<()> {
        let db = self.db()?;
        db.sync().await.map_err(|e| {
            DriverError::Permanent(format!(
                "the simulator cannot write its world {}: {e}",
                db.path.display()
            ))
        })
    }

    /// The images and kernels the simulator offers (rule DD3001).
    pub fn catalog() -> crate::vocab::Catalog {
        crate::vocab::Catalog::simulator()
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// A copy of one machine (tests).
    pub fn machine(&self, name: &str) -> Option<world::Machine> {
        self.machines
            .lock()
            .expect("machines lock")
            .get(name)
            .cloned()
    }

    /// Transient fault injection: each call draws once, deterministically from the seed.
    fn inject(&self, node: &str, step: &'static str) -> DriverResult<()> {
        if self.config.transient_rate <= 0.0 {
            return Ok(());
        }
        let attempt = {
            let mut a = self.attempts.lock().expect("attempts lock");
            let n = a.entry((node.to_string(), step)).or_insert(0);
            *n += 1;
            *n
        };
        if crate::rng::draw(self.config.seed, node, step, attempt) < self.config.transient_rate {
            return Err(DriverError::Transient(format!(
                "simulated transient error in {step} of {node}: the BMC did not answer (injected)"
            )));
        }
        Ok(())
    }

    /// An injected permanent failure or hang of `step` on `node`, as the answer to give.
    fn fault(&self, node: &str, step: &str) -> Option<DriverResult<Progress>> {
        if self.failing(node, step) {
            let on = if node == "site" {
                String::new()
            } else {
                format!(" on {node}")
            };
            return Some(Err(DriverError::Permanent(format!(
                "{step} failed{on} (injected failure)"
            ))));
        }
        self.hanging(node, step).then(|| {
            Ok(Progress::Pending {
                after: Duration::from_secs(1),
                what: format!("{step} (hung, injected)"),
            })
        })
    }

    fn failing(&self, node: &str, step: &str) -> bool {
        self.config.fail.iter().any(|f| f.matches(node, step))
    }

    fn hanging(&self, node: &str, step: &str) -> bool {
        self.config.hang.iter().any(|f| f.matches(node, step))
    }

    /// Read-modify-write one machine (created on first touch, as a BMC exists before its
    /// machine is enlisted), then make it durable.
    async fn update<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut world::Machine) -> R,
    ) -> DriverResult<R> {
        let (r, m) = {
            let mut all = self.machines.lock().expect("machines lock");
            let m = all
                .entry(name.to_string())
                .or_insert_with(|| world::Machine {
                    status: Status::Unknown,
                    ..world::Machine::default()
                });
            let r = f(m);
            (r, m.clone())
        };
        self.db()?.put(name, &m);
        self.sync().await?;
        Ok(r)
    }

    fn get(&self, name: &str) -> Option<world::Machine> {
        self.machines
            .lock()
            .expect("machines lock")
            .get(name)
            .cloned()
    }

    /// A machine, or a not-yet-enlisted one (`Status::Unknown`) when the world has none.
    fn get_or_unknown(&self, name: &str) -> world::Machine {
        self.get(name).unwrap_or_else(|| world::Machine {
            status: Status::Unknown,
            ..world::Machine::default()
        })
    }

    async fn pause(&self, step: &str) {
        let d = self.config.latency(step);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// A short operation whose effect is `write`: it takes the step's latency, and its effect
    /// is made durable within that time (a crash before the answer leaves it done or not,
    /// and asking again finds it done), so the disk sync is not added to the latency.
    async fn timed<T>(
        &self,
        step: &str,
        write: impl std::future::Future<Output = DriverResult<T>>,
    ) -> DriverResult<T> {
        let (_, r) = tokio::join!(self.pause(step), write);
        r
    }

    /// A short step: after its latency, mark it applied (once).
    async fn short(
        &self,
        node: &NodeSpec,
        step: &'static str,
        needs: &[Status],
    ) -> DriverResult<Progress> {
        self.inject(&node.name, step)?;
        let m = self.get_or_unknown(&node.name);
        if m.applied.iter().any(|s| s == step) {
            return Ok(Progress::Done);
        }
        if !needs.is_empty() && !needs.contains(&m.status) {
            return Err(DriverError::Permanent(format!(
                "{step}: machine {} is {}, not {}",
                node.name,
                m.status.as_str(),
                needs[0].as_str()
            )));
        }
        if let Some(r) = self.fault(&node.name, step) {
            return r;
        }
        self.timed(
            step,
            self.update(&node.name, |m| m.applied.push(step.to_string())),
        )
        .await?;
        Ok(Progress::Done)
    }

    /// A long operation: start it (status `during`), answer Pending until its time has come,
    /// then finish it with `done`. `finished` says whether it is already complete.
    async fn long(
        &self,
        node: &NodeSpec,
        step: &'static str,
        finished: impl Fn(&world::Machine) -> bool,
        start: impl Fn(&world::Machine) -> DriverResult<()>,
        (during, failed): (Status, Status),
        done: impl FnOnce(&mut world::Machine),
    ) -> DriverResult<Progress> {
        self.inject(&node.name, step)?;
        let m = self.get_or_unknown(&node.name);
        if finished(&m) {
            return Ok(Progress::Done);
        }
        let now = now_ms();
        match &m.busy {
            Some((s, until)) if s == step => {
                if now < *until {
                    return Ok(Progress::Pending {
                        after: Duration::from_millis(until - now),
                        what: format!("{step}: {}", during.as_str()),
                    });
                }
                self.update(&node.name, |m| {
                    m.busy = None;
                    done(m);
                })
                .await?;
                Ok(Progress::Done)
            }
            _ => {
                start(&m)?;
                if self.failing(&node.name, step) {
                    self.update(&node.name, |m| {
                        m.status = failed;
                        m.busy = None;
                    })
                    .await?;
                    return Err(DriverError::Permanent(format!(
                        "{step} failed on {}: machine is {} (injected failure)",
                        node.name,
                        failed.as_str()
                    )));
                }
                if self.hanging(&node.name, step) {
                    return Ok(Progress::Pending {
                        after: Duration::from_secs(1),
                        what: format!("{step} (hung, injected)"),
                    });
                }
                let latency = self.config.latency(step);
                let until = now + latency.as_millis() as u64;
                self.update(&node.name, |m| {
                    m.status = during;
                    m.busy = Some((step.to_string(), until));
                })
                .await?;
                // The operation started at `now`: the time the write took is part of it.
                let latency = Duration::from_millis(until.saturating_sub(now_ms()));
                if latency.is_zero() {
                    self.update(&node.name, |m| {
                        m.busy = None;
                        done(m);
                    })
                    .await?;
                    return Ok(Progress::Done);
                }
                Ok(Progress::Pending {
                    after: latency,
                    what: format!("{step}: {}", during.as_str()),
                })
            }
        }
    }
}

#[async_trait::async_trait]
impl Provisioner for Simulator {
    fn name(&self) -> &str {
        "simulator"
    }

    async fn observe(&self, _nodes: &[String]) -> DriverResult<BTreeMap<String, Machine>> {
        let all = self.machines.lock().expect("machines lock");
        Ok(all
            .iter()
            .filter(|(_, m)| m.status != Status::Unknown)
            .map(|(n, m)| {
                (
                    n.clone(),
                    Machine {
                        status: m.status,
                        power: m.power,
                        deployed_fingerprint: m.deployed_fingerprint.clone(),
                    },
                )
            })
            .collect())
    }

    async fn identify(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.inject(&node.name, "identify")?;
        if self
            .get(&node.name)
            .is_some_and(|m| m.status != Status::Unknown)
        {
            return Ok(Progress::Done);
        }
        if self.failing(&node.name, "identify") {
            return Err(DriverError::Permanent(format!(
                "identify: no machine answers for {} (injected failure)",
                node.name
            )));
        }
        if let Some(r) = self.fault(&node.name, "identify") {
            return r;
        }
        self.timed(
            "identify",
            self.update(&node.name, |m| {
                if m.status == Status::Unknown {
                    m.status = Status::New;
                }
            }),
        )
        .await?;
        Ok(Progress::Done)
    }

    async fn configure_hardware(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.long(
            node,
            "configure_hardware",
            |m| {
                m.status == Status::Ready && m.applied.iter().any(|s| s == "configure_hardware")
                    || m.status == Status::Deployed
            },
            |m| match m.status {
                Status::Unknown => Err(DriverError::Permanent(format!(
                    "configure_hardware: {} is not enlisted (identify it first)",
                    node.name
                ))),
                _ => Ok(()),
            },
            (Status::Commissioning, Status::FailedCommissioning),
            |m| {
                m.status = Status::Ready;
                m.applied = vec!["configure_hardware".into()];
                m.power = Power::Off;
            },
        )
        .await
    }

    async fn apply_networking(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.short(node, "apply_networking", &[Status::Ready]).await
    }

    async fn apply_storage(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.short(node, "apply_storage", &[Status::Ready]).await
    }

    async fn apply_platform(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.short(node, "apply_platform", &[Status::Ready]).await
    }

    async fn deploy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let fp = node.fingerprint.clone();
        self.long(
            node,
            "deploy",
            |m| {
                m.status == Status::Deployed
                    && m.deployed_fingerprint.as_deref() == Some(fp.as_str())
            },
            |m| match m.status {
                Status::Ready | Status::FailedDeployment => Ok(()),
                Status::Deployed => Err(DriverError::Permanent(format!(
                    "deploy: {} is deployed with another configuration; release it first",
                    node.name
                ))),
                s => Err(DriverError::Permanent(format!(
                    "deploy: {} is {}, not Ready",
                    node.name,
                    s.as_str()
                ))),
            },
            (Status::Deploying, Status::FailedDeployment),
            |m| {
                m.status = Status::Deployed;
                m.deployed_fingerprint = Some(node.fingerprint.clone());
                m.power = Power::On;
                m.boot = world::BootDevice::Disk;
            },
        )
        .await
    }

    async fn boot_action_report(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.short(node, "boot_action_report", &[Status::Deployed])
            .await
    }

    async fn update_metadata(&self, node: &NodeSpec) -> DriverResult<Progress> {
        const STEP: &str = "update_metadata";
        self.inject(&node.name, STEP)?;
        let m = self.get_or_unknown(&node.name);
        let fp = Some(node.fingerprint.as_str());
        if m.tags == node.tags && m.deployed_fingerprint.as_deref() == fp {
            return Ok(Progress::Done);
        }
        if m.status != Status::Deployed {
            return Err(DriverError::Permanent(format!(
                "{STEP}: machine {} is {}, not Deployed",
                node.name,
                m.status.as_str()
            )));
        }
        if let Some(r) = self.fault(&node.name, STEP) {
            return r;
        }
        // The machine now reports the configuration it has: the in-place fields are part of
        // its fingerprint, as MAAS keeps drydock's fingerprint in the machine's owner data.
        let (tags, fp) = (node.tags.clone(), node.fingerprint.clone());
        self.timed(
            STEP,
            self.update(&node.name, |m| {
                m.tags = tags;
                m.deployed_fingerprint = Some(fp);
            }),
        )
        .await?;
        Ok(Progress::Done)
    }

    async fn destroy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        self.long(
            node,
            "destroy",
            |m| {
                matches!(m.status, Status::Unknown | Status::New | Status::Ready)
                    && m.deployed_fingerprint.is_none()
            },
            |_| Ok(()),
            (Status::Releasing, Status::Broken),
            |m| {
                m.status = Status::Ready;
                m.deployed_fingerprint = None;
                m.applied.clear();
                m.power = Power::Off;
            },
        )
        .await
    }
}

#[async_trait::async_trait]
impl OobDriver for Simulator {
    fn name(&self) -> &str {
        "simulator"
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        self.inject(&node.name, "power_state")?;
        Ok(self.get(&node.name).map_or(Power::Off, |m| m.power))
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        let step = "power_cycle";
        self.inject(&node.name, step)?;
        if self.failing(&node.name, step) {
            return Err(DriverError::Permanent(format!(
                "{step}: the BMC of {} refused the request (injected failure)",
                node.name
            )));
        }
        if let Some(r) = self.fault(&node.name, step) {
            return r;
        }
        let current = self.get(&node.name).map_or(Power::Off, |m| m.power);
        let target = match action {
            PowerAction::On | PowerAction::Cycle => Power::On,
            PowerAction::Off => Power::Off,
        };
        if action != PowerAction::Cycle && current == target {
            return Ok(Progress::Done);
        }
        self.timed(
            step,
            self.update(&node.name, |m| {
                m.power = target;
                if action == PowerAction::Cycle {
                    m.power_cycles += 1;
                }
            }),
        )
        .await?;
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        self.inject(&node.name, "set_pxe_boot")?;
        let want = match device {
            BootDevice::Pxe => world::BootDevice::Pxe,
            BootDevice::Disk => world::BootDevice::Disk,
        };
        if self.get(&node.name).is_some_and(|m| m.boot == want) {
            return Ok(Progress::Done);
        }
        if let Some(r) = self.fault(&node.name, "set_pxe_boot") {
            return r;
        }
        self.update(&node.name, |m| m.boot = want).await?;
        Ok(Progress::Done)
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        self.inject(&node.name, "verify_oob")?;
        if self.failing(&node.name, "verify_oob") {
            return Err(DriverError::Permanent(format!(
                "verify_oob: the BMC of {} rejected the credentials (injected failure)",
                node.name
            )));
        }
        if self.hanging(&node.name, "verify_oob") {
            // A BMC that never answers: the step's timeout ends the wait.
            std::future::pending::<()>().await;
        }
        Ok(Inventory {
            model: Some("Simulated Server".into()),
            serial: Some(format!(
                "SIM{}",
                &crate::source::digest(node.name.as_bytes())[..8]
            )),
            memory_gib: Some(384),
            cpus: Some(96),
            macs: node.boot_mac.iter().cloned().collect(),
        })
    }
}

#[async_trait::async_trait]
impl SiteDriver for Simulator {
    async fn verify_services(&self) -> DriverResult<Progress> {
        self.inject("site", "verify_services")?;
        if let Some(r) = self.fault("site", "verify_services") {
            return r;
        }
        self.pause("verify_services").await;
        Ok(Progress::Done)
    }

    async fn prepare_networks(&self, site: &SiteSpec) -> DriverResult<Progress> {
        self.prepare("prepare_networks", site).await
    }

    async fn prepare_credentials(&self, site: &SiteSpec) -> DriverResult<Progress> {
        self.prepare("prepare_credentials", site).await
    }

    async fn prepare_images(&self, site: &SiteSpec) -> DriverResult<Progress> {
        self.prepare("prepare_images", site).await
    }
}

impl Simulator {
    async fn prepare(&self, step: &'static str, site: &SiteSpec) -> DriverResult<Progress> {
        self.inject("site", step)?;
        if let Some(r) = self.fault("site", step) {
            return r;
        }
        let key = format!("{step}:{}", site.fingerprint);
        if self.site.lock().expect("site lock").contains(&key) {
            return Ok(Progress::Done);
        }
        self.db()?.put_site(&key);
        self.timed(step, self.sync()).await?;
        self.site.lock().expect("site lock").insert(key);
        Ok(Progress::Done)
    }
}
