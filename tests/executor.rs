//! The executor against a scripted driver and an in-memory journal, with tokio's clock paused:
//! timeouts, polling, backoff and concurrency limits are checked to the virtual millisecond,
//! without waiting, and the journal invariant (a task is durably started before its first
//! driver call) is checked on every call.

mod mem_store;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drydock::driver::{
    BootDevice, DriverError, DriverResult, Inventory, Machine, NodeSpec, OobDriver, PowerAction,
    Progress, Provisioner, SiteDriver, SiteSpec,
};
use drydock::execute::{self, Apply, ApplyResult, Done, Drivers, NodeOutcome, Settings};
use drydock::model::observed::{Observed, Power};
use drydock::plan::{self, Plan};
use drydock::state::{Event, Journal, Outcome, Record, StateStore};
use drydock::validate::{self, examples};
use mem_store::MemStore;
use tokio::time::Instant;

#[derive(Clone, Debug)]
enum Resp {
    Done,
    Pending(Duration),
    Transient,
    Permanent,
}

/// A driver that answers from a script per (node, step) (default: Done), checks the journal
/// invariant on every call, and logs calls with their virtual time.
struct Scripted {
    script: Mutex<HashMap<(String, String), VecDeque<Resp>>>,
    /// Answer this forever once the script for (node, step) is used up.
    forever: HashMap<(String, String), Resp>,
    store: Arc<MemStore>,
    start: Instant,
    calls: Mutex<Vec<(String, String, Duration)>>,
    /// Simulated work: every call takes this long.
    work: Duration,
}

impl Scripted {
    fn new(store: Arc<MemStore>) -> Scripted {
        Scripted {
            script: Mutex::default(),
            forever: HashMap::new(),
            store,
            start: Instant::now(),
            calls: Mutex::default(),
            work: Duration::ZERO,
        }
    }

    fn on(self, node: &str, step: &str, resps: Vec<Resp>) -> Scripted {
        self.script
            .lock()
            .unwrap()
            .insert((node.into(), step.into()), resps.into());
        self
    }

    fn always(mut self, node: &str, step: &str, r: Resp) -> Scripted {
        self.forever.insert((node.into(), step.into()), r);
        self
    }

    async fn answer(&self, node: &str, step: &str) -> DriverResult<Progress> {
        // The journal invariant: this node's current task was recorded started, and synced,
        // before this call.
        let synced = self.store.synced.load(Ordering::SeqCst);
        let last_started = self
            .store
            .records
            .lock()
            .unwrap()
            .iter()
            .rposition(|r| matches!(&r.event, Event::TaskStarted { .. }));
        assert!(
            last_started.is_some_and(|i| i < synced),
            "driver called before a task start was synced"
        );
        self.calls
            .lock()
            .unwrap()
            .push((node.into(), step.into(), self.start.elapsed()));
        if !self.work.is_zero() {
            tokio::time::sleep(self.work).await;
        }
        let key = (node.to_string(), step.to_string());
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&key)
            .and_then(|q| q.pop_front());
        let r = next
            .or_else(|| self.forever.get(&key).cloned())
            .unwrap_or(Resp::Done);
        match r {
            Resp::Done => Ok(Progress::Done),
            Resp::Pending(d) => Ok(Progress::Pending {
                after: d,
                what: "scripted".into(),
            }),
            Resp::Transient => Err(DriverError::Transient(format!(
                "scripted transient error in {step}"
            ))),
            Resp::Permanent => Err(DriverError::Permanent(format!(
                "scripted permanent error in {step}"
            ))),
        }
    }

    fn calls_of(&self, node: &str, step: &str) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, s, _)| n == node && s == step)
            .map(|(_, _, t)| *t)
            .collect()
    }
}

#[async_trait::async_trait]
impl Provisioner for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn observe(&self, _: &[String]) -> DriverResult<BTreeMap<String, Machine>> {
        Ok(BTreeMap::new())
    }
    async fn identify(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "identify").await
    }
    async fn configure_hardware(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "configure_hardware").await
    }
    async fn apply_networking(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "apply_networking").await
    }
    async fn apply_storage(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "apply_storage").await
    }
    async fn apply_platform(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "apply_platform").await
    }
    async fn deploy(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "deploy").await
    }
    async fn boot_action_report(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "boot_action_report").await
    }
    async fn update_metadata(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "update_metadata").await
    }
    async fn destroy(&self, n: &NodeSpec) -> DriverResult<Progress> {
        self.answer(&n.name, "destroy").await
    }
}

#[async_trait::async_trait]
impl OobDriver for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn power_state(&self, n: &NodeSpec) -> DriverResult<Power> {
        self.answer(&n.name, "power_state").await.map(|_| Power::On)
    }
    async fn set_power(&self, n: &NodeSpec, _: PowerAction) -> DriverResult<Progress> {
        self.answer(&n.name, "power_cycle").await
    }
    async fn set_boot_device(&self, n: &NodeSpec, _: BootDevice) -> DriverResult<Progress> {
        self.answer(&n.name, "set_pxe_boot").await
    }
    async fn interrogate(&self, n: &NodeSpec) -> DriverResult<Inventory> {
        self.answer(&n.name, "interrogate")
            .await
            .map(|_| Inventory::default())
    }
}

#[async_trait::async_trait]
impl SiteDriver for Scripted {
    async fn verify_services(&self) -> DriverResult<Progress> {
        self.answer("site", "verify_services").await
    }
    async fn prepare_networks(&self, _: &SiteSpec) -> DriverResult<Progress> {
        self.answer("site", "prepare_networks").await
    }
    async fn prepare_credentials(&self, _: &SiteSpec) -> DriverResult<Progress> {
        self.answer("site", "prepare_credentials").await
    }
    async fn prepare_images(&self, _: &SiteSpec) -> DriverResult<Progress> {
        self.answer("site", "prepare_images").await
    }
}

/// The example base site with `extra` more nodes n3.. (rack r1 unless `racks` > 1).
fn site(extra: usize) -> drydock::validate::Valid<drydock::model::Site> {
    let mut docs = String::new();
    for i in 3..3 + extra {
        docs.push_str(&format!(
            "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: n{i}}}\ndata:\n  host_profile: base\n  metadata: {{boot_mac: '52:54:00:00:01:{i:02x}'}}\n  addressing:\n    - {{network: oob, address: 172.16.0.{}}}\n    - {{network: mgmt, address: 172.16.2.{}}}\n",
            20 + i,
            20 + i
        ));
    }
    let d = drydock::design::load_str("site.yaml", &examples::compose(&docs));
    let r = validate::validate(
        &d,
        &validate::Options {
            catalog: Some(validate::Catalog::simulator()),
            ..Default::default()
        },
    );
    let errors: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.message.clone())
        .collect();
    r.into_valid().unwrap_or_else(|_| panic!("{errors:?}"))
}

async fn apply(
    site: &drydock::validate::Valid<drydock::model::Site>,
    driver: Arc<Scripted>,
    store: Arc<MemStore>,
    settings: Settings,
) -> (Plan, ApplyResult) {
    let p = plan::plan(site, &Observed::default(), &plan::Options::default());
    let journal = Journal::replay(store.records().unwrap()).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = execute::run(Apply {
        plan: &p,
        journal: &journal,
        store: store.clone(),
        drivers: Drivers {
            provisioner: driver.clone(),
            site: driver.clone(),
            oob: HashMap::new(),
            default_oob: driver,
        },
        settings,
        progress: None,
        cancel: rx,
    })
    .await
    .unwrap();
    // Whatever happened, the journal replays.
    Journal::replay(store.records().unwrap()).unwrap();
    (p, r)
}

fn outcome_of<'a>(r: &'a ApplyResult, node: &str) -> &'a NodeOutcome {
    &r.nodes.iter().find(|n| n.node == node).unwrap().outcome
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_capped_exponential_backoff() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).on(
        "n1",
        "deploy",
        vec![
            Resp::Transient,
            Resp::Transient,
            Resp::Transient,
            Resp::Done,
        ],
    ));
    let (_, r) = apply(&site(0), d.clone(), store, Settings::default()).await;
    assert_eq!(r.outcome, Outcome::Success);
    let calls = d.calls_of("n1", "deploy");
    assert_eq!(calls.len(), 4);
    // Delays before retries 1, 2, 3: 0.5–1 s, 1–2 s, 2–4 s (equal jitter of 1, 2, 4 s).
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, (lo, hi)) in gaps.iter().zip([(500, 1000), (1000, 2000), (2000, 4000)]) {
        assert!(
            *gap >= Duration::from_millis(lo) && *gap <= Duration::from_millis(hi),
            "{gaps:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_with_the_drivers_reason() {
    let store = Arc::new(MemStore::default());
    let d =
        Arc::new(Scripted::new(store.clone()).always("n1", "configure_hardware", Resp::Transient));
    let settings = Settings {
        retries: 3,
        ..Settings::default()
    };
    let (_, r) = apply(&site(0), d.clone(), store, settings).await;
    assert_eq!(r.outcome, Outcome::Partial);
    match outcome_of(&r, "n1") {
        NodeOutcome::Failed { at, error } => {
            assert_eq!(at, "PrepareNode/configure_hardware");
            assert!(
                error.contains("scripted transient error")
                    && error.contains("gave up after 3 retries"),
                "{error}"
            );
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(d.calls_of("n1", "configure_hardware").len(), 4);
    assert_eq!(
        outcome_of(&r, "n2"),
        &NodeOutcome::Succeeded(Done::Deployed)
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_never_finishes_times_out_at_its_timeout() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).always(
        "n2",
        "deploy",
        Resp::Pending(Duration::from_secs(7)),
    ));
    let t0 = Instant::now();
    let (_, r) = apply(&site(0), d.clone(), store, Settings::default()).await;
    match outcome_of(&r, "n2") {
        NodeOutcome::Failed { at, error } => {
            assert_eq!(at, "DeployNode/deploy");
            assert_eq!(error, "deploy timed out after 45m");
        }
        o => panic!("{o:?}"),
    }
    // The deploy step started at some virtual time and failed exactly 45 minutes later.
    let first = d.calls_of("n2", "deploy")[0];
    assert_eq!(t0.elapsed() - first, Duration::from_secs(45 * 60));
    // It was polled every 7 s as the driver asked.
    let calls = d.calls_of("n2", "deploy");
    assert!(
        calls
            .windows(2)
            .all(|w| w[1] - w[0] == Duration::from_secs(7))
    );
}

#[tokio::test(start_paused = true)]
async fn timeouts_can_be_overridden_per_step() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).always(
        "n1",
        "identify",
        Resp::Pending(Duration::from_secs(1)),
    ));
    let settings = Settings {
        timeouts: [(drydock::plan::StepKind::Identify, Duration::from_secs(30))].into(),
        ..Settings::default()
    };
    let (_, r) = apply(&site(0), d, store, settings).await;
    assert!(
        matches!(outcome_of(&r, "n1"), NodeOutcome::Failed { error, .. } if error == "identify timed out after 30s")
    );
}

#[tokio::test(start_paused = true)]
async fn pending_steps_are_polled_after_the_delay_the_driver_asks_for() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).on(
        "n1",
        "deploy",
        vec![
            Resp::Pending(Duration::from_secs(30)),
            Resp::Pending(Duration::from_secs(30)),
            Resp::Done,
        ],
    ));
    let (_, r) = apply(&site(0), d.clone(), store, Settings::default()).await;
    assert_eq!(r.outcome, Outcome::Success);
    let calls = d.calls_of("n1", "deploy");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2] - calls[0], Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn the_global_concurrency_limit_gives_the_ideal_total_time() {
    // 10 nodes, every driver call takes 1 s: a node's chain (VerifyNode 1 step of 2 calls,
    // PrepareNode 4, DeployNode 5) takes 11 s. With 3 at a time: ceil(10/3) = 4 waves.
    let store = Arc::new(MemStore::default());
    let mut d = Scripted::new(store.clone());
    d.work = Duration::from_secs(1);
    let d = Arc::new(d);
    let settings = Settings {
        concurrency: 3,
        rack_concurrency: 100,
        ..Settings::default()
    };
    let t0 = Instant::now();
    let (_, r) = apply(&site(8), d, store, settings).await;
    assert_eq!(r.outcome, Outcome::Success);
    // Site tasks: 1 + 3 calls = 4 s, then 4 waves of 11 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(4 + 4 * 11));
}

/// The example base site's networks and profiles with nodes in racks of the given sizes
/// (`r0`, `r1`, ...), BMCs driven by hand so that hundreds of nodes need no addresses.
fn site_in_racks(layout: &[usize]) -> drydock::validate::Valid<drydock::model::Site> {
    let mut docs = String::new();
    let mut i = 0;
    for (r, &n) in layout.iter().enumerate() {
        for _ in 0..n {
            i += 1;
            docs.push_str(&format!(
                "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: m{i:04}}}\ndata:\n  host_profile: base\n  oob: {{type: manual}}\n  metadata: {{rack: r{r}, boot_mac: '52:54:00:01:{:02x}:{:02x}'}}\n  addressing:\n    - {{network: pxe, address: dhcp}}\n",
                i / 256,
                i % 256
            ));
        }
    }
    let d = drydock::design::load_str("site.yaml", &examples::compose(&docs));
    let r = validate::validate(
        &d,
        &validate::Options {
            catalog: Some(validate::Catalog::simulator()),
            ..Default::default()
        },
    );
    let errors: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.message.clone())
        .collect();
    r.into_valid().unwrap_or_else(|_| panic!("{errors:?}"))
}

/// With the default limits (32 at once, 8 per rack), nodes in racks keep the global limit
/// busy: the apply takes the ideal number of waves, max(⌈nodes / 32⌉, ⌈largest rack / 8⌉).
/// Before, a node took a global slot before its rack slot and racks of 40 left most global
/// slots idle behind one rack.
#[tokio::test(start_paused = true)]
async fn racks_never_leave_global_slots_idle_with_the_default_limits() {
    // 8 racks of 40; an uneven 5, 40, 200 (the big rack decides); the big rack first, then
    // many small ones.
    let mut small_last = vec![200];
    small_last.extend([5; 16]);
    for layout in [vec![40; 8], vec![5, 40, 200], small_last] {
        // The base site's n1 and n2 are in rack r1 too.
        let mut racks = layout.clone();
        racks[1] += 2;
        let nodes: usize = racks.iter().sum();
        let waves = nodes
            .div_ceil(32)
            .max(racks.iter().map(|n| n.div_ceil(8)).max().unwrap()) as u64;
        let store = Arc::new(MemStore::default());
        let mut d = Scripted::new(store.clone());
        d.work = Duration::from_secs(1);
        let d = Arc::new(d);
        let t0 = Instant::now();
        let (_, r) = apply(&site_in_racks(&layout), d, store, Settings::default()).await;
        assert_eq!(r.outcome, Outcome::Success, "{layout:?}");
        // Site tasks 4 s; a node's chain 11 s (VerifyNode 2 calls, PrepareNode 4, DeployNode 5).
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(4 + waves * 11),
            "{layout:?}: {waves} waves"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_rack_limit_holds_within_one_rack() {
    let store = Arc::new(MemStore::default());
    let mut d = Scripted::new(store.clone());
    d.work = Duration::from_secs(1);
    let d = Arc::new(d);
    // All nodes are in rack r1: one at a time, whatever the global limit.
    let settings = Settings {
        concurrency: 10,
        rack_concurrency: 1,
        ..Settings::default()
    };
    let t0 = Instant::now();
    let (_, r) = apply(&site(2), d, store, settings).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(t0.elapsed(), Duration::from_secs(4 + 4 * 11));
}

#[tokio::test(start_paused = true)]
async fn one_nodes_failure_does_not_stop_the_others_and_max_failures_stops_new_ones() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).always("n1", "identify", Resp::Permanent));
    let (_, r) = apply(
        &site(3),
        d,
        store,
        Settings {
            concurrency: 1,
            ..Settings::default()
        },
    )
    .await;
    assert_eq!(r.outcome, Outcome::Partial);
    assert!(
        matches!(outcome_of(&r, "n1"), NodeOutcome::Failed { error, .. } if error.contains("scripted permanent error in identify"))
    );
    for n in ["n2", "n3", "n4", "n5"] {
        assert_eq!(
            outcome_of(&r, n),
            &NodeOutcome::Succeeded(Done::Deployed),
            "{n}"
        );
    }

    let store = Arc::new(MemStore::default());
    let d = Arc::new(
        Scripted::new(store.clone())
            .always("n1", "identify", Resp::Permanent)
            .always("n2", "identify", Resp::Permanent),
    );
    let settings = Settings {
        concurrency: 1,
        max_failures: Some(1),
        ..Settings::default()
    };
    let (_, r) = apply(&site(3), d, store, settings).await;
    let not_started = r
        .nodes
        .iter()
        .filter(|n| matches!(n.outcome, NodeOutcome::NotStarted { .. }))
        .count();
    assert_eq!(not_started, 4, "{:?}", r.nodes);
}

#[tokio::test(start_paused = true)]
async fn a_rerun_skips_succeeded_tasks_and_reruns_the_rest() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(Scripted::new(store.clone()).on("n1", "deploy", vec![Resp::Permanent]));
    let s = site(0);
    let (p, r) = apply(&s, d, store.clone(), Settings::default()).await;
    assert_eq!(r.outcome, Outcome::Partial);
    let d = Arc::new(Scripted::new(store.clone()));
    let (p2, r) = apply(&s, d.clone(), store.clone(), Settings::default()).await;
    assert_eq!(r.outcome, Outcome::Success);
    // The same plan (same inputs, same epoch) has the same ids.
    assert_eq!(
        p.tasks.iter().map(|t| &t.id).collect::<Vec<_>>(),
        p2.tasks.iter().map(|t| &t.id).collect::<Vec<_>>()
    );
    // Only n1's DeployNode ran again.
    assert_eq!(r.tasks_run, 1);
    assert!(d.calls_of("n1", "identify").is_empty() && !d.calls_of("n1", "deploy").is_empty());
    assert!(d.calls_of("n2", "deploy").is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancelling_abandons_in_flight_steps_and_keeps_the_journal_consistent() {
    let store = Arc::new(MemStore::default());
    let d = Arc::new(
        Scripted::new(store.clone())
            .always("n1", "deploy", Resp::Pending(Duration::from_secs(5)))
            .always("n2", "deploy", Resp::Pending(Duration::from_secs(5))),
    );
    let s = site(0);
    let p = plan::plan(&s, &Observed::default(), &plan::Options::default());
    let journal = Journal::default();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        tx.send(true).unwrap();
    });
    let r = execute::run(Apply {
        plan: &p,
        journal: &journal,
        store: store.clone(),
        drivers: Drivers {
            provisioner: d.clone(),
            site: d.clone(),
            oob: HashMap::new(),
            default_oob: d,
        },
        settings: Settings::default(),
        progress: None,
        cancel: rx,
    })
    .await
    .unwrap();
    canceller.await.unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled);
    // Every node was mid-deploy, and says so.
    assert!(
        r.nodes.iter().all(
            |n| matches!(&n.outcome, NodeOutcome::Cancelled { at } if at == "DeployNode/deploy")
        ),
        "{:?}",
        r.nodes
    );
    let j = Journal::replay(store.records().unwrap()).unwrap();
    let deploys: Vec<_> = j
        .tasks
        .values()
        .filter(|t| t.kind == drydock::plan::TaskKind::DeployNode)
        .collect();
    assert!(
        deploys
            .iter()
            .all(|t| t.state == drydock::state::TaskState::Cancelled)
    );
    assert_eq!(
        store.synced.load(Ordering::SeqCst),
        store.records.lock().unwrap().len(),
        "everything synced at the end"
    );
}

#[tokio::test]
async fn an_interrupted_run_with_nothing_left_is_closed_as_a_completed_apply() {
    let store = MemStore::default();
    store
        .append(&Record {
            v: drydock::state::RECORD_VERSION,
            at_ms: 0,
            run: 1,
            event: Event::RunStarted {
                pid: 1,
                host: "h".into(),
                design_hash: "d".into(),
                tasks: 0,
            },
        })
        .unwrap();
    let j = Journal::replay(store.records().unwrap()).unwrap();
    assert_eq!((j.last_run, j.epoch), (Some((1, None)), 0));
    execute::close_interrupted(&store, &j).await.unwrap();
    let j = Journal::replay(store.records().unwrap()).unwrap();
    assert_eq!(
        (j.last_run, j.epoch),
        (Some((1, Some(Outcome::Success))), 1)
    );
    // A finished run is left as it is.
    execute::close_interrupted(&store, &j).await.unwrap();
    assert_eq!(store.records().unwrap().len(), 2);
}
