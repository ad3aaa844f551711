//! Scheduling: which node chain runs next. A node starts whenever the global limit allows and
//! its rack has room: a node waiting for its rack never holds a global slot, so the global
//! limit is the only cause of idle capacity. Among the racks with room, the one with the most
//! nodes still waiting goes first (ties: plan order), which keeps the largest rack busy from the
//! start — for nodes of equal duration this reaches the ideal, max(⌈nodes / global⌉,
//! ⌈largest rack / per rack⌉) waves. The order is stable: the same plan starts the same way.
//!
//! Racks are indexed once; each rack keeps a queue of its waiting nodes, and the racks that
//! have room and a waiting node sit in an ordered set keyed by (nodes waiting, plan position of
//! the first), so choosing the next node is O(log racks).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::task::JoinSet;

use crate::driver::NodeSpec;
use crate::execute::{Done, Event, Inner, NodeOutcome, NodeResult, TaskEnd};
use crate::plan::{Plan, Task};
use crate::state::StoreError;

/// A node's chain of tasks still to run.
pub(super) struct Job {
    pub node: String,
    pub pending: Vec<Task>,
}

/// The waiting jobs, by rack, and how many run.
pub(super) struct Queue {
    /// Per rack: the positions of its waiting jobs, in order.
    waiting: Vec<VecDeque<usize>>,
    running: Vec<usize>,
    /// `(jobs waiting, position of the first waiting job, rack)` for racks with room and a
    /// waiting job; the most waiting first.
    ready: BTreeSet<(Reverse<usize>, usize, usize)>,
    total_running: usize,
    global: usize,
    per_rack: usize,
}

impl Queue {
    /// `racks[i]` is the rack index of job `i`.
    pub fn new(racks: &[usize], global: usize, per_rack: usize) -> Queue {
        let n = racks.iter().max().map_or(0, |m| m + 1);
        let mut waiting = vec![VecDeque::new(); n];
        for (i, &r) in racks.iter().enumerate() {
            waiting[r].push_back(i);
        }
        let ready = waiting
            .iter()
            .enumerate()
            .filter_map(|(r, q)| q.front().map(|&i| (Reverse(q.len()), i, r)))
            .collect();
        Queue {
            waiting,
            running: vec![0; n],
            ready,
            total_running: 0,
            global: global.max(1),
            per_rack: per_rack.max(1),
        }
    }

    /// The next job to start, if a slot is free: `(job, rack)`.
    pub fn next(&mut self) -> Option<(usize, usize)> {
        if self.total_running >= self.global {
            return None;
        }
        let (_, i, r) = self.ready.pop_first()?;
        self.waiting[r].pop_front();
        self.running[r] += 1;
        self.total_running += 1;
        self.offer(r);
        Some((i, r))
    }

    /// A job of rack `r` finished.
    pub fn finished(&mut self, r: usize) {
        let had_room = self.running[r] < self.per_rack;
        self.running[r] -= 1;
        self.total_running -= 1;
        if !had_room {
            self.offer(r);
        }
    }

    /// Every job still waiting, emptying the queue.
    pub fn drain(&mut self) -> Vec<usize> {
        self.ready.clear();
        let mut all: Vec<usize> = self.waiting.iter_mut().flat_map(|q| q.drain(..)).collect();
        all.sort_unstable();
        all
    }

    /// Put rack `r` among the ready ones if it has room and a waiting job (it is not there:
    /// `next` took it out, or it was full).
    fn offer(&mut self, r: usize) {
        if let Some(&front) = self.waiting[r].front()
            && self.running[r] < self.per_rack
        {
            self.ready
                .insert((Reverse(self.waiting[r].len()), front, r));
        }
    }
}

/// Run the node jobs under the limits; returns one result per job.
pub(super) async fn run(
    inner: &Arc<Inner>,
    plan: &Plan,
    jobs: Vec<Job>,
) -> Result<Vec<NodeResult>, StoreError> {
    let changes: HashMap<&str, &crate::plan::NodeChange> =
        plan.nodes.iter().map(|c| (c.node.as_str(), c)).collect();
    let mut rack_index: HashMap<Option<&str>, usize> = HashMap::new();
    let racks: Vec<usize> = jobs
        .iter()
        .map(|j| {
            let rack = changes.get(j.node.as_str()).and_then(|c| c.rack.as_deref());
            let n = rack_index.len();
            *rack_index.entry(rack).or_insert(n)
        })
        .collect();
    let mut queue = Queue::new(
        &racks,
        inner.settings.concurrency,
        inner.settings.rack_concurrency,
    );
    let mut slots: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
    let mut results = Vec::with_capacity(slots.len());
    let mut running = JoinSet::new();
    loop {
        if inner.cancelled() || inner.stop.load(Ordering::SeqCst) {
            let why = if inner.cancelled() {
                "the apply was cancelled before the node started".to_string()
            } else {
                let n = inner.failures.load(Ordering::SeqCst);
                let failures = if n == 1 {
                    "1 node failure".to_string()
                } else {
                    format!("{n} node failures")
                };
                format!("stopped after {failures} (--max-failures)")
            };
            for i in queue.drain() {
                if let Some(job) = slots[i].take() {
                    results.push(inner.not_started(job, why.clone()).await?);
                }
            }
        }
        while let Some((i, r)) = queue.next() {
            let Some(job) = slots[i].take() else { continue };
            let change = changes.get(job.node.as_str()).copied();
            let spec = change.and_then(|c| c.desired.clone());
            let done = Done::of(change.map_or(crate::plan::Action::Deploy, |c| c.action));
            let inner = inner.clone();
            running.spawn(async move {
                let outcome = node_job(&inner, job, spec, done).await;
                (r, outcome)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (r, result) = match joined {
            Ok(x) => x,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        queue.finished(r);
        let result = result?;
        inner.emit(Event::NodeFinished {
            node: result.node.clone(),
            outcome: result.outcome.clone(),
        });
        results.push(result);
    }
    Ok(results)
}

/// One node's chain of tasks, run in order; the first that does not succeed ends it.
async fn node_job(
    inner: &Inner,
    job: Job,
    spec: Option<NodeSpec>,
    done: Done,
) -> Result<NodeResult, StoreError> {
    let Some(spec) = spec else {
        let why = format!(
            "node {} is not described (no design entry and no record)",
            job.node
        );
        return inner.not_started(job, why).await;
    };
    let mut started = false;
    for (i, t) in job.pending.iter().enumerate() {
        let next = job.pending.get(i + 1);
        let end = match inner.run_task(t, Some(&spec), started, next).await? {
            Ok(next_started) => {
                started = next_started;
                continue;
            }
            Err(end) => end,
        };
        inner.journal.cancel_all(&job.pending[i + 1..]).await?;
        let outcome = match end {
            TaskEnd::Cancelled { step } => NodeOutcome::Cancelled {
                at: format!("{}/{step}", t.kind),
            },
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
        };
        return Ok(NodeResult {
            node: job.node,
            outcome,
        });
    }
    Ok(NodeResult {
        node: job.node,
        outcome: NodeOutcome::Succeeded(done),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Start as many as allowed, then one per finish, and count the waves.
    fn waves(racks: &[usize], global: usize, per_rack: usize) -> usize {
        let mut q = Queue::new(racks, global, per_rack);
        let mut waves = 0;
        let mut left = racks.len();
        while left > 0 {
            let mut started = Vec::new();
            while let Some((_, r)) = q.next() {
                started.push(r);
            }
            assert!(!started.is_empty(), "nothing could start");
            left -= started.len();
            for r in started {
                q.finished(r);
            }
            waves += 1;
        }
        waves
    }

    #[test]
    fn a_full_rack_never_holds_back_the_others() {
        // 8 racks of 40, 32 at once, 8 per rack: 32 run in every wave.
        let racks: Vec<usize> = (0..320).map(|i| i / 40).collect();
        assert_eq!(waves(&racks, 32, 8), 10);
        // Uneven: 5, 40 and 200 nodes; the big rack's limit decides (200 / 8 = 25 waves).
        let racks: Vec<usize> = (0..245)
            .map(|i| match i {
                0..5 => 0,
                5..45 => 1,
                _ => 2,
            })
            .collect();
        assert_eq!(waves(&racks, 32, 8), 25);
    }

    #[test]
    fn the_largest_rack_is_kept_busy() {
        // Three racks of 10, 4 at once, 2 per rack: ⌈30 / 4⌉ = 8 waves. Plan order alone would
        // finish the first two racks and then run the third at 2 at a time (10 waves).
        let racks: Vec<usize> = (0..30).map(|i| i / 10).collect();
        assert_eq!(waves(&racks, 4, 2), 8);
        // A big rack last in plan order still starts at once.
        let mut racks: Vec<usize> = (0..12).map(|i| i / 3).collect();
        racks.extend(std::iter::repeat_n(4, 40));
        assert_eq!(waves(&racks, 16, 4), 10);
    }

    #[test]
    fn jobs_start_in_plan_order_within_the_limits() {
        let mut q = Queue::new(&[0, 0, 0, 1, 1], 3, 2);
        let order: Vec<usize> = std::iter::from_fn(|| q.next().map(|(i, _)| i)).collect();
        assert_eq!(order, vec![0, 1, 3]);
        q.finished(0);
        assert_eq!(q.next(), Some((2, 0)));
        assert_eq!(q.next(), None);
        assert_eq!(q.drain(), vec![4]);
    }
}
