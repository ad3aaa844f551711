//! VerifyNode: before a node is touched, its BMC answers, accepts the credentials and reports
//! a power state, so OOB problems surface up front with their reason.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::VerifyOob => {
            let node = cx.node()?;
            cx.oob.power_state(node).await?;
            cx.oob.interrogate(node).await?;
            Ok(Progress::Done)
        }
        s => Err(unexpected(TaskKind::VerifyNode, s)),
    }
}
