//! DD2002 ip-locality: static addresses and route gateways lie inside their network's CIDR.
//!
//! One pass over the nodes' addresses and one over the networks' written routes, with a
//! name → network index: O(n) in addresses and routes. Routes expanded from route domains are
//! not checked: each repeats the gateway of the written route it comes from, which is checked
//! once. References to unknown networks are DD002's to report, not this rule's.

use std::collections::HashMap;

use crate::design::Kind;
use crate::diag::{Finding, Severity};
use crate::model::{AddressValue, Network, Route};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct IpLocality;

static INFO: RuleInfo = RuleInfo {
    code: "DD2002",
    name: "ip-locality",
    severity: Severity::Error,
    summary: "static addresses and route gateways lie inside their network's CIDR",
    explanation: "\
A static address outside its network's CIDR cannot be configured on the network's interface:
the node comes up without that address (or with a route it cannot use). A route's gateway is the
next hop on the network itself, so it must lie inside the CIDR too, and a route without a
gateway cannot be rendered. Routes that drydock expands from a route domain are not reported
again: the route as written is. A design with no networks or no nodes gets one warning, since
there is nothing to check (often a design path that misses a directory). Like the old
implementation, except that every finding points at the address or route as written.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.3.1, metric: 10}
  dns: {domain: example.com, servers: '172.16.2.1'}
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
  dns: {domain: example.com, servers: '172.16.2.1'}
"#,
};

/// What a route is for, in words: its subnet or its route domain.
fn destination(r: &Route) -> String {
    match (&r.subnet, &r.routedomain) {
        (Some(s), _) => format!("route to {}", s.v),
        (None, Some(d)) => format!("route to route domain `{}`", d.v),
        (None, None) => "route".to_string(),
    }
}

impl IpLocality {
    /// One warning for the whole design when there is nothing to check.
    fn empty_design(cx: &Context, out: &mut Vec<Finding>) {
        let site = cx.site;
        let what = match (site.networks.is_empty(), site.nodes.is_empty()) {
            (true, true) => "no networks and no nodes",
            (true, false) => "no networks",
            (false, true) => "no nodes",
            (false, false) => return,
        };
        let loc = site.region().map_or(Loc::NONE, |r| r.name.loc);
        let left_out = site
            .left_out
            .iter()
            .filter(|l| matches!(l.kind, Kind::Network | Kind::BaremetalNode))
            .count();
        let help = if left_out > 0 {
            format!(
                "{left_out} Network or BaremetalNode document(s) were left out for failing their schema: fix those findings first"
            )
        } else {
            "no address can be checked: check that the design path includes the Network and BaremetalNode documents".to_string()
        };
        out.push(
            Finding::warning(INFO.code, loc, format!("the design has {what}"))
                .label("site without addressing")
                .help(help),
        );
    }
}

impl Rule for IpLocality {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        Self::empty_design(cx, out);
        let networks: HashMap<&str, &Network> = cx
            .site
            .networks
            .iter()
            .map(|n| (n.name.v.as_str(), n))
            .collect();

        for node in &cx.site.nodes {
            for a in &node.addressing {
                let AddressValue::Static(ip) = a.address.v else {
                    continue;
                };
                let Some(cidr) = networks
                    .get(a.network.v.as_str())
                    .and_then(|n| n.cidr.as_ref())
                else {
                    continue;
                };
                if cidr.v.contains(ip) {
                    continue;
                }
                out.push(
                    Finding::error(
                        INFO.code,
                        a.address.loc,
                        format!("address {ip} of node `{}` is outside network `{}` ({})", node.name.v, a.network.v, cidr.v),
                    )
                    .label(format!("not in {}", cidr.v))
                    .related(cidr.loc, format!("network `{}`'s CIDR", a.network.v))
                    .help(format!(
                        "use an address inside {} (from the network's static range), or put this address on the network that contains it",
                        cidr.v
                    ))
                    .node(&node.name.v),
                );
            }
        }

        for net in &cx.site.networks {
            for r in net.routes.iter().filter(|r| !r.expanded) {
                let Some(gw) = &r.gateway else {
                    let help = match &net.cidr {
                        Some(c) => {
                            format!("add `gateway:` with the next hop's address inside {}", c.v)
                        }
                        None => {
                            "add `gateway:` with the next hop's address on this network".to_string()
                        }
                    };
                    out.push(
                        Finding::error(
                            INFO.code,
                            r.loc,
                            format!(
                                "{} of network `{}` has no gateway",
                                destination(r),
                                net.name.v
                            ),
                        )
                        .label("no gateway")
                        .help(help),
                    );
                    continue;
                };
                let Some(cidr) = &net.cidr else { continue };
                if cidr.v.contains(gw.v) {
                    continue;
                }
                out.push(
                    Finding::error(
                        INFO.code,
                        gw.loc,
                        format!("gateway {} of network `{}`'s {} is outside the network ({})", gw.v, net.name.v, destination(r), cidr.v),
                    )
                    .label(format!("not in {}", cidr.v))
                    .related(cidr.loc, format!("network `{}`'s CIDR", net.name.v))
                    .help(format!("a gateway is reached on the network itself: use the router's address inside {}", cidr.v)),
                );
            }
        }
    }
}
