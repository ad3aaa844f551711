//! DD4003 bootaction-scope: every node is targeted by at least one boot action.
//!
//! A boot action without `node_filter` targets every node, and then nothing is checked.
//! Otherwise each node is matched against the filtered boot actions until one selects it:
//! O(nodes × boot actions) at most.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootactionScope;

static INFO: RuleInfo = RuleInfo {
    code: "DD4003",
    name: "bootaction-scope",
    severity: Severity::Warning,
    summary: "every node is targeted by at least one boot action",
    explanation: "\
Boot actions are how a deployed node gets its site-specific files, units and packages, and how
it signals that it finished its first boot. A node that no boot action targets deploys with
none of them, which is usually an oversight (a typo in a `node_filter`'s names, tags or
labels), so drydock warns once per such node. A boot action without `node_filter` targets
every node. Filters are evaluated as in the deploy: criteria within a filter combine by its
`filter_type`, filters by the `filter_set_type`, and `rack_labels` match the labels of the
node's Rack (the old implementation matched every node there, so it could miss this).

It is a warning: a node may legitimately need no boot action.",
    bad: r#"schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: motd}
data:
  node_filter:
    filter_set_type: union
    filter_set:
      - {filter_type: union, node_names: [n1]}
  assets:
    - {type: file, path: /etc/motd, permissions: '644', data: 'deployed by drydock'}
"#,
    good: r#"schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: motd}
data:
  node_filter:
    filter_set_type: union
    filter_set:
      - {filter_type: union, node_tags: [compute]}
  assets:
    - {type: file, path: /etc/motd, permissions: '644', data: 'deployed by drydock'}
"#,
};

impl Rule for BootactionScope {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let site = cx.site;
        let mut filters = Vec::with_capacity(site.boot_actions.len());
        for ba in &site.boot_actions {
            match &ba.node_filter {
                // Targets every node.
                None => return,
                Some(f) => filters.push(f),
            }
        }
        for node in &site.nodes {
            if filters.iter().any(|f| f.matches(site, node)) {
                continue;
            }
            let n = node.name.v.as_str();
            let mut f = Finding::warning(
                INFO.code,
                node.name.loc,
                format!("no boot action targets node `{n}`"),
            )
            .label("no boot action");
            f = if site.boot_actions.is_empty() {
                f.help("the design has no boot actions; add one (without `node_filter` it targets every node) if the node needs files, units or packages at first boot")
            } else {
                let names: Vec<&str> = site
                    .boot_actions
                    .iter()
                    .map(|b| b.name.v.as_str())
                    .take(5)
                    .collect();
                let more = if site.boot_actions.len() > names.len() {
                    ", ..."
                } else {
                    ""
                };
                let f = f.help(format!(
                    "widen the `node_filter` of a boot action ({}{more}) to select this node, if it needs one",
                    names.join(", ")
                ));
                // Where the filters that leave the node out are written.
                site.boot_actions
                    .iter()
                    .take(3)
                    .fold(f, |f, b| match &b.node_filter {
                        Some(nf) => f.related(
                            nf.loc,
                            format!("boot action `{}` selects nodes here", b.name.v),
                        ),
                        None => f,
                    })
            };
            out.push(f.node(n));
        }
    }
}
