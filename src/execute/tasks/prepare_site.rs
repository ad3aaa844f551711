//! PrepareSite: network templates, credentials and images in place before any node.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::PrepareNetworks => cx.site_driver.prepare_networks(cx.site).await,
        StepKind::PrepareCredentials => cx.site_driver.prepare_credentials(cx.site).await,
        StepKind::PrepareImages => cx.site_driver.prepare_images(cx.site).await,
        s => Err(unexpected(TaskKind::PrepareSite, s)),
    }
}
