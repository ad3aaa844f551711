//! DD002 references: every named reference resolves: profiles (without loops), hardware profiles, networks, links, racks, kernel-param hardware references.
//!
//! Every lookup goes through the site's hash index, and the documents left out for failing
//! their schema are indexed once, so the rule is O(n) in the references written. It reads
//! the effective (inherited) configuration of nodes, so a dangling reference written in a
//! profile is reported once, at the profile, naming every node that inherits it. Interface
//! `slaves` are never checked: a slave that is not a device alias is a literal NIC name.

use std::collections::HashMap;

use crate::design::Kind;
use crate::diag::{Finding, Severity};
use crate::model::{ChainError, HardwareProfile, HostConfig, HostProfile, ParamValue, Site};
use crate::source::{At, Loc};
use crate::validate::{Context, Rule, RuleInfo};

pub struct References;

static INFO: RuleInfo = RuleInfo {
    code: "DD002",
    name: "references",
    severity: Severity::Error,
    summary: "every named reference resolves: profiles (without loops), hardware profiles, networks, links, racks, kernel-param hardware references",
    explanation: "\
Documents refer to each other by name: a node or host profile names its parent `host_profile`,
its `hardware_profile`, its `primary_network`, its `oob.network`, each interface's
`device_link` and `networks`, and each `addressing` entry's network; a NetworkLink names its
`allowed_networks` and its trunking `default_network`; a kernel parameter may take its value
from the hardware profile (`hardwareprofile:cpuset.<name>`,
`hardwareprofile:hugepages.<name>.size|count`). A name that resolves to nothing leaves the
node without a network, a link or a profile at deploy time, so every one is an error. Every
node must end up with a hardware profile, its own or inherited.

Host profiles must not form a loop; a loop is reported once, at the `host_profile` value that
closes it, naming the nodes it affects. A value inherited from a profile is reported where the
profile writes it, once, naming every node that inherits it. A `metadata.rack` naming no Rack
is only a note, once per rack name, naming the nodes: Rack documents are optional in the old
implementation and racks only feed node filters. A dangling reference in a host profile that
no node uses is a warning, because real site repositories carry unused profiles. When the
document a reference names exists but was left out for failing its schema, the finding says
so: fix the schema error first.

The old implementation crashed or stopped at the first of these (a profile loop ended in a
recursion error); drydock reports all of them.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  primary_network: mgmnt
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  primary_network: mgmt
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for References {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let site = cx.site;
        let mut r = Resolver {
            site,
            left_out: site
                .left_out
                .iter()
                .map(|l| ((l.kind, l.name.as_str()), l.loc))
                .collect(),
            suggestions: HashMap::new(),
        };

        // Loops are reported once per cycle: the finding at the value that closes it collects
        // the nodes it affects.
        let mut loops: HashMap<Loc, usize> = HashMap::new();
        for node in &site.nodes {
            let n = node.name.v.as_str();
            match &node.chain_error {
                Some(ChainError::Missing(at)) => {
                    if let Some(f) = r.dangling(
                        Kind::HostProfile,
                        Field::Key("host_profile"),
                        at,
                        Severity::Error,
                        None,
                    ) {
                        out.push(f.node(n));
                    }
                }
                Some(ChainError::Loop { at, chain }) => match loops.get(&at.loc) {
                    Some(&i) => out[i].nodes.push(n.to_string()),
                    None => {
                        loops.insert(at.loc, out.len());
                        out.push(loop_finding(at, chain, Severity::Error).node(n));
                    }
                },
                None => {}
            }
            let c = &node.config;
            // With a broken chain the configuration is the node's own only: a missing hardware
            // profile would be a consequence of the chain, already reported.
            if c.hardware_profile.is_none() && node.chain_error.is_none() {
                out.push(
                    Finding::error(
                        INFO.code,
                        node.name.loc,
                        format!("node `{n}` has no hardware profile, its own or inherited"),
                    )
                    .label("no `hardware_profile`")
                    .help(
                        "set `hardware_profile:` on the node or in a host profile it inherits from",
                    )
                    .node(n),
                );
            }
            for f in r.config(c, Severity::Error) {
                out.push(f.node(n));
            }
            for a in &node.addressing {
                if let Some(f) = r.dangling(
                    Kind::Network,
                    Field::Key("addressing"),
                    &a.network,
                    Severity::Error,
                    None,
                ) {
                    out.push(f.node(n));
                }
            }
        }

        undefined_racks(site, out);

        for link in &site.links {
            for net in &link.allowed_networks {
                out.extend(r.dangling(
                    Kind::Network,
                    Field::Key("allowed_networks"),
                    net,
                    Severity::Error,
                    None,
                ));
            }
            if let Some(net) = &link.default_network {
                out.extend(r.dangling(
                    Kind::Network,
                    Field::Key("trunking.default_network"),
                    net,
                    Severity::Error,
                    None,
                ));
            }
        }

        // Profiles that no node uses, as written: only warnings.
        for p in site.host_profiles.iter().filter(|p| !p.used) {
            let unused = Some(p.name.v.as_str());
            if let Some(parent) = &p.parent {
                out.extend(r.dangling(
                    Kind::HostProfile,
                    Field::Key("host_profile"),
                    parent,
                    Severity::Warning,
                    unused,
                ));
            }
            for f in r.config(&p.config, Severity::Warning) {
                out.push(unused_note(f, &p.name.v));
            }
        }
        unused_loops(site, out);
    }
}

/// Racks that nodes name and no Rack document defines: one note per rack name, at the first
/// place it is written, naming every node. Rack documents are optional in the old
/// implementation (racks only feed node filters), so real sites name racks they never define.
fn undefined_racks(site: &Site, out: &mut Vec<Finding>) {
    let mut racks: Vec<(&str, Vec<Loc>, Vec<&str>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for node in &site.nodes {
        let Some(r) = &node.config.rack else { continue };
        if is_marker(&r.v) || site.rack(&r.v).is_some() {
            continue;
        }
        let i = *index.entry(r.v.as_str()).or_insert_with(|| {
            racks.push((r.v.as_str(), Vec::new(), Vec::new()));
            racks.len() - 1
        });
        let (_, locs, nodes) = &mut racks[i];
        if !locs.contains(&r.loc) {
            locs.push(r.loc);
        }
        nodes.push(node.name.v.as_str());
    }
    for (rack, locs, nodes) in racks {
        let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        let mut f = Finding::note(
            INFO.code,
            locs[0],
            format!(
                "rack `{rack}` is not defined by a Rack document ({} name it)",
                crate::diag::plural(nodes.len(), "node"),
            ),
        )
        .label("no such rack")
        .help(format!(
            "Rack documents are optional; define a Rack named `{rack}` if node filters should match its labels"
        ));
        for &l in locs.iter().skip(1).take(3) {
            f = f.related(l, "also named here");
        }
        f.nodes = names;
        out.push(f);
    }
}

fn loop_finding(at: &At<String>, chain: &[String], severity: Severity) -> Finding {
    // The chain may start outside the loop (c → a → b → a): name only the cycle.
    let start = chain.iter().position(|p| *p == at.v).unwrap_or(0);
    let cycle = chain[start..].join(" → ");
    Finding::new(
        INFO.code,
        severity,
        at.loc,
        format!("host profiles form a loop: {cycle}"),
    )
    .label("closes the loop")
    .help("change or remove `host_profile` in one of the profiles of the loop")
}

fn unused_note(mut f: Finding, profile: &str) -> Finding {
    f.message = format!("{}; no node uses host profile `{profile}`", f.message);
    f.help = Some(format!(
        "{}; this is a warning because no node uses the profile (or remove the profile)",
        f.help.as_deref().unwrap_or("correct the name")
    ));
    f
}

/// Loops among host profiles that no node uses (used ones are found while resolving nodes).
/// Parent pointers are walked once each: O(profiles).
fn unused_loops(site: &Site, out: &mut Vec<Finding>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    for start in site.host_profiles.iter().filter(|p| !p.used) {
        let mut path: Vec<&HostProfile> = Vec::new();
        let mut cur = Some(start);
        while let Some(p) = cur {
            match marks.get(p.name.v.as_str()) {
                Some(Mark::Done) => break,
                Some(Mark::OnPath) => {
                    // The last profile on the path closes the loop with its `host_profile`.
                    let closer = path.last().expect("a profile on the path");
                    if let Some(at) = &closer.parent {
                        let begin = path.iter().position(|q| q.name.v == p.name.v).unwrap_or(0);
                        let mut chain: Vec<String> =
                            path[begin..].iter().map(|q| q.name.v.clone()).collect();
                        chain.push(p.name.v.clone());
                        out.push(unused_note(
                            loop_finding(at, &chain, Severity::Warning),
                            &closer.name.v,
                        ));
                    }
                    break;
                }
                None => {}
            }
            if p.used {
                break;
            }
            marks.insert(&p.name.v, Mark::OnPath);
            path.push(p);
            cur = p.parent.as_ref().and_then(|n| site.host_profile(&n.v));
        }
        for p in path {
            marks.insert(&p.name.v, Mark::Done);
        }
    }
}

/// Where a reference is written, for messages; formatted only when a finding is made.
#[derive(Clone, Copy)]
enum Field<'a> {
    Key(&'static str),
    /// `interfaces.<name>.<key>`
    Interface(&'a str, &'static str),
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Key(k) => f.write_str(k),
            Field::Interface(name, k) => write!(f, "interfaces.{name}.{k}"),
        }
    }
}

/// Lookups with the left-out documents indexed, and "did you mean" suggestions memoised.
struct Resolver<'a> {
    site: &'a Site,
    left_out: HashMap<(Kind, &'a str), Loc>,
    suggestions: HashMap<(Kind, String), Option<String>>,
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Region => "region",
        Kind::Rack => "rack",
        Kind::Network => "network",
        Kind::NetworkLink => "network link",
        Kind::HardwareProfile => "hardware profile",
        Kind::HostProfile => "host profile",
        Kind::BaremetalNode => "node",
        Kind::BootAction => "boot action",
    }
}

/// `!x` removes an inherited entry and `'!'` unsets a value: neither is a reference.
fn is_marker(s: &str) -> bool {
    s.starts_with('!')
}

impl<'a> Resolver<'a> {
    fn exists(&self, kind: Kind, name: &str) -> bool {
        let s = self.site;
        match kind {
            Kind::Rack => s.rack(name).is_some(),
            Kind::Network => s.network(name).is_some(),
            Kind::NetworkLink => s.link(name).is_some(),
            Kind::HardwareProfile => s.hardware_profile(name).is_some(),
            Kind::HostProfile => s.host_profile(name).is_some(),
            Kind::BaremetalNode => s.node(name).is_some(),
            Kind::Region => s.regions.iter().any(|r| r.name.v == name),
            Kind::BootAction => s.boot_actions.iter().any(|b| b.name.v == name),
        }
    }

    fn names(&self, kind: Kind) -> Vec<&'a str> {
        let s = self.site;
        match kind {
            Kind::Rack => s.racks.iter().map(|x| x.name.v.as_str()).collect(),
            Kind::Network => s.networks.iter().map(|x| x.name.v.as_str()).collect(),
            Kind::NetworkLink => s.links.iter().map(|x| x.name.v.as_str()).collect(),
            Kind::HardwareProfile => s
                .hardware_profiles
                .iter()
                .map(|x| x.name.v.as_str())
                .collect(),
            Kind::HostProfile => s.host_profiles.iter().map(|x| x.name.v.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The defined name closest to `name`, if one is close enough to be a typo.
    fn suggest(&mut self, kind: Kind, name: &str) -> Option<String> {
        if let Some(s) = self.suggestions.get(&(kind, name.to_string())) {
            return s.clone();
        }
        let limit = (name.chars().count() / 3).max(1);
        let best = self
            .names(kind)
            .into_iter()
            .map(|c| (edit_distance(name, c), c))
            .filter(|&(d, _)| d <= limit)
            .min()
            .map(|(_, c)| c.to_string());
        self.suggestions
            .insert((kind, name.to_string()), best.clone());
        best
    }

    /// A finding when `r` (written under `field`) names no document of `kind`. `unused` is the unused profile the value is written in.
    fn dangling(
        &mut self,
        kind: Kind,
        field: Field,
        r: &At<String>,
        severity: Severity,
        unused: Option<&str>,
    ) -> Option<Finding> {
        if is_marker(&r.v) || self.exists(kind, &r.v) {
            return None;
        }
        let w = what(kind);
        let f = match self.left_out.get(&(kind, r.v.as_str())) {
            Some(&loc) => Finding::new(
                INFO.code,
                severity,
                r.loc,
                format!("`{field}` refers to {w} `{}`, which was left out because it failed its schema", r.v),
            )
            .label("left out")
            .related(loc, format!("this {kind} fails its schema"))
            .help(format!("a {kind} named `{}` exists but was left out because it failed its schema; fix that first", r.v)),
            None => {
                let help = match self.suggest(kind, &r.v) {
                    Some(s) => format!("did you mean `{s}`? Otherwise define a {kind} named `{}`", r.v),
                    None => format!("define a {kind} named `{}`, or correct the name", r.v),
                };
                Finding::new(INFO.code, severity, r.loc, format!("`{field}` refers to {w} `{}`, which does not exist", r.v))
                    .label(format!("no such {w}"))
                    .help(help)
            }
        };
        Some(match unused {
            Some(p) => unused_note(f, p),
            None => f,
        })
    }

    /// The references of a host configuration (a node's effective one, or a profile's as
    /// written): everything but `host_profile` and `addressing`, which differ between the two.
    fn config(&mut self, c: &HostConfig, severity: Severity) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut hw = None;
        if let Some(h) = &c.hardware_profile {
            hw = self.site.hardware_profile(&h.v);
            if hw.is_none() {
                out.extend(self.dangling(
                    Kind::HardwareProfile,
                    Field::Key("hardware_profile"),
                    h,
                    severity,
                    None,
                ));
            }
        }
        if let Some(n) = &c.primary_network {
            out.extend(self.dangling(
                Kind::Network,
                Field::Key("primary_network"),
                n,
                severity,
                None,
            ));
        }
        if let Some(n) = &c.oob.network {
            out.extend(self.dangling(Kind::Network, Field::Key("oob.network"), n, severity, None));
        }
        for i in c.interfaces.iter().filter(|i| !is_marker(&i.name.v)) {
            if let Some(l) = &i.device_link {
                out.extend(self.dangling(
                    Kind::NetworkLink,
                    Field::Interface(&i.name.v, "device_link"),
                    l,
                    severity,
                    None,
                ));
            }
            for n in &i.networks {
                out.extend(self.dangling(
                    Kind::Network,
                    Field::Interface(&i.name.v, "networks"),
                    n,
                    severity,
                    None,
                ));
            }
        }
        if let Some(hw) = hw {
            for p in c.kernel_params.iter() {
                if let ParamValue::Text(t) = &p.value.v
                    && let Some(rest) = t.strip_prefix("hardwareprofile:")
                {
                    out.extend(hardware_ref(&p.key.v, rest, p.value.loc, hw, severity));
                }
            }
        }
        out
    }
}

/// A kernel parameter's `hardwareprofile:<rest>` value checked against the hardware profile.
fn hardware_ref(
    key: &str,
    rest: &str,
    loc: Loc,
    hw: &HardwareProfile,
    severity: Severity,
) -> Option<Finding> {
    let hwn = &hw.name.v;
    if let Some(set) = rest.strip_prefix("cpuset.") {
        if hw.cpu_sets.iter().any(|(k, _)| k.v == set) {
            return None;
        }
        let known: Vec<&str> = hw.cpu_sets.iter().map(|(k, _)| k.v.as_str()).collect();
        return Some(
            Finding::new(INFO.code, severity, loc, format!("kernel parameter `{key}` refers to cpu set `{set}`, which hardware profile `{hwn}` does not define"))
                .label("no such cpu set")
                .related(hw.name.loc, "the hardware profile")
                .help(alternatives(&format!("define `cpu_sets: {{{set}: ...}}` in hardware profile `{hwn}`"), "its cpu sets", &known)),
        );
    }
    if let Some(hp) = rest.strip_prefix("hugepages.")
        && let Some((name, field)) = hp.rsplit_once('.')
        && matches!(field, "size" | "count")
    {
        if hw.hugepages.iter().any(|h| h.name.v == name) {
            return None;
        }
        let known: Vec<&str> = hw.hugepages.iter().map(|h| h.name.v.as_str()).collect();
        return Some(
            Finding::new(INFO.code, severity, loc, format!("kernel parameter `{key}` refers to hugepages `{name}`, which hardware profile `{hwn}` does not define"))
                .label("no such hugepages entry")
                .related(hw.name.loc, "the hardware profile")
                .help(alternatives(&format!("define `hugepages: {{{name}: {{size: ..., count: ...}}}}` in hardware profile `{hwn}`"), "its hugepages entries", &known)),
        );
    }
    Some(
        Finding::new(INFO.code, severity, loc, format!("kernel parameter `{key}` has an unknown hardware-profile reference `hardwareprofile:{rest}`"))
            .label("unknown reference")
            .help("write `hardwareprofile:cpuset.<name>`, `hardwareprofile:hugepages.<name>.size` or `hardwareprofile:hugepages.<name>.count`"),
    )
}

fn alternatives(fix: &str, what: &str, known: &[&str]) -> String {
    if known.is_empty() {
        fix.to_string()
    } else {
        format!("{fix}, or use one of {what}: {}", known.join(", "))
    }
}

/// Levenshtein distance, for "did you mean" (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("mgmt", "mgmt"), 0);
        assert_eq!(edit_distance("data-lnk", "data-link"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
