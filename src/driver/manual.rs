//! `oob.type: manual`: nothing to drive, as in Drydock. The operator powers the node and sets
//! its boot device; every call succeeds without doing anything, and says so in the log. The
//! plan says so too (a reason on the node).

use crate::driver::{
    BootDevice, DriverResult, Inventory, NodeSpec, OobDriver, PowerAction, Progress,
};
use crate::model::observed::Power;

pub struct Manual;

#[async_trait::async_trait]
impl OobDriver for Manual {
    fn name(&self) -> &str {
        "manual"
    }

    async fn power_state(&self, _node: &NodeSpec) -> DriverResult<Power> {
        Ok(Power::Unknown)
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        tracing::info!(node = %node.name, ?action, "manual BMC: the operator powers this node; nothing to drive");
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        tracing::info!(node = %node.name, ?device, "manual BMC: the operator sets the boot device; nothing to drive");
        Ok(Progress::Done)
    }

    async fn interrogate(&self, _node: &NodeSpec) -> DriverResult<Inventory> {
        Ok(Inventory::default())
    }
}
