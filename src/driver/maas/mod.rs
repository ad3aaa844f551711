//! The MAAS provisioner (`--provisioner maas --maas-url URL --maas-key REF`): drydock drives a
//! MAAS region through its REST API 2.0, as Drydock's MAAS driver did.
//!
//! - Site: `verify_services` (the API answers, the key works, the design's images and kernels
//!   are imported boot resources), `prepare_networks` (the network template, `network.rs`),
//!   `prepare_credentials` (the region's SSH keys and package repositories), `prepare_images`
//!   (the boot resources again).
//! - Node: `identify` (by boot MAC, then hostname; enlisted with its power parameters when
//!   MAAS does not know it), `configure_hardware` (commission, wait for Ready through
//!   Testing), `apply_networking` (`network.rs`), `apply_storage` (`storage.rs`),
//!   `apply_platform` (the kernel-parameters tag and the design's tags), `deploy` (allocate,
//!   owner data with the fingerprint, deploy with distro_series/hwe_kernel/user_data, wait for
//!   Deployed), `boot_action_report` (the signals of the signaling boot actions, through the
//!   boot-action API `apply --signal-listen` runs; refused without one), `update_metadata`
//!   (tags and owner data in place), `destroy` (release with erase, wait for Ready).
//! - Observing is in bulk: one `GET /machines/` filtered to the design's hostnames serves
//!   every node's poll within a poll interval (`Maas::machines`), whatever the number in
//!   flight.
//! - MAAS drives the power itself: as an `OobDriver` it answers for PrepareNode's PXE and
//!   power-cycle steps without acting, and reports the power state MAAS shows.
//!
//! What happened in this process is remembered only to tell a failure from a leftover: a
//! machine in Failed deployment that this process deployed fails the node with MAAS's reason;
//! one found so at the start is released and deployed again (MAAS refuses to redeploy it).
//! Every call checks MAAS's state first, so a rerun after a crash continues where MAAS is.

pub mod client;
pub mod network;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::driver::{
    BootDevice, DriverError, DriverResult, Inventory, Machine, NodeSpec, OobDriver, OobKind,
    PowerAction, Progress, Provisioner, SiteDriver, SiteSpec, credential,
};
use crate::model::observed::{Power, Status};
use crate::vocab::Secret;

use client::{ApiError, Client, ClientOptions};

/// The owner-data key holding the fingerprint of the configuration drydock deployed.
pub const FINGERPRINT_KEY: &str = "drydock_fingerprint";
/// The owner-data key listing the tags drydock put on the machine (so it removes only those).
pub const TAGS_KEY: &str = "drydock_tags";
/// The owner-data key listing the design's owner-data keys (so removed ones are cleared).
pub const KEYS_KEY: &str = "drydock_keys";

#[derive(Clone, Debug)]
pub struct MaasOptions {
    /// `http://HOST:5240/MAAS`.
    pub url: String,
    /// `env:NAME` or `file:PATH` naming the `consumer:token:secret` key.
    pub key: Secret,
    /// How long a waiting step waits before it asks again (and how old the bulk machine list
    /// may be).
    pub poll: Duration,
    /// Extra `commission` parameters (`skip_bmc_config=1`, `testing_scripts=none`, …).
    pub commission: Vec<(String, String)>,
    pub client: ClientOptions,
}

impl MaasOptions {
    pub fn new(url: &str, key: Secret) -> MaasOptions {
        MaasOptions {
            url: url.into(),
            key,
            poll: Duration::from_secs(5),
            commission: Vec::new(),
            client: ClientOptions::default(),
        }
    }
}

/// What this process started and waits for, per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Started {
    Commission,
    Deploy,
    Release,
}

/// The bulk machine list and what it covers.
#[derive(Default)]
struct Listing {
    at: Option<Instant>,
    names: BTreeSet<String>,
    machines: HashMap<String, Arc<Value>>,
}

pub struct Maas {
    pub client: Client,
    options: MaasOptions,
    listing: tokio::sync::Mutex<Listing>,
    /// Every node name asked about: the bulk list asks for all of them.
    names: std::sync::Mutex<BTreeSet<String>>,
    started: std::sync::Mutex<HashMap<String, Started>>,
    /// Per machine: LXD's commissioning resources (PCI address → MAC, SCSI path → disk).
    hardware: std::sync::Mutex<HashMap<String, Arc<network::Discovered>>>,
    /// Fabrics, VLANs and subnets, read once (PrepareSite refreshes it).
    net: tokio::sync::Mutex<Option<Arc<network::NetIndex>>>,
    tags: tokio::sync::Mutex<Option<BTreeMap<String, String>>>,
    /// The nodes whose interfaces this process has changed (their listed view may be stale).
    net_touched: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The boot-action API nodes signal to (`apply --signal-listen`): each deploy of a node
    /// with signaling boot actions is armed there (a one-time key, the actions' ids), the
    /// user-data carries the report URLs and the key, and BootActionReport waits for the
    /// signals. None: such a deploy is refused.
    signals: std::sync::RwLock<Option<Arc<crate::boot::BootState>>>,
}

fn permanent(s: impl Into<String>) -> DriverError {
    DriverError::Permanent(s.into())
}

fn pending(after: Duration, what: String) -> DriverResult<Progress> {
    Ok(Progress::Pending { after, what })
}

/// A signaling boot action without a boot-action API to signal to.
pub fn no_signal_endpoint(node: &str, action: &str) -> String {
    format!(
        "boot action {action} of {node} is signaling, but no boot-action endpoint collects signals: pass --signal-listen ADDR:PORT (an address the deployed nodes reach) to apply, or set `signaling: false`"
    )
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

pub(crate) fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A JSON array of strings, collected.
pub(crate) fn strings<C: FromIterator<String>>(v: &Value) -> C {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| s(x).to_string())
        .collect()
}

pub(crate) fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// The drydock status of a MAAS status code.
pub fn status(code: u64) -> Status {
    match code {
        0 => Status::New,
        1 | 21 => Status::Commissioning,
        2 | 22 => Status::FailedCommissioning,
        4 | 10 | 5 => Status::Ready,
        6 => Status::Deployed,
        9 => Status::Deploying,
        11 => Status::FailedDeployment,
        12 | 14 => Status::Releasing,
        _ => Status::Broken,
    }
}

fn power(v: &Value) -> Power {
    match s(&v["power_state"]) {
        "on" => Power::On,
        "off" => Power::Off,
        _ => Power::Unknown,
    }
}

/// The key's value: only a reference is accepted, so the key is never written in a command
/// line, a config file or a plan.
pub fn resolve_key(key: &Secret) -> DriverResult<String> {
    if key.reference().is_none() {
        return Err(permanent(
            "the MAAS API key must be given as a reference, env:NAME or file:PATH, never as the key itself",
        ));
    }
    credential::resolve(key).map_err(|e| {
        permanent(
            e.to_string()
                .replace("the BMC credential reference", "the MAAS key reference"),
        )
    })
}

impl Maas {
    pub fn new(options: MaasOptions) -> DriverResult<Maas> {
        let key = resolve_key(&options.key)?;
        let client = Client::new(&options.url, &key, options.client.clone())?;
        Ok(Maas {
            client,
            options,
            listing: Default::default(),
            names: Default::default(),
            started: Default::default(),
            hardware: Default::default(),
            net: Default::default(),
            tags: Default::default(),
            net_touched: Default::default(),
            signals: Default::default(),
        })
    }

    /// Collect boot-action signals through `boot` (its HTTP service runs elsewhere, as long
    /// as the deploys do); None stops collecting them.
    pub fn set_signals(&self, boot: Option<Arc<crate::boot::BootState>>) {
        *self.signals.write().expect("signals lock") = boot;
    }

    fn signals(&self) -> Option<Arc<crate::boot::BootState>> {
        self.signals.read().expect("signals lock").clone()
    }

    pub fn poll(&self) -> Duration {
        self.options.poll
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.client.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn started(&self, node: &str) -> Option<Started> {
        self.started
            .lock()
            .expect("started lock")
            .get(node)
            .copied()
    }

    fn start(&self, node: &str, what: Started) {
        self.started
            .lock()
            .expect("started lock")
            .insert(node.into(), what);
    }

    fn forget(&self, node: &str) {
        self.started.lock().expect("started lock").remove(node);
    }

    /// Every node's machine, from one `GET /machines/` no older than `max_age`: concurrent
    /// callers share one request.
    async fn machines(&self, max_age: Duration) -> DriverResult<HashMap<String, Arc<Value>>> {
        let names = self.names.lock().expect("names lock").clone();
        let mut l = self.listing.lock().await;
        let fresh = l.at.is_some_and(|t| t.elapsed() < max_age) && names.is_subset(&l.names);
        if !fresh {
            let q: Vec<(String, String)> = names.iter().map(|n| kv("hostname", n)).collect();
            let v = self.client.get("machines/", None, &q).await?;
            l.machines = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| (s(&m["hostname"]).to_string(), Arc::new(m.clone())))
                .collect();
            l.names = names;
            l.at = Some(Instant::now());
        }
        Ok(l.machines.clone())
    }

    /// The node's machine as the bulk list shows it (`None`: MAAS does not know it by name).
    async fn machine(&self, node: &str, max_age: Duration) -> DriverResult<Option<Arc<Value>>> {
        self.names.lock().expect("names lock").insert(node.into());
        Ok(self.machines(max_age).await?.get(node).cloned())
    }

    async fn remember(&self, m: Arc<Value>) {
        if m["system_id"].is_string() {
            let mut l = self.listing.lock().await;
            l.machines.insert(s(&m["hostname"]).to_string(), m);
        }
    }

    /// The machine of a node that `identify` found or enlisted.
    async fn known(&self, node: &NodeSpec) -> DriverResult<Arc<Value>> {
        self.machine(&node.name, self.options.poll)
            .await?
            .ok_or_else(|| {
                permanent(format!(
                    "MAAS has no machine named {} (identify enlists it; run the apply again)",
                    node.name
                ))
            })
    }

    async fn op(
        &self,
        sid: &str,
        op: &str,
        form: &[(String, String)],
    ) -> Result<Arc<Value>, ApiError> {
        let v = Arc::new(
            self.client
                .post(&format!("machines/{sid}/"), Some(op), form)
                .await?,
        );
        self.remember(v.clone()).await;
        Ok(v)
    }

    /// The node's machine when it can be configured (Ready); otherwise what comes first: done
    /// (deployed as designed), or a release of what an earlier attempt left allocated or
    /// failed (MAAS changes storage only on a Ready machine).
    async fn configurable(&self, node: &NodeSpec) -> DriverResult<Result<Arc<Value>, Progress>> {
        let m = self.known(node).await?;
        let code = u(&m["status"]);
        if code == 6 && s(&m["owner_data"][FINGERPRINT_KEY]) == node.fingerprint {
            return Ok(Err(Progress::Done));
        }
        match code {
            4 => Ok(Ok(m)),
            12 | 14 => Ok(Err(Progress::Pending {
                after: self.options.poll,
                what: format!("{}: releasing", node.name),
            })),
            6 | 10 | 11 => {
                let sid = s(&m["system_id"]).to_string();
                self.release(node, &sid, false).await.map(Err)
            }
            _ => Err(permanent(format!(
                "{} is {} in MAAS ({}); it must be commissioned (Ready) to be configured",
                node.name,
                s(&m["status_name"]),
                Maas::reason(&m)
            ))),
        }
    }

    /// The power parameters of the node's BMC, as MAAS's power drivers name them.
    fn power_params(&self, node: &NodeSpec) -> DriverResult<Vec<(String, String)>> {
        let o = &node.oob;
        let addr = o.address.map(|a| a.to_string()).unwrap_or_default();
        let pass = match &o.credential {
            Some(c) => {
                let p = credential::resolve(c)?;
                self.client.scrub_also(&p);
                p
            }
            None => String::new(),
        };
        let user = o.account.clone().unwrap_or_default();
        let mut p = Vec::new();
        match o.kind {
            Some(OobKind::Ipmi) => {
                p.push(kv("power_type", "ipmi"));
                p.push(kv("power_parameters_power_driver", "LAN_2_0"));
                p.push(kv("power_parameters_power_address", &addr));
                p.push(kv("power_parameters_power_user", &user));
                p.push(kv("power_parameters_power_pass", &pass));
                if let Some(c) = o.cipher_suite {
                    p.push(kv("power_parameters_cipher_suite_id", c));
                }
            }
            Some(OobKind::Redfish) => {
                let a = match o.port {
                    Some(port) => format!("{addr}:{port}"),
                    None => addr,
                };
                p.push(kv("power_type", "redfish"));
                p.push(kv("power_parameters_power_address", a));
                p.push(kv("power_parameters_power_user", &user));
                p.push(kv("power_parameters_power_pass", &pass));
                if let Some(id) = &o.system {
                    p.push(kv("power_parameters_node_id", id));
                }
            }
            Some(OobKind::Libvirt) => {
                p.push(kv("power_type", "virsh"));
                p.push(kv(
                    "power_parameters_power_address",
                    o.libvirt_uri.clone().unwrap_or_default(),
                ));
                p.push(kv("power_parameters_power_id", &node.name));
                if !pass.is_empty() {
                    p.push(kv("power_parameters_power_pass", &pass));
                }
            }
            Some(OobKind::Manual) | None => p.push(kv("power_type", "manual")),
        }
        Ok(p)
    }

    /// What went wrong with a machine, in MAAS's words.
    fn reason(m: &Value) -> String {
        let e = s(&m["error_description"]);
        if !e.is_empty() {
            return e.to_string();
        }
        let msg = s(&m["status_message"]);
        if msg.is_empty() {
            s(&m["status_name"]).to_string()
        } else {
            msg.to_string()
        }
    }

    async fn release(&self, node: &NodeSpec, sid: &str, erase: bool) -> DriverResult<Progress> {
        let form = if erase {
            vec![kv("erase", "true")]
        } else {
            vec![]
        };
        self.op(sid, "release", &form).await?;
        self.start(&node.name, Started::Release);
        pending(self.options.poll, format!("{}: releasing", node.name))
    }

    /// The tags MAAS knows, with their kernel options.
    async fn tags(
        &self,
    ) -> DriverResult<tokio::sync::MutexGuard<'_, Option<BTreeMap<String, String>>>> {
        let mut g = self.tags.lock().await;
        if g.is_none() {
            let v = self.client.get("tags/", None, &[]).await?;
            *g = Some(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| (s(&t["name"]).to_string(), s(&t["kernel_opts"]).to_string()))
                    .collect(),
            );
        }
        Ok(g)
    }

    /// Make `tag` exist (with `kernel_opts` when given).
    async fn ensure_tag(&self, tag: &str, kernel_opts: Option<&str>) -> DriverResult<()> {
        let mut g = self.tags().await?;
        let tags = g.as_mut().expect("tags read");
        match (tags.get(tag), kernel_opts) {
            (None, k) => {
                let mut f = vec![kv("name", tag), kv("comment", "managed by drydock")];
                if let Some(k) = k {
                    f.push(kv("kernel_opts", k));
                }
                match self.client.post("tags/", None, &f).await {
                    Ok(_) => {}
                    // Made meanwhile by another node's call.
                    Err(e) if e.is(400) && e.message.contains("already exists") => {}
                    Err(e) => return Err(e.into()),
                }
                tags.insert(tag.into(), k.unwrap_or("").into());
            }
            (Some(have), Some(k)) if have != k => {
                self.client
                    .put(
                        &format!("tags/{}/", client::enc(tag)),
                        &[kv("kernel_opts", k)],
                    )
                    .await?;
                tags.insert(tag.into(), k.into());
            }
            _ => {}
        }
        Ok(())
    }

    /// The per-node tag carrying the node's kernel parameters (as Drydock's driver did).
    pub fn kernel_tag(node: &NodeSpec) -> String {
        let safe: String = node
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("dd-kp-{safe}")
    }

    /// Put the design's tags (and the kernel-parameters tag) on the machine; remove the tags
    /// drydock put there before that the design no longer has.
    async fn sync_tags(&self, node: &NodeSpec, m: &Value) -> DriverResult<Vec<String>> {
        let sid = s(&m["system_id"]).to_string();
        let mut want: Vec<String> = node.tags.clone();
        let cmdline = node.platform.cmdline();
        if !cmdline.is_empty() {
            let t = Maas::kernel_tag(node);
            self.ensure_tag(&t, Some(&cmdline)).await?;
            want.push(t);
        }
        let have: BTreeSet<String> = strings(&m["tag_names"]);
        for t in &want {
            if !have.contains(t) {
                self.ensure_tag(t, None).await?;
                self.client
                    .post(
                        &format!("tags/{}/", client::enc(t)),
                        Some("update_nodes"),
                        &[kv("add", &sid)],
                    )
                    .await?;
            }
        }
        let previous: Vec<String> = s(&m["owner_data"][TAGS_KEY])
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        for t in previous {
            if !want.contains(&t) && have.contains(&t) {
                self.client
                    .post(
                        &format!("tags/{}/", client::enc(&t)),
                        Some("update_nodes"),
                        &[kv("remove", &sid)],
                    )
                    .await?;
            }
        }
        Ok(want)
    }

    /// The owner data drydock keeps on an allocated machine: the design's, the fingerprint,
    /// the tags it applied, and the design's keys (so a key the design drops is cleared).
    async fn set_owner_data(
        &self,
        node: &NodeSpec,
        m: &Value,
        tags: &[String],
    ) -> DriverResult<()> {
        let sid = s(&m["system_id"]);
        let mut f: Vec<(String, String)> = node
            .owner_data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let old: Vec<&str> = s(&m["owner_data"][KEYS_KEY])
            .split(',')
            .filter(|k| !k.is_empty())
            .collect();
        for k in old {
            if !node.owner_data.contains_key(k) {
                f.push(kv(k, ""));
            }
        }
        f.push(kv(FINGERPRINT_KEY, &node.fingerprint));
        f.push(kv(TAGS_KEY, tags.join(",")));
        f.push(kv(
            KEYS_KEY,
            node.owner_data
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        ));
        self.op(sid, "set_owner_data", &f).await?;
        Ok(())
    }

    /// The cloud-init user-data delivering the boot actions' files (their pipelines and
    /// templates applied), units (enabled) and packages, the SSH keys and repositories: the
    /// boot service's renderer. Without signaling boot actions `action.key` and
    /// `action.report_url` render empty; with them `signals` is the armed deploy's boot
    /// service, the templates see its report URLs and key, and a script per signaling
    /// action reports its status (`cloudinit::user_data_signaling`).
    pub fn user_data(
        node: &NodeSpec,
        signals: Option<&crate::boot::BootState>,
    ) -> DriverResult<String> {
        let actions: Vec<_> = node
            .boot_actions
            .iter()
            .map(|ba| {
                let cx = match signals {
                    Some(b) => {
                        let key = b.deploy_token(&node.name).map(|(k, _)| k);
                        b.action_context(&node.name, &ba.name, key.as_deref().unwrap_or(""))
                    }
                    None => crate::boot::cloudinit::ActionContext {
                        key: String::new(),
                        report_url: String::new(),
                        action_id: format!("{}-{}", node.name, ba.name),
                        design_ref: ba.digest.clone(),
                    },
                };
                (ba.as_ref(), cx)
            })
            .collect();
        match signals {
            Some(_) => crate::boot::cloudinit::user_data_signaling(node, &actions),
            None => crate::boot::cloudinit::user_data(node, &actions),
        }
        .map_err(|e| permanent(format!("the user-data of {}: {e}", node.name)))
    }

    /// Arm a deploy of `node` on the boot-action API when it has signaling boot actions: a
    /// new key (the one before dies), new action ids. An error when no API is configured.
    async fn arm_signals(
        &self,
        node: &NodeSpec,
    ) -> DriverResult<Option<Arc<crate::boot::BootState>>> {
        let Some(a) = node.boot_actions.iter().find(|a| a.signaling) else {
            return Ok(None);
        };
        let Some(boot) = self.signals() else {
            return Err(permanent(no_signal_endpoint(&node.name, &a.name)));
        };
        boot.arm(Arc::new(node.clone()))
            .await
            .map_err(DriverError::Permanent)?;
        Ok(Some(boot))
    }

    /// The catalogue of images (series) and kernels MAAS has imported, for DD3001.
    pub async fn catalog(&self) -> DriverResult<crate::vocab::Catalog> {
        let v = self.client.get("boot-resources/", None, &[]).await?;
        let mut images = BTreeSet::new();
        let mut kernels: BTreeSet<String> = ["generic".to_string()].into();
        for r in v.as_array().into_iter().flatten() {
            let name = s(&r["name"]);
            images.insert(name.to_string());
            if let Some(series) = name.split('/').nth(1) {
                images.insert(series.to_string());
            }
            if let Some(k) = s(&r["architecture"]).split('/').nth(1) {
                kernels.insert(k.to_string());
            }
            for k in s(&r["subarches"]).split(',').filter(|k| !k.is_empty()) {
                kernels.insert(k.to_string());
            }
        }
        Ok(crate::vocab::Catalog {
            source: format!("MAAS at {}", self.options.url),
            images: images.into_iter().collect(),
            kernels: kernels.into_iter().collect(),
        })
    }

    async fn check_images(&self, site: &SiteSpec) -> DriverResult<()> {
        let c = self.catalog().await?;
        let missing: Vec<&String> = site.images.iter().filter(|i| !c.offers_image(i)).collect();
        let kernels: Vec<&String> = site
            .kernels
            .iter()
            .filter(|k| !c.offers_kernel(k))
            .collect();
        if !missing.is_empty() || !kernels.is_empty() {
            return Err(permanent(format!(
                "MAAS has not imported what the design uses: images [{}], kernels [{}]; import them (MAAS UI: Images, or `maas admin boot-resources import`) and run the apply again",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                kernels
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }

    pub(crate) async fn net_index(&self, refresh: bool) -> DriverResult<Arc<network::NetIndex>> {
        let mut g = self.net.lock().await;
        if refresh || g.is_none() {
            *g = Some(Arc::new(network::NetIndex::read(&self.client).await?));
        }
        Ok(g.clone().expect("read"))
    }

    pub(crate) async fn discovered(&self, sid: &str) -> DriverResult<Arc<network::Discovered>> {
        if let Some(d) = self.hardware.lock().expect("hardware lock").get(sid) {
            return Ok(d.clone());
        }
        let d = Arc::new(network::Discovered::read(&self.client, sid).await?);
        self.hardware
            .lock()
            .expect("hardware lock")
            .insert(sid.into(), d.clone());
        Ok(d)
    }
}

#[async_trait::async_trait]
impl Provisioner for Maas {
    fn name(&self) -> &str {
        "maas"
    }

    /// The fabrics and subnets MAAS has that the design does not name (PrepareSite never
    /// deletes them).
    async fn foreign(&self, links: &[String], cidrs: &[String]) -> DriverResult<Vec<String>> {
        let ix = self.net_index(true).await?;
        let mut out: Vec<String> = ix
            .fabrics
            .keys()
            .filter(|f| !links.contains(f))
            .map(|f| format!("MAAS fabric {f}"))
            .collect();
        out.extend(
            ix.subnets
                .keys()
                .filter(|c| !cidrs.contains(c))
                .map(|c| format!("MAAS subnet {c}")),
        );
        out.sort();
        Ok(out)
    }

    async fn observe(&self, nodes: &[String]) -> DriverResult<BTreeMap<String, Machine>> {
        self.names
            .lock()
            .expect("names lock")
            .extend(nodes.iter().cloned());
        let all = self.machines(Duration::ZERO).await?;
        Ok(nodes
            .iter()
            .filter_map(|n| {
                let m = all.get(n)?;
                let st = status(u(&m["status"]));
                Some((
                    n.clone(),
                    Machine {
                        status: st,
                        power: power(m),
                        deployed_fingerprint: (st == Status::Deployed)
                            .then(|| s(&m["owner_data"][FINGERPRINT_KEY]).to_string())
                            .filter(|f| !f.is_empty()),
                    },
                ))
            })
            .collect())
    }

    async fn identify(&self, node: &NodeSpec) -> DriverResult<Progress> {
        // A machine enlisted meanwhile by someone else is found by its MAC below.
        let by_name = self.machine(&node.name, self.options.poll).await?;
        let found = match (by_name, &node.boot_mac) {
            (Some(m), _) => Some(m),
            (None, Some(mac)) => {
                let v = self
                    .client
                    .get("machines/", None, &[kv("mac_address", mac)])
                    .await?;
                v.as_array().and_then(|a| a.first().cloned()).map(Arc::new)
            }
            (None, None) => None,
        };
        let m = match found {
            Some(m) => m,
            None => {
                let Some(mac) = &node.boot_mac else {
                    return Err(permanent(format!(
                        "MAAS has no machine named {} and the design gives no metadata.boot_mac to enlist it with",
                        node.name
                    )));
                };
                let mut f = vec![
                    kv("architecture", "amd64/generic"),
                    kv("mac_addresses", mac),
                    kv("hostname", &node.name),
                    kv("commission", "false"),
                ];
                f.extend(self.power_params(node)?);
                let v = match self.client.post("machines/", None, &f).await {
                    Ok(v) => v,
                    // A rerun after a partial failure: the MAC is enlisted already (§8.5).
                    Err(e) if e.is(400) && e.message.contains("already in use") => {
                        let v = self
                            .client
                            .get("machines/", None, &[kv("mac_address", mac)])
                            .await?;
                        v.as_array()
                            .and_then(|a| a.first().cloned())
                            .ok_or(DriverError::from(e))?
                    }
                    Err(e) => return Err(e.into()),
                };
                tracing::info!(node = %node.name, system_id = s(&v["system_id"]), "enlisted in MAAS");
                Arc::new(v)
            }
        };
        let sid = s(&m["system_id"]).to_string();
        if s(&m["hostname"]) != node.name {
            let v = self
                .client
                .put(&format!("machines/{sid}/"), &[kv("hostname", &node.name)])
                .await?;
            self.remember(Arc::new(v)).await;
        } else {
            self.remember(m).await;
        }
        Ok(Progress::Done)
    }

    async fn configure_hardware(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = self.known(node).await?;
        let sid = s(&m["system_id"]).to_string();
        let code = u(&m["status"]);
        let started = self.started(&node.name);
        let poll = self.options.poll;
        match code {
            6 if s(&m["owner_data"][FINGERPRINT_KEY]) == node.fingerprint => Ok(Progress::Done),
            4 if u(&m["commissioning_status"]) == 2 => {
                self.forget(&node.name);
                Ok(Progress::Done)
            }
            1 | 21 => pending(
                poll,
                format!("{}: {}", node.name, s(&m["status_name"]).to_lowercase()),
            ),
            12 | 14 => pending(poll, format!("{}: releasing", node.name)),
            0 | 4 | 2 | 22 | 8 if started == Some(Started::Commission) => {
                self.forget(&node.name);
                Err(permanent(format!(
                    "commissioning {} failed: MAAS shows it {} ({})",
                    node.name,
                    s(&m["status_name"]),
                    Maas::reason(&m)
                )))
            }
            0 | 4 | 2 | 8 => {
                let mut f = self.options.commission.clone();
                f.retain(|(k, _)| k != "op");
                self.op(&sid, "commission", &f).await?;
                self.start(&node.name, Started::Commission);
                tracing::info!(node = %node.name, system_id = %sid, "commissioning");
                pending(poll, format!("{}: commissioning", node.name))
            }
            // Left allocated or deployed by an earlier attempt: back to Ready first.
            6 | 10 | 11 => self.release(node, &sid, false).await,
            _ => Err(permanent(format!(
                "{} is {} in MAAS ({}); fix it there (mark it fixed, or release it) and run the apply again",
                node.name,
                s(&m["status_name"]),
                Maas::reason(&m)
            ))),
        }
    }

    async fn apply_networking(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = match self.configurable(node).await? {
            Ok(m) => m,
            Err(p) => return Ok(p),
        };
        // The list's view of the interfaces serves the first attempt; a retry reads them.
        let first = self
            .net_touched
            .lock()
            .expect("touched lock")
            .insert(node.name.clone());
        let seen = first.then_some(&m["interface_set"]);
        network::apply_node(self, node, s(&m["system_id"]), seen).await?;
        Ok(Progress::Done)
    }

    async fn apply_storage(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = match self.configurable(node).await? {
            Ok(m) => m,
            Err(p) => return Ok(p),
        };
        let boot = m["boot_disk"]["id"].as_u64();
        storage::apply_node(self, node, s(&m["system_id"]), boot).await?;
        Ok(Progress::Done)
    }

    async fn apply_platform(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = match self.configurable(node).await? {
            Ok(m) => m,
            Err(p) => return Ok(p),
        };
        self.sync_tags(node, &m).await?;
        Ok(Progress::Done)
    }

    async fn deploy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = self
            .machine(&node.name, self.options.poll)
            .await?
            .ok_or_else(|| permanent(format!("MAAS has no machine named {}", node.name)))?;
        let sid = s(&m["system_id"]).to_string();
        let started = self.started(&node.name);
        let poll = self.options.poll;
        let fp_matches = s(&m["owner_data"][FINGERPRINT_KEY]) == node.fingerprint;
        match u(&m["status"]) {
            // Deployed, and a boot action of a deploy before this one (not the one this
            // process waits for: its signal may come before MAAS says Deployed) reported
            // failure: deployed again, through release.
            6 if fp_matches
                && started != Some(Started::Deploy)
                && self.signals().is_some_and(|b| b.action_failed(&node.name)) =>
            {
                tracing::info!(node = %node.name, "a boot action failed on the deployed machine: releasing it to deploy again");
                self.release(node, &sid, false).await
            }
            6 if fp_matches => {
                self.forget(&node.name);
                tracing::info!(node = %node.name, "deployed");
                Ok(Progress::Done)
            }
            9 => pending(
                poll,
                format!("{}: deploying ({})", node.name, s(&m["status_message"])),
            ),
            12 | 14 => pending(poll, format!("{}: releasing", node.name)),
            11 | 10 if started == Some(Started::Deploy) => {
                self.forget(&node.name);
                Err(permanent(format!(
                    "deploying {} failed: MAAS shows it {} ({})",
                    node.name,
                    s(&m["status_name"]),
                    Maas::reason(&m)
                )))
            }
            // A failed deployment from before cannot be redeployed: release it first (§8.2).
            6 | 11 => self.release(node, &sid, false).await,
            4 | 10 => {
                // Refused before the machine is allocated: nothing would collect the signal.
                if let Some(a) = node.boot_actions.iter().find(|a| a.signaling)
                    && self.signals().is_none()
                {
                    return Err(permanent(no_signal_endpoint(&node.name, &a.name)));
                }
                let m = if u(&m["status"]) == 4 {
                    let v = self
                        .client
                        .post("machines/", Some("allocate"), &[kv("system_id", &sid)])
                        .await?;
                    Arc::new(v)
                } else {
                    m
                };
                let tags = self.sync_tags(node, &m).await?;
                self.set_owner_data(node, &m, &tags).await?;
                let mut f = Vec::new();
                if let Some(image) = &node.platform.image {
                    f.push(kv("distro_series", image));
                }
                if let Some(k) = &node.platform.kernel {
                    f.push(kv("hwe_kernel", k));
                }
                let signals = self.arm_signals(node).await?;
                f.push(kv(
                    "user_data",
                    credential::base64(Maas::user_data(node, signals.as_deref())?.as_bytes()),
                ));
                self.op(&sid, "deploy", &f).await?;
                self.start(&node.name, Started::Deploy);
                tracing::info!(node = %node.name, system_id = %sid, "deploying");
                pending(poll, format!("{}: deploying", node.name))
            }
            _ => Err(permanent(format!(
                "{} is {} in MAAS ({}), not Ready for a deploy",
                node.name,
                s(&m["status_name"]),
                Maas::reason(&m)
            ))),
        }
    }

    async fn boot_action_report(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let Some(a) = node.boot_actions.iter().find(|a| a.signaling) else {
            return Ok(Progress::Done);
        };
        let Some(boot) = self.signals() else {
            return Err(permanent(no_signal_endpoint(&node.name, &a.name)));
        };
        match boot
            .action_report(node)
            .await
            .map_err(DriverError::Permanent)?
        {
            crate::boot::ActionReport::Done => Ok(Progress::Done),
            crate::boot::ActionReport::Waiting(what) => pending(self.options.poll, what),
            crate::boot::ActionReport::Failed(why) => Err(permanent(why)),
        }
    }

    async fn update_metadata(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let m = self.known(node).await?;
        if u(&m["status"]) != 6 {
            return Err(permanent(format!(
                "update_metadata: {} is {} in MAAS, not Deployed",
                node.name,
                s(&m["status_name"])
            )));
        }
        if s(&m["owner_data"][FINGERPRINT_KEY]) == node.fingerprint {
            return Ok(Progress::Done);
        }
        let tags = self.sync_tags(node, &m).await?;
        self.set_owner_data(node, &m, &tags).await?;
        Ok(Progress::Done)
    }

    async fn destroy(&self, node: &NodeSpec) -> DriverResult<Progress> {
        let Some(m) = self.machine(&node.name, self.options.poll).await? else {
            return Ok(Progress::Done);
        };
        let sid = s(&m["system_id"]).to_string();
        match u(&m["status"]) {
            0 | 4 | 2 => {
                self.forget(&node.name);
                Ok(Progress::Done)
            }
            12 | 14 => pending(self.options.poll, format!("{}: releasing", node.name)),
            13 | 15 => Err(permanent(format!(
                "releasing {} failed: MAAS shows it {} ({})",
                node.name,
                s(&m["status_name"]),
                Maas::reason(&m)
            ))),
            1 | 21 | 9 => {
                self.op(&sid, "abort", &[]).await?;
                pending(self.options.poll, format!("{}: aborting", node.name))
            }
            _ => self.release(node, &sid, true).await,
        }
    }
}

/// MAAS drives the power: PrepareNode's PXE and power-cycle steps have nothing to do.
#[async_trait::async_trait]
impl OobDriver for Maas {
    fn name(&self) -> &str {
        "maas"
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        Ok(self
            .machine(&node.name, self.options.poll)
            .await?
            .map_or(Power::Unknown, |m| power(&m)))
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        tracing::debug!(node = %node.name, ?action, "MAAS powers the machine itself");
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        tracing::debug!(node = %node.name, ?device, "MAAS sets the boot device itself");
        Ok(Progress::Done)
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        let Some(m) = self.machine(&node.name, self.options.poll).await? else {
            return Ok(Inventory::default());
        };
        Ok(Inventory {
            model: None,
            serial: None,
            memory_gib: Some(u(&m["memory"]) / 1024),
            cpus: Some(u(&m["cpu_count"])),
            macs: m["interface_set"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| s(&i["type"]) == "physical")
                .map(|i| s(&i["mac_address"]).to_string())
                .collect(),
        })
    }
}

#[async_trait::async_trait]
impl SiteDriver for Maas {
    async fn verify_services(&self) -> DriverResult<Progress> {
        self.client.anonymous("version/").await?;
        self.client.get("users/", Some("whoami"), &[]).await?;
        Ok(Progress::Done)
    }

    async fn prepare_networks(&self, site: &SiteSpec) -> DriverResult<Progress> {
        network::prepare_site(self, site).await?;
        self.net_index(true).await?;
        Ok(Progress::Done)
    }

    async fn prepare_credentials(&self, site: &SiteSpec) -> DriverResult<Progress> {
        network::prepare_credentials(self, site).await?;
        Ok(Progress::Done)
    }

    async fn prepare_images(&self, site: &SiteSpec) -> DriverResult<Progress> {
        self.check_images(site).await?;
        Ok(Progress::Done)
    }
}
