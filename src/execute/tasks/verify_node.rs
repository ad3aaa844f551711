//! VerifyNode: before a node is touched, its BMC answers, accepts the credentials and reports
//! a power state, and its inventory agrees with the design (the boot MAC is one of its NICs),
//! so OOB problems surface up front with their reason.

use super::{StepCx, unexpected};
use crate::driver::{DriverResult, Progress};
use crate::plan::{StepKind, TaskKind};

pub async fn call(step: StepKind, cx: &StepCx<'_>) -> DriverResult<Progress> {
    match step {
        StepKind::VerifyOob => {
            let node = cx.node()?;
            cx.oob.power_state(node).await?;
            let inventory = cx.oob.interrogate(node).await?;
            // Where the design and the BMC both say something, they must agree.
            if let Some(mac) = &node.boot_mac
                && !inventory.macs.is_empty()
                && !inventory.macs.iter().any(|m| {
                    m.replace('-', ":")
                        .eq_ignore_ascii_case(&mac.replace('-', ":"))
                })
            {
                return Err(crate::driver::DriverError::Permanent(format!(
                    "boot MAC {mac} of {} is not among the NICs its BMC reports ({}); is oob.network's address the right BMC?",
                    node.name,
                    inventory.macs.join(", ")
                )));
            }
            Ok(Progress::Done)
        }
        s => Err(unexpected(TaskKind::VerifyNode, s)),
    }
}
