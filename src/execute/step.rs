//! Step polling: call a step's driver operation until it is done — poll again after the delay
//! the driver asks for while it is in progress, retry transient errors with capped backoff and
//! jitter, fail at the step's timeout, give up at once on cancellation. Nothing is journaled
//! here; `journal` records what a step's end means for its task.

use std::time::Duration;

use crate::driver::{DriverError, Progress};
use crate::execute::{Event, Inner, TaskEnd, human_duration, tasks};
use crate::plan::{Step, TaskKind};

/// Call `step` of a task of `kind` until it is done. Returns the number of calls.
pub(super) async fn run(
    inner: &Inner,
    kind: TaskKind,
    step: &Step,
    cx: &tasks::StepCx<'_>,
) -> Result<u32, TaskEnd> {
    let timeout = inner
        .settings
        .timeouts
        .get(&step.kind)
        .copied()
        .unwrap_or(Duration::from_secs(step.timeout_secs));
    let deadline = tokio::time::Instant::now() + timeout;
    let node = cx.node.map(|n| n.name.clone());
    let mut cancel = inner.cancel.clone();
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
                    retries = retries.saturating_add(1);
                    // RETRY_FOREVER retries with the capped backoff until the step's timeout.
                    if inner.settings.retries != super::RETRY_FOREVER
                        && retries > inner.settings.retries
                    {
                        return Err(TaskEnd::Failed {
                            step: step.kind,
                            error: match inner.settings.retries {
                                1 => format!("{e} (gave up after 1 retry)"),
                                n => format!("{e} (gave up after {n} retries)"),
                            },
                        });
                    }
                    inner.emit(Event::Retry {
                        node: node.clone(),
                        step: step.kind,
                        attempt: retries,
                        error: e,
                    });
                    let unit = crate::rng::draw(
                        inner.settings.seed,
                        node.as_deref().unwrap_or("site"),
                        step.kind.as_str(),
                        retries as u64,
                    );
                    inner.settings.backoff.delay(retries, unit)
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
            Err(_) => Err(TaskEnd::Failed {
                step: step.kind,
                error: format!("{} timed out after {}", step.kind, human_duration(timeout)),
            }),
        },
        _ = cancel.wait_for(|c| *c) => Err(TaskEnd::Cancelled { step: step.kind }),
    }
}
