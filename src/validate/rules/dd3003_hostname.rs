//! DD3003 hostname: FQDNs and their labels are valid hostnames.
//!
//! Per node, one pass over its FQDN: the node's name and the DNS domain of its primary network
//! (`local` without one). A bad label is reported where it is written — in the node's name or
//! in the network's `dns.domain` (one finding naming every node that uses the domain).

use crate::diag::{Finding, Severity};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct Hostname;

static INFO: RuleInfo = RuleInfo {
    code: "DD3003",
    name: "hostname",
    severity: Severity::Error,
    summary: "FQDNs and their labels are valid hostnames",
    explanation: "\
A node's FQDN is its name plus the `dns.domain` of its primary network (`.local` without one).
It becomes the node's hostname and its DNS name, so it must be a valid host name (RFC 1123): at
most 255 characters, and every dot-separated label 1 to 63 characters of letters, digits and
`-`, not starting or ending with `-`. The provisioner and DNS reject anything else, after the
node was already powered on. The check that a label does not start or end with `-` is new: the
old implementation let such names through to the provisioner.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
  dns: {domain: site_1.example.com, servers: '172.16.2.1'}
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
  dns: {domain: site-1.example.com, servers: '172.16.2.1'}
"#,
};

/// What is wrong with one label, if anything.
fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("an empty label (two dots in a row, or a dot at an end)".into());
    }
    if label.len() > 63 {
        return Some(format!(
            "label `{label}` of {} characters, more than 63",
            label.len()
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(format!(
            "label `{label}` with the character `{c}`, which is not a letter, digit or `-`"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label `{label}` that starts or ends with `-`"));
    }
    None
}

/// Report every bad label of `name` (a node name or a DNS domain) written at `loc`.
fn check_labels(what: &str, name: &str, loc: Loc, node: &str, out: &mut Vec<Finding>) {
    for label in name.split('.') {
        if let Some(problem) = label_problem(label) {
            out.push(
                Finding::error(INFO.code, loc, format!("{what} `{name}` has {problem}"))
                    .label("not a valid host name")
                    .help("use only letters, digits and `-` in each dot-separated part, 1 to 63 characters, not starting or ending with `-`")
                    .node(node),
            );
        }
    }
}

impl Rule for Hostname {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let name = &node.name;
            check_labels("node name", &name.v, name.loc, &name.v, out);
            let domain = node
                .config
                .primary_network
                .as_ref()
                .and_then(|p| cx.site.network(&p.v))
                .and_then(|n| n.dns_domain.as_ref());
            if let Some(d) = domain {
                // The FQDN drops a leading dot of the domain; so does this check.
                check_labels(
                    "DNS domain",
                    d.v.trim_start_matches('.'),
                    d.loc,
                    &name.v,
                    out,
                );
            }
            let len = node.fqdn.len();
            if len > 255 {
                let mut f = Finding::error(
                    INFO.code,
                    name.loc,
                    format!(
                        "FQDN `{}` is {len} characters long, more than 255",
                        node.fqdn
                    ),
                )
                .label("FQDN too long")
                .help("shorten the node name or the DNS domain of its primary network");
                if let Some(d) = domain {
                    f = f.related(d.loc, "DNS domain set here");
                }
                out.push(f.node(&name.v));
            }
        }
    }
}
