//! Task and step kinds and task ids: the names every layer uses for the work of an apply (the
//! plan makes tasks of these kinds, the journal records them, the executor maps each step to a
//! driver call). Plain data with no logic beyond names and default timeouts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A task's stable id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub String);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    VerifySite,
    PrepareSite,
    VerifyNode,
    PrepareNode,
    DeployNode,
    UpdateNode,
    DestroyNode,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::VerifySite => "VerifySite",
            TaskKind::PrepareSite => "PrepareSite",
            TaskKind::VerifyNode => "VerifyNode",
            TaskKind::PrepareNode => "PrepareNode",
            TaskKind::DeployNode => "DeployNode",
            TaskKind::UpdateNode => "UpdateNode",
            TaskKind::DestroyNode => "DestroyNode",
        }
    }

    /// The steps of a task kind, in order (Drydock's).
    pub fn steps(self) -> &'static [StepKind] {
        use StepKind::*;
        match self {
            TaskKind::VerifySite => &[VerifyServices],
            TaskKind::PrepareSite => &[PrepareNetworks, PrepareCredentials, PrepareImages],
            TaskKind::VerifyNode => &[VerifyOob],
            TaskKind::PrepareNode => &[Identify, SetPxeBoot, PowerCycle, ConfigureHardware],
            TaskKind::DeployNode => &[
                ApplyNetworking,
                ApplyStorage,
                ApplyPlatform,
                Deploy,
                BootActionReport,
            ],
            TaskKind::UpdateNode => &[UpdateMetadata],
            TaskKind::DestroyNode => &[Destroy],
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a task: a single driver operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    VerifyServices,
    PrepareNetworks,
    PrepareCredentials,
    PrepareImages,
    VerifyOob,
    Identify,
    SetPxeBoot,
    PowerCycle,
    ConfigureHardware,
    ApplyNetworking,
    ApplyStorage,
    ApplyPlatform,
    Deploy,
    BootActionReport,
    UpdateMetadata,
    Destroy,
}

impl StepKind {
    /// Every step kind, in the order of the tasks that run them.
    pub const ALL: [StepKind; 16] = {
        use StepKind::*;
        [
            VerifyServices,
            PrepareNetworks,
            PrepareCredentials,
            PrepareImages,
            VerifyOob,
            Identify,
            SetPxeBoot,
            PowerCycle,
            ConfigureHardware,
            ApplyNetworking,
            ApplyStorage,
            ApplyPlatform,
            Deploy,
            BootActionReport,
            UpdateMetadata,
            Destroy,
        ]
    };

    /// The step named `name` (`deploy`, `boot_action_report`).
    pub fn parse(name: &str) -> Option<StepKind> {
        StepKind::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::VerifyServices => "verify_services",
            StepKind::PrepareNetworks => "prepare_networks",
            StepKind::PrepareCredentials => "prepare_credentials",
            StepKind::PrepareImages => "prepare_images",
            StepKind::VerifyOob => "verify_oob",
            StepKind::Identify => "identify",
            StepKind::SetPxeBoot => "set_pxe_boot",
            StepKind::PowerCycle => "power_cycle",
            StepKind::ConfigureHardware => "configure_hardware",
            StepKind::ApplyNetworking => "apply_networking",
            StepKind::ApplyStorage => "apply_storage",
            StepKind::ApplyPlatform => "apply_platform",
            StepKind::Deploy => "deploy",
            StepKind::BootActionReport => "boot_action_report",
            StepKind::UpdateMetadata => "update_metadata",
            StepKind::Destroy => "destroy",
        }
    }

    /// Default timeout in minutes (the old implementation's: identify 10, configure hardware 30, apply
    /// networking/storage/platform 5, deploy 45, boot action final status 15, destroy 30,
    /// anything else 5).
    pub fn default_timeout_minutes(self) -> u64 {
        match self {
            StepKind::Identify => 10,
            StepKind::ConfigureHardware => 30,
            StepKind::Deploy => 45,
            StepKind::BootActionReport => 15,
            StepKind::Destroy => 30,
            _ => 5,
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
