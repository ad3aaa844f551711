//! What each task kind's steps do, one file per task kind: a step is one driver call,
//! repeated by the executor while it answers "in progress".

mod deploy_node;
mod destroy_node;
mod prepare_node;
mod prepare_site;
mod update_node;
mod verify_node;
mod verify_site;

use crate::driver::{
    DriverResult, NodeSpec, OobDriver, Progress, Provisioner, SiteDriver, SiteSpec,
};
use crate::plan::{StepKind, TaskKind};

/// The drivers a step may call, and what it acts on.
pub struct StepCx<'a> {
    pub provisioner: &'a dyn Provisioner,
    pub oob: &'a dyn OobDriver,
    pub site_driver: &'a dyn SiteDriver,
    pub node: Option<&'a NodeSpec>,
    pub site: &'a SiteSpec,
}

impl StepCx<'_> {
    /// The node of a node task (the executor never runs a node task without one).
    fn node(&self) -> DriverResult<&NodeSpec> {
        self.node.ok_or_else(|| {
            crate::driver::DriverError::Permanent("a node task without a node".into())
        })
    }
}

/// Run one call of `step` of a task of `kind`.
pub async fn call(kind: TaskKind, step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match kind {
        TaskKind::VerifySite => verify_site::call(step, cx).await,
        TaskKind::PrepareSite => prepare_site::call(step, cx).await,
        TaskKind::VerifyNode => verify_node::call(step, cx).await,
        TaskKind::PrepareNode => prepare_node::call(step, cx).await,
        TaskKind::DeployNode => deploy_node::call(step, cx).await,
        TaskKind::UpdateNode => update_node::call(step, cx).await,
        TaskKind::DestroyNode => destroy_node::call(step, cx).await,
    }
}

fn unexpected(kind: TaskKind, step: StepKind) -> crate::driver::DriverError {
    crate::driver::DriverError::Permanent(format!("{kind} has no step {step}"))
}
