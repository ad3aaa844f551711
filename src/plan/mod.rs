//! Planning: what an apply would do to a site, and why, as data. `plan` is a pure function of
//! a valid site, the observed build model and options: no I/O, no clock, no async. The plan
//! is serializable (saved with `--out`, applied later) and carries the design's content hash
//! and the observed-state fingerprint, so a stale plan can be refused.
//!
//! A plan is made of changes (per node and for the site, each with its reasons) and the task
//! graph that carries them out. Apply runs only the tasks of the plan: it can never touch what
//! the plan did not show.

pub mod desired;
mod diff;
pub mod graph;
pub mod render;
pub mod snapshot;

use serde::{Deserialize, Serialize};

use crate::model::Site;
use crate::model::filter::NodeFilter;
use crate::model::observed::{Observed, Status};
use crate::spec::{NodeSpec, SiteSpec};
use crate::validate::Valid;

pub use graph::{Step, StepKind, Task, TaskId, TaskKind};

/// Version of the plan file format (`--out`, `--json`). Bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// What happens to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deployed with the same effective configuration: nothing to do.
    NoOp,
    /// Not deployed yet (or an earlier attempt did not finish): deploy.
    Deploy,
    /// Deployed, and the changes need no rebuild (tags, owner data, BMC settings).
    Update,
    /// Deployed, and a change needs the node rebuilt: release and deploy again. Destructive.
    Redeploy,
    /// drydock deployed it and the design no longer has it (`--destroy-removed`). Destructive.
    Destroy,
    /// drydock deployed it and the design no longer has it; left alone without
    /// `--destroy-removed`.
    Orphaned,
}

impl Action {
    /// Terraform's symbol for the action.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Deploy => "+",
            Action::Update => "~",
            Action::Redeploy => "-/+",
            Action::Destroy => "-",
            Action::Orphaned => "?",
        }
    }
}

/// Why a change is planned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The node's provisioning state.
    Status { status: Status },
    /// An earlier apply failed on this node.
    PreviousFailure { at: String, error: String },
    /// A field differs between what is deployed and the design. Sensitive values are shown
    /// as `(sensitive)`.
    Changed {
        field: String,
        before: Option<String>,
        after: Option<String>,
        /// Whether this field alone needs a rebuild.
        rebuild: bool,
    },
    /// The node is deployed, but drydock has no record of its configuration.
    UnknownDeployedConfig { fingerprint: Option<String> },
    /// The node is no longer in the design.
    Removed,
    /// `oob.type: manual`: drydock does not drive the node's BMC; the operator powers it and
    /// boots it from the network.
    ManualOob,
    /// An earlier apply started this task on the node and never finished it (it failed, hung,
    /// or was interrupted). The journal wins over what the provisioner reports: the work is
    /// resumed.
    Unfinished { task: TaskKind, step: StepKind },
}

/// The change to one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChange {
    pub node: String,
    pub rack: Option<String>,
    pub action: Action,
    /// Whether the change destroys what is on the node (redeploy, destroy).
    pub destructive: bool,
    pub reasons: Vec<Reason>,
    /// Fingerprint of the node's effective configuration in the design (empty when removed).
    pub fingerprint: String,
    /// What the node should be (Terraform's "after"), for the tasks that act on it; `None`
    /// when nothing is to be done. For a removed node: what the journal recorded of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<NodeSpec>,
    /// The provisioner reports the node deployed with exactly this configuration and the
    /// journal has no record of it (a crash between the deploy and its record, or a rebuilt
    /// journal): apply records it, and nothing else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unrecorded: bool,
}

/// What happens to a site-level object (network, link, image).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteAction {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteChange {
    /// `network mgmt`, `link gp`, `image focal`.
    pub object: String,
    pub action: SiteAction,
    pub changes: Vec<Reason>,
}

/// Options of a plan.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Plan DestroyNode for nodes drydock deployed that the design no longer has.
    pub destroy_removed: bool,
    /// Only nodes the filter selects get changes (Drydock node-filter semantics).
    pub target: Option<NodeFilter>,
    /// The `--target` arguments as written, recorded in the plan.
    pub target_args: Vec<String>,
    /// Content hash of the design files.
    pub design_hash: String,
}

/// A plan: pure data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The site (Region) name.
    pub site: String,
    /// Content hash of the design the plan was made from.
    pub design_hash: String,
    /// Fingerprint of the observed state the plan was made against.
    pub observed_fingerprint: String,
    /// Fingerprint of the site-level configuration.
    pub site_fingerprint: String,
    /// What the site should be, for PrepareSite.
    pub desired_site: SiteSpec,
    pub destroy_removed: bool,
    pub targets: Vec<String>,
    pub site_changes: Vec<SiteChange>,
    /// Every node of the design (targeted), and removed ones; sorted by rack, then name.
    pub nodes: Vec<NodeChange>,
    /// Nodes with changes that `--target` left out.
    pub untargeted: usize,
    /// The task graph, in an order that respects dependencies.
    pub tasks: Vec<Task>,
    /// Site-level objects the provisioner holds that the design does not name: never
    /// deleted, listed so the operator knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign: Vec<String>,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub deploy: usize,
    pub update: usize,
    pub redeploy: usize,
    pub destroy: usize,
    pub unchanged: usize,
    pub orphaned: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for n in &self.nodes {
            match n.action {
                Action::NoOp => s.unchanged += 1,
                Action::Deploy => s.deploy += 1,
                Action::Update => s.update += 1,
                Action::Redeploy => s.redeploy += 1,
                Action::Destroy => s.destroy += 1,
                Action::Orphaned => s.orphaned += 1,
            }
        }
        s
    }

    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        !self.tasks.is_empty()
    }

    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| &t.id == id)
    }

    /// The change planned for a node.
    pub fn node(&self, name: &str) -> Option<&NodeChange> {
        self.nodes.iter().find(|n| n.node == name)
    }
}

/// Make the plan for a valid site against the observed build model.
pub fn plan(site: &Valid<Site>, observed: &Observed, options: &Options) -> Plan {
    let desired_site = desired::site(site);
    let site_snapshot = crate::spec::flat::site(&desired_site);
    let (nodes, untargeted) = diff::nodes(site, &desired_site, observed, options);
    // Without a record of the site's preparation (a site drydock never applied, or deployed by
    // hand) the site is prepared along with the first node work, not on its own.
    let node_work = nodes.iter().any(|n| {
        matches!(
            n.action,
            Action::Deploy | Action::Redeploy | Action::Update | Action::Destroy
        )
    });
    let site_changes = if observed.site.is_some() || node_work {
        diff::site(observed.site.as_ref(), &site_snapshot)
    } else {
        Vec::new()
    };
    let tasks = graph::tasks(&nodes, &site_changes, &desired_site.fingerprint, observed);
    Plan {
        format_version: FORMAT_VERSION,
        site: desired_site.name.clone(),
        design_hash: options.design_hash.clone(),
        observed_fingerprint: observed.fingerprint(),
        site_fingerprint: desired_site.fingerprint.clone(),
        desired_site,
        destroy_removed: options.destroy_removed,
        targets: options.target_args.clone(),
        site_changes,
        nodes,
        untargeted,
        tasks,
        foreign: observed.foreign.clone(),
    }
}

/// Why a saved plan can no longer be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("the design changed since the plan was made (design hash {planned} then, {now} now)")]
    Design { planned: String, now: String },
    #[error("the site changed since the plan was made (observed state {planned} then, {now} now)")]
    Observed { planned: String, now: String },
}

impl Plan {
    /// Refuse a plan made from another design or against another observed state.
    pub fn check_fresh(&self, design_hash: &str, observed: &Observed) -> Result<(), Stale> {
        if self.design_hash != design_hash {
            return Err(Stale::Design {
                planned: self.design_hash.clone(),
                now: design_hash.to_string(),
            });
        }
        let now = observed.fingerprint();
        if self.observed_fingerprint != now {
            return Err(Stale::Observed {
                planned: self.observed_fingerprint.clone(),
                now,
            });
        }
        Ok(())
    }
}

/// A plan that releases the named nodes (`drydock destroy`): VerifySite, then DestroyNode for
/// each. Nodes the provisioner does not know are refused by name.
pub fn destroy(
    site: &Valid<Site>,
    observed: &Observed,
    nodes: &[String],
    design_hash: &str,
) -> Result<Plan, String> {
    let desired_site = desired::site(site);
    let mut changes = Vec::new();
    for name in nodes {
        let Some(seen) = observed.nodes.get(name) else {
            return Err(format!(
                "node `{name}` is not known to the provisioner ({})",
                observed.source
            ));
        };
        // The design's description when the node is in it (its BMC's credentials), else what
        // the journal recorded.
        let spec = match site.node(name) {
            Some(n) => desired::node(site, n),
            None => desired::recorded(
                name,
                &seen.deployed.clone().unwrap_or_default(),
                seen.recorded_fingerprint.as_deref(),
            ),
        };
        changes.push(NodeChange {
            node: name.clone(),
            rack: spec.rack.clone(),
            action: Action::Destroy,
            destructive: true,
            reasons: vec![Reason::Status {
                status: seen.status,
            }],
            fingerprint: String::new(),
            desired: Some(spec),
            unrecorded: false,
        });
    }
    // Destroys need the site verified, not prepared: `graph::tasks` adds no PrepareSite here.
    let tasks = graph::tasks(&changes, &[], &desired_site.fingerprint, observed);
    Ok(Plan {
        format_version: FORMAT_VERSION,
        site: desired_site.name.clone(),
        design_hash: design_hash.to_string(),
        observed_fingerprint: observed.fingerprint(),
        site_fingerprint: desired_site.fingerprint.clone(),
        desired_site,
        destroy_removed: false,
        targets: nodes.to_vec(),
        site_changes: Vec::new(),
        nodes: changes,
        untargeted: 0,
        tasks,
        foreign: Vec::new(),
    })
}
