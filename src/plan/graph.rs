//! The task graph: VerifySite → PrepareSite → per changed node VerifyNode → PrepareNode →
//! DeployNode (redeploys release first with DestroyNode; updates in place run UpdateNode;
//! removed nodes get DestroyNode). Tasks are data: a kind, a target, steps with timeouts, and
//! dependencies. Each has a stable id derived from (kind, target, the inputs it depends on,
//! the apply epoch and the node's deploy generation), so the same work planned again gets the
//! same id: that is what lets apply skip work already done.

use std::collections::HashMap;
use std::fmt;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::model::digest;
use crate::model::observed::Observed;
use crate::plan::{Action, NodeChange, SiteChange};

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

    /// Default timeout in minutes (FORMAT.md: identify 10, configure hardware 30, apply
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    pub timeout_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub kind: TaskKind,
    /// The node, or `None` for site tasks.
    pub node: Option<String>,
    pub steps: Vec<Step>,
    pub depends_on: Vec<TaskId>,
    /// Fingerprint of the inputs the task depends on (the node's or the site's configuration).
    pub inputs: String,
}

impl Task {
    fn new(
        kind: TaskKind,
        node: Option<&str>,
        inputs: &str,
        epoch: u64,
        generation: u64,
        depends_on: Vec<TaskId>,
    ) -> Task {
        let target = node.unwrap_or("site");
        let id = digest(format!("{kind}\0{target}\0{inputs}\0{epoch}\0{generation}").as_bytes());
        Task {
            id: TaskId(id),
            kind,
            node: node.map(str::to_string),
            steps: kind
                .steps()
                .iter()
                .map(|&k| Step {
                    kind: k,
                    timeout_secs: k.default_timeout_minutes() * 60,
                })
                .collect(),
            depends_on,
            inputs: inputs.to_string(),
        }
    }

    /// `DeployNode node-a01` or `VerifySite`.
    pub fn label(&self) -> String {
        match &self.node {
            Some(n) => format!("{} {n}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

/// Build the tasks for the changes, in dependency order.
pub fn tasks(
    nodes: &[NodeChange],
    site_changes: &[SiteChange],
    site_fp: &str,
    observed: &Observed,
) -> Vec<Task> {
    let node_work = nodes
        .iter()
        .any(|n| !matches!(n.action, Action::NoOp | Action::Orphaned));
    if !node_work && site_changes.is_empty() {
        return Vec::new();
    }
    let epoch = observed.site_generation;
    let mut out = Vec::new();
    let verify_site = Task::new(TaskKind::VerifySite, None, site_fp, epoch, 0, vec![]);
    let vs = verify_site.id.clone();
    out.push(verify_site);
    // The site is prepared when it changed or a node is about to be (re)deployed; updates in
    // place and destroys only need the site verified.
    let needs_prepare = !site_changes.is_empty()
        || nodes
            .iter()
            .any(|n| matches!(n.action, Action::Deploy | Action::Redeploy));
    let ps = if needs_prepare {
        let prepare_site = Task::new(
            TaskKind::PrepareSite,
            None,
            site_fp,
            epoch,
            0,
            vec![vs.clone()],
        );
        let id = prepare_site.id.clone();
        out.push(prepare_site);
        id
    } else {
        vs.clone()
    };
    for n in nodes {
        let generation = observed.nodes.get(&n.node).map_or(0, |o| o.generation);
        let name = Some(n.node.as_str());
        let fp = n.fingerprint.as_str();
        let mk = |kind, deps| Task::new(kind, name, fp, epoch, generation, deps);
        match n.action {
            Action::NoOp | Action::Orphaned => {}
            Action::Deploy | Action::Redeploy => {
                let verify = mk(TaskKind::VerifyNode, vec![ps.clone()]);
                let mut after = verify.id.clone();
                out.push(verify);
                if n.action == Action::Redeploy {
                    let destroy = mk(TaskKind::DestroyNode, vec![after]);
                    after = destroy.id.clone();
                    out.push(destroy);
                }
                let prepare = mk(TaskKind::PrepareNode, vec![after]);
                let deploy = mk(TaskKind::DeployNode, vec![prepare.id.clone()]);
                out.push(prepare);
                out.push(deploy);
            }
            Action::Update => {
                let verify = mk(TaskKind::VerifyNode, vec![ps.clone()]);
                let update = mk(TaskKind::UpdateNode, vec![verify.id.clone()]);
                out.push(verify);
                out.push(update);
            }
            Action::Destroy => {
                // The node is gone from the design: its inputs are its recorded identity.
                out.push(Task::new(
                    TaskKind::DestroyNode,
                    name,
                    "removed",
                    epoch,
                    generation,
                    vec![vs.clone()],
                ));
            }
        }
    }
    debug_assert!(graph(&out).is_ok(), "planned tasks form a DAG");
    out
}

/// The tasks as a petgraph graph (edges from dependency to dependent), or the id of a task
/// whose dependency is missing or that sits on a cycle (a corrupt plan file).
pub fn graph(tasks: &[Task]) -> Result<(DiGraph<usize, ()>, Vec<NodeIndex>), TaskId> {
    let mut g = DiGraph::with_capacity(tasks.len(), tasks.len() * 2);
    let index: HashMap<&TaskId, NodeIndex> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, g.add_node(i)))
        .collect();
    for t in tasks {
        for d in &t.depends_on {
            let from = *index.get(d).ok_or_else(|| t.id.clone())?;
            g.add_edge(from, index[&t.id], ());
        }
    }
    let order = petgraph::algo::toposort(&g, None).map_err(|c| tasks[g[c.node_id()]].id.clone())?;
    Ok((g, order))
}

/// Graphviz of the task graph.
pub fn dot(tasks: &[Task]) -> String {
    let mut s = String::from(
        "digraph drydock_plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for t in tasks {
        let steps: Vec<&str> = t.steps.iter().map(|s| s.kind.as_str()).collect();
        s.push_str(&format!(
            "  \"{}\" [label=\"{}\\n{}\\n{}\"];\n",
            t.id,
            t.label().replace('"', "\\\""),
            steps.join(", "),
            &t.id.0[..8.min(t.id.0.len())]
        ));
    }
    for t in tasks {
        for d in &t.depends_on {
            s.push_str(&format!("  \"{d}\" -> \"{}\";\n", t.id));
        }
    }
    s.push_str("}\n");
    s
}
