//! The operator actions of the service (the old implementation's task actions) and their node
//! filters, and the plan each action runs: the plan of the design for the filtered nodes, cut
//! down to the task kinds the action does. Pure: no I/O (`plan` for the rest).
//!
//! | action | tasks kept |
//! |---|---|
//! | `validate_design` | none (validation only) |
//! | `verify_site` | VerifySite |
//! | `prepare_site` | VerifySite, PrepareSite |
//! | `verify_nodes` | VerifySite, VerifyNode |
//! | `prepare_nodes` | VerifySite, PrepareSite, VerifyNode, PrepareNode |
//! | `deploy_nodes` | every task of the plan |
//! | `destroy_nodes` | VerifySite, DestroyNode of every filtered node the provisioner knows |
//! | `relabel_nodes` | VerifySite, UpdateNode |
//!
//! A cut plan keeps the ids of the full plan's tasks, so work done by one action is not done
//! again by the next (a node prepared by `prepare_nodes` is only deployed by `deploy_nodes`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::Site;
use crate::model::filter::{Filter, NodeFilter, SetOp};
use crate::model::observed::Observed;
use crate::plan::{self, Plan, TaskId, TaskKind};
use crate::source::{At, Loc};
use crate::validate::Valid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ValidateDesign,
    VerifySite,
    PrepareSite,
    VerifyNodes,
    PrepareNodes,
    DeployNodes,
    DestroyNodes,
    RelabelNodes,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::ValidateDesign,
        Action::VerifySite,
        Action::PrepareSite,
        Action::VerifyNodes,
        Action::PrepareNodes,
        Action::DeployNodes,
        Action::DestroyNodes,
        Action::RelabelNodes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ValidateDesign => "validate_design",
            Action::VerifySite => "verify_site",
            Action::PrepareSite => "prepare_site",
            Action::VerifyNodes => "verify_nodes",
            Action::PrepareNodes => "prepare_nodes",
            Action::DeployNodes => "deploy_nodes",
            Action::DestroyNodes => "destroy_nodes",
            Action::RelabelNodes => "relabel_nodes",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The task kinds a plan for this action keeps (`None`: all of them).
    fn kinds(self) -> Option<&'static [TaskKind]> {
        use TaskKind::*;
        match self {
            Action::ValidateDesign => Some(&[]),
            Action::VerifySite => Some(&[VerifySite]),
            Action::PrepareSite => Some(&[VerifySite, PrepareSite]),
            Action::VerifyNodes => Some(&[VerifySite, VerifyNode]),
            Action::PrepareNodes => Some(&[VerifySite, PrepareSite, VerifyNode, PrepareNode]),
            Action::DeployNodes | Action::DestroyNodes => None,
            Action::RelabelNodes => Some(&[VerifySite, UpdateNode]),
        }
    }
}

/// A node filter in the old implementation's JSON shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_set_type: Option<String>,
    #[serde(default)]
    pub filter_set: Vec<RawFilter>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rack_names: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rack_labels: BTreeMap<String, String>,
}

fn op(s: Option<&str>, what: &str) -> Result<Option<SetOp>, String> {
    match s {
        None => Ok(None),
        Some(v) => SetOp::parse(v)
            .map(Some)
            .ok_or_else(|| format!("{what} is `{v}`: use `union` or `intersection`")),
    }
}

impl RawNodeFilter {
    /// The filter, with Drydock's semantics (`model::filter`).
    pub fn to_filter(&self) -> Result<NodeFilter, String> {
        let at = |s: &String| At::new(s.clone(), Loc::NONE);
        let pairs = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| (at(k), at(v))).collect();
        let mut filters = Vec::with_capacity(self.filter_set.len());
        for (i, f) in self.filter_set.iter().enumerate() {
            filters.push(Filter {
                op: op(
                    f.filter_type.as_deref(),
                    &format!("filter_set[{i}].filter_type"),
                )?,
                node_names: f.node_names.iter().map(at).collect(),
                node_tags: f.node_tags.iter().map(at).collect(),
                node_labels: pairs(&f.node_labels),
                rack_names: f.rack_names.iter().map(at).collect(),
                rack_labels: pairs(&f.rack_labels),
            });
        }
        Ok(NodeFilter {
            loc: Loc::NONE,
            set_type: op(self.filter_set_type.as_deref(), "filter_set_type")?
                .unwrap_or(SetOp::Union),
            filters,
        })
    }
}

/// The plan `action` runs on the nodes `filter` selects (every node without one).
pub fn plan(
    action: Action,
    filter: Option<&NodeFilter>,
    site: &Valid<Site>,
    observed: &Observed,
    design_hash: &str,
) -> Result<Plan, String> {
    if action == Action::DestroyNodes {
        // Destroying every node is never what an empty filter means.
        let Some(f) = filter else {
            return Err(
                "destroy_nodes needs a node_filter naming the nodes to release".to_string(),
            );
        };
        let nodes: Vec<String> = site
            .nodes
            .iter()
            .filter(|n| f.matches(site, n) && observed.nodes.contains_key(&n.name.v))
            .map(|n| n.name.v.clone())
            .collect();
        if nodes.is_empty() {
            return Err("the node_filter selects no node the provisioner knows".to_string());
        }
        return plan::destroy(site, observed, &nodes, design_hash);
    }
    let options = plan::Options {
        destroy_removed: false,
        target: filter.cloned(),
        target_args: Vec::new(),
        design_hash: design_hash.to_string(),
    };
    let mut p = plan::plan(site, observed, &options);
    if let Some(kinds) = action.kinds() {
        cut(&mut p, kinds);
    }
    // The site is verified (and prepared) when asked, even when nothing changed: the plan has
    // no site tasks then, and these have the ids it would give them.
    let prepare = action == Action::PrepareSite;
    if (action == Action::VerifySite || prepare)
        && !p.tasks.iter().any(|t| t.kind == TaskKind::VerifySite)
    {
        p.tasks = plan::graph::site_tasks(&p.site_fingerprint, observed, prepare);
    } else if prepare && !p.tasks.iter().any(|t| t.kind == TaskKind::PrepareSite) {
        p.tasks = plan::graph::site_tasks(&p.site_fingerprint, observed, true);
    }
    Ok(p)
}

/// Keep only tasks of `kinds`; a kept task that depended on a removed one depends on what that
/// one depended on instead, so the order among kept tasks stays the plan's.
fn cut(p: &mut Plan, kinds: &[TaskKind]) {
    let deps: HashMap<TaskId, Vec<TaskId>> = p
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.depends_on.clone()))
        .collect();
    let kept: HashSet<TaskId> = p
        .tasks
        .iter()
        .filter(|t| kinds.contains(&t.kind))
        .map(|t| t.id.clone())
        .collect();
    fn resolve(
        id: &TaskId,
        deps: &HashMap<TaskId, Vec<TaskId>>,
        kept: &HashSet<TaskId>,
        out: &mut Vec<TaskId>,
    ) {
        if kept.contains(id) {
            if !out.contains(id) {
                out.push(id.clone());
            }
            return;
        }
        for d in deps.get(id).into_iter().flatten() {
            resolve(d, deps, kept, out);
        }
    }
    p.tasks.retain(|t| kept.contains(&t.id));
    for t in &mut p.tasks {
        let mut out = Vec::new();
        for d in &t.depends_on {
            resolve(d, &deps, &kept, &mut out);
        }
        t.depends_on = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_have_the_old_names() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
        assert_eq!(Action::parse("deploy"), None);
    }

    #[test]
    fn a_filter_with_a_bad_set_type_is_refused_with_where() {
        let f: RawNodeFilter = serde_json::from_value(serde_json::json!({
            "filter_set_type": "union",
            "filter_set": [{"filter_type": "both", "node_names": ["a"]}]
        }))
        .unwrap();
        let e = f.to_filter().unwrap_err();
        assert!(e.contains("filter_set[0].filter_type"), "{e}");
    }
}
