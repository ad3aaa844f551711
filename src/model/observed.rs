//! The build model: what exists, as drivers report it (is a node known to the provisioner,
//! its power and provisioning state, the fingerprint of the configuration it was deployed
//! with) and what the state store recorded of earlier applies (the configuration drydock
//! deployed, how many times, and the last failure). Plain data: gathering it is a driver and
//! store call elsewhere; planning reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vocab::{StepKind, TaskKind};

/// Power state of a machine, as its BMC or provisioner reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    On,
    Off,
    #[default]
    Unknown,
}

/// Provisioning status of a machine, after MAAS's states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not known to the provisioner at all.
    #[default]
    Unknown,
    New,
    Commissioning,
    FailedCommissioning,
    Ready,
    Deploying,
    Deployed,
    FailedDeployment,
    Releasing,
    Broken,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown to the provisioner",
            Status::New => "New",
            Status::Commissioning => "Commissioning",
            Status::FailedCommissioning => "Failed commissioning",
            Status::Ready => "Ready",
            Status::Deploying => "Deploying",
            Status::Deployed => "Deployed",
            Status::FailedDeployment => "Failed deployment",
            Status::Releasing => "Releasing",
            Status::Broken => "Broken",
        }
    }

    pub fn is_failed(self) -> bool {
        matches!(
            self,
            Status::FailedCommissioning | Status::FailedDeployment | Status::Broken
        )
    }
}

/// A flat, canonical view of a node's or the site's desired state (`spec::flat`).
pub use crate::spec::flat::Snapshot;

/// The last failure the journal recorded for a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The task kind and step that failed, e.g. `PrepareNode/configure_hardware`.
    pub at: String,
    pub error: String,
}

/// What is known about one machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObservedNode {
    pub power: Power,
    pub status: Status,
    /// Fingerprint of the configuration the machine was last deployed with (driver).
    pub deployed_fingerprint: Option<String>,
    /// The fingerprint drydock recorded for it (state store).
    pub recorded_fingerprint: Option<String>,
    /// The configuration drydock deployed it with (state store); `None` when drydock has no
    /// record (never deployed it, or the state was lost).
    pub deployed: Option<Snapshot>,
    /// How many times drydock completed a deployment of this node (state store). Part of task
    /// ids, so redeploying the same configuration later is new work, not "already done".
    pub generation: u64,
    /// The last failure of an apply on this node (state store).
    pub last_failure: Option<Failure>,
    /// A task that changes the machine (PrepareNode, DeployNode, DestroyNode) started and
    /// never succeeded (state store): what the provisioner reports may look finished, but the
    /// work is not.
    pub unfinished: Option<Unfinished>,
}

/// Where an unfinished task stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    pub task: TaskKind,
    /// The step that was running, failed or comes next.
    pub step: StepKind,
}

/// The whole build model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Observed {
    /// Machines by node name: every node of the design the provisioner knows, and every node
    /// drydock deployed that the design no longer has.
    pub nodes: BTreeMap<String, ObservedNode>,
    /// The site-level configuration last prepared (state store).
    pub site: Option<Snapshot>,
    /// The apply epoch: how many applies completed with every task succeeded (state store).
    /// Part of task ids, so an interrupted apply resumes with the same ids and a later apply
    /// starts afresh.
    pub site_generation: u64,
    /// Who reported this (e.g. `simulator`), for messages.
    pub source: String,
    /// Site-level objects the provisioner holds that the design does not name (left alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign: Vec<String>,
}

impl Observed {
    /// A stable fingerprint of everything observed, so a saved plan can be refused when the
    /// world changed since it was made.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("plain data serializes");
        crate::model::digest(&json)
    }
}
