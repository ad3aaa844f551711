//! DeployNode: networking, storage and platform applied to the commissioned machine, the OS
//! deployed, and the boot actions' final status awaited.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    let node = cx.node()?;
    match step {
        StepKind::ApplyNetworking => cx.provisioner.apply_networking(node).await,
        StepKind::ApplyStorage => cx.provisioner.apply_storage(node).await,
        StepKind::ApplyPlatform => cx.provisioner.apply_platform(node).await,
        StepKind::Deploy => cx.provisioner.deploy(node).await,
        StepKind::BootActionReport => cx.provisioner.boot_action_report(node).await,
        s => Err(unexpected(TaskKind::DeployNode, s)),
    }
}
