//! Task journaling: one task run with every transition appended and synced before the executor
//! acts on it — started (durably) before the first driver call, finished (durably) before
//! anything that depends on it — and, on success, the record of what it changed (a node
//! deployed, updated or released; the site prepared). Polling a step is `step`'s business.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::driver::NodeSpec;
use crate::execute::{Event, Inner, NodeOutcome, NodeResult, TaskEnd, schedule, step, tasks};
use crate::plan::{Task, TaskKind};
use crate::spec::flat;
use crate::state::{Event as Rec, RECORD_VERSION, Record, StateStore, StoreError, now_ms};

/// Append one record of run `run` (not yet durable).
pub(super) fn append(store: &dyn StateStore, run: u64, event: Rec) -> Result<(), StoreError> {
    store
        .append(&Record {
            v: RECORD_VERSION,
            at_ms: now_ms(),
            run,
            event,
        })
        .map(|_| ())
}

/// The record of a node deployed with its desired state.
pub(super) fn deployed(spec: &NodeSpec) -> Rec {
    Rec::NodeDeployed {
        node: spec.name.clone(),
        fingerprint: spec.fingerprint.clone(),
        snapshot: flat::node(spec),
    }
}

/// The journal of one run.
pub(super) struct Writer {
    pub store: Arc<dyn StateStore>,
    pub run: u64,
}

impl Writer {
    pub fn record(&self, event: Rec) -> Result<(), StoreError> {
        append(self.store.as_ref(), self.run, event)
    }

    pub async fn sync(&self) -> Result<(), StoreError> {
        self.store.sync().await
    }

    /// Record tasks that will not run in this apply as cancelled.
    pub async fn cancel_all(&self, tasks: &[Task]) -> Result<(), StoreError> {
        for t in tasks {
            self.record(Rec::TaskCancelled { task: t.id.clone() })?;
        }
        self.sync().await
    }
}

impl Inner {
    /// A node job that will not start: its tasks are recorded cancelled.
    pub(super) async fn not_started(
        &self,
        job: schedule::Job,
        why: String,
    ) -> Result<NodeResult, StoreError> {
        self.journal.cancel_all(&job.pending).await?;
        Ok(NodeResult {
            node: job.node,
            outcome: NodeOutcome::NotStarted { why },
        })
    }

    /// Run one task: recorded started (durably) before the first driver call, recorded
    /// finished (durably) before anything that depends on it.
    ///
    /// `started`: the previous task of the chain already recorded this one started. `next`:
    /// the chain's next task; on success it is recorded started in the same sync as this
    /// task's success (one disk sync between two tasks, not two), and `Ok(Ok(true))` says so.
    pub(super) async fn run_task(
        &self,
        task: &Task,
        node: Option<&NodeSpec>,
        started: bool,
        next: Option<&Task>,
    ) -> Result<Result<bool, TaskEnd>, StoreError> {
        let id = || task.id.clone();
        if !started {
            if self.cancelled() {
                self.journal.record(Rec::TaskCancelled { task: id() })?;
                self.journal.sync().await?;
                return Ok(Err(TaskEnd::Cancelled {
                    step: task.kind.steps()[0],
                }));
            }
            self.journal.record(Rec::TaskStarted { task: id() })?;
            self.journal.sync().await?;
        }
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
        for s in &task.steps {
            self.emit(Event::Step {
                node: name.clone(),
                task: task.kind,
                step: s.kind,
            });
            let started = Instant::now();
            match step::run(self, task.kind, s, &cx).await {
                Ok(attempts) => {
                    self.steps_run.fetch_add(1, Ordering::Relaxed);
                    self.journal.record(Rec::StepDone {
                        task: id(),
                        step: s.kind.as_str().into(),
                        ms: started.elapsed().as_millis() as u64,
                        attempts,
                    })?;
                }
                Err(end) => {
                    self.journal.record(match &end {
                        TaskEnd::Failed { step, error } => Rec::TaskFailed {
                            task: id(),
                            step: step.as_str().into(),
                            error: error.clone(),
                            permanent: true,
                        },
                        TaskEnd::Cancelled { .. } => Rec::TaskCancelled { task: id() },
                    })?;
                    self.journal.sync().await?;
                    self.emit(Event::TaskFinished {
                        node: name,
                        task: task.kind,
                        ok: false,
                    });
                    return Ok(Err(end));
                }
            }
        }
        // What the task changed, recorded with its success (one sync for both).
        let output = match (task.kind, node) {
            (TaskKind::DeployNode, Some(n)) => {
                self.journal.record(deployed(n))?;
                Some(n.fingerprint.clone())
            }
            (TaskKind::UpdateNode, Some(n)) => {
                self.journal.record(Rec::NodeUpdated {
                    node: n.name.clone(),
                    fingerprint: n.fingerprint.clone(),
                    snapshot: flat::node(n),
                })?;
                Some(n.fingerprint.clone())
            }
            (TaskKind::DestroyNode, Some(n)) => {
                self.journal.record(Rec::NodeReleased {
                    node: n.name.clone(),
                })?;
                None
            }
            (TaskKind::PrepareSite, _) => {
                self.journal.record(Rec::SitePrepared {
                    snapshot: flat::site(&self.site),
                })?;
                Some(self.site.fingerprint.clone())
            }
            _ => None,
        };
        self.journal
            .record(Rec::TaskSucceeded { task: id(), output })?;
        let next = next.filter(|_| !self.cancelled());
        if let Some(n) = next {
            self.journal
                .record(Rec::TaskStarted { task: n.id.clone() })?;
        }
        self.journal.sync().await?;
        self.emit(Event::TaskFinished {
            node: name,
            task: task.kind,
            ok: true,
        });
        Ok(Ok(next.is_some()))
    }
}
