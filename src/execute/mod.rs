//! The executor: the only place that sees a plan, the drivers and the state store together.
//! It runs the plan's task graph in dependency order — the site tasks, then each node's chain
//! of tasks as one job — keeping as many nodes busy as the global and per-rack limits allow
//! (`schedule`), with per-step polling, timeouts and retries with capped exponential backoff
//! and jitter (`step`). One node's failure does not stop the others; `max_failures` stops
//! starting new nodes.
//!
//! Every task transition is appended to the journal and synced before the executor acts on
//! it (`journal`): a task is recorded started before its first driver call, and recorded
//! succeeded before anything that depends on it starts. A rerun skips every task the journal
//! records as succeeded and runs again the ones that started but never finished (every driver
//! operation is idempotent, so re-running a half-done step is safe).
//!
//! Drivers receive the desired state the plan computed (`NodeChange::desired`,
//! `Plan::desired_site`), unchanged; the executor computes nothing of the design.

pub mod backoff;
mod journal;
mod schedule;
mod step;
mod tasks;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

pub use backoff::Backoff;

use crate::driver::{NodeSpec, OobDriver, OobKind, Provisioner, SiteDriver};
use crate::plan::{Action, Plan, StepKind, Task, TaskKind};
use crate::state::{Event as Rec, Journal, Outcome, StateStore, StoreError};

/// `Settings::retries` that never gives up on a transient error (`--retries 0` or `forever`:
/// the MAAS SDK's policy, for a region that is restarting); the step's timeout still bounds it.
pub const RETRY_FOREVER: u32 = 0;

/// Executor settings. Defaults: 32 nodes at once, 8 per rack, 5 retries of a transient error
/// per step, backoff from 1 s capped at 60 s, the step timeouts of the plan (the old implementation's).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Nodes worked on at once (site tasks do not count).
    pub concurrency: usize,
    /// Nodes of one rack worked on at once (a rack's switches and power feed are shared).
    pub rack_concurrency: usize,
    /// Retries of a transient error, per step; [`RETRY_FOREVER`] never gives up (the step's
    /// timeout still bounds it).
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

/// What a node's completed chain did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    Deployed,
    Redeployed,
    Updated,
    Destroyed,
}

impl Done {
    fn of(action: Action) -> Done {
        match action {
            Action::Redeploy => Done::Redeployed,
            Action::Update => Done::Updated,
            Action::Destroy => Done::Destroyed,
            _ => Done::Deployed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Done::Deployed => "deployed",
            Done::Redeployed => "redeployed",
            Done::Updated => "updated",
            Done::Destroyed => "destroyed",
        }
    }
}

/// How one node ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    /// Every task of the node succeeded (some in this run).
    Succeeded(Done),
    /// Every task of the node had already succeeded in an earlier run.
    AlreadyDone,
    Failed {
        at: String,
        error: String,
    },
    NotStarted {
        why: String,
    },
    /// The apply was cancelled while the node was at `at` (`DeployNode/deploy`): the work is
    /// unfinished, and the next apply resumes it.
    Cancelled {
        at: String,
    },
}

impl NodeOutcome {
    /// Whether the node ended as its plan said.
    pub fn ok(&self) -> bool {
        matches!(self, NodeOutcome::Succeeded(_) | NodeOutcome::AlreadyDone)
    }

    /// Whether the node failed or could not start (a cancelled node did neither).
    pub fn failed(&self) -> bool {
        matches!(
            self,
            NodeOutcome::Failed { .. } | NodeOutcome::NotStarted { .. }
        )
    }
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

/// Everything one apply needs. The node and site descriptions drivers get are the plan's.
pub struct Apply<'a> {
    pub plan: &'a Plan,
    pub journal: &'a Journal,
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
    Cancelled { step: StepKind },
}

/// What every node job shares.
struct Inner {
    journal: journal::Writer,
    drivers: Drivers,
    settings: Settings,
    progress: Option<mpsc::UnboundedSender<Event>>,
    cancel: watch::Receiver<bool>,
    run: u64,
    /// The plan's desired site, for PrepareSite and every step's context.
    site: crate::spec::SiteSpec,
    failures: AtomicUsize,
    stop: AtomicBool,
    tasks_run: AtomicUsize,
    steps_run: AtomicUsize,
}

impl Inner {
    fn emit(&self, e: Event) {
        // Logs carry names, steps and driver messages; drivers never put a credential in a
        // message, and NodeSpec's Debug redacts it, so nothing secret reaches a log. The
        // progress display reports these on stderr; logs repeat them only with -v.
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
                tracing::info!(node = node.as_deref().unwrap_or("site"), %step, attempt, %error, "transient error, retrying")
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

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
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

/// Record in the journal the deployments the plan found finished in the world but never
/// journaled (`NodeChange::unrecorded`), before anything else runs. They change nothing in
/// the world, only what drydock remembers of it.
pub async fn record_unrecorded(
    store: &dyn StateStore,
    journal: &Journal,
    plan: &Plan,
) -> Result<usize, StoreError> {
    let run = journal.last_run.map_or(0, |(r, _)| r);
    let mut n = 0;
    for c in plan.nodes.iter().filter(|c| c.unrecorded) {
        let Some(spec) = &c.desired else { continue };
        tracing::info!(node = %c.node, "recording a deployment the provisioner shows and the journal missed");
        journal::append(store, run, journal::deployed(spec))?;
        n += 1;
    }
    if n > 0 {
        store.sync().await?;
    }
    Ok(n)
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
    journal::append(
        store,
        run,
        Rec::RunFinished {
            outcome: Outcome::Success,
        },
    )?;
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
        journal: journal::Writer {
            store: apply.store.clone(),
            run,
        },
        drivers: apply.drivers,
        settings: apply.settings,
        progress: apply.progress,
        cancel: apply.cancel,
        run,
        site: plan.desired_site.clone(),
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

    inner.journal.record(Rec::RunStarted {
        pid: std::process::id(),
        host: crate::state::lock::hostname(),
        design_hash: plan.design_hash.clone(),
        tasks: plan.tasks.len(),
    })?;
    for t in plan.tasks.iter().filter(|t| !journal.succeeded(&t.id)) {
        inner.journal.record(Rec::TaskQueued {
            task: t.id.clone(),
            kind: t.kind,
            node: t.node.clone(),
        })?;
    }
    inner.journal.sync().await?;

    let mut site_error = None;
    for t in &site_tasks {
        if journal.succeeded(&t.id) {
            continue;
        }
        match inner.run_task(t, None, false, None).await? {
            Ok(_) => {}
            Err(TaskEnd::Failed { step, error }) => {
                site_error = Some(format!("{}/{step}: {error}", t.kind));
                break;
            }
            Err(TaskEnd::Cancelled { .. }) => {
                site_error = Some(format!("{} cancelled", t.kind));
                break;
            }
        }
    }

    let mut results: Vec<NodeResult> = Vec::new();
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
        } else {
            jobs.push(schedule::Job { node, pending });
        }
    }
    if let Some(why) = &site_error {
        for job in jobs {
            let why = format!("the site task failed: {why}");
            results.push(inner.not_started(job, why).await?);
        }
    } else {
        results.extend(schedule::run(&inner, plan, jobs).await?);
    }

    let outcome = outcome(&results, site_error.is_some(), inner.cancelled());
    inner.journal.record(Rec::RunFinished { outcome })?;
    inner.journal.sync().await?;
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
    if cancelled {
        Outcome::Cancelled
    } else if site_failed {
        Outcome::Failure
    } else if results.iter().all(|r| r.outcome.ok()) {
        Outcome::Success
    } else if results.iter().any(|r| r.outcome.ok()) {
        Outcome::Partial
    } else {
        Outcome::Failure
    }
}

type Groups = Vec<(String, Vec<Task>)>;

/// Split the plan into site tasks and per-node chains, checking the graph has that shape and
/// that every node task has the node's desired state.
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
    let mut index: HashMap<&str, usize> = HashMap::new();
    for t in plan.tasks.iter() {
        let Some(node) = t.node.as_deref() else {
            continue;
        };
        let i = *index.entry(node).or_insert_with(|| {
            groups.push((node.to_string(), Vec::new()));
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
