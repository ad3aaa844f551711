//! The task graph: VerifySite → PrepareSite → per changed node VerifyNode → PrepareNode →
//! DeployNode (redeploys release first with DestroyNode; updates in place run UpdateNode;
//! removed nodes get DestroyNode). Tasks are data: a kind, a target, steps with timeouts, and
//! dependencies. Each has a stable id derived from (kind, target, the inputs it depends on,
//! the apply epoch and the node's deploy generation), so the same work planned again gets the
//! same id: that is what lets apply skip work already done.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::model::digest;
use crate::model::observed::{Observed, Status};
use crate::plan::{Action, NodeChange, SiteChange};
pub use crate::vocab::{StepKind, TaskId, TaskKind};

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

/// The site tasks alone — VerifySite, then PrepareSite when `prepare` — with the ids the full
/// graph gives them, for an operator who asks for them when nothing else is to be done.
pub fn site_tasks(site_fp: &str, observed: &Observed, prepare: bool) -> Vec<Task> {
    let epoch = observed.site_generation;
    let verify = Task::new(TaskKind::VerifySite, None, site_fp, epoch, 0, vec![]);
    let mut out = vec![verify];
    if prepare {
        let deps = vec![out[0].id.clone()];
        out.push(Task::new(
            TaskKind::PrepareSite,
            None,
            site_fp,
            epoch,
            0,
            deps,
        ));
    }
    out
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
                // A deploy that got as far as a deployed machine resumes with DeployNode: the
                // machine is past preparation (booting it from the network again would undo
                // the deploy).
                let seen = observed.nodes.get(&n.node);
                let resumes = n.action == Action::Deploy
                    && seen.is_some_and(|o| {
                        o.status == Status::Deployed
                            && o.unfinished
                                .as_ref()
                                .is_some_and(|u| u.task == TaskKind::DeployNode)
                    });
                if !resumes {
                    let prepare = mk(TaskKind::PrepareNode, vec![after]);
                    after = prepare.id.clone();
                    out.push(prepare);
                }
                out.push(mk(TaskKind::DeployNode, vec![after]));
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
