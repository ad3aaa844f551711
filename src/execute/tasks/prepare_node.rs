//! PrepareNode: identify the machine, boot it from the network once, power-cycle it, and
//! commission it (configure hardware).

use super::{StepCx, unexpected};
use crate::driver::{BootDevice, DriverResult, PowerAction, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    let node = cx.node()?;
    match step {
        StepKind::Identify => cx.provisioner.identify(node).await,
        StepKind::SetPxeBoot => cx.oob.set_boot_device(node, BootDevice::Pxe).await,
        StepKind::PowerCycle => cx.oob.set_power(node, PowerAction::Cycle).await,
        StepKind::ConfigureHardware => cx.provisioner.configure_hardware(node).await,
        s => Err(unexpected(TaskKind::PrepareNode, s)),
    }
}
