//! drydock's own boot service, for the PXE provisioner (`driver::pxe`): DHCP, DNS and TFTP
//! through a supervised dnsmasq configured from the design (`dnsmasq`), and an HTTP service
//! (`http`, axum) that hands each machine its iPXE script (`ipxe`), the deploy agent and the
//! images with their checksums, its deploy script (`script`), its cloud-init seed or
//! autoinstall user-data (`cloudinit`), and takes its progress, completion and boot-action
//! callbacks — on the old implementation's node-facing paths too. `records` keeps what is known
//! of each machine durable in the state directory; `token` makes and checks the one-time
//! tokens; `config` reads `--boot-config`; `conman` writes the serial-console configuration.
//!
//! [`BootState`] is what the driver and the HTTP handlers share; [`Service`] runs the
//! listeners and dnsmasq for as long as it is held (`drydock apply --provisioner pxe` holds it
//! while it applies, `drydock serve` until it is stopped). Nothing here knows of plans, the
//! executor or the journal: it receives the nodes' desired state ([`NodeSpec`]) from its caller.

pub mod cloudinit;
pub mod config;
pub mod conman;
pub mod dnsmasq;
pub mod http;
pub mod ipxe;
pub mod records;
pub mod script;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use config::BootConfig;
pub use records::{Record, Records, Stage};

use crate::spec::{NodeSpec, SiteSpec};
use crate::vocab::now_ms;

/// The boot service's directory in a state directory.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("boot")
}

/// A file served with its checksum.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// Kept in memory (the deploy agent's kernel and initramfs: every node fetches them).
    pub data: Option<bytes::Bytes>,
}

impl Artifact {
    /// Read `path`, hash it, and keep it in memory when `keep`.
    pub fn load(path: &Path, keep: bool) -> Result<Artifact, String> {
        use sha2::Digest;
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut h = sha2::Sha256::new();
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
            total += n as u64;
        }
        Ok(Artifact {
            path: path.to_path_buf(),
            sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            bytes: total,
            data: keep.then(|| bytes::Bytes::from(kept)),
        })
    }
}

/// A deploy in progress, in memory only: the plain token exists nowhere else.
pub struct Deploy {
    pub spec: Arc<NodeSpec>,
    pub token: token::Token,
    /// drydock released the deploy: the agent may fetch its script.
    pub released: bool,
}

/// The design's machines, for looking up who asks.
#[derive(Default)]
struct NodeTable {
    by_mac: HashMap<String, Arc<NodeSpec>>,
    by_name: HashMap<String, Arc<NodeSpec>>,
    site: SiteSpec,
}

/// What the HTTP service and the PXE driver share.
pub struct BootState {
    pub config: BootConfig,
    pub records: Records,
    pub boot_dir: PathBuf,
    nodes: RwLock<Arc<NodeTable>>,
    deploys: Mutex<HashMap<String, Deploy>>,
    /// Boot-action id → (node, action).
    action_ids: Mutex<HashMap<String, (String, String)>>,
    /// The deploy agent's kernel and initramfs; none for the boot-action API alone
    /// ([`BootState::open_signals`]).
    agent: Option<(Artifact, Artifact)>,
    images: Mutex<BTreeMap<PathBuf, Artifact>>,
}

/// A MAC as drydock keeps it: lower case, `:`-separated (iPXE's `hexhyp` form is accepted).
pub fn normal_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

impl BootState {
    /// Open the records for writing and load the agent's artifacts.
    pub fn open(state_dir: &Path, config: BootConfig) -> Result<BootState, String> {
        let load = |p: &Path, what: &str| {
            Artifact::load(p, true).map_err(|e| {
                format!("the deploy agent's {what}: {e} (scripts/build-agent.sh builds it; set agent.{what} in the boot config)")
            })
        };
        let agent = Some((
            load(&config.agent.kernel, "kernel")?,
            load(&config.agent.initramfs, "initramfs")?,
        ));
        BootState::with_agent(state_dir, config, agent)
    }

    /// Open the records for the boot-action API alone, listening on `listen` and reached by
    /// nodes at `url` (default `http://LISTEN`): what `apply --provisioner maas
    /// --signal-listen` runs so deployed nodes can signal their boot actions. No deploy
    /// agent, no images, no dnsmasq.
    pub fn open_signals(
        state_dir: &Path,
        listen: std::net::SocketAddr,
        url: Option<String>,
    ) -> Result<BootState, String> {
        let config = BootConfig {
            listen,
            url,
            dhcp: None,
            agent: config::AgentConfig {
                kernel: PathBuf::new(),
                initramfs: PathBuf::new(),
                kernel_args: String::new(),
            },
            images: BTreeMap::new(),
            boot_timeout_secs: 0,
        };
        config.check()?;
        BootState::with_agent(state_dir, config, None)
    }

    fn with_agent(
        state_dir: &Path,
        config: BootConfig,
        agent: Option<(Artifact, Artifact)>,
    ) -> Result<BootState, String> {
        let boot_dir = dir(state_dir);
        let records = Records::open(&boot_dir).map_err(|e| e.to_string())?;
        let mut action_ids = HashMap::new();
        for (name, r) in records.all() {
            for (a, rec) in r.actions {
                action_ids.insert(rec.id, (name.clone(), a));
            }
        }
        Ok(BootState {
            config,
            records,
            boot_dir,
            nodes: RwLock::new(Arc::new(NodeTable::default())),
            deploys: Mutex::new(HashMap::new()),
            action_ids: Mutex::new(action_ids),
            agent,
            images: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replace the design's machines (at start and on every design change).
    pub fn set_nodes(&self, site: &SiteSpec, nodes: &[Arc<NodeSpec>]) {
        let mut t = NodeTable {
            site: site.clone(),
            ..NodeTable::default()
        };
        for n in nodes {
            if let Some(m) = &n.boot_mac {
                t.by_mac.insert(normal_mac(m), n.clone());
            }
            t.by_name.insert(n.name.clone(), n.clone());
        }
        *self.nodes.write().expect("nodes lock") = Arc::new(t);
    }

    pub fn node_by_mac(&self, mac: &str) -> Option<Arc<NodeSpec>> {
        self.nodes
            .read()
            .expect("nodes lock")
            .by_mac
            .get(&normal_mac(mac))
            .cloned()
    }

    /// The node's desired state: the deploy's (the plan's) while one runs, else the design's.
    pub fn node(&self, name: &str) -> Option<Arc<NodeSpec>> {
        if let Some(d) = self.deploys.lock().expect("deploys lock").get(name) {
            return Some(d.spec.clone());
        }
        self.nodes
            .read()
            .expect("nodes lock")
            .by_name
            .get(name)
            .cloned()
    }

    pub fn all_nodes(&self) -> (SiteSpec, Vec<Arc<NodeSpec>>) {
        let t = self.nodes.read().expect("nodes lock").clone();
        (t.site.clone(), t.by_name.values().cloned().collect())
    }

    /// The deploy agent's kernel and initramfs (none for the boot-action API alone).
    pub fn agent_artifacts(&self) -> Option<(&Artifact, &Artifact)> {
        self.agent.as_ref().map(|(k, i)| (k, i))
    }

    /// Whether this serves the boot-action API alone (no deploy agent, no netboot).
    pub fn signals_only(&self) -> bool {
        self.agent.is_none()
    }

    /// An image file (hashed once per file and modification).
    pub fn image_artifact(&self, path: &Path) -> Result<Artifact, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(a) = self.images.lock().expect("images lock").get(path)
            && a.bytes == meta.len()
        {
            return Ok(a.clone());
        }
        let a = Artifact::load(path, false)?;
        self.images
            .lock()
            .expect("images lock")
            .insert(path.to_path_buf(), a.clone());
        Ok(a)
    }

    /// Start a deploy of `spec`: a new one-time token (its hash recorded), the boot actions'
    /// ids, the stage `Armed`. A token given earlier dies.
    pub async fn arm(&self, spec: Arc<NodeSpec>) -> Result<(), String> {
        let tok = token::Token::generate()?;
        let hash = tok.hash();
        let name = spec.name.clone();
        let actions: Vec<(String, bool)> = spec
            .boot_actions
            .iter()
            .map(|a| (a.name.clone(), a.signaling))
            .collect();
        let now = now_ms();
        let ids = self
            .records
            .update(&name, |r| {
                r.generation += 1;
                r.stage = Stage::Armed;
                r.token_hash = Some(hash);
                r.armed_ms = Some(now);
                r.failure = None;
                r.phases.clear();
                r.inventory = None;
                if r.status == crate::model::observed::Status::Unknown {
                    r.status = crate::model::observed::Status::New;
                }
                let generation = r.generation;
                r.actions = actions
                    .iter()
                    .map(|(a, signaling)| {
                        (
                            a.clone(),
                            records::ActionRecord {
                                id: action_id(&name, a, generation),
                                signaling: *signaling,
                                ..Default::default()
                            },
                        )
                    })
                    .collect();
                r.actions
                    .iter()
                    .map(|(a, rec)| (rec.id.clone(), a.clone()))
                    .collect::<Vec<_>>()
            })
            .await?;
        {
            let mut m = self.action_ids.lock().expect("action ids lock");
            m.retain(|_, (n, _)| *n != name);
            for (id, a) in ids {
                m.insert(id, (name.clone(), a));
            }
        }
        self.deploys.lock().expect("deploys lock").insert(
            name,
            Deploy {
                spec,
                token: tok,
                released: false,
            },
        );
        Ok(())
    }

    /// Whether a deploy of `name` is in progress in this process (its token is known).
    pub fn armed(&self, name: &str) -> bool {
        self.deploys
            .lock()
            .expect("deploys lock")
            .contains_key(name)
    }

    /// Let the agent fetch its deploy script.
    pub fn release(&self, name: &str, spec: Arc<NodeSpec>) -> bool {
        match self.deploys.lock().expect("deploys lock").get_mut(name) {
            Some(d) => {
                d.released = true;
                d.spec = spec;
                true
            }
            None => false,
        }
    }

    pub fn released(&self, name: &str) -> bool {
        self.deploys
            .lock()
            .expect("deploys lock")
            .get(name)
            .is_some_and(|d| d.released)
    }

    /// The deploy's plain token and spec (the iPXE script hands them out).
    pub fn deploy_token(&self, name: &str) -> Option<(String, Arc<NodeSpec>)> {
        self.deploys
            .lock()
            .expect("deploys lock")
            .get(name)
            .map(|d| (d.token.expose().to_string(), d.spec.clone()))
    }

    /// End the deploy: the token dies (in memory and in the records).
    pub async fn disarm(&self, name: &str) -> Result<(), String> {
        self.deploys.lock().expect("deploys lock").remove(name);
        self.records
            .update(name, |r| {
                r.token_hash = None;
                if r.stage != Stage::Failed {
                    r.stage = Stage::Idle;
                }
            })
            .await
    }

    /// Check a presented token against the node's; refused attempts are logged (never the
    /// token itself).
    pub fn authorize(&self, name: &str, presented: Option<&str>, what: &str) -> bool {
        let ok = match (self.records.get(name), presented) {
            (Some(r), Some(p)) => r.token_hash.as_deref().is_some_and(|h| token::verify(p, h)),
            _ => false,
        };
        if !ok {
            tracing::warn!(node = %name, request = %what, "refused: missing or wrong token, or no deploy in progress for this node");
        }
        ok
    }

    /// Where the signals of a deployed node's `signaling: true` boot actions stand: all
    /// `Success` ends the deploy (the token dies); a `Failure` ends it too and says why, with
    /// the node's messages; anything else is still waited for (the caller's step timeout
    /// bounds the wait). The PXE and MAAS provisioners' BootActionReport.
    pub async fn action_report(&self, node: &NodeSpec) -> Result<ActionReport, String> {
        let rec = self.records.get(&node.name).unwrap_or_default();
        let mut waiting = Vec::new();
        for a in node.boot_actions.iter().filter(|a| a.signaling) {
            let name = &a.name;
            match rec.actions.get(name) {
                Some(a) if a.status == records::ActionStatus::Success => {}
                Some(a) if a.status == records::ActionStatus::Failure => {
                    self.disarm(&node.name).await?;
                    return Ok(ActionReport::Failed(format!(
                        "boot action {name} on {} reported failure: {}",
                        node.name,
                        if a.messages.is_empty() {
                            "(no message)".to_string()
                        } else {
                            a.messages.join("; ")
                        }
                    )));
                }
                Some(a) => waiting.push(format!("{name} ({:?})", a.status).to_lowercase()),
                None => {
                    return Err(format!(
                        "boot action {name} of {} is not part of its recorded deploy; redeploy the node",
                        node.name
                    ));
                }
            }
        }
        if !waiting.is_empty() {
            return Ok(ActionReport::Waiting(format!(
                "{}: waiting for the boot-action signals of {}",
                node.name,
                waiting.join(", ")
            )));
        }
        if rec.token_hash.is_some() || self.armed(&node.name) {
            self.disarm(&node.name).await?;
        }
        Ok(ActionReport::Done)
    }

    /// Whether a signaling boot action of the node's last deploy reported failure.
    pub fn action_failed(&self, name: &str) -> bool {
        self.records.get(name).is_some_and(|r| {
            r.actions
                .values()
                .any(|a| a.signaling && a.status == records::ActionStatus::Failure)
        })
    }

    /// The node and action of a boot-action id.
    pub fn action(&self, id: &str) -> Option<(String, String)> {
        self.action_ids
            .lock()
            .expect("action ids lock")
            .get(id)
            .cloned()
    }

    /// The template context of a boot action of a node's deploy.
    pub fn action_context(&self, node: &str, action: &str, key: &str) -> cloudinit::ActionContext {
        let id = self
            .records
            .get(node)
            .and_then(|r| r.actions.get(action).map(|a| a.id.clone()))
            .unwrap_or_default();
        cloudinit::ActionContext {
            report_url: format!("{}/api/v1.0/bootactions/{id}", self.config.url()),
            action_id: id,
            key: key.to_string(),
            design_ref: self
                .node(node)
                .map(|n| format!("drydock:{}", n.fingerprint))
                .unwrap_or_default(),
        }
    }
}

/// What [`BootState::action_report`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionReport {
    /// Every signaling boot action reported success (or there are none).
    Done,
    /// Some have not reported their final status: what is waited for.
    Waiting(String),
    /// One reported failure: why, with its messages.
    Failed(String),
}

/// A boot action's id for one deploy of one node (26 hex digits, like the old ULIDs' length).
pub fn action_id(node: &str, action: &str, generation: u64) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{node}\0{action}\0{generation}").as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect::<String>()[..26].to_string()
}

/// Connections the kernel queues for the listener before it accepts them. A rack that powers
/// on at once connects faster than one accept loop on a busy host takes them: with the usual
/// 1,024 the queue overflowed when 1,000 nodes netbooted together (`benches/boot.rs`), and
/// every dropped SYN cost its node a second (TCP's first retransmission). The kernel caps it
/// at `net.core.somaxconn` (4,096 by default).
const LISTEN_BACKLOG: u32 = 8192;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The running service: the HTTP listener and, when configured, dnsmasq. Dropping it (or
/// `shutdown`) stops both.
pub struct Service {
    pub state: Arc<BootState>,
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    dnsmasq: Option<dnsmasq::Supervisor>,
    paths: dnsmasq::Paths,
    conf: Mutex<String>,
}

impl Service {
    /// Start the HTTP service and dnsmasq for `nodes` of `site`. Must run inside a tokio
    /// runtime.
    pub async fn start(
        state: Arc<BootState>,
        site: &SiteSpec,
        nodes: &[Arc<NodeSpec>],
    ) -> Result<Service, String> {
        state.set_nodes(site, nodes);
        let listener = listen(state.config.listen).map_err(|e| {
            format!(
                "the boot service cannot listen on {}: {e} (is the address on this host, the port free?)",
                state.config.listen
            )
        })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = http::router(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "the boot service's HTTP listener failed");
            }
        });
        tracing::info!(%addr, "boot service listening");
        let paths = dnsmasq::Paths::new(&state.boot_dir);
        let mut service = Service {
            state: state.clone(),
            addr,
            stop: Some(stop),
            server: Some(server),
            dnsmasq: None,
            paths: paths.clone(),
            conf: Mutex::new(String::new()),
        };
        if let Some(dhcp) = &state.config.dhcp {
            std::fs::create_dir_all(&paths.dir)
                .map_err(|e| format!("cannot create {}: {e}", paths.dir.display()))?;
            dnsmasq::check_ipxe(&dhcp.ipxe_dir)?;
            service.write_conf(site, nodes)?;
            service.dnsmasq = Some(dnsmasq::Supervisor::start(&dhcp.dnsmasq, &paths));
        }
        Ok(service)
    }

    /// Write dnsmasq's configuration; whether it changed.
    fn write_conf(&self, site: &SiteSpec, nodes: &[Arc<NodeSpec>]) -> Result<bool, String> {
        let r = dnsmasq::render(site, nodes, &self.state.config, &self.paths);
        for w in &r.warnings {
            tracing::warn!("{w}");
        }
        let mut cur = self.conf.lock().expect("conf lock");
        if *cur == r.text {
            return Ok(false);
        }
        crate::durable::write_atomic(&self.paths.conf, r.text.as_bytes())
            .map_err(|e| format!("cannot write the dnsmasq configuration: {e}"))?;
        *cur = r.text;
        Ok(true)
    }

    /// The design changed: new node table, and dnsmasq restarted when its configuration
    /// changed.
    pub fn reload(&self, site: &SiteSpec, nodes: &[Arc<NodeSpec>]) -> Result<(), String> {
        self.state.set_nodes(site, nodes);
        if let Some(d) = &self.dnsmasq
            && self.write_conf(site, nodes)?
        {
            tracing::info!("the design changed: restarting dnsmasq on its new configuration");
            d.reload();
        }
        Ok(())
    }

    pub fn dnsmasq_status(&self) -> Option<dnsmasq::Status> {
        self.dnsmasq.as_ref().map(|d| d.status())
    }

    /// dnsmasq's live status (empty when no dnsmasq is configured).
    pub fn dnsmasq_handle(&self) -> Arc<Mutex<dnsmasq::Status>> {
        self.dnsmasq
            .as_ref()
            .map(|d| d.status_handle())
            .unwrap_or_default()
    }

    pub fn dnsmasq_paths(&self) -> &dnsmasq::Paths {
        &self.paths
    }

    /// Stop dnsmasq and the listener, and checkpoint the records.
    pub async fn shutdown(mut self) {
        if let Some(d) = self.dnsmasq.take() {
            d.stop().await;
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.server.take() {
            // Open connections (a node downloading an image) are not waited for long.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
        if let Err(e) = self.state.records.checkpoint() {
            tracing::error!(error = %e, "cannot checkpoint the boot records");
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
