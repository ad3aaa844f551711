//! DestroyNode: release the machine (erase and power off); before a redeploy, or for a node
//! removed from the design.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::Destroy => cx.provisioner.destroy(cx.node()?).await,
        s => Err(unexpected(TaskKind::DestroyNode, s)),
    }
}
