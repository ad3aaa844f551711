//! The service behind `drydock serve`: operator requests (the API's tasks) journaled, run one
//! at a time by the leader through the planner and the executor, their progress broadcast;
//! the journal's view kept current for readers; the leader elected by the lease when several
//! instances share a PostgreSQL database. It knows nothing of HTTP (`api` does), and prints
//! nothing.
//!
//! - A request is journaled (`RequestQueued`) before it is acknowledged, then run: the design
//!   is loaded fresh from disk, the site observed, the action's plan made (`actions`), the
//!   plan's tasks journaled (`RequestStarted`) and executed, and the outcome journaled
//!   (`RequestFinished`). Every instance derives requests and tasks from the same records.
//! - Only the leader writes. With the file store the one instance is the leader (it holds the
//!   site lock). With PostgreSQL (`leader`) an instance leads while it holds the lease; a new
//!   leader resumes every unfinished request: tasks the journal records as succeeded are
//!   skipped, so no finished step runs again.
//! - Cancelling a request stops its apply as Ctrl-C does: in-flight steps are abandoned, the
//!   cancellation journaled. Stopping the service (or losing the lease) stops the apply the
//!   same way but leaves the request unfinished, for the next leader to resume.

pub mod actions;
mod leader;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::design::{Design, LoadOptions};
use crate::driver::sim::{SimConfig, Simulator};
use crate::execute::{self, Drivers, Settings};
use crate::model::Site;
use crate::model::observed::Observed;
use crate::plan::Plan;
use crate::state::file_store::FileStore;
use crate::state::{
    Event, Journal, RECORD_VERSION, Record, RequestInfo, RequestState, StateStore, StoreError, Tee,
    now_ms,
};
use crate::validate::Valid;

pub use actions::{Action, RawNodeFilter};

/// Where the journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The state directory's checksummed log (one instance; it holds the site lock).
    File,
    /// A PostgreSQL database (several instances; the lease elects the one that writes).
    Postgres { url: String },
}

/// Which BMC drivers run (as `apply --bmc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bmc {
    Simulated,
    Real { ca_bundle: Option<PathBuf> },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub design: Vec<PathBuf>,
    pub load: LoadOptions,
    /// The simulator's world, and the file journal with `Backend::File`.
    pub state_dir: PathBuf,
    pub backend: Backend,
    pub sim: SimConfig,
    pub bmc: Bmc,
    /// The boot service this process runs, when drydock is the provisioner.
    pub pxe: Option<PxeBoot>,
    pub settings: Settings,
    /// This instance's name in the lease (unique per process).
    pub instance: String,
    /// The URL other instances forward writes to (this instance's operator API).
    pub advertise: String,
    /// How long a lease lasts without a heartbeat (heartbeats come every third of it).
    pub lease_ttl: Duration,
    /// How often a follower reads the records the leader wrote.
    pub poll: Duration,
}

/// The PXE provisioner's boot service, when this process runs one (`apply --provisioner pxe`,
/// `serve --boot-config`): its state and what `verify_services` checks.
#[derive(Clone)]
pub struct PxeBoot {
    pub state: Arc<crate::boot::BootState>,
    pub health: crate::driver::pxe::Health,
    /// The images and kernels the boot service offers (rule DD3001).
    pub catalog: crate::vocab::Catalog,
}

impl std::fmt::Debug for PxeBoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PxeBoot")
            .field("addr", &self.health.addr)
            .finish_non_exhaustive()
    }
}

/// The drivers an apply uses. Without `pxe`: the simulator as provisioner and site services,
/// and as every BMC unless `bmc` says to drive the real ones. With `pxe`: drydock's boot
/// service provisions and the real BMCs are driven. `manual` nodes are never driven.
pub fn drivers(sim: Arc<Simulator>, bmc: &Bmc, pxe: Option<&PxeBoot>) -> Drivers {
    let manual: Arc<dyn crate::driver::OobDriver> = Arc::new(crate::driver::manual::Manual);
    let oob = bmcs(bmc);
    match pxe {
        Some(b) => {
            let p = Arc::new(crate::driver::pxe::Pxe::new(
                b.state.clone(),
                oob.clone(),
                manual.clone(),
                b.health.clone(),
            ));
            Drivers {
                provisioner: p.clone(),
                site: p,
                oob,
                default_oob: manual,
            }
        }
        None => Drivers {
            provisioner: sim.clone(),
            site: sim.clone(),
            oob,
            default_oob: sim,
        },
    }
}

/// The drivers of an apply through MAAS: MAAS provisions, runs the site's services and drives
/// the machines' power and boot itself, whatever their `oob.type`.
pub fn maas_drivers(m: Arc<crate::driver::maas::Maas>) -> Drivers {
    use crate::driver::{OobDriver, OobKind};
    let mut oob: std::collections::HashMap<OobKind, Arc<dyn OobDriver>> =
        std::collections::HashMap::new();
    for k in [
        OobKind::Ipmi,
        OobKind::Redfish,
        OobKind::Libvirt,
        OobKind::Manual,
    ] {
        oob.insert(k, m.clone());
    }
    Drivers {
        provisioner: m.clone(),
        site: m.clone(),
        oob,
        default_oob: m,
    }
}

/// The BMC drivers by `oob.type`: only `manual` unless `bmc` is real.
pub fn bmcs(
    bmc: &Bmc,
) -> std::collections::HashMap<crate::driver::OobKind, Arc<dyn crate::driver::OobDriver>> {
    use crate::driver::{OobDriver, OobKind};
    let mut oob: std::collections::HashMap<OobKind, Arc<dyn OobDriver>> =
        std::collections::HashMap::new();
    oob.insert(OobKind::Manual, Arc::new(crate::driver::manual::Manual));
    if let Bmc::Real { ca_bundle } = bmc {
        let redfish = crate::driver::redfish::RedfishOptions {
            ca_bundle: ca_bundle.clone(),
            ..Default::default()
        };
        oob.insert(
            OobKind::Redfish,
            Arc::new(crate::driver::redfish::Redfish::new(redfish)),
        );
        oob.insert(
            OobKind::Ipmi,
            Arc::new(crate::driver::ipmi::Ipmi::new(Default::default())),
        );
        oob.insert(
            OobKind::Libvirt,
            Arc::new(crate::driver::libvirt::Libvirt::new(Default::default())),
        );
    }
    oob
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another drydock holds the site lock of {dir}: {holder}")]
    Locked { dir: String, holder: String },
    #[error("{0}")]
    Other(String),
}

/// Who this instance is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Not yet known (starting).
    Starting,
    Leader {
        token: u64,
    },
    /// `leader`: the leader's operator API, when one holds the lease.
    Follower {
        leader: Option<String>,
    },
}

/// What the event stream carries.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Update {
    /// A journal record, once durable.
    Record { seq: u64, record: Record },
    /// Live progress of the running request (leader only; not journaled).
    Progress(Progress),
}

#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub request: String,
    /// `task_started`, `step`, `retry`, `task_finished`, `node_finished`.
    pub event: &'static str,
    pub node: Option<String>,
    pub task: Option<String>,
    pub step: Option<String>,
    pub ok: Option<bool>,
    pub attempt: Option<u32>,
    pub error: Option<String>,
    pub at_ms: u64,
}

impl Progress {
    fn of(request: &str, e: execute::Event) -> Progress {
        let mut p = Progress {
            request: request.to_string(),
            event: "",
            node: None,
            task: None,
            step: None,
            ok: None,
            attempt: None,
            error: None,
            at_ms: now_ms(),
        };
        match e {
            execute::Event::TaskStarted { node, task } => {
                p.event = "task_started";
                p.node = node;
                p.task = Some(task.to_string());
            }
            execute::Event::Step { node, task, step } => {
                p.event = "step";
                p.node = node;
                p.task = Some(task.to_string());
                p.step = Some(step.as_str().into());
            }
            execute::Event::Retry {
                node,
                step,
                attempt,
                error,
            } => {
                p.event = "retry";
                p.node = node;
                p.step = Some(step.as_str().into());
                p.attempt = Some(attempt);
                p.error = Some(error);
            }
            execute::Event::TaskFinished { node, task, ok } => {
                p.event = "task_finished";
                p.node = node;
                p.task = Some(task.to_string());
                p.ok = Some(ok);
            }
            execute::Event::NodeFinished { node, outcome } => {
                p.event = "node_finished";
                p.node = Some(node);
                p.ok = Some(outcome.ok());
                if let execute::NodeOutcome::Failed { at, error } = outcome {
                    p.step = Some(at);
                    p.error = Some(error);
                }
            }
        }
        p
    }
}

/// The journal as this instance knows it.
#[derive(Default)]
pub struct View {
    pub journal: Journal,
    /// Records applied (the next record's sequence number).
    pub records: u64,
}

/// A design loaded and validated.
pub struct Loaded {
    pub design: Design,
    /// The findings as `validate --format json` prints them.
    pub report: serde_json::Value,
    pub errors: usize,
    pub warnings: usize,
    pub site: Option<Valid<Site>>,
}

/// Load and validate a design (`documents`: YAML text given instead of the configured files).
pub fn load(cfg: &Config, documents: Option<&str>) -> Result<Loaded, String> {
    let design = match documents {
        Some(text) => crate::design::load_str_with("request.yaml", text, &cfg.load),
        None => {
            let d = crate::design::load_with(&cfg.design, &cfg.load).map_err(|e| e.to_string())?;
            if d.sources.is_empty() {
                return Err("the design has no files (*.yaml, *.yml)".to_string());
            }
            if !d.is_complete() {
                return Err("part of the design could not be read; fix its permissions".to_string());
            }
            d
        }
    };
    let options = crate::validate::Options {
        catalog: Some(match &cfg.pxe {
            Some(p) => p.catalog.clone(),
            None => Simulator::catalog(),
        }),
        ..Default::default()
    };
    let report = crate::validate::validate(&design, &options);
    let (errors, warnings) = (report.errors(), report.warnings());
    let json = crate::report::json::render(&crate::report::Input {
        design: &design,
        findings: &report.findings,
        rules_run: &[],
        deny_warnings: false,
    });
    let report_json = serde_json::from_str(&json).expect("drydock's JSON report parses");
    let site = report.into_valid().ok();
    Ok(Loaded {
        design,
        report: report_json,
        errors,
        warnings,
        site,
    })
}

/// The leader's means of writing.
struct Writer {
    store: Arc<dyn StateStore>,
    file: Option<Arc<FileStore>>,
    sim: Arc<Simulator>,
    _lock: Option<crate::state::lock::SiteLock>,
}

struct Running {
    request: String,
    cancel: watch::Sender<bool>,
}

struct Inner {
    cfg: Config,
    view: RwLock<View>,
    updates: broadcast::Sender<Arc<Update>>,
    role: watch::Sender<Role>,
    queue: Mutex<VecDeque<String>>,
    queued: Notify,
    running: Mutex<Option<Running>>,
    writer: RwLock<Option<Arc<Writer>>>,
    /// Set when the service stops or loses the lease: the running apply is stopped, and its
    /// request left for the next leader.
    stopping: watch::Sender<bool>,
    /// The last design loaded (for the node list).
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// Whether a request is being run (shutdown waits for it to stop).
    busy: watch::Sender<bool>,
    /// The PostgreSQL side, with `Backend::Postgres`.
    pg: std::sync::OnceLock<Arc<leader::Pg>>,
    shutdown: std::sync::atomic::AtomicBool,
}

impl Inner {
    fn shutdown_requested(&self) -> bool {
        self.shutdown.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The service; cheap to clone.
#[derive(Clone)]
pub struct Service(Arc<Inner>);

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no task {0}")]
    NotFound(String),
    #[error("task {0} already finished")]
    Finished(String),
    #[error("this instance is not the leader")]
    NotLeader,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new request id: a random UUID (version 4), as the old implementation's.
fn new_id() -> String {
    let mut b = [0u8; 16];
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        // No /dev/urandom: ids need only be unique, not secret.
        let seed = format!(
            "{}-{}-{:?}",
            now_ms(),
            std::process::id(),
            std::thread::current().id()
        );
        let h = crate::model::digest(seed.as_bytes());
        for (i, c) in h.as_bytes().chunks(2).take(16).enumerate() {
            b[i] = u8::from_str_radix(std::str::from_utf8(c).unwrap_or("00"), 16).unwrap_or(0);
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The parameters of a request, as journaled.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_filter: Option<RawNodeFilter>,
}

impl Service {
    /// Start the service: open the state (the file store under the site lock, or join the
    /// PostgreSQL instances), resume unfinished requests when this instance leads.
    pub async fn start(cfg: Config) -> Result<Service, ServiceError> {
        let (updates, _) = broadcast::channel(4096);
        let s = Service(Arc::new(Inner {
            cfg,
            view: RwLock::new(View::default()),
            updates,
            role: watch::channel(Role::Starting).0,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            running: Mutex::new(None),
            writer: RwLock::new(None),
            stopping: watch::channel(false).0,
            loaded: RwLock::new(None),
            busy: watch::channel(false).0,
            pg: std::sync::OnceLock::new(),
            shutdown: std::sync::atomic::AtomicBool::new(false),
        }));
        let loaded = {
            let cfg = s.0.cfg.clone();
            tokio::task::spawn_blocking(move || load(&cfg, None))
                .await
                .map_err(|e| ServiceError::Other(e.to_string()))?
                .map_err(ServiceError::Other)?
        };
        *s.0.loaded.write().expect("loaded lock") = Some(Arc::new(loaded));
        match s.0.cfg.backend.clone() {
            Backend::File => s.lead_with_files().await?,
            Backend::Postgres { url } => leader::join(s.clone(), url).await?,
        }
        Ok(s)
    }

    pub fn config(&self) -> &Config {
        &self.0.cfg
    }

    pub fn role(&self) -> Role {
        self.0.role.borrow().clone()
    }

    /// Wait until the role changes.
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.0.role.subscribe()
    }

    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.0.view.read().expect("view lock")
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.0.updates.subscribe()
    }

    /// The design loaded last.
    pub fn loaded(&self) -> Option<Arc<Loaded>> {
        self.0.loaded.read().expect("loaded lock").clone()
    }

    /// Load the design again from disk (and keep it for the node list).
    pub async fn reload(&self) -> Result<Arc<Loaded>, String> {
        let cfg = self.0.cfg.clone();
        let l = Arc::new(
            tokio::task::spawn_blocking(move || load(&cfg, None))
                .await
                .map_err(|e| e.to_string())??,
        );
        *self.0.loaded.write().expect("loaded lock") = Some(l.clone());
        Ok(l)
    }

    /// Validate YAML documents given in a request (not the configured design).
    pub async fn validate_documents(&self, text: String) -> Result<Loaded, String> {
        let cfg = self.0.cfg.clone();
        tokio::task::spawn_blocking(move || load(&cfg, Some(&text)))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Apply records to the view and tell subscribers (in order).
    fn absorb(&self, records: Vec<Record>) {
        let mut v = self.0.view.write().expect("view lock");
        for r in records {
            if let Err(e) = v.journal.apply(&r) {
                // The store replayed this journal at open; a record it refuses now is a bug.
                tracing::error!(error = %e, "a journal record does not replay; the view skips it");
            }
            let seq = v.records;
            v.records += 1;
            let _ = self
                .0
                .updates
                .send(Arc::new(Update::Record { seq, record: r }));
        }
    }

    /// Replace the view with a replay of `records`.
    fn reset_view(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let n = records.len() as u64;
        let journal = Journal::replay(records)?;
        let mut v = self.0.view.write().expect("view lock");
        *v = View {
            journal,
            records: n,
        };
        Ok(())
    }

    /// Wrap the leader's store so that the view follows every durable record.
    fn tee(&self, store: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
        let me = self.clone();
        Arc::new(Tee::new(store, Box::new(move |rs| me.absorb(rs))))
    }

    async fn lead_with_files(&self) -> Result<(), ServiceError> {
        let dir = self.0.cfg.state_dir.clone();
        let lock = match crate::state::lock::acquire(&dir, "drydock serve") {
            Ok(l) => l,
            Err(crate::state::lock::LockError::Held(h)) => {
                return Err(ServiceError::Locked {
                    dir: dir.display().to_string(),
                    holder: h.to_string(),
                });
            }
            Err(e) => return Err(ServiceError::Other(e.to_string())),
        };
        if let Some(h) = &lock.took_over {
            tracing::warn!(holder = %h, "took over the site lock left by a process that is gone");
        }
        let store = Arc::new(FileStore::open(&dir)?);
        self.reset_view(store.records()?)?;
        let sim = Simulator::open(&dir, self.0.cfg.sim.clone())
            .map_err(|e| ServiceError::Other(format!("the simulator's world: {e}")))?;
        let writer = Writer {
            store: self.tee(store.clone()),
            file: Some(store),
            sim: Arc::new(sim),
            _lock: Some(lock),
        };
        self.become_leader(writer, 0);
        Ok(())
    }

    /// Take over writing: requeue every unfinished request, start the runner.
    fn become_leader(&self, writer: Writer, token: u64) {
        *self.0.writer.write().expect("writer lock") = Some(Arc::new(writer));
        let _ = self.0.stopping.send(false);
        {
            let v = self.view();
            let mut q = self.0.queue.lock().expect("queue lock");
            q.clear();
            for id in &v.journal.request_order {
                if v.journal.requests[id].state != RequestState::Finished {
                    tracing::info!(request = %id, "resuming an unfinished request");
                    q.push_back(id.clone());
                }
            }
        }
        self.0.role.send_replace(Role::Leader { token });
        tracing::info!(token, instance = %self.0.cfg.instance, "leading");
        let me = self.clone();
        tokio::spawn(async move { me.runner(token).await });
        self.0.queued.notify_one();
    }

    /// Stop writing (the lease is lost, or the service stops): the running apply is stopped
    /// and its request left unfinished.
    fn stop_leading(&self, leader: Option<String>) {
        let _ = self.0.stopping.send(true);
        if let Some(r) = self.0.running.lock().expect("running lock").as_ref() {
            let _ = r.cancel.send(true);
        }
        self.0.role.send_replace(Role::Follower { leader });
        *self.0.writer.write().expect("writer lock") = None;
    }

    fn writer(&self) -> Result<Arc<Writer>, RequestError> {
        self.0
            .writer
            .read()
            .expect("writer lock")
            .clone()
            .ok_or(RequestError::NotLeader)
    }

    /// Journal a record (durably).
    async fn record(&self, w: &Writer, event: Event) -> Result<(), StoreError> {
        let run = self.view().journal.last_run.map_or(0, |(r, _)| r);
        w.store.append(&Record {
            v: RECORD_VERSION,
            at_ms: now_ms(),
            run,
            event,
        })?;
        w.store.sync().await
    }

    /// Queue a request (leader only); it is journaled before this returns.
    pub async fn submit(
        &self,
        action: Action,
        params: Params,
        by: &str,
    ) -> Result<RequestInfo, RequestError> {
        let w = self.writer()?;
        let id = new_id();
        self.record(
            &w,
            Event::RequestQueued {
                request: id.clone(),
                action: action.as_str().into(),
                params: serde_json::to_string(&params).expect("plain data serializes"),
                by: by.to_string(),
            },
        )
        .await?;
        self.0
            .queue
            .lock()
            .expect("queue lock")
            .push_back(id.clone());
        self.0.queued.notify_one();
        Ok(self.request(&id).expect("just journaled"))
    }

    pub fn request(&self, id: &str) -> Option<RequestInfo> {
        self.view().journal.requests.get(id).cloned()
    }

    /// Cancel a request (leader only): a queued one never runs, a running one is stopped as
    /// Ctrl-C stops an apply.
    pub async fn cancel(&self, id: &str, by: &str) -> Result<RequestInfo, RequestError> {
        let w = self.writer()?;
        let Some(r) = self.request(id) else {
            return Err(RequestError::NotFound(id.to_string()));
        };
        if r.state == RequestState::Finished {
            return Err(RequestError::Finished(id.to_string()));
        }
        if r.cancel_requested.is_none() {
            self.record(
                &w,
                Event::RequestCancelRequested {
                    request: id.to_string(),
                    by: by.to_string(),
                },
            )
            .await?;
        }
        if let Some(run) = self.0.running.lock().expect("running lock").as_ref()
            && run.request == id
        {
            let _ = run.cancel.send(true);
        }
        Ok(self.request(id).expect("journaled"))
    }

    /// Observe the site: through the boot service's records when drydock provisions, else
    /// through the leader's simulator, or a read-only view of its world.
    async fn observe(&self, site: &Site, journal: &Journal) -> Result<Observed, String> {
        if let Some(pxe) = &self.0.cfg.pxe {
            // Observing reads only the boot records: no BMC driver is needed (nor built, on
            // every read of the API).
            let p = crate::driver::pxe::Pxe::new(
                pxe.state.clone(),
                Default::default(),
                Arc::new(crate::driver::manual::Manual),
                pxe.health.clone(),
            );
            return crate::observe::gather(site, &p, journal)
                .await
                .map_err(|e| format!("cannot observe the site: {e}"));
        }
        let sim = match self.writer() {
            Ok(w) => w.sim.clone(),
            Err(_) => Arc::new(
                Simulator::read_only(&self.0.cfg.state_dir, self.0.cfg.sim.clone())
                    .map_err(|e| format!("the simulator's world: {e}"))?,
            ),
        };
        crate::observe::gather(site, sim.as_ref(), journal)
            .await
            .map_err(|e| format!("cannot observe the site: {e}"))
    }

    /// The plan of the current design for `action` (as `plan --json` for `deploy_nodes`).
    pub async fn plan_for(
        &self,
        action: Action,
        filter: Option<&crate::model::filter::NodeFilter>,
    ) -> Result<Plan, String> {
        let loaded = self.reload().await?;
        let Some(site) = &loaded.site else {
            return Err(format!(
                "the design has {} error(s); `POST /validatedesign` lists them",
                loaded.errors
            ));
        };
        let journal = self.view().journal.clone();
        let observed = self.observe(site, &journal).await?;
        actions::plan(
            action,
            filter,
            site,
            &observed,
            &loaded.design.content_hash(),
        )
    }

    /// Every node of the design (and those drydock deployed that it no longer has), with
    /// what the provisioner and the journal say of it.
    pub async fn nodes(&self) -> Result<Vec<NodeView>, String> {
        let loaded = match self.loaded() {
            Some(l) => l,
            None => self.reload().await?,
        };
        let journal = self.view().journal.clone();
        let observed = match &loaded.site {
            Some(site) => Some(self.observe(site, &journal).await?),
            None => None,
        };
        let mut out: Vec<NodeView> = Vec::new();
        let site: Option<&Site> = loaded.site.as_deref();
        let mut names: Vec<String> = site
            .map(|s| s.nodes.iter().map(|n| n.name.v.clone()).collect())
            .unwrap_or_default();
        if let Some(o) = &observed {
            for n in o.nodes.keys() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        for name in names {
            let node = site.and_then(|s| s.node(&name));
            let o = observed.as_ref().and_then(|o| o.nodes.get(&name));
            let rec = journal.nodes.get(&name);
            out.push(NodeView {
                rack: node.and_then(|n| n.config.rack.as_ref().map(|r| r.v.clone())),
                status: o.map_or("unknown", |o| o.status.as_str()).to_string(),
                power: o.map_or("unknown".into(), |o| {
                    format!("{:?}", o.power).to_lowercase()
                }),
                last_task: rec.and_then(|r| r.last_task).map(|(k, s)| LastTask {
                    kind: k.as_str(),
                    state: s,
                }),
                last_error: rec
                    .and_then(|r| r.last_failure.as_ref())
                    .map(|f| format!("{}: {}", f.at, f.error)),
                unfinished: rec
                    .and_then(|r| r.unfinished.as_ref())
                    .map(|u| format!("{}/{}", u.task, u.step.as_str())),
                in_design: node.is_some(),
                name,
            });
        }
        out.sort_by(|a, b| (&a.rack, &a.name).cmp(&(&b.rack, &b.name)));
        Ok(out)
    }

    /// Stop: the running apply is stopped (its request stays unfinished, for the next leader
    /// or the next start), the lease released.
    pub async fn shutdown(&self) {
        self.0
            .shutdown
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_leading(None);
        // The stopped apply journals its cancellation before the lease is given up.
        let mut busy = self.0.busy.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(30), busy.wait_for(|b| !*b)).await;
        leader::release(self).await;
    }

    /// The leader's loop: run queued requests one at a time.
    async fn runner(&self, token: u64) {
        let mut stopping = self.0.stopping.subscribe();
        loop {
            if *stopping.borrow() || self.role() != (Role::Leader { token }) {
                return;
            }
            let next = self.0.queue.lock().expect("queue lock").pop_front();
            let Some(id) = next else {
                tokio::select! {
                    _ = self.0.queued.notified() => {}
                    _ = stopping.changed() => {}
                }
                continue;
            };
            self.0.busy.send_replace(true);
            let r = self.run_request(&id).await;
            self.0.busy.send_replace(false);
            if let Err(e) = r {
                tracing::error!(request = %id, error = %e, "the request stopped on a state store error; it is resumed when the service starts again or another instance leads");
                // A database store that failed (fenced, unreachable) takes nothing more: stop
                // leading, give the lease up, and let the next leader (this instance too)
                // open the journal again from what the database holds.
                if self.0.pg.get().is_some() {
                    self.stop_leading(None);
                    leader::release(self).await;
                    return;
                }
            }
        }
    }

    async fn finish(
        &self,
        w: &Writer,
        id: &str,
        result: &str,
        message: String,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        tracing::info!(request = %id, result, %message, "request finished");
        self.record(
            w,
            Event::RequestFinished {
                request: id.to_string(),
                result: result.to_string(),
                message,
                details: details.to_string(),
            },
        )
        .await
    }

    async fn run_request(&self, id: &str) -> Result<(), StoreError> {
        let Ok(w) = self.writer() else {
            return Ok(());
        };
        let Some(info) = self.request(id) else {
            return Ok(());
        };
        if info.state == RequestState::Finished {
            return Ok(());
        }
        if let Some(by) = &info.cancel_requested {
            return self
                .finish(
                    &w,
                    id,
                    "cancelled",
                    format!("cancelled by {by} before it started"),
                    serde_json::json!({}),
                )
                .await;
        }
        let Some(action) = Action::parse(&info.action) else {
            return self
                .finish(
                    &w,
                    id,
                    "failure",
                    format!("unknown action `{}`", info.action),
                    serde_json::json!({}),
                )
                .await;
        };
        let params: Params = serde_json::from_str(&info.params).unwrap_or_default();
        let loaded = match self.reload().await {
            Ok(l) => l,
            Err(e) => {
                return self
                    .finish(
                        &w,
                        id,
                        "failure",
                        format!("cannot load the design: {e}"),
                        serde_json::json!({}),
                    )
                    .await;
            }
        };
        let findings = serde_json::json!({"validation": loaded.report});
        if action == Action::ValidateDesign {
            self.record(
                &w,
                Event::RequestStarted {
                    request: id.to_string(),
                    tasks: Vec::new(),
                },
            )
            .await?;
            let (result, msg) = if loaded.errors == 0 {
                (
                    "success",
                    format!("the design is valid ({} warning(s))", loaded.warnings),
                )
            } else {
                (
                    "failure",
                    format!("the design has {} error(s)", loaded.errors),
                )
            };
            return self.finish(&w, id, result, msg, findings).await;
        }
        let Some(site) = &loaded.site else {
            let msg = format!(
                "the design has {} error(s); nothing was done",
                loaded.errors
            );
            return self.finish(&w, id, "failure", msg, findings).await;
        };
        let filter = match params
            .node_filter
            .as_ref()
            .map(RawNodeFilter::to_filter)
            .transpose()
        {
            Ok(f) => f,
            Err(e) => {
                return self
                    .finish(
                        &w,
                        id,
                        "failure",
                        format!("node_filter: {e}"),
                        serde_json::json!({}),
                    )
                    .await;
            }
        };
        let journal = self.view().journal.clone();
        let observed = match self.observe(site, &journal).await {
            Ok(o) => o,
            Err(e) => {
                return self
                    .finish(&w, id, "failure", e, serde_json::json!({}))
                    .await;
            }
        };
        let plan = match actions::plan(
            action,
            filter.as_ref(),
            site,
            &observed,
            &loaded.design.content_hash(),
        ) {
            Ok(p) => p,
            Err(e) => {
                return self
                    .finish(&w, id, "failure", e, serde_json::json!({}))
                    .await;
            }
        };
        execute::record_unrecorded(w.store.as_ref(), &journal, &plan).await?;
        self.record(
            &w,
            Event::RequestStarted {
                request: id.to_string(),
                tasks: plan.tasks.iter().map(|t| t.id.clone()).collect(),
            },
        )
        .await?;
        if !plan.has_changes() {
            let journal = self.view().journal.clone();
            execute::close_interrupted(w.store.as_ref(), &journal).await?;
            self.checkpoint(&w).await;
            return self
                .finish(
                    &w,
                    id,
                    "success",
                    "nothing to do".into(),
                    serde_json::json!({"nodes": []}),
                )
                .await;
        }
        let (cancel_tx, cancel_rx) = watch::channel(false);
        *self.0.running.lock().expect("running lock") = Some(Running {
            request: id.to_string(),
            cancel: cancel_tx,
        });
        // A cancel that came between the checks above and now.
        let cancel_now = self
            .request(id)
            .is_some_and(|r| r.cancel_requested.is_some())
            || *self.0.stopping.borrow();
        if cancel_now && let Some(r) = self.0.running.lock().expect("running lock").as_ref() {
            let _ = r.cancel.send(true);
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let forward = {
            let me = self.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    let _ =
                        me.0.updates
                            .send(Arc::new(Update::Progress(Progress::of(&id, e))));
                }
            })
        };
        let journal = self.view().journal.clone();
        let result = execute::run(execute::Apply {
            plan: &plan,
            journal: &journal,
            store: w.store.clone(),
            drivers: drivers(w.sim.clone(), &self.0.cfg.bmc, self.0.cfg.pxe.as_ref()),
            settings: self.0.cfg.settings.clone(),
            progress: Some(tx),
            cancel: cancel_rx,
        })
        .await;
        *self.0.running.lock().expect("running lock") = None;
        let _ = forward.await;
        let result = match result {
            Ok(r) => r,
            Err(execute::ExecuteError::Store(e)) => return Err(e),
            Err(e) => {
                return self
                    .finish(&w, id, "failure", e.to_string(), serde_json::json!({}))
                    .await;
            }
        };
        self.checkpoint(&w).await;
        let stopped = *self.0.stopping.borrow();
        let cancelled_by = self.request(id).and_then(|r| r.cancel_requested);
        if result.outcome == crate::state::Outcome::Cancelled && stopped && cancelled_by.is_none() {
            // The service stops (or lost the lease): the next leader resumes the request.
            return Ok(());
        }
        let nodes: Vec<serde_json::Value> = result
            .nodes
            .iter()
            .map(|n| {
                let (outcome, at, error) = match &n.outcome {
                    execute::NodeOutcome::Succeeded(d) => (d.as_str(), None, None),
                    execute::NodeOutcome::AlreadyDone => ("done_before", None, None),
                    execute::NodeOutcome::Failed { at, error } => {
                        ("failed", Some(at.clone()), Some(error.clone()))
                    }
                    execute::NodeOutcome::NotStarted { why } => {
                        ("not_started", None, Some(why.clone()))
                    }
                    execute::NodeOutcome::Cancelled { at } => ("cancelled", Some(at.clone()), None),
                };
                serde_json::json!({"node": n.node, "outcome": outcome, "at": at, "error": error})
            })
            .collect();
        let details = serde_json::json!({
            "run": result.run,
            "nodes": nodes,
            "site_error": result.site_error,
            "tasks_run": result.tasks_run,
            "tasks_skipped": result.tasks_skipped,
            "steps_run": result.steps_run,
            "elapsed_ms": result.elapsed.as_millis() as u64,
        });
        let failed = result.nodes.iter().filter(|n| n.outcome.failed()).count();
        let (status, message) = match result.outcome {
            crate::state::Outcome::Success => {
                ("success", format!("{} node(s) done", result.nodes.len()))
            }
            crate::state::Outcome::Partial => (
                "partial_success",
                format!("{failed} of {} node(s) failed", result.nodes.len()),
            ),
            crate::state::Outcome::Failure => (
                "failure",
                result.site_error.clone().map_or(
                    format!("{failed} of {} node(s) failed", result.nodes.len()),
                    |e| format!("a site task failed: {e}"),
                ),
            ),
            crate::state::Outcome::Cancelled => (
                "cancelled",
                format!(
                    "cancelled by {}; in-flight steps were abandoned, a later request resumes the work",
                    cancelled_by.unwrap_or_else(|| "the service".into())
                ),
            ),
        };
        self.finish(&w, id, status, message, details).await
    }

    /// Checkpoint the logs (flushes and fsyncs) on a blocking thread, so that the API's
    /// requests are not held up behind them.
    async fn checkpoint(&self, w: &Writer) {
        let (file, sim) = (w.file.clone(), w.sim.clone());
        let done = tokio::task::spawn_blocking(move || {
            if let Some(f) = &file
                && let Err(e) = f.checkpoint()
            {
                tracing::warn!(error = %e, "cannot checkpoint the journal");
            }
            if let Err(e) = sim.checkpoint() {
                tracing::warn!(error = %e, "cannot checkpoint the simulator's world");
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "the checkpoint did not finish");
        }
    }
}

/// The last task of a node.
#[derive(Clone, Debug, Serialize)]
pub struct LastTask {
    pub kind: &'static str,
    pub state: crate::state::TaskState,
}

/// One node for the API and the dashboard.
#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    pub name: String,
    pub rack: Option<String>,
    /// The provisioner's status (`deployed`, `ready`, ...).
    pub status: String,
    pub power: String,
    pub last_task: Option<LastTask>,
    pub last_error: Option<String>,
    /// A task that changes the machine started and has not succeeded (`DeployNode/deploy`).
    pub unfinished: Option<String>,
    pub in_design: bool,
}
