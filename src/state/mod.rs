//! The state store: an append-only journal of everything drydock did to a site — every task
//! transition (queued, started, succeeded with output, failed with error, cancelled), what each
//! node was deployed with, and each apply run's outcome. Everything else (which tasks are
//! done, the recorded configuration of each node, the apply epoch) is derived by replaying it.
//!
//! `StateStore` is the backend interface (`file_store`, a checksummed log, is the embedded
//! default; `postgres` keeps the journal in a database several drydocks share, with `lease`
//! electing the one that writes); the journal logic — records, replay, and the one table of
//! legal transitions — lives here and is the same for every backend. The service's operator
//! requests (`drydock serve`'s tasks) are journaled here too, so every instance derives them
//! from the same records.

pub mod file_store;
pub mod lease;
pub mod lock;
pub mod postgres;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::observed::{Failure, Snapshot, Unfinished};
pub use crate::vocab::now_ms;
use crate::vocab::{StepKind, TaskId, TaskKind};

/// Version of journal records written. A record of a version this drydock does not know is
/// refused, not misread. Version 2 added the service's request records (`Request*`); version 1
/// records are read as they are.
pub const RECORD_VERSION: u32 = 2;

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The apply run that wrote it.
    pub run: u64,
    pub event: Event,
}

/// How an apply run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every task succeeded.
    Success,
    /// Some nodes failed, others were deployed.
    Partial,
    /// Nothing succeeded, or a site task failed.
    Failure,
    /// Stopped by the operator (Ctrl-C).
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        pid: u32,
        host: String,
        design_hash: String,
        tasks: usize,
    },
    TaskQueued {
        task: TaskId,
        kind: TaskKind,
        node: Option<String>,
    },
    TaskStarted {
        task: TaskId,
    },
    /// A step finished (not flushed on its own: timings for `drydock tasks`).
    StepDone {
        task: TaskId,
        step: String,
        ms: u64,
        attempts: u32,
    },
    TaskSucceeded {
        task: TaskId,
        output: Option<String>,
    },
    TaskFailed {
        task: TaskId,
        step: String,
        error: String,
        permanent: bool,
    },
    TaskCancelled {
        task: TaskId,
    },
    /// A node finished deploying with this configuration.
    NodeDeployed {
        node: String,
        fingerprint: String,
        snapshot: Snapshot,
    },
    /// A deployed node was updated in place (UpdateNode): it now has this configuration.
    NodeUpdated {
        node: String,
        fingerprint: String,
        snapshot: Snapshot,
    },
    /// A node was released (destroyed or before a redeploy).
    NodeReleased {
        node: String,
    },
    /// The site was prepared with this configuration.
    SitePrepared {
        snapshot: Snapshot,
    },
    RunFinished {
        outcome: Outcome,
    },
    /// An operator asked the service for something (`POST /tasks`). `action` and `params`
    /// (JSON) are the service's; the journal only keeps them.
    RequestQueued {
        request: String,
        action: String,
        params: String,
        by: String,
    },
    /// The service started the request: these journal tasks carry it out (none: nothing to
    /// do, or an action that runs no task, such as validating the design).
    RequestStarted {
        request: String,
        tasks: Vec<TaskId>,
    },
    /// An operator asked to cancel the request (`DELETE /tasks/{id}`).
    RequestCancelRequested {
        request: String,
        by: String,
    },
    /// The request ended: `result` is the service's (success, partial_success, failure,
    /// cancelled), `message` says why, `details` (JSON) what it found.
    RequestFinished {
        request: String,
        result: String,
        message: String,
        details: String,
    },
}

/// The state of a task, derived from the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Started,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskState {
    /// Its place in `RequestInfo::progress`: queued, started, succeeded, failed, cancelled.
    pub fn index(self) -> usize {
        match self {
            TaskState::Queued => 0,
            TaskState::Started => 1,
            TaskState::Succeeded => 2,
            TaskState::Failed => 3,
            TaskState::Cancelled => 4,
        }
    }
}

/// A transition the journal refuses: a store that yields one is corrupt, or a caller is buggy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition of task {task}: {from:?} -> {event}")]
pub struct IllegalTransition {
    pub task: TaskId,
    pub from: Option<TaskState>,
    pub event: &'static str,
}

/// The one table of legal task transitions. A succeeded task is final; any other may be
/// queued again by a later run (that is how a rerun resumes).
pub fn transition(
    task: &TaskId,
    from: Option<TaskState>,
    event: &Event,
) -> Result<TaskState, IllegalTransition> {
    use TaskState::*;
    let (to, name) = match event {
        Event::TaskQueued { .. } => (Queued, "queued"),
        Event::TaskStarted { .. } => (Started, "started"),
        Event::TaskSucceeded { .. } => (Succeeded, "succeeded"),
        Event::TaskFailed { .. } => (Failed, "failed"),
        Event::TaskCancelled { .. } => (Cancelled, "cancelled"),
        _ => unreachable!("only task events have transitions"),
    };
    let ok = matches!(
        (from, to),
        (None | Some(Queued | Started | Failed | Cancelled), Queued)
            | (Some(Queued), Started)
            | (Some(Started), Succeeded | Failed | Cancelled)
            | (Some(Queued), Cancelled)
    );
    if ok {
        Ok(to)
    } else {
        Err(IllegalTransition {
            task: task.clone(),
            from,
            event: name,
        })
    }
}

/// What drydock recorded about one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub fingerprint: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// Completed deployments.
    pub generation: u64,
    pub last_failure: Option<Failure>,
    /// The last task that ran on the node, and its state.
    pub last_task: Option<(TaskKind, TaskState)>,
    /// A task that changes the machine started and has not succeeded since.
    pub unfinished: Option<Unfinished>,
}

/// Whether a task kind changes the machine, so that an unfinished one means the machine may be
/// anywhere between before and after (VerifyNode only reads; UpdateNode is one idempotent
/// step whose result the provisioner's fingerprint shows).
fn changes_machine(kind: TaskKind) -> bool {
    matches!(
        kind,
        TaskKind::PrepareNode | TaskKind::DeployNode | TaskKind::DestroyNode
    )
}

/// One task as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub kind: TaskKind,
    pub node: Option<String>,
    pub state: TaskState,
    pub run: u64,
    pub queued_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub error: Option<String>,
    pub steps: Vec<(String, u64, u32)>,
    /// How many times it was started, over all runs.
    pub attempts: u32,
}

/// Where an operator's request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Queued,
    Running,
    Finished,
}

/// One operator request as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: String,
    pub action: String,
    pub params: String,
    pub by: String,
    pub state: RequestState,
    pub queued_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub tasks: Vec<TaskId>,
    /// Who asked to cancel it, if anyone did.
    pub cancel_requested: Option<String>,
    pub result: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
    /// How many of `tasks` are in each state (`TaskState::index`), kept as records are
    /// applied, so that a poll of a request reads them without visiting its tasks. Tasks of the
    /// request the journal has not seen queued yet are not counted.
    pub progress: [u64; 5],
}

/// Everything derived from the journal.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    pub tasks: HashMap<TaskId, TaskInfo>,
    pub nodes: BTreeMap<String, NodeRecord>,
    pub site: Option<Snapshot>,
    /// Completed, fully successful applies.
    pub epoch: u64,
    /// The last run's id, and how it ended (`None`: it never finished).
    pub last_run: Option<(u64, Option<Outcome>)>,
    /// The operator requests, by id; `request_order` lists them as they were queued.
    pub requests: HashMap<String, RequestInfo>,
    pub request_order: Vec<String>,
    /// The requests each task is part of (for their `progress`).
    task_requests: HashMap<TaskId, Vec<String>>,
}

impl Journal {
    /// Replay records in order. Fails on an illegal transition or a record of another version.
    pub fn replay(records: impl IntoIterator<Item = Record>) -> Result<Journal, ReplayError> {
        let mut j = Journal::default();
        for r in records {
            j.apply(&r)?;
        }
        Ok(j)
    }

    pub fn apply(&mut self, r: &Record) -> Result<(), ReplayError> {
        if !(1..=RECORD_VERSION).contains(&r.v) {
            return Err(ReplayError::Version(r.v));
        }
        match &r.event {
            Event::RequestQueued {
                request,
                action,
                params,
                by,
            } => {
                if self.requests.contains_key(request) {
                    return Err(ReplayError::Request(request.clone(), "queued twice"));
                }
                self.request_order.push(request.clone());
                self.requests.insert(
                    request.clone(),
                    RequestInfo {
                        id: request.clone(),
                        action: action.clone(),
                        params: params.clone(),
                        by: by.clone(),
                        state: RequestState::Queued,
                        queued_ms: r.at_ms,
                        started_ms: None,
                        finished_ms: None,
                        tasks: Vec::new(),
                        cancel_requested: None,
                        result: None,
                        message: None,
                        details: None,
                        progress: [0; 5],
                    },
                );
            }
            Event::RequestStarted { request, tasks } => {
                let q = self.request_mut(request)?;
                // A request is started again when a new leader resumes it after a crash.
                if q.state == RequestState::Finished {
                    return Err(ReplayError::Request(
                        request.clone(),
                        "started after it finished",
                    ));
                }
                q.state = RequestState::Running;
                q.started_ms = Some(r.at_ms);
                // A resumed request keeps the tasks of its earlier starts (their results are
                // part of it) and adds the new ones.
                let mut known: std::collections::HashSet<TaskId> =
                    q.tasks.iter().cloned().collect();
                let new: Vec<TaskId> = tasks
                    .iter()
                    .filter(|t| known.insert((*t).clone()))
                    .cloned()
                    .collect();
                let mut progress = q.progress;
                for t in &new {
                    if let Some(info) = self.tasks.get(t) {
                        progress[info.state.index()] += 1;
                    }
                    self.task_requests
                        .entry(t.clone())
                        .or_default()
                        .push(request.clone());
                }
                let q = self.request_mut(request)?;
                q.progress = progress;
                q.tasks.extend(new);
            }
            Event::RequestCancelRequested { request, by } => {
                let q = self.request_mut(request)?;
                if q.state != RequestState::Finished && q.cancel_requested.is_none() {
                    q.cancel_requested = Some(by.clone());
                }
            }
            Event::RequestFinished {
                request,
                result,
                message,
                details,
            } => {
                let q = self.request_mut(request)?;
                if q.state == RequestState::Finished {
                    return Err(ReplayError::Request(request.clone(), "finished twice"));
                }
                q.state = RequestState::Finished;
                q.finished_ms = Some(r.at_ms);
                q.result = Some(result.clone());
                q.message = Some(message.clone());
                q.details = Some(details.clone());
            }
            Event::RunStarted { .. } => self.last_run = Some((r.run, None)),
            Event::RunFinished { outcome } => {
                self.last_run = Some((r.run, Some(*outcome)));
                if *outcome == Outcome::Success {
                    self.epoch += 1;
                }
            }
            Event::TaskQueued { task, kind, node } => {
                let from = self.tasks.get(task).map(|t| t.state);
                transition(task, from, &r.event)?;
                self.count(task, from, TaskState::Queued);
                let t = self.tasks.entry(task.clone()).or_insert_with(|| TaskInfo {
                    id: task.clone(),
                    kind: *kind,
                    node: node.clone(),
                    state: TaskState::Queued,
                    run: r.run,
                    queued_ms: r.at_ms,
                    started_ms: None,
                    finished_ms: None,
                    error: None,
                    steps: Vec::new(),
                    attempts: 0,
                });
                t.state = TaskState::Queued;
                t.run = r.run;
                t.queued_ms = r.at_ms;
            }
            Event::TaskStarted { task }
            | Event::TaskSucceeded { task, .. }
            | Event::TaskFailed { task, .. }
            | Event::TaskCancelled { task } => {
                let t = self
                    .tasks
                    .get_mut(task)
                    .ok_or_else(|| ReplayError::Unknown(task.clone()))?;
                let from = t.state;
                t.state = transition(task, Some(from), &r.event)?;
                let to = t.state;
                // The borrow of `t` ends for the count and is taken again.
                self.count(task, Some(from), to);
                let t = self.tasks.get_mut(task).expect("present above");
                let tracked = t.node.clone().filter(|_| changes_machine(t.kind));
                match &r.event {
                    Event::TaskStarted { .. } => {
                        t.started_ms = Some(r.at_ms);
                        t.finished_ms = None;
                        t.error = None;
                        t.steps.clear();
                        t.attempts += 1;
                        if let Some(n) = &tracked {
                            self.nodes.entry(n.clone()).or_default().unfinished =
                                Some(Unfinished {
                                    task: t.kind,
                                    step: t.kind.steps()[0],
                                });
                        }
                    }
                    Event::TaskFailed { step, error, .. } => {
                        t.finished_ms = Some(r.at_ms);
                        t.error = Some(error.clone());
                        if let Some(n) = &t.node {
                            let rec = self.nodes.entry(n.clone()).or_default();
                            rec.last_failure = Some(Failure {
                                at: format!("{}/{step}", t.kind),
                                error: error.clone(),
                            });
                            if let (Some(u), Some(s)) =
                                (rec.unfinished.as_mut(), StepKind::parse(step))
                            {
                                u.step = s;
                            }
                        }
                    }
                    _ => t.finished_ms = Some(r.at_ms),
                }
                // The last task that did something (a cancelled follower says less than the
                // task that failed before it).
                if let (Some(n), false) = (&t.node, t.state == TaskState::Cancelled) {
                    let rec = self.nodes.entry(n.clone()).or_default();
                    rec.last_task = Some((t.kind, t.state));
                    // The last task of a chain succeeded: the node is as its design says.
                    if t.state == TaskState::Succeeded
                        && matches!(
                            t.kind,
                            TaskKind::DeployNode | TaskKind::UpdateNode | TaskKind::DestroyNode
                        )
                    {
                        rec.last_failure = None;
                        rec.unfinished = None;
                    }
                }
            }
            Event::StepDone {
                task,
                step,
                ms,
                attempts,
            } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.steps.push((step.clone(), *ms, *attempts));
                    // The step after the one done is where the task stands.
                    let steps = t.kind.steps();
                    let next = steps
                        .iter()
                        .position(|s| s.as_str() == step)
                        .and_then(|i| steps.get(i + 1));
                    if let (Some(n), Some(&next)) = (&t.node, next)
                        && let Some(u) = self.nodes.get_mut(n).and_then(|r| r.unfinished.as_mut())
                        && u.task == t.kind
                    {
                        u.step = next;
                    }
                }
            }
            Event::NodeDeployed {
                node,
                fingerprint,
                snapshot,
            } => {
                let rec = self.nodes.entry(node.clone()).or_default();
                rec.fingerprint = Some(fingerprint.clone());
                rec.snapshot = Some(snapshot.clone());
                rec.generation += 1;
            }
            Event::NodeUpdated {
                node,
                fingerprint,
                snapshot,
            } => {
                let rec = self.nodes.entry(node.clone()).or_default();
                rec.fingerprint = Some(fingerprint.clone());
                rec.snapshot = Some(snapshot.clone());
            }
            Event::NodeReleased { node } => {
                let rec = self.nodes.entry(node.clone()).or_default();
                rec.fingerprint = None;
                rec.snapshot = None;
            }
            Event::SitePrepared { snapshot } => self.site = Some(snapshot.clone()),
        }
        Ok(())
    }

    /// Move `task` from state `from` to `to` in the progress of every request it is part of.
    fn count(&mut self, task: &TaskId, from: Option<TaskState>, to: TaskState) {
        if from == Some(to) {
            return;
        }
        for id in self.task_requests.get(task).into_iter().flatten() {
            if let Some(q) = self.requests.get_mut(id) {
                if let Some(f) = from {
                    q.progress[f.index()] -= 1;
                }
                q.progress[to.index()] += 1;
            }
        }
    }

    fn request_mut(&mut self, id: &str) -> Result<&mut RequestInfo, ReplayError> {
        self.requests
            .get_mut(id)
            .ok_or_else(|| ReplayError::Request(id.to_string(), "never queued"))
    }

    /// Whether the journal records `task` as succeeded.
    pub fn succeeded(&self, task: &TaskId) -> bool {
        self.tasks
            .get(task)
            .is_some_and(|t| t.state == TaskState::Succeeded)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("journal record of version {0}; this drydock reads version {RECORD_VERSION}")]
    Version(u32),
    #[error("journal record for task {0}, which was never queued")]
    Unknown(TaskId),
    #[error("journal record for request {0}: {1}")]
    Request(String, &'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The journal's files are not what drydock wrote.
    #[error("the journal is damaged: {path}: {what}")]
    Damaged { path: String, what: String },
    #[error("the disk is full: {0}")]
    Full(String),
    #[error("the state store failed: {0}")]
    Io(String),
    /// This writer's lease was taken by another instance: its records are refused.
    #[error("this drydock is no longer the leader, so its journal records are refused: {0}")]
    Fenced(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Create a state directory (and its parents), readable by its owner only.
pub fn create_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull => StoreError::Full(dir.display().to_string()),
            _ => StoreError::Io(format!("cannot create {}: {e}", dir.display())),
        })
}

/// A state store backend.
///
/// # Guarantees
/// - `append` assigns increasing sequence numbers; records are read back in that order.
/// - After `sync` returns, every record appended before the call survives a crash (SIGKILL,
///   power loss). Records appended after the last `sync` may be lost, but only as a suffix:
///   the journal is never left with a gap or a half-written record.
///
/// # Assumptions
/// One process writes at a time (the site lock, `state::lock`, ensures it).
#[async_trait::async_trait]
pub trait StateStore: Send + Sync {
    /// Append a record (not yet durable).
    fn append(&self, record: &Record) -> Result<u64, StoreError>;
    /// Make every record appended so far durable. Concurrent callers share one disk sync.
    async fn sync(&self) -> Result<(), StoreError>;
    /// Every record, in order.
    fn records(&self) -> Result<Vec<Record>, StoreError>;
}

/// A store that tells someone of every record once it is durable (the service keeps its view
/// of the journal current this way, without reading the store back, and never shows a
/// transition that a crash could still take back).
pub struct Tee<S: ?Sized> {
    store: std::sync::Arc<S>,
    /// Records appended and not yet told, in the store's order, and how many were told before
    /// them.
    pending: std::sync::Mutex<(u64, std::collections::VecDeque<Record>)>,
    on_durable: Box<dyn Fn(Vec<Record>) + Send + Sync>,
}

impl<S: StateStore + ?Sized> Tee<S> {
    pub fn new(
        store: std::sync::Arc<S>,
        on_durable: Box<dyn Fn(Vec<Record>) + Send + Sync>,
    ) -> Self {
        Tee {
            store,
            pending: std::sync::Mutex::new((0, std::collections::VecDeque::new())),
            on_durable,
        }
    }
}

#[async_trait::async_trait]
impl<S: StateStore + ?Sized> StateStore for Tee<S> {
    fn append(&self, record: &Record) -> Result<u64, StoreError> {
        // One lock for both, so the pending records are in the store's order.
        let mut p = self.pending.lock().expect("tee lock");
        let seq = self.store.append(record)?;
        p.1.push_back(record.clone());
        Ok(seq)
    }
    async fn sync(&self) -> Result<(), StoreError> {
        let target = {
            let p = self.pending.lock().expect("tee lock");
            p.0 + p.1.len() as u64
        };
        self.store.sync().await?;
        // Everything appended before the sync began is durable now (later records may be
        // too; they are told at their own sync). A concurrent sync may have told some already.
        // Told under the lock, so that two syncs finishing together tell in order.
        let mut p = self.pending.lock().expect("tee lock");
        let n = target.saturating_sub(p.0).min(p.1.len() as u64) as usize;
        if n > 0 {
            p.0 += n as u64;
            let done: Vec<Record> = p.1.drain(..n).collect();
            (self.on_durable)(done);
        }
        Ok(())
    }
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        self.store.records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(run: u64, event: Event) -> Record {
        Record {
            v: RECORD_VERSION,
            at_ms: 0,
            run,
            event,
        }
    }

    fn t(s: &str) -> TaskId {
        TaskId(s.into())
    }

    #[test]
    fn legal_transitions() {
        let q = Event::TaskQueued {
            task: t("a"),
            kind: TaskKind::VerifySite,
            node: None,
        };
        let s = Event::TaskStarted { task: t("a") };
        let ok = Event::TaskSucceeded {
            task: t("a"),
            output: None,
        };
        let j =
            Journal::replay([rec(1, q.clone()), rec(1, s.clone()), rec(1, ok.clone())]).unwrap();
        assert!(j.succeeded(&t("a")));
        // A succeeded task is final.
        assert!(
            Journal::replay([
                rec(1, q.clone()),
                rec(1, s.clone()),
                rec(1, ok.clone()),
                rec(2, q.clone())
            ])
            .is_err()
        );
        // Started and never finished (a crash), then queued again by the next run.
        let j = Journal::replay([
            rec(1, q.clone()),
            rec(1, s.clone()),
            rec(2, q.clone()),
            rec(2, s.clone()),
            rec(2, ok),
        ])
        .unwrap();
        assert_eq!(j.tasks[&t("a")].attempts, 2);
        // Succeeded without being started.
        assert!(
            Journal::replay([
                rec(1, q),
                rec(
                    1,
                    Event::TaskSucceeded {
                        task: t("a"),
                        output: None
                    }
                )
            ])
            .is_err()
        );
        // A record for a task never queued.
        assert!(Journal::replay([rec(1, s)]).is_err());
    }

    #[test]
    fn epoch_counts_successful_runs() {
        let j = Journal::replay([
            rec(
                1,
                Event::RunFinished {
                    outcome: Outcome::Partial,
                },
            ),
            rec(
                2,
                Event::RunFinished {
                    outcome: Outcome::Success,
                },
            ),
        ])
        .unwrap();
        assert_eq!(j.epoch, 1);
    }

    fn request(id: &str) -> Event {
        Event::RequestQueued {
            request: id.into(),
            action: "deploy_nodes".into(),
            params: "{}".into(),
            by: "ops".into(),
        }
    }

    #[test]
    fn requests_replay_with_their_legal_transitions() {
        let started = |tasks: &[&str]| Event::RequestStarted {
            request: "r".into(),
            tasks: tasks.iter().map(|s| t(s)).collect(),
        };
        let finished = Event::RequestFinished {
            request: "r".into(),
            result: "success".into(),
            message: "done".into(),
            details: "{}".into(),
        };
        // Started twice (resumed by a new leader): the tasks of both starts are kept.
        let j = Journal::replay([
            rec(1, request("r")),
            rec(1, started(&["a", "b"])),
            rec(
                1,
                Event::RequestCancelRequested {
                    request: "r".into(),
                    by: "ops".into(),
                },
            ),
            rec(2, started(&["b", "c"])),
            rec(2, finished.clone()),
        ])
        .unwrap();
        let r = &j.requests["r"];
        assert_eq!(r.state, RequestState::Finished);
        assert_eq!(r.tasks, vec![t("a"), t("b"), t("c")]);
        assert_eq!(r.cancel_requested.as_deref(), Some("ops"));
        assert_eq!(j.request_order, vec!["r".to_string()]);
        // Queued twice, finished twice, started after finishing, unknown: refused.
        for bad in [
            vec![rec(1, request("r")), rec(1, request("r"))],
            vec![
                rec(1, request("r")),
                rec(1, finished.clone()),
                rec(1, finished.clone()),
            ],
            vec![
                rec(1, request("r")),
                rec(1, finished.clone()),
                rec(1, started(&[])),
            ],
            vec![rec(1, started(&[]))],
        ] {
            assert!(matches!(
                Journal::replay(bad),
                Err(ReplayError::Request(..))
            ));
        }
        // Version 1 records are read as they are.
        let mut old = rec(
            1,
            Event::TaskQueued {
                task: t("a"),
                kind: TaskKind::VerifySite,
                node: None,
            },
        );
        old.v = 1;
        assert!(Journal::replay([old]).is_ok());
    }

    #[test]
    fn request_progress_counts_follow_their_tasks() {
        let queued = |id: &str| Event::TaskQueued {
            task: t(id),
            kind: TaskKind::VerifyNode,
            node: Some("n1".into()),
        };
        let started = |r: &str, tasks: &[&str]| Event::RequestStarted {
            request: r.into(),
            tasks: tasks.iter().map(|s| t(s)).collect(),
        };
        let records = vec![
            rec(1, queued("a")),
            rec(1, request("r")),
            // A listed twice counts once; c is never queued.
            rec(1, started("r", &["a", "b", "a", "c"])),
            rec(1, queued("b")),
            rec(1, Event::TaskStarted { task: t("a") }),
            rec(
                1,
                Event::TaskSucceeded {
                    task: t("a"),
                    output: None,
                },
            ),
            rec(1, Event::TaskStarted { task: t("b") }),
            rec(
                1,
                Event::TaskFailed {
                    task: t("b"),
                    step: "s".into(),
                    error: "e".into(),
                    permanent: false,
                },
            ),
            // A second request shares b, which is queued again.
            rec(2, request("r2")),
            rec(2, started("r2", &["b"])),
            rec(2, queued("b")),
            rec(2, Event::TaskStarted { task: t("b") }),
            rec(2, Event::TaskCancelled { task: t("b") }),
        ];
        // After every record, the kept counts are the counts of a visit of the tasks.
        let mut j = Journal::default();
        for r in &records {
            j.apply(r).unwrap();
            for q in j.requests.values() {
                let mut visit = [0u64; 5];
                let mut seen = std::collections::HashSet::new();
                for id in q.tasks.iter().filter(|id| seen.insert(*id)) {
                    if let Some(info) = j.tasks.get(id) {
                        visit[info.state.index()] += 1;
                    }
                }
                assert_eq!(q.progress, visit, "{} after {:?}", q.id, r.event);
            }
        }
        assert_eq!(j.requests["r"].tasks, vec![t("a"), t("b"), t("c")]);
        assert_eq!(j.requests["r"].progress, [0, 0, 1, 0, 1]);
        assert_eq!(j.requests["r2"].progress, [0, 0, 0, 0, 1]);
    }

    #[derive(Default)]
    struct Mem(std::sync::Mutex<Vec<Record>>);

    #[async_trait::async_trait]
    impl StateStore for Mem {
        fn append(&self, r: &Record) -> Result<u64, StoreError> {
            let mut v = self.0.lock().unwrap();
            v.push(r.clone());
            Ok(v.len() as u64 - 1)
        }
        async fn sync(&self) -> Result<(), StoreError> {
            tokio::task::yield_now().await;
            Ok(())
        }
        fn records(&self) -> Result<Vec<Record>, StoreError> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tee_tells_every_durable_record_once_in_order() {
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = told.clone();
        let tee = std::sync::Arc::new(Tee::new(
            std::sync::Arc::new(Mem::default()),
            Box::new(move |rs| sink.lock().unwrap().extend(rs)),
        ));
        // Appended, not synced: not told.
        tee.append(&rec(0, request("x"))).unwrap();
        assert!(told.lock().unwrap().is_empty());
        let mut jobs = Vec::new();
        for i in 1..=100u64 {
            let tee = tee.clone();
            jobs.push(tokio::spawn(async move {
                tee.append(&rec(i, request(&format!("r{i}")))).unwrap();
                tee.sync().await.unwrap();
            }));
        }
        for j in jobs {
            j.await.unwrap();
        }
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 101);
        // In the store's order.
        assert_eq!(*told, tee.records().unwrap());
    }

    #[test]
    fn other_record_versions_are_refused() {
        let mut r = rec(
            1,
            Event::RunFinished {
                outcome: Outcome::Success,
            },
        );
        r.v = 99;
        assert!(matches!(
            Journal::replay([r]),
            Err(ReplayError::Version(99))
        ));
    }
}
