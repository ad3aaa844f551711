//! DD1007 unique-network: a network rides at most one link, and an interface's networks are
//! allowed on its link.
//!
//! Two indexes built once: network → the first link that allows it, and link → the set of
//! networks it allows. Then one pass over every node's interfaces: O(n) in links, nodes and
//! interface networks. A `device_link` that names no link is a dangling reference, reported by
//! DD002; here it only stops the check of that interface's networks.

use std::collections::{HashMap, HashSet};

use crate::diag::{Finding, Severity};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct UniqueNetwork;

static INFO: RuleInfo = RuleInfo {
    code: "DD1007",
    name: "unique-network",
    severity: Severity::Error,
    summary: "a network rides at most one link, and an interface's networks are allowed on its link",
    explanation: "\
A network (an L2 segment and its VLAN) is carried by exactly one kind of link: drydock derives a
node's VLAN and fabric configuration from the link a network is allowed on, so a network allowed
on two links is ambiguous. Every network an interface carries must be in its link's
`allowed_networks`, otherwise the interface is configured with a network its switch ports do not
carry. An interface that carries networks needs a `device_link`.
A `device_link` naming a link that does not exist is reported by DD002 (references).",
    bad: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 9000
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt, pxe]
"#,
    good: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 9000
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt]
"#,
};

impl Rule for UniqueNetwork {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        // Network → (link, where it is allowed first).
        let mut first: HashMap<&str, (&str, Loc)> = HashMap::new();
        let mut allowed: HashMap<&str, HashSet<&str>> = HashMap::new();
        for link in &cx.site.links {
            let set = allowed.entry(link.name.v.as_str()).or_default();
            for net in &link.allowed_networks {
                set.insert(net.v.as_str());
                match first.get(net.v.as_str()) {
                    None => {
                        first.insert(net.v.as_str(), (link.name.v.as_str(), net.loc));
                    }
                    // Listed twice on one link: harmless.
                    Some(&(other, _)) if other == link.name.v => {}
                    Some(&(other, loc)) => out.push(
                        Finding::error(
                            INFO.code,
                            net.loc,
                            format!("network `{}` is allowed on link `{}` and already on link `{other}`", net.v, link.name.v),
                        )
                        .label("second link")
                        .related(loc, "first allowed here")
                        .help("allow each network on one link only; remove it from one of the links' allowed_networks"),
                    ),
                }
            }
        }

        for node in &cx.site.nodes {
            for iface in node.config.interfaces.iter() {
                let Some(link) = &iface.device_link else {
                    if let Some(net) = iface.networks.first() {
                        out.push(
                            Finding::error(
                                INFO.code,
                                iface.name.loc,
                                format!(
                                    "interface `{}` carries network `{}` but has no device_link",
                                    iface.name.v, net.v
                                ),
                            )
                            .label("no device_link")
                            .help(
                                "set `device_link` to the NetworkLink this interface is cabled to",
                            )
                            .node(&node.name.v),
                        );
                    }
                    continue;
                };
                let Some(nets) = allowed.get(link.v.as_str()) else {
                    continue;
                };
                for net in &iface.networks {
                    if nets.contains(net.v.as_str()) {
                        continue;
                    }
                    let mut f = Finding::error(
                        INFO.code,
                        net.loc,
                        format!(
                            "network `{}` is not allowed on link `{}` of interface `{}`",
                            net.v, link.v, iface.name.v
                        ),
                    )
                    .label("not allowed on this link")
                    .related(link.loc, "link set here");
                    f = match first.get(net.v.as_str()) {
                        Some(&(other, loc)) => f.related(loc, format!("allowed on link `{other}`")).help(format!(
                            "put the network on an interface whose device_link is `{other}`, or move it to link `{}`'s allowed_networks",
                            link.v
                        )),
                        None => f.help(format!("add `{}` to the allowed_networks of link `{}`", net.v, link.v)),
                    };
                    out.push(f.node(&node.name.v));
                }
            }
        }
    }
}
