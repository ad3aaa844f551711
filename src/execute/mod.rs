//! The executor: the only place that sees a plan, the drivers and the state store together.
//! It runs the plan's task graph in dependency order — the site tasks, then each node's chain
//! of tasks as one job — with a global and a per-rack concurrency limit, per-step timeouts and
//! retries with capped exponential backoff and jitter. One node's failure does not stop the
//! others; `max_failures` stops starting new nodes.
//!
//! Every task transition is appended to the journal and synced before the executor acts on
//! it: a task is recorded started before its first driver call, and recorded succeeded before
//! anything that depends on it starts. A rerun skips every task the journal records as
//! succeeded and runs again the ones that started but never finished (every driver operation
//! is idempotent, so re-running a half-done step is safe).

pub mod backoff;
pub mod spec;
mod tasks;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

pub use backoff::Backoff;

use crate::driver::{
    DriverError, NodeSpec, OobDriver, OobKind, Progress, Provisioner, SiteDriver, SiteSpec,
};
use crate::model::observed::Snapshot;
use crate::plan::{Plan, Step, StepKind, Task, TaskKind};
use crate::state::{
    Event as Rec, Journal, Outcome, RECORD_VERSION, Record, StateStore, StoreError, now_ms,
};

/// Executor settings. Defaults: 32 nodes at once, 8 per rack, 5 retries of a transient error
/// per step, backoff from 1 s capped at 60 s, the step timeouts of the plan (FORMAT.md's).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Nodes worked on at once (site tasks do not count).
    pub concurrency: usize,
    /// Nodes of one rack worked on at once (a rack's switches and power feed are shared).
    pub rack_concurrency: usize,
    /// Retries of a transient error, per step.
    pub retries: u32,
    pub backoff: Backoff,
    /// Step timeouts overriding the plan's.
    pub timeouts: HashMap<StepKind, Duration>,
    /// Stop starting new nodes after this many node failures.
    pub max_failures: Option<usize>,
    /// Seed of the backoff jitter.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            concurrency: 32,
            rack_concurrency: 8,
            retries: 5,
            backoff: Backoff::default(),
            timeouts: HashMap::new(),
            max_failures: None,
            seed: 1,
        }
    }
}

/// The drivers an apply uses. The BMC driver of a node follows its `oob.type`; kinds without
/// an entry use `default_oob`.
#[derive(Clone)]
pub struct Drivers {
    pub provisioner: Arc<dyn Provisioner>,
    pub site: Arc<dyn SiteDriver>,
    pub oob: HashMap<OobKind, Arc<dyn OobDriver>>,
    pub default_oob: Arc<dyn OobDriver>,
}

impl Drivers {
    fn oob_for(&self, node: &NodeSpec) -> Arc<dyn OobDriver> {
        node.oob
            .kind
            .and_then(|k| self.oob.get(&k))
            .unwrap_or(&self.default_oob)
            .clone()
    }
}

/// What the executor reports as it goes (for progress display).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    TaskStarted {
        node: Option<String>,
        task: TaskKind,
    },
    Step {
        node: Option<String>,
        task: TaskKind,
        step: StepKind,
    },
    Retry {
        node: Option<String>,
        step: StepKind,
        attempt: u32,
        error: String,
    },
    TaskFinished {
        node: Option<String>,
        task: TaskKind,
        ok: bool,
    },
    NodeFinished {
        node: String,
        outcome: NodeOutcome,
    },
}

/// How one node ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    Succeeded,
    /// Every task of the node had already succeeded in an earlier run.
    AlreadyDone,
    Failed {
        at: String,
        error: String,
    },
    NotStarted {
        why: String,
    },
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeResult {
    pub node: String,
    pub outcome: NodeOutcome,
}

#[derive(Clone, Debug)]
pub struct ApplyResult {
    pub run: u64,
    pub outcome: Outcome,
    pub site_error: Option<String>,
    pub nodes: Vec<NodeResult>,
    pub tasks_run: usize,
    pub tasks_skipped: usize,
    pub steps_run: usize,
    pub elapsed: Duration,
}

/// Everything one apply needs.
pub struct Apply<'a> {
    pub plan: &'a Plan,
    pub journal: &'a Journal,
    /// Node descriptions by name (`spec::nodes`).
    pub nodes: HashMap<String, NodeSpec>,
    pub site: SiteSpec,
    pub store: Arc<dyn StateStore>,
    pub drivers: Drivers,
    pub settings: Settings,
    pub progress: Option<mpsc::UnboundedSender<Event>>,
    /// Becomes true to cancel (Ctrl-C).
    pub cancel: watch::Receiver<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan's task graph is not one drydock can run: {0}")]
    Shape(String),
}

/// Why a task did not succeed.
enum TaskEnd {
    Failed { step: StepKind, error: String },
    Cancelled,
}

struct Inner {
    store: Arc<dyn StateStore>,
    drivers: Drivers,
    settings: Settings,
    progress: Option<mpsc::UnboundedSender<Event>>,
    cancel: watch::Receiver<bool>,
    run: u64,
    site: SiteSpec,
    site_snapshot: Snapshot,
    failures: AtomicUsize,
    stop: AtomicBool,
    tasks_run: AtomicUsize,
    steps_run: AtomicUsize,
}

impl Inner {
    fn emit(&self, e: Event) {
        // Logs carry names, steps and driver messages; drivers never put a credential in a
        // message, and NodeSpec's Debug redacts it, so nothing secret reaches a log.
        match &e {
            Event::TaskStarted { node, task } => {
                tracing::info!(run = self.run, node = node.as_deref().unwrap_or("site"), %task, "task started")
            }
            Event::Step { node, task, step } => {
                tracing::debug!(node = node.as_deref().unwrap_or("site"), %task, %step, "step")
            }
            Event::Retry {
                node,
                step,
                attempt,
                error,
            } => {
                tracing::warn!(node = node.as_deref().unwrap_or("site"), %step, attempt, %error, "transient error, retrying")
            }
            Event::TaskFinished { node, task, ok } => {
                tracing::info!(node = node.as_deref().unwrap_or("site"), %task, ok, "task finished")
            }
            Event::NodeFinished { node, outcome } => {
                tracing::info!(%node, ?outcome, "node finished")
            }
        }
        if let Some(p) = &self.progress {
            let _ = p.send(e);
        }
    }

    fn record(&self, event: Rec) -> Result<(), StoreError> {
        self.store
            .append(&Record {
                v: RECORD_VERSION,
                at_ms: now_ms(),
                run: self.run,
                event,
            })
            .map(|_| ())
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Run one task: recorded started (durably) before the first driver call, recorded
    /// finished (durably) before anything that depends on it.
    async fn run_task(
        &self,
        task: &Task,
        node: Option<&NodeSpec>,
    ) -> Result<Result<(), TaskEnd>, StoreError> {
        if self.cancelled() {
            self.record(Rec::TaskCancelled {
                task: task.id.clone(),
            })?;
            self.store.sync().await?;
            return Ok(Err(TaskEnd::Cancelled));
        }
        self.record(Rec::TaskStarted {
            task: task.id.clone(),
        })?;
        self.store.sync().await?;
        self.tasks_run.fetch_add(1, Ordering::Relaxed);
        let name = node.map(|n| n.name.clone());
        self.emit(Event::TaskStarted {
            node: name.clone(),
            task: task.kind,
        });
        let oob = node.map_or_else(
            || self.drivers.default_oob.clone(),
            |n| self.drivers.oob_for(n),
        );
        let cx = tasks::StepCx {
            provisioner: self.drivers.provisioner.as_ref(),
            oob: oob.as_ref(),
            site_driver: self.drivers.site.as_ref(),
            node,
            site: &self.site,
        };
        for step in &task.steps {
            self.emit(Event::Step {
                node: name.clone(),
                task: task.kind,
                step: step.kind,
            });
            let started = Instant::now();
            match self.run_step(task.kind, step, &cx).await {
                Ok(attempts) => {
                    self.steps_run.fetch_add(1, Ordering::Relaxed);
                    self.record(Rec::StepDone {
                        task: task.id.clone(),
                        step: step.kind.as_str().into(),
                        ms: started.elapsed().as_millis() as u64,
                        attempts,
                    })?;
                }
                Err(end) => {
                    match &end {
                        TaskEnd::Failed { step, error } => self.record(Rec::TaskFailed {
                            task: task.id.clone(),
                            step: step.as_str().into(),
                            error: error.clone(),
                            permanent: true,
                        })?,
                        TaskEnd::Cancelled => self.record(Rec::TaskCancelled {
                            task: task.id.clone(),
                        })?,
                    }
                    self.store.sync().await?;
                    self.emit(Event::TaskFinished {
                        node: name,
                        task: task.kind,
                        ok: false,
                    });
                    return Ok(Err(end));
                }
            }
        }
        let output = match (task.kind, node) {
            (TaskKind::DeployNode, Some(n)) => {
                self.record(Rec::NodeDeployed {
                    node: n.name.clone(),
                    fingerprint: n.fingerprint.clone(),
                    snapshot: n.snapshot.clone(),
                })?;
                Some(n.fingerprint.clone())
            }
            (TaskKind::DestroyNode, Some(n)) => {
                self.record(Rec::NodeReleased {
                    node: n.name.clone(),
                })?;
                None
            }
            (TaskKind::PrepareSite, _) => {
                self.record(Rec::SitePrepared {
                    snapshot: self.site_snapshot.clone(),
                })?;
                Some(self.site.fingerprint.clone())
            }
            _ => None,
        };
        self.record(Rec::TaskSucceeded {
            task: task.id.clone(),
            output,
        })?;
        self.store.sync().await?;
        self.emit(Event::TaskFinished {
            node: name,
            task: task.kind,
            ok: true,
        });
        Ok(Ok(()))
    }

    /// Call a step until it is done: poll while it is in progress, retry transient errors
    /// with backoff, give up at its timeout. Returns the number of calls.
    async fn run_step(
        &self,
        kind: TaskKind,
        step: &Step,
        cx: &tasks::StepCx<'_>,
    ) -> Result<u32, TaskEnd> {
        let timeout = self
            .settings
            .timeouts
            .get(&step.kind)
            .copied()
            .unwrap_or(Duration::from_secs(step.timeout_secs));
        let deadline = tokio::time::Instant::now() + timeout;
        let node = cx.node.map(|n| n.name.clone());
        let mut cancel = self.cancel.clone();
        let work = async {
            let mut calls = 0u32;
            let mut retries = 0u32;
            loop {
                calls += 1;
                let r = tasks::call(kind, step.kind, cx).await;
                let wait = match r {
                    Ok(Progress::Done) => return Ok(calls),
                    Ok(Progress::Pending { after, .. }) => after.max(Duration::from_millis(1)),
                    Err(DriverError::Permanent(e)) => {
                        return Err(TaskEnd::Failed {
                            step: step.kind,
                            error: e,
                        });
                    }
                    Err(DriverError::Transient(e)) => {
                        retries += 1;
                        if retries > self.settings.retries {
                            return Err(TaskEnd::Failed {
                                step: step.kind,
                                error: match self.settings.retries {
                                    1 => format!("{e} (gave up after 1 retry)"),
                                    n => format!("{e} (gave up after {n} retries)"),
                                },
                            });
                        }
                        self.emit(Event::Retry {
                            node: node.clone(),
                            step: step.kind,
                            attempt: retries,
                            error: e,
                        });
                        let unit = crate::rng::draw(
                            self.settings.seed,
                            node.as_deref().unwrap_or("site"),
                            step.kind.as_str(),
                            retries as u64,
                        );
                        self.settings.backoff.delay(retries, unit)
                    }
                };
                // Never sleep past the deadline, and at the deadline make no further call: the
                // timeout fires instead.
                let wake = tokio::time::Instant::now() + wait;
                if wake >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep_until(wake).await;
            }
        };
        tokio::select! {
            r = tokio::time::timeout_at(deadline, work) => match r {
                Ok(r) => r,
                Err(_) => Err(TaskEnd::Failed { step: step.kind, error: format!("{} timed out after {}", step.kind, human_duration(timeout)) }),
            },
            _ = cancel.wait_for(|c| *c) => Err(TaskEnd::Cancelled),
        }
    }
}

/// `5m`, `90s`, `1h30m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Record in the journal deployments that finished in the world but were never journaled
/// (`observe::inferred`), before anything else runs.
pub async fn record_inferred(
    store: &dyn StateStore,
    run: u64,
    found: &[(String, String, Snapshot)],
) -> Result<(), StoreError> {
    if found.is_empty() {
        return Ok(());
    }
    for (node, fingerprint, snapshot) in found {
        tracing::info!(%node, "recording a deployment the provisioner finished but the journal missed");
        store.append(&Record {
            v: RECORD_VERSION,
            at_ms: now_ms(),
            run,
            event: Rec::NodeDeployed {
                node: node.clone(),
                fingerprint: fingerprint.clone(),
                snapshot: snapshot.clone(),
            },
        })?;
    }
    store.sync().await
}

/// Close a run that an interruption left open when there is nothing left to do: the site is as
/// designed, so that run, finished by the world, counts as a completed apply.
pub async fn close_interrupted(
    store: &dyn StateStore,
    journal: &Journal,
) -> Result<(), StoreError> {
    let Some((run, None)) = journal.last_run else {
        return Ok(());
    };
    store.append(&Record {
        v: RECORD_VERSION,
        at_ms: now_ms(),
        run,
        event: Rec::RunFinished {
            outcome: Outcome::Success,
        },
    })?;
    store.sync().await
}

/// Run the plan. Returns the result per node, or a store error (the journal could not be
/// written: the apply stops, and a rerun resumes from what was recorded).
pub async fn run(apply: Apply<'_>) -> Result<ApplyResult, ExecuteError> {
    let started = Instant::now();
    let plan = apply.plan;
    let journal = apply.journal;
    let run = journal.last_run.map_or(1, |(r, _)| r + 1);
    let inner = Arc::new(Inner {
        store: apply.store.clone(),
        drivers: apply.drivers,
        settings: apply.settings,
        progress: apply.progress,
        cancel: apply.cancel,
        run,
        site_snapshot: apply.site.snapshot.clone(),
        site: apply.site,
        failures: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        tasks_run: AtomicUsize::new(0),
        steps_run: AtomicUsize::new(0),
    });

    // The shape the executor runs: site tasks first, then per-node chains whose dependencies
    // are site tasks or earlier tasks of the same node.
    let (site_tasks, node_groups) = shape(plan)?;
    let skipped = plan
        .tasks
        .iter()
        .filter(|t| journal.succeeded(&t.id))
        .count();

    inner.record(Rec::RunStarted {
        pid: std::process::id(),
        host: crate::state::lock::hostname(),
        design_hash: plan.design_hash.clone(),
        tasks: plan.tasks.len(),
    })?;
    for t in plan.tasks.iter().filter(|t| !journal.succeeded(&t.id)) {
        inner.record(Rec::TaskQueued {
            task: t.id.clone(),
            kind: t.kind,
            node: t.node.clone(),
        })?;
    }
    inner.store.sync().await?;

    let mut site_error = None;
    for t in &site_tasks {
        if journal.succeeded(&t.id) {
            continue;
        }
        match inner.run_task(t, None).await? {
            Ok(()) => {}
            Err(TaskEnd::Failed { step, error }) => {
                site_error = Some(format!("{}/{step}: {error}", t.kind));
                break;
            }
            Err(TaskEnd::Cancelled) => {
                site_error = Some(format!("{} cancelled", t.kind));
                break;
            }
        }
    }

    let mut results: Vec<NodeResult> = Vec::new();
    if let Some(why) = &site_error {
        for (node, tasks) in &node_groups {
            for t in tasks.iter().filter(|t| !journal.succeeded(&t.id)) {
                inner.record(Rec::TaskCancelled { task: t.id.clone() })?;
            }
            results.push(NodeResult {
                node: node.clone(),
                outcome: NodeOutcome::NotStarted {
                    why: format!("the site task failed: {why}"),
                },
            });
        }
        inner.store.sync().await?;
    } else {
        let global = Arc::new(Semaphore::new(inner.settings.concurrency.max(1)));
        let mut racks: HashMap<Option<String>, Arc<Semaphore>> = HashMap::new();
        let mut jobs = Vec::new();
        for (node, tasks) in node_groups {
            let pending: Vec<Task> = tasks
                .into_iter()
                .filter(|t| !journal.succeeded(&t.id))
                .collect();
            if pending.is_empty() {
                results.push(NodeResult {
                    node,
                    outcome: NodeOutcome::AlreadyDone,
                });
                continue;
            }
            let rack = plan
                .nodes
                .iter()
                .find(|n| n.node == node)
                .and_then(|n| n.rack.clone());
            let rack_sem = racks
                .entry(rack)
                .or_insert_with(|| Arc::new(Semaphore::new(inner.settings.rack_concurrency.max(1))))
                .clone();
            let spec = apply.nodes.get(&node).cloned();
            let (inner, global) = (inner.clone(), global.clone());
            jobs.push(tokio::spawn(async move {
                let outcome = node_job(&inner, &node, spec, &pending, &global, &rack_sem).await;
                outcome.map(|o| {
                    inner.emit(Event::NodeFinished {
                        node: node.clone(),
                        outcome: o.clone(),
                    });
                    NodeResult { node, outcome: o }
                })
            }));
        }
        for j in jobs {
            match j.await {
                Ok(r) => results.push(r?),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }

    let outcome = outcome(&results, site_error.is_some(), *inner.cancel.borrow());
    inner.record(Rec::RunFinished { outcome })?;
    inner.store.sync().await?;
    results.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(ApplyResult {
        run,
        outcome,
        site_error,
        nodes: results,
        tasks_run: inner.tasks_run.load(Ordering::Relaxed),
        tasks_skipped: skipped,
        steps_run: inner.steps_run.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

fn outcome(results: &[NodeResult], site_failed: bool, cancelled: bool) -> Outcome {
    let ok = |o: &NodeOutcome| matches!(o, NodeOutcome::Succeeded | NodeOutcome::AlreadyDone);
    if cancelled {
        Outcome::Cancelled
    } else if site_failed {
        Outcome::Failure
    } else if results.iter().all(|r| ok(&r.outcome)) {
        Outcome::Success
    } else if results.iter().any(|r| ok(&r.outcome)) {
        Outcome::Partial
    } else {
        Outcome::Failure
    }
}

type Groups = Vec<(String, Vec<Task>)>;

/// Split the plan into site tasks and per-node chains, checking the graph has that shape.
fn shape(plan: &Plan) -> Result<(Vec<Task>, Groups), ExecuteError> {
    crate::plan::graph::graph(&plan.tasks).map_err(|id| {
        ExecuteError::Shape(format!(
            "task {id} has a missing dependency or sits on a cycle"
        ))
    })?;
    let site: Vec<Task> = plan
        .tasks
        .iter()
        .filter(|t| t.node.is_none())
        .cloned()
        .collect();
    let mut groups: Groups = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for t in plan.tasks.iter().filter(|t| t.node.is_some()) {
        let node = t.node.clone().expect("filtered");
        let i = *index.entry(node.clone()).or_insert_with(|| {
            groups.push((node.clone(), Vec::new()));
            groups.len() - 1
        });
        for d in &t.depends_on {
            let ok = site.iter().any(|s| &s.id == d) || groups[i].1.iter().any(|p| &p.id == d);
            if !ok {
                return Err(ExecuteError::Shape(format!(
                    "task {} of {node} depends on {d}, which is neither a site task nor an earlier task of the node",
                    t.id
                )));
            }
        }
        groups[i].1.push(t.clone());
    }
    Ok((site, groups))
}

/// One node's chain of tasks, holding a global and a rack slot throughout.
async fn node_job(
    inner: &Inner,
    node: &str,
    spec: Option<NodeSpec>,
    pending: &[Task],
    global: &Semaphore,
    rack: &Semaphore,
) -> Result<NodeOutcome, StoreError> {
    let _g = global.acquire().await.expect("semaphore never closed");
    let _r = rack.acquire().await.expect("semaphore never closed");
    let not_started = |why: String| async {
        for t in pending {
            inner.record(Rec::TaskCancelled { task: t.id.clone() })?;
        }
        inner.store.sync().await?;
        Ok::<_, StoreError>(why)
    };
    if inner.cancelled() {
        not_started(String::new()).await?;
        return Ok(NodeOutcome::Cancelled);
    }
    if inner.stop.load(Ordering::SeqCst) {
        let n = inner.failures.load(Ordering::SeqCst);
        let failures = if n == 1 {
            "1 node failure".to_string()
        } else {
            format!("{n} node failures")
        };
        let why = not_started(format!("stopped after {failures} (--max-failures)")).await?;
        return Ok(NodeOutcome::NotStarted { why });
    }
    let Some(spec) = spec else {
        let why = not_started(format!(
            "node {node} is not described (no design entry and no record)"
        ))
        .await?;
        return Ok(NodeOutcome::NotStarted { why });
    };
    for (i, t) in pending.iter().enumerate() {
        match inner.run_task(t, Some(&spec)).await? {
            Ok(()) => {}
            Err(end) => {
                for rest in &pending[i + 1..] {
                    inner.record(Rec::TaskCancelled {
                        task: rest.id.clone(),
                    })?;
                }
                inner.store.sync().await?;
                return Ok(match end {
                    TaskEnd::Cancelled => NodeOutcome::Cancelled,
                    TaskEnd::Failed { step, error } => {
                        let n = inner.failures.fetch_add(1, Ordering::SeqCst) + 1;
                        if inner.settings.max_failures.is_some_and(|m| n >= m) {
                            inner.stop.store(true, Ordering::SeqCst);
                        }
                        NodeOutcome::Failed {
                            at: format!("{}/{step}", t.kind),
                            error,
                        }
                    }
                });
            }
        }
    }
    Ok(NodeOutcome::Succeeded)
}
