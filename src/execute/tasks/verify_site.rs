//! VerifySite: the site's services (provisioner, DHCP/PXE, image server) answer.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::VerifyServices => cx.site_driver.verify_services().await,
        s => Err(unexpected(TaskKind::VerifySite, s)),
    }
}
