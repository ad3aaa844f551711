//! The diff: desired (the design's effective configuration) against observed (what exists and
//! what drydock recorded), per node and for the site, each change with its reasons.

use crate::model::Site;
use crate::model::observed::{Observed, ObservedNode, Snapshot, Status};
use crate::plan::snapshot::{self, Effect};
use crate::plan::{Action, NodeChange, Options, Reason, SiteAction, SiteChange, desired};
use crate::spec::flat;
use crate::vocab::TaskKind;

/// Field-by-field differences between two snapshots, sensitive values redacted.
pub fn fields(before: &Snapshot, after: &Snapshot) -> Vec<Reason> {
    fields_with(before, after, |k| snapshot::effect(k) == Effect::Rebuild)
}

fn fields_with(before: &Snapshot, after: &Snapshot, rebuild: impl Fn(&str) -> bool) -> Vec<Reason> {
    let show = |field: &str, v: Option<&String>| {
        v.map(|v| {
            if snapshot::is_sensitive(field) && v.starts_with("literal:") {
                "(sensitive)".to_string()
            } else {
                v.clone()
            }
        })
    };
    let mut out = Vec::new();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for k in keys {
        let (b, a) = (before.get(k), after.get(k));
        if b != a {
            out.push(Reason::Changed {
                field: k.clone(),
                before: show(k, b),
                after: show(k, a),
                rebuild: rebuild(k),
            });
        }
    }
    out
}

/// Site-level changes, one per object (`network mgmt`), from the last prepared snapshot.
pub fn site(before: Option<&Snapshot>, after: &Snapshot) -> Vec<SiteChange> {
    let empty = Snapshot::new();
    let before = before.unwrap_or(&empty);
    // `network[mgmt].cidr` belongs to object `network mgmt`.
    let object = |field: &str| {
        let end = field.find(']').map_or(field.len(), |i| i + 1);
        field[..end]
            .replacen('[', " ", 1)
            .trim_end_matches(']')
            .to_string()
    };
    let mut out: Vec<SiteChange> = Vec::new();
    // Site objects are prepared, not rebuilt: no field forces a node redeploy.
    for change in fields_with(before, after, |_| false) {
        let Reason::Changed { field, .. } = &change else {
            continue;
        };
        let obj = object(field);
        let exists_before = before.keys().any(|k| object(k) == obj);
        let exists_after = after.keys().any(|k| object(k) == obj);
        let action = match (exists_before, exists_after) {
            (false, _) => SiteAction::Create,
            (true, false) => SiteAction::Delete,
            (true, true) => SiteAction::Update,
        };
        match out.last_mut() {
            Some(c) if c.object == obj => c.changes.push(change),
            _ => out.push(SiteChange {
                object: obj,
                action,
                changes: vec![change],
            }),
        }
    }
    out
}

/// Per-node changes (targeted ones), sorted by rack then name, and how many changed nodes the
/// target left out.
pub fn nodes(
    site: &Site,
    desired_site: &crate::spec::SiteSpec,
    observed: &Observed,
    options: &Options,
) -> (Vec<NodeChange>, usize) {
    let unknown = ObservedNode::default();
    let shared = desired::Shared::with_site(site, desired_site.clone());
    // Each node's desired state and diff depend on nothing but the node: they are computed on
    // every core (deterministically: results are joined in node order).
    let one = |n: &crate::model::BaremetalNode| {
        let spec = desired::node_with(&shared, site, n);
        let view = flat::node(&spec);
        let fingerprint = spec.fingerprint.clone();
        let seen = observed.nodes.get(&n.name.v).unwrap_or(&unknown);
        let (action, mut reasons) = node(seen, &view, &fingerprint);
        if matches!(action, Action::Deploy | Action::Redeploy)
            && n.config.oob.kind.as_ref().is_some_and(|k| k.v == "manual")
        {
            reasons.push(Reason::ManualOob);
        }
        let targeted = options.target.as_ref().is_none_or(|f| f.matches(site, n));
        let unrecorded = action == Action::NoOp
            && seen.recorded_fingerprint.as_deref() != Some(fingerprint.as_str());
        (
            targeted,
            NodeChange {
                node: n.name.v.clone(),
                rack: spec.rack.clone(),
                destructive: action == Action::Redeploy,
                action,
                reasons,
                fingerprint,
                // Kept only where a task, or the record of a deployment, needs it.
                desired: (action != Action::NoOp || unrecorded).then_some(spec),
                unrecorded,
            },
        )
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = site.nodes.len().div_ceil(threads).max(64);
    let results: Vec<(bool, NodeChange)> = std::thread::scope(|s| {
        let handles: Vec<_> = site
            .nodes
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = Vec::with_capacity(site.nodes.len());
    let mut untargeted = 0;
    for (targeted, change) in results {
        if targeted {
            out.push(change);
        } else if change.action != Action::NoOp {
            untargeted += 1;
        }
    }
    // Nodes drydock deployed that the design no longer has. Targeting by name still applies.
    for (name, seen) in &observed.nodes {
        if site.node(name).is_some() || seen.deployed.is_none() {
            continue;
        }
        if let Some(f) = &options.target {
            let by_name = f
                .filters
                .iter()
                .any(|x| x.node_names.iter().any(|t| &t.v == name));
            if !by_name {
                // Left alone without --destroy-removed: not a change the target leaves out.
                if options.destroy_removed {
                    untargeted += 1;
                }
                continue;
            }
        }
        let action = if options.destroy_removed {
            Action::Destroy
        } else {
            Action::Orphaned
        };
        let recorded = seen
            .deployed
            .as_ref()
            .map(|snap| desired::recorded(name, snap, seen.recorded_fingerprint.as_deref()));
        let mut reasons = vec![Reason::Removed];
        reasons.extend(unfinished(seen));
        out.push(NodeChange {
            node: name.clone(),
            rack: recorded.as_ref().and_then(|r| r.rack.clone()),
            destructive: action == Action::Destroy,
            action,
            reasons,
            fingerprint: String::new(),
            desired: recorded.filter(|_| action == Action::Destroy),
            unrecorded: false,
        });
    }
    out.sort_by(|a, b| (&a.rack, &a.node).cmp(&(&b.rack, &b.node)));
    (out, untargeted)
}

/// The journal's unfinished task on the node, as a reason.
fn unfinished(seen: &ObservedNode) -> Option<Reason> {
    seen.unfinished.as_ref().map(|u| Reason::Unfinished {
        task: u.task,
        step: u.step,
    })
}

/// What to do with one node of the design, and why.
///
/// The journal's unfinished task wins over the provisioner's status: a machine the provisioner
/// reports deployed, whose DeployNode never succeeded (it failed at the boot-action report, or
/// drydock was killed after the deploy), is not done; nor is one whose release was interrupted.
fn node(seen: &ObservedNode, desired: &Snapshot, fingerprint: &str) -> (Action, Vec<Reason>) {
    let mut reasons = Vec::new();
    if let Some(f) = &seen.last_failure {
        reasons.push(Reason::PreviousFailure {
            at: f.at.clone(),
            error: f.error.clone(),
        });
    }
    reasons.extend(unfinished(seen));
    let interrupted = seen.unfinished.as_ref().map(|u| u.task);
    let released = matches!(seen.status, Status::Unknown | Status::New | Status::Ready);
    if seen.status != Status::Deployed {
        reasons.insert(
            0,
            Reason::Status {
                status: seen.status,
            },
        );
        // A release that stopped half-way is finished first.
        if interrupted == Some(TaskKind::DestroyNode) && !released {
            return (Action::Redeploy, reasons);
        }
        return (Action::Deploy, reasons);
    }
    let same = seen.deployed_fingerprint.as_deref() == Some(fingerprint)
        // A provisioner that cannot report fingerprints: the journal's record decides.
        || (seen.deployed_fingerprint.is_none() && seen.deployed.as_ref() == Some(desired));
    match interrupted {
        Some(TaskKind::PrepareNode | TaskKind::DeployNode) if same => {
            return (Action::Deploy, reasons);
        }
        Some(TaskKind::DestroyNode) => return (Action::Redeploy, reasons),
        _ if same => return (Action::NoOp, Vec::new()),
        _ => {}
    }
    let Some(before) = &seen.deployed else {
        reasons.push(Reason::UnknownDeployedConfig {
            fingerprint: seen.deployed_fingerprint.clone(),
        });
        return (Action::Redeploy, reasons);
    };
    let changes = fields(before, desired);
    let rebuild = interrupted.is_some()
        || changes
            .iter()
            .any(|c| matches!(c, Reason::Changed { rebuild: true, .. }));
    let no_changes = changes.is_empty();
    reasons.extend(changes);
    if no_changes && interrupted.is_none() {
        // The recorded snapshot matches but the driver reports another fingerprint: the
        // machine was deployed by something else since.
        reasons.push(Reason::UnknownDeployedConfig {
            fingerprint: seen.deployed_fingerprint.clone(),
        });
        return (Action::Redeploy, reasons);
    }
    (
        if rebuild {
            Action::Redeploy
        } else {
            Action::Update
        },
        reasons,
    )
}
