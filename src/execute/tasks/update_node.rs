//! UpdateNode: changes that need no redeploy (tags, owner data) applied to a deployed node.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::UpdateMetadata => cx.provisioner.update_metadata(cx.node()?).await,
        s => Err(unexpected(TaskKind::UpdateNode, s)),
    }
}
