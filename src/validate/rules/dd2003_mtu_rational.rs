//! DD2003 mtu-rational: MTUs are within 1280..=65536 and a network's MTU fits its link's.
//!
//! One pass over links and networks, with a name → network index: O(n) in links, networks and
//! allowed-network entries. An MTU out of range is reported once, and not compared further (a
//! comparison with a value already reported would only repeat it). Unknown network names are
//! DD002's to report.

use std::collections::{HashMap, HashSet};

use crate::diag::{Finding, Severity};
use crate::model::{Network, NetworkLink};
use crate::validate::{Context, Rule, RuleInfo};

pub struct MtuRational;

/// The smallest MTU IPv6 works with, and the largest a Linux interface takes.
const MIN_MTU: i64 = 1280;
const MAX_MTU: i64 = 65536;

static INFO: RuleInfo = RuleInfo {
    code: "DD2003",
    name: "mtu-rational",
    severity: Severity::Error,
    summary: "MTUs are within 1280..=65536 and a network's MTU fits its link's",
    explanation: "\
Every link and network MTU must lie within 1280 (the IPv6 minimum) and 65536; a link without
`mtu` has 1500. A network's MTU must be at most the MTU of the link it rides: the network's
interface sits on the link's, and frames larger than the link's MTU are dropped, which shows up
as connections that hang once they send a full-sized packet (SSH logs in, `scp` stalls).
The old implementation compared only a link's untagged default network with the link; drydock
also compares every tagged network in `allowed_networks`, where jumbo-frame storage networks on
a 1500-byte link usually hide.",
    bad: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 1500
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt]
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

fn in_range(mtu: i64) -> bool {
    (MIN_MTU..=MAX_MTU).contains(&mtu)
}

fn out_of_range(what: &str, mtu: i64) -> String {
    format!("{what} has MTU {mtu}, outside {MIN_MTU}..={MAX_MTU}")
}

const RANGE_HELP: &str = "use an MTU from 1280 (the IPv6 minimum) to 65536: 1500 is the Ethernet default, 9000 the usual jumbo frame size";

impl MtuRational {
    /// A network's MTU against the MTU of one link it rides.
    fn compare(link: &NetworkLink, net: &Network, out: &mut Vec<Finding>) {
        let Some(mtu) = &net.mtu else { return };
        let link_mtu = link.mtu();
        if !in_range(mtu.v) || mtu.v <= link_mtu {
            return;
        }
        let related = match &link.mtu {
            Some(m) => (m.loc, format!("link `{}`'s MTU", link.name.v)),
            None => (
                link.name.loc,
                format!("link `{}` has the default MTU {link_mtu}", link.name.v),
            ),
        };
        out.push(
            Finding::error(
                INFO.code,
                mtu.loc,
                format!(
                    "network `{}` has MTU {}, more than the MTU {link_mtu} of its link `{}`",
                    net.name.v, mtu.v, link.name.v
                ),
            )
            .label(format!("above the link's {link_mtu}"))
            .related(related.0, related.1)
            .help(format!(
                "lower the network's MTU to at most {link_mtu}, or raise link `{}`'s MTU to at least {}",
                link.name.v, mtu.v
            )),
        );
    }
}

impl Rule for MtuRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for link in &cx.site.links {
            if let Some(m) = link.mtu.as_ref().filter(|m| !in_range(m.v)) {
                out.push(
                    Finding::error(
                        INFO.code,
                        m.loc,
                        out_of_range(&format!("link `{}`", link.name.v), m.v),
                    )
                    .label("out of range")
                    .help(RANGE_HELP),
                );
            }
        }
        for net in &cx.site.networks {
            if let Some(m) = net.mtu.as_ref().filter(|m| !in_range(m.v)) {
                out.push(
                    Finding::error(
                        INFO.code,
                        m.loc,
                        out_of_range(&format!("network `{}`", net.name.v), m.v),
                    )
                    .label("out of range")
                    .help(RANGE_HELP),
                );
            }
        }

        let networks: HashMap<&str, &Network> = cx
            .site
            .networks
            .iter()
            .map(|n| (n.name.v.as_str(), n))
            .collect();
        let mut seen: HashSet<&str> = HashSet::new();
        for link in cx.site.links.iter().filter(|l| in_range(l.mtu())) {
            // The default network and the tagged ones alike; a network named twice is compared once.
            seen.clear();
            for name in link.default_network.iter().chain(&link.allowed_networks) {
                if !seen.insert(name.v.as_str()) {
                    continue;
                }
                if let Some(net) = networks.get(name.v.as_str()) {
                    Self::compare(link, net, out);
                }
            }
        }
    }
}
