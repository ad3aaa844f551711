//! DD2011 duplicate-mac: no boot MAC is used by two nodes.
//!
//! One hash map over every node's boot MAC: O(n) in nodes. MACs are compared in a canonical
//! form (lowercase, `:`-separated), so `52-54-00-AA-BB-CC` and `52:54:00:aa:bb:cc` are the
//! same NIC.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::diag::{Finding, Severity};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateMac;

static INFO: RuleInfo = RuleInfo {
    code: "DD2011",
    name: "duplicate-mac",
    severity: Severity::Error,
    summary: "no boot MAC is used by two nodes",
    explanation: "\
A node's `metadata.boot_mac` is how the provisioner recognizes the machine when it PXE-boots.
Two nodes with one boot MAC cannot both be enrolled: the second is taken for the first, and
the wrong machine gets the first node's configuration (or enrollment fails halfway). MACs are
compared ignoring case and `-` versus `:`. Every repeat is reported where it is written, pointing
at the first node that uses it. New in drydock: the old implementation accepted this; `--skip
DD2011` turns the rule off while migrating a design.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52-54-00-00-00-01'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52-54-00-00-00-02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

/// The MAC in one spelling: lowercase hex, `:` between octets.
fn canonical(mac: &str) -> String {
    mac.chars()
        .map(|c| {
            if c == '-' {
                ':'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

impl Rule for DuplicateMac {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let mut first: HashMap<String, (Loc, &str)> = HashMap::with_capacity(cx.site.nodes.len());
        for node in &cx.site.nodes {
            let Some(mac) = &node.config.boot_mac else {
                continue;
            };
            let (loc, other) = match first.entry(canonical(&mac.v)) {
                Entry::Vacant(v) => {
                    v.insert((mac.loc, &node.name.v));
                    continue;
                }
                Entry::Occupied(o) => *o.get(),
            };
            out.push(
                    Finding::error(
                        INFO.code,
                        mac.loc,
                        format!("boot MAC {} of node `{}` is already used by node `{other}`", mac.v, node.name.v),
                    )
                    .label("duplicate")
                    .related(loc, format!("boot MAC of node `{other}`"))
                    .help(format!(
                        "give each node the MAC of its own PXE NIC (from the hardware inventory). This rule is new in drydock: the old implementation accepted this; `--skip {}` turns it off while migrating a design",
                        INFO.code
                    ))
                    .node(&node.name.v),
            );
        }
    }
}
