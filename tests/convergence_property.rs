//! The convergence property, stateful: over random sequences of design changes drawn from every
//! class of field the plan knows — node tags and owner data, addressing, interfaces, storage
//! sizes and layout, image, kernel, kernel parameters, hardware profile, boot actions; site
//! networks, links, region keys and repositories; nodes added and removed (with
//! `--destroy-removed`) — each followed by an apply that sometimes fails a step (a simulator
//! fault) or is killed at a random driver call and rerun, then:
//!
//! - after a completed apply the plan is empty (no task, nothing left to record);
//! - the world is the design: every node deployed with its fingerprint, removed nodes released;
//! - no task the journal recorded as succeeded is ever queued or started again.
//!
//! Everything runs in-process on the library, as `drydock apply` does: design → validate →
//! observe → plan → execute, with the simulator (zero latency) and an in-memory journal. A kill
//! is a crash: the runtime and everything in it are dropped mid-call, the journal loses what was
//! appended after its last sync, and the simulator is reopened from its durable world.

mod mem_store;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use drydock::driver::sim::{Fault, SimConfig, Simulator};
use drydock::driver::{
    BootDevice, DriverResult, Inventory, Machine, NodeSpec, OobDriver, PowerAction, Progress,
    Provisioner, SiteDriver, SiteSpec,
};
use drydock::execute::{self, Apply, Drivers, Settings};
use drydock::model::observed::{Power, Status};
use drydock::plan::{self, Plan};
use drydock::state::{Event, Journal, Outcome, Record, StateStore};
use drydock::validate;
use mem_store::MemStore;
use proptest::prelude::*;
use tokio::sync::Notify;

// --- The design, as a small model that renders to YAML -----------------------------------

const IMAGES: [&str; 2] = ["focal", "jammy"];
const KERNELS: [&str; 3] = ["ga-20.04", "hwe-20.04", "ga-22.04"];
const TAGS: [&[&str]; 3] = [&["compute"], &["compute", "gpu"], &["storage"]];

#[derive(Clone, Debug)]
struct Node {
    rack: u8,
    tags: usize,
    owner: u8,
    /// Second block of static addresses on mgmt.
    alt_address: bool,
    /// bond0 also carries the storage network.
    storage_net: bool,
    root_gb: u8,
    /// A logical volume for /srv.
    srv_lv: bool,
    image: usize,
    kernel: usize,
    hugepages: bool,
    hw: usize,
}

#[derive(Clone, Debug)]
struct Design {
    /// By node id (name `n<id>`).
    nodes: BTreeMap<u8, Node>,
    mgmt_mtu_jumbo: bool,
    dns_servers: u8,
    link_up_delay: u16,
    keys: u8,
    repo_updates: bool,
    motd: u8,
    gpu_action: bool,
}

fn base() -> Design {
    let node = |rack| Node {
        rack,
        tags: 0,
        owner: 0,
        alt_address: false,
        storage_net: false,
        root_gb: 30,
        srv_lv: false,
        image: 0,
        kernel: 0,
        hugepages: false,
        hw: 0,
    };
    Design {
        nodes: BTreeMap::from([(1, node(0)), (2, node(0)), (3, node(1))]),
        mgmt_mtu_jumbo: true,
        dns_servers: 1,
        link_up_delay: 200,
        keys: 1,
        repo_updates: false,
        motd: 0,
        gpu_action: false,
    }
}

fn render(d: &Design) -> String {
    let mut s = String::new();
    let doc = |s: &mut String, kind: &str, name: &str, data: &str| {
        s.push_str(&format!(
            "---\nschema: drydock/{kind}/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n{data}"
        ));
    };
    let keys: Vec<String> = (0..d.keys)
        .map(|k| format!("    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{k:04} op{k}@example\n"))
        .collect();
    let dists = if d.repo_updates {
        "[focal, focal-updates]"
    } else {
        "[focal]"
    };
    doc(
        &mut s,
        "Region",
        "prop",
        &format!(
            "  authorized_keys:{}\n{}  repositories:\n    ubuntu: {{repo_type: apt, url: 'http://mirror.example/ubuntu', distributions: {dists}, components: [main], arches: [amd64]}}\n",
            if keys.is_empty() { " []" } else { "" },
            keys.concat()
        ),
    );
    doc(
        &mut s,
        "Network",
        "oob",
        "  cidr: 172.16.0.0/24\n  ranges:\n    - {type: static, start: 172.16.0.10, end: 172.16.0.200}\n",
    );
    doc(
        &mut s,
        "Network",
        "pxe",
        "  cidr: 172.16.1.0/24\n  ranges:\n    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n",
    );
    let servers: Vec<String> = (0..d.dns_servers)
        .map(|i| format!("172.16.2.{}", i + 1))
        .collect();
    doc(
        &mut s,
        "Network",
        "mgmt",
        &format!(
            "  cidr: 172.16.2.0/24\n  vlan: '100'\n  mtu: {}\n  ranges:\n    - {{type: static, start: 172.16.2.10, end: 172.16.2.200}}\n  routes:\n    - {{subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}}\n  dns: {{domain: example.com, servers: '{}'}}\n",
            if d.mgmt_mtu_jumbo { 9000 } else { 1500 },
            servers.join(",")
        ),
    );
    doc(
        &mut s,
        "Network",
        "storage",
        "  cidr: 172.16.3.0/24\n  vlan: '103'\n  ranges:\n    - {type: static, start: 172.16.3.10, end: 172.16.3.200}\n",
    );
    doc(
        &mut s,
        "NetworkLink",
        "pxe-link",
        "  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe]\n",
    );
    doc(
        &mut s,
        "NetworkLink",
        "data-link",
        &format!(
            "  bonding: {{mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: {}, down_delay: 200}}\n  mtu: 9000\n  trunking: {{mode: 802.1q}}\n  allowed_networks: [mgmt, storage]\n",
            d.link_up_delay
        ),
    );
    for (i, vendor) in ["Dell", "HPE"].iter().enumerate() {
        doc(
            &mut s,
            "HardwareProfile",
            &format!("hw{i}"),
            &format!(
                "  vendor: {vendor}\n  boot_mode: {}\n  bootstrap_protocol: pxe\n  pxe_interface: 0\n  device_aliases:\n    nic1: {{address: '0000:00:03.0', bus_type: pci}}\n    nic2: {{address: '0000:00:0{}.0', bus_type: pci}}\n    disk1: {{address: '2:0.0.0', bus_type: scsi}}\n  cpu_sets: {{vm: '2-7'}}\n  hugepages: {{dpdk: {{size: 1G, count: 4}}}}\n",
                if i == 0 { "uefi" } else { "bios" },
                4 + i
            ),
        );
    }
    doc(
        &mut s,
        "HostProfile",
        "base",
        "  hardware_profile: hw0\n  primary_network: mgmt\n  oob: {type: ipmi, network: oob, account: admin, credential: 'env:BMC_PASSWORD'}\n  platform: {image: focal, kernel: ga-20.04, kernel_params: {console: ttyS1}}\n  interfaces:\n    pxe: {device_link: pxe-link, slaves: [nic1], networks: [pxe]}\n    bond0: {device_link: data-link, slaves: [nic2], networks: [mgmt]}\n",
    );
    for (id, n) in &d.nodes {
        let tags: Vec<&str> = TAGS[n.tags].to_vec();
        let mgmt = if n.alt_address { 100 + id } else { 10 + id };
        let nets = if n.storage_net {
            "[mgmt, storage]"
        } else {
            "[mgmt]"
        };
        let srv = if n.srv_lv {
            "          - {name: srv, size: 20%, filesystem: {mountpoint: /srv}}\n"
        } else {
            ""
        };
        let params = if n.hugepages {
            "console: ttyS1, hugepagesz: 'hardwareprofile:hugepages.dpdk.size', hugepages: 'hardwareprofile:hugepages.dpdk.count'"
        } else {
            "console: ttyS1"
        };
        doc(
            &mut s,
            "BaremetalNode",
            &format!("n{id}"),
            &format!(
                "  host_profile: base\n  hardware_profile: hw{}\n  metadata:\n    rack: r{}\n    boot_mac: '52:54:00:00:00:{id:02x}'\n    tags: [{}]\n    owner_data: {{role: r{}}}\n  platform: {{image: {}, kernel: {}, kernel_params: {{{params}}}}}\n  interfaces:\n    bond0: {{device_link: data-link, slaves: [nic2], networks: {nets}}}\n  storage:\n    physical_devices:\n      disk1:\n        partitions:\n          - {{name: root, size: {}g, bootable: true, filesystem: {{mountpoint: /}}}}\n          - {{name: boot, size: 1g, filesystem: {{mountpoint: /boot}}}}\n          - {{name: data, size: '>10g', volume_group: vg0}}\n    volume_groups:\n      vg0:\n        logical_volumes:\n          - {{name: var, size: 50%, filesystem: {{mountpoint: /var}}}}\n{srv}  addressing:\n    - {{network: oob, address: 172.16.0.{}}}\n    - {{network: pxe, address: dhcp}}\n    - {{network: mgmt, address: 172.16.2.{mgmt}}}\n",
                n.hw,
                n.rack,
                tags.join(", "),
                n.owner,
                IMAGES[n.image],
                KERNELS[n.kernel],
                n.root_gb,
                10 + id,
            ),
        );
    }
    doc(
        &mut s,
        "BootAction",
        "motd",
        &format!(
            "  assets:\n    - {{type: file, path: /etc/motd, permissions: '644', data: 'release {}'}}\n",
            d.motd
        ),
    );
    if d.gpu_action {
        doc(
            &mut s,
            "BootAction",
            "gpu",
            "  signaling: false\n  node_filter:\n    filter_set_type: union\n    filter_set:\n      - {filter_type: union, node_tags: [gpu]}\n  assets:\n    - {type: pkg_list, data: {nvidia-driver-535: null}}\n",
        );
    }
    s
}

// --- Changes -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Change {
    Tags(u8, usize),
    Owner(u8, u8),
    Address(u8),
    Interfaces(u8),
    RootSize(u8, u8),
    Layout(u8),
    Image(u8, usize),
    Kernel(u8, usize),
    KernelParams(u8),
    Hardware(u8),
    BootAction(u8),
    GpuAction,
    NetworkMtu,
    NetworkDns(u8),
    Link(u16),
    Keys(u8),
    Repository,
    AddNode(u8),
    RemoveNode(u8),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<u8>(), 0..TAGS.len()).prop_map(|(n, t)| Change::Tags(n, t)),
        (any::<u8>(), 0u8..4).prop_map(|(n, o)| Change::Owner(n, o)),
        any::<u8>().prop_map(Change::Address),
        any::<u8>().prop_map(Change::Interfaces),
        (any::<u8>(), 20u8..40).prop_map(|(n, g)| Change::RootSize(n, g)),
        any::<u8>().prop_map(Change::Layout),
        (any::<u8>(), 0..IMAGES.len()).prop_map(|(n, i)| Change::Image(n, i)),
        (any::<u8>(), 0..KERNELS.len()).prop_map(|(n, k)| Change::Kernel(n, k)),
        any::<u8>().prop_map(Change::KernelParams),
        any::<u8>().prop_map(Change::Hardware),
        (0u8..5).prop_map(Change::BootAction),
        Just(Change::GpuAction),
        Just(Change::NetworkMtu),
        (1u8..4).prop_map(Change::NetworkDns),
        prop_oneof![Just(200u16), Just(400), Just(1000)].prop_map(Change::Link),
        (0u8..3).prop_map(Change::Keys),
        Just(Change::Repository),
        (0u8..2).prop_map(Change::AddNode),
        any::<u8>().prop_map(Change::RemoveNode),
    ]
}

impl Design {
    /// The node a change picks by index, if any.
    fn pick(&mut self, i: u8) -> Option<&mut Node> {
        let n = self.nodes.len();
        let id = *self.nodes.keys().nth(i as usize % n.max(1))?;
        self.nodes.get_mut(&id)
    }

    fn apply(&mut self, c: &Change) {
        match *c {
            Change::Tags(i, t) => self.pick(i).into_iter().for_each(|n| n.tags = t),
            Change::Owner(i, o) => self.pick(i).into_iter().for_each(|n| n.owner = o),
            Change::Address(i) => self
                .pick(i)
                .into_iter()
                .for_each(|n| n.alt_address = !n.alt_address),
            Change::Interfaces(i) => self
                .pick(i)
                .into_iter()
                .for_each(|n| n.storage_net = !n.storage_net),
            Change::RootSize(i, g) => self.pick(i).into_iter().for_each(|n| n.root_gb = g),
            Change::Layout(i) => self.pick(i).into_iter().for_each(|n| n.srv_lv = !n.srv_lv),
            Change::Image(i, x) => self.pick(i).into_iter().for_each(|n| n.image = x),
            Change::Kernel(i, k) => self.pick(i).into_iter().for_each(|n| n.kernel = k),
            Change::KernelParams(i) => self
                .pick(i)
                .into_iter()
                .for_each(|n| n.hugepages = !n.hugepages),
            Change::Hardware(i) => self.pick(i).into_iter().for_each(|n| n.hw = 1 - n.hw),
            Change::BootAction(m) => self.motd = m,
            Change::GpuAction => self.gpu_action = !self.gpu_action,
            Change::NetworkMtu => self.mgmt_mtu_jumbo = !self.mgmt_mtu_jumbo,
            Change::NetworkDns(k) => self.dns_servers = k,
            Change::Link(u) => self.link_up_delay = u,
            Change::Keys(k) => self.keys = k,
            Change::Repository => self.repo_updates = !self.repo_updates,
            Change::AddNode(rack) => {
                if let Some(id) = (1u8..=8).find(|id| !self.nodes.contains_key(id)) {
                    let mut n =
                        self.nodes.values().next().cloned().unwrap_or_else(|| {
                            base().nodes.remove(&1).expect("the base has node 1")
                        });
                    n.rack = rack;
                    self.nodes.insert(id, n);
                }
            }
            Change::RemoveNode(i) => {
                if self.nodes.len() > 1 {
                    let id = *self
                        .nodes
                        .keys()
                        .nth(i as usize % self.nodes.len())
                        .unwrap();
                    self.nodes.remove(&id);
                }
            }
        }
    }
}

/// What gets in the way of one apply.
#[derive(Clone, Debug)]
enum Trouble {
    None,
    /// A permanent simulator failure of a step on the node picked by the index (or the site).
    Fail(u8, &'static str),
    /// Killed at the k-th driver call.
    Kill(usize),
}

const FAIL_STEPS: [&str; 11] = [
    "verify_oob",
    "identify",
    "power_cycle",
    "configure_hardware",
    "apply_networking",
    "apply_storage",
    "deploy",
    "boot_action_report",
    "update_metadata",
    "destroy",
    "prepare_networks",
];

fn trouble() -> impl Strategy<Value = Trouble> {
    prop_oneof![
        2 => Just(Trouble::None),
        1 => (any::<u8>(), proptest::sample::select(FAIL_STEPS.to_vec()))
            .prop_map(|(n, s)| Trouble::Fail(n, s)),
        2 => (0usize..80).prop_map(Trouble::Kill),
    ]
}

// --- The machinery: a journal that crashes, drivers that can be killed ----------------------

/// The simulator behind a counter: at the k-th call the process "dies" (the call never
/// returns and the test drops everything).
struct Killable {
    sim: Arc<Simulator>,
    calls: AtomicUsize,
    kill_at: Option<usize>,
    killed: Arc<Notify>,
}

impl Killable {
    async fn gate(&self) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.kill_at == Some(n) {
            self.killed.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
impl Provisioner for Killable {
    fn name(&self) -> &str {
        "simulator"
    }
    async fn observe(&self, nodes: &[String]) -> DriverResult<BTreeMap<String, Machine>> {
        self.sim.observe(nodes).await
    }
    async fn identify(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.identify(n).await
    }
    async fn configure_hardware(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.configure_hardware(n).await
    }
    async fn apply_networking(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.apply_networking(n).await
    }
    async fn apply_storage(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.apply_storage(n).await
    }
    async fn apply_platform(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.apply_platform(n).await
    }
    async fn deploy(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.deploy(n).await
    }
    async fn boot_action_report(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.boot_action_report(n).await
    }
    async fn update_metadata(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.update_metadata(n).await
    }
    async fn destroy(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.destroy(n).await
    }
}

#[async_trait::async_trait]
impl OobDriver for Killable {
    fn name(&self) -> &str {
        "simulator"
    }
    async fn power_state(&self, n: &NodeSpec) -> DriverResult<Power> {
        self.gate().await;
        self.sim.power_state(n).await
    }
    async fn set_power(&self, n: &NodeSpec, a: PowerAction) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.set_power(n, a).await
    }
    async fn set_boot_device(&self, n: &NodeSpec, d: BootDevice) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.set_boot_device(n, d).await
    }
    async fn interrogate(&self, n: &NodeSpec) -> DriverResult<Inventory> {
        self.gate().await;
        self.sim.interrogate(n).await
    }
}

#[async_trait::async_trait]
impl SiteDriver for Killable {
    async fn verify_services(&self) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.verify_services().await
    }
    async fn prepare_networks(&self, s: &SiteSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.prepare_networks(s).await
    }
    async fn prepare_credentials(&self, s: &SiteSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.prepare_credentials(s).await
    }
    async fn prepare_images(&self, s: &SiteSpec) -> DriverResult<Progress> {
        self.gate().await;
        self.sim.prepare_images(s).await
    }
}

fn sim_config(fail: Vec<Fault>) -> SimConfig {
    SimConfig {
        time_scale: 0.0,
        fail,
        ..SimConfig::default()
    }
}

fn valid(text: &str) -> (validate::Valid<drydock::model::Site>, String) {
    let d = drydock::design::load_str("site.yaml", text);
    let r = validate::validate(
        &d,
        &validate::Options {
            catalog: Some(validate::Catalog::simulator()),
            ..Default::default()
        },
    );
    let errors: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    let hash = d.content_hash();
    match r.into_valid() {
        Ok(site) => (site, hash),
        Err(_) => panic!("the generated design is invalid: {errors:?}\n{text}"),
    }
}

/// How one apply ended.
enum Ran {
    Finished(Outcome),
    Killed,
}

/// One `drydock apply` of `text` with `--destroy-removed`, in a runtime of its own (a process).
/// Returns the plan it made and how it ended.
fn apply_once(
    text: &str,
    state: &Path,
    store: &Arc<MemStore>,
    fail: Vec<Fault>,
    kill_at: Option<usize>,
) -> (Plan, Ran) {
    let (site, hash) = valid(text);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = Arc::new(Simulator::open(state, sim_config(fail)).expect("the simulator opens"));
    let killed = Arc::new(Notify::new());
    let drv = Arc::new(Killable {
        sim: sim.clone(),
        calls: AtomicUsize::new(0),
        kill_at,
        killed: killed.clone(),
    });
    let journal = Journal::replay(store.records().unwrap()).expect("the journal replays");
    let out = rt.block_on(async {
        let observed = drydock::observe::gather(&site, drv.as_ref(), &journal)
            .await
            .unwrap();
        let p = plan::plan(
            &site,
            &observed,
            &plan::Options {
                destroy_removed: true,
                design_hash: hash,
                ..plan::Options::default()
            },
        );
        execute::record_unrecorded(store.as_ref(), &journal, &p)
            .await
            .unwrap();
        if !p.has_changes() {
            execute::close_interrupted(store.as_ref(), &journal)
                .await
                .unwrap();
            return (p, Ran::Finished(Outcome::Success));
        }
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let run = execute::run(Apply {
            plan: &p,
            journal: &journal,
            store: store.clone(),
            drivers: Drivers {
                provisioner: drv.clone(),
                site: drv.clone(),
                oob: HashMap::new(),
                default_oob: drv.clone(),
            },
            settings: Settings::default(),
            progress: None,
            cancel,
        });
        let ran = tokio::select! {
            r = run => Ran::Finished(r.expect("the apply runs").outcome),
            _ = killed.notified() => Ran::Killed,
        };
        (p, ran)
    });
    // The "process" ends: every task and driver call in it is dropped.
    drop(rt);
    drop(drv);
    drop(sim);
    if matches!(out.1, Ran::Killed) {
        store.crash();
    }
    out
}

/// The checks after a completed apply of `d`.
fn check_converged(d: &Design, text: &str, state: &Path, store: &Arc<MemStore>) {
    let (p, ran) = apply_once(text, state, store, Vec::new(), None);
    assert!(
        !p.has_changes(),
        "after a completed apply the plan is empty, for {d:?}; it plans {:?}",
        p.nodes
            .iter()
            .filter(|n| n.action != plan::Action::NoOp)
            .map(|n| (&n.node, n.action, &n.reasons))
            .collect::<Vec<_>>()
    );
    assert!(
        !p.nodes.iter().any(|n| n.unrecorded),
        "nothing is left to record"
    );
    assert!(matches!(ran, Ran::Finished(Outcome::Success)));
    let world = drydock::driver::sim::World::load(state).unwrap();
    let journal = Journal::replay(store.records().unwrap()).unwrap();
    for c in &p.nodes {
        let m = &world.machines[&c.node];
        assert_eq!(m.status, Status::Deployed, "{} deployed", c.node);
        // The whole deployment happened, the boot actions' report included, and the journal
        // knows it: no task of the node is left unfinished.
        assert!(
            m.applied.iter().any(|s| s == "boot_action_report"),
            "{} reported its boot actions: {:?}",
            c.node,
            m.applied
        );
        let rec = &journal.nodes[&c.node];
        assert_eq!(rec.fingerprint.as_deref(), Some(c.fingerprint.as_str()));
        assert!(rec.unfinished.is_none(), "{}: {:?}", c.node, rec.unfinished);
        assert_eq!(
            m.deployed_fingerprint.as_deref(),
            Some(c.fingerprint.as_str()),
            "{} runs its design",
            c.node
        );
    }
    for (name, m) in &world.machines {
        if !p.nodes.iter().any(|c| &c.node == name) {
            assert!(
                m.deployed_fingerprint.is_none(),
                "{name} is removed from the design and released"
            );
        }
    }
    assert_no_rerun_after_success(&store.records().unwrap());
}

fn assert_no_rerun_after_success(rs: &[Record]) {
    let mut succeeded = HashMap::new();
    for (i, r) in rs.iter().enumerate() {
        match &r.event {
            Event::TaskSucceeded { task, .. } => {
                succeeded.insert(task.clone(), i);
            }
            Event::TaskStarted { task } | Event::TaskQueued { task, .. } => {
                if let Some(at) = succeeded.get(task) {
                    panic!("task {task} succeeded at record {at} and ran again at record {i}");
                }
            }
            _ => {}
        }
    }
}

/// Apply after each change, with the trouble given, then rerun (cleanly) until an apply
/// completes, and check the property.
fn converges(changes: &[(Change, Trouble)]) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let store = Arc::new(MemStore::default());
    let mut d = base();
    for (c, t) in std::iter::once(&(Change::BootAction(0), Trouble::None)).chain(changes) {
        d.apply(c);
        let text = render(&d);
        let (fail, kill) = match t {
            Trouble::None => (Vec::new(), None),
            Trouble::Fail(i, step) => {
                let node = match *step {
                    "prepare_networks" => "site".to_string(),
                    _ => {
                        let ids: Vec<&u8> = d.nodes.keys().collect();
                        format!("n{}", ids[*i as usize % ids.len()])
                    }
                };
                (
                    vec![Fault {
                        node: Some(node),
                        step: Some(step.to_string()),
                    }],
                    None,
                )
            }
            Trouble::Kill(k) => (Vec::new(), Some(*k)),
        };
        let (_, first) = apply_once(&text, state, &store, fail, kill);
        let mut done = matches!(first, Ran::Finished(Outcome::Success));
        for _ in 0..3 {
            if done {
                break;
            }
            let (_, r) = apply_once(&text, state, &store, Vec::new(), None);
            done = matches!(r, Ran::Finished(Outcome::Success));
        }
        assert!(done, "a clean rerun completes after {c:?} with {t:?}");
        check_converged(&d, &text, state, &store);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_apply_converges_under_changes_failures_and_kills(
        changes in proptest::collection::vec((change(), trouble()), 1..7)
    ) {
        converges(&changes);
    }
}

/// The two regressions the property would have caught, as fixed cases.
#[test]
fn fixed_cases_converge() {
    converges(&[(Change::Tags(0, 1), Trouble::None)]);
    converges(&[(Change::Owner(1, 2), Trouble::Fail(1, "update_metadata"))]);
    converges(&[(
        Change::RootSize(0, 25),
        Trouble::Fail(0, "boot_action_report"),
    )]);
    for k in 0..40 {
        converges(&[(Change::Image(2, 1), Trouble::Kill(k))]);
    }
}
