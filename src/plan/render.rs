//! Human plan output in Terraform's style: `+` deploy, `~` update in place, `-/+` redeploy,
//! `-` destroy, grouped by rack, each change with its reasons, destructive changes marked, and
//! the summary line. Pure string building; colour is the caller's choice.

use crate::plan::{Action, NodeChange, Plan, Reason, SiteAction, TaskKind};
use crate::source::printable;

pub struct Style {
    pub color: bool,
}

fn paint(style: &Style, code: &str, s: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn value(v: &Option<String>) -> String {
    match v {
        Some(v) if v.is_empty() => "\"\"".into(),
        Some(v) => v.clone(),
        None => "(none)".into(),
    }
}

/// One reason, as an indented line (terminal control characters from the design escaped).
pub fn reason(r: &Reason) -> String {
    printable(&reason_text(r)).into_owned()
}

fn reason_text(r: &Reason) -> String {
    match r {
        Reason::Status { status } => format!("status: {}", status.as_str()),
        Reason::PreviousFailure { at, error } => {
            format!("failed in an earlier apply at {at}: {error}")
        }
        Reason::Changed {
            field,
            before,
            after,
            rebuild,
        } => {
            let mark = if *rebuild { "  # forces redeploy" } else { "" };
            format!("{field}: {} -> {}{mark}", value(before), value(after))
        }
        Reason::UnknownDeployedConfig { fingerprint } => match fingerprint {
            Some(f) => {
                format!("deployed with a configuration drydock has no record of (fingerprint {f})")
            }
            None => "deployed with a configuration drydock has no record of".into(),
        },
        Reason::Removed => "no longer in the design".into(),
        Reason::Unfinished { task, step } => format!(
            "{} unfinished (step {step}): an earlier apply started it and did not finish; it resumes",
            match task {
                TaskKind::PrepareNode => "prepare",
                TaskKind::DeployNode => "deploy",
                TaskKind::DestroyNode => "destroy",
                TaskKind::UpdateNode => "update",
                other => other.as_str(),
            }
        ),
        Reason::ManualOob => "oob type manual: power the node on and boot it from the network by hand; drydock does not drive its BMC".into(),
    }
}

fn headline(n: &NodeChange) -> String {
    printable(&headline_text(n)).into_owned()
}

fn headline_text(n: &NodeChange) -> String {
    match n.action {
        Action::NoOp => format!("{} is up to date", n.node),
        Action::Deploy => format!("{} will be deployed", n.node),
        Action::Update => format!("{} will be updated in place", n.node),
        Action::Redeploy => format!("{} must be redeployed (destroys what is on it)", n.node),
        Action::Destroy => format!("{} will be destroyed", n.node),
        Action::Orphaned => format!(
            "{} is orphaned: deployed by drydock, no longer in the design",
            n.node
        ),
    }
}

pub fn human(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    let changed: Vec<&NodeChange> = plan
        .nodes
        .iter()
        .filter(|n| n.action != Action::NoOp)
        .collect();
    if !plan.has_changes() {
        out.push_str(&format!(
            "No changes. Site `{}` matches its design.\n",
            printable(&plan.site)
        ));
    } else {
        out.push_str(&format!(
            "drydock will perform the following actions on site `{}`:\n",
            printable(&plan.site)
        ));
    }
    if !plan.site_changes.is_empty() {
        out.push_str("\nSite:\n");
        for c in &plan.site_changes {
            let (sym, color) = match c.action {
                SiteAction::Create => ("+", "32"),
                SiteAction::Update => ("~", "33"),
                SiteAction::Delete => ("-", "31"),
            };
            out.push_str(&format!(
                "  {} {}\n",
                paint(style, color, sym),
                printable(&c.object)
            ));
            for r in &c.changes {
                let line = match (c.action, r) {
                    // A new object: its fields, `name = value`, without the object prefix.
                    (SiteAction::Create, Reason::Changed { field, after, .. }) => {
                        match field.split_once("].") {
                            Some((_, f)) => format!("{f} = {}", value(after)),
                            None => continue,
                        }
                    }
                    (
                        _,
                        Reason::Changed {
                            field,
                            before,
                            after,
                            ..
                        },
                    ) => {
                        let f = field.split_once("].").map_or(field.as_str(), |(_, f)| f);
                        format!("{f}: {} -> {}", value(before), value(after))
                    }
                    _ => reason(r),
                };
                out.push_str(&format!("      {}\n", printable(&line)));
            }
        }
    }
    let mut rack: Option<&Option<String>> = None;
    for n in &changed {
        if rack != Some(&n.rack) {
            rack = Some(&n.rack);
            match &n.rack {
                Some(r) => out.push_str(&format!("\nRack {}:\n", printable(r))),
                None => out.push_str("\nNo rack:\n"),
            }
        }
        let (color, sym) = match n.action {
            Action::Deploy => ("32", "+"),
            Action::Update => ("33", "~"),
            Action::Redeploy => ("1;31", "-/+"),
            Action::Destroy => ("1;31", "-"),
            Action::Orphaned | Action::NoOp => ("2", "?"),
        };
        let line = format!("{:>3} {}", sym, headline(n));
        out.push_str(&format!("  {}\n", paint(style, color, &line)));
        for r in n.reasons.iter().filter(|r| !matches!(r, Reason::Removed)) {
            out.push_str(&format!("        {}\n", reason(r)));
        }
    }
    let orphaned = plan
        .nodes
        .iter()
        .filter(|n| n.action == Action::Orphaned)
        .count();
    if orphaned > 0 {
        out.push_str(
            "\nOrphaned nodes are left alone; plan with --destroy-removed to destroy them.\n",
        );
    }
    if plan.untargeted > 0 {
        out.push_str(&format!(
            "\n{} more node(s) have changes outside --target.\n",
            plan.untargeted
        ));
    }
    let s = plan.summary();
    if s.redeploy + s.destroy > 0 {
        out.push_str(&paint(
            style,
            "1;31",
            &format!(
                "\nWarning: {} node(s) will be rebuilt or destroyed; their disks are wiped.\n",
                s.redeploy + s.destroy
            ),
        ));
    }
    out.push_str(&format!(
        "\nPlan: {} to deploy, {} to update, {} to redeploy, {} to destroy, {} unchanged{}.\n",
        s.deploy,
        s.update,
        s.redeploy,
        s.destroy,
        s.unchanged,
        if s.orphaned > 0 {
            format!(", {} orphaned", s.orphaned)
        } else {
            String::new()
        }
    ));
    if plan.has_changes() {
        out.push_str(&format!("{} tasks.\n", plan.tasks.len()));
    }
    if !plan.foreign.is_empty() {
        out.push_str(&format!(
            "Not in the design, left alone: {}.\n",
            plan.foreign
                .iter()
                .map(|f| printable(f).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}
