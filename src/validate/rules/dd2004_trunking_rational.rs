//! DD2004 trunking-rational: several networks on a link need 802.1q; an untrunked link has an untagged default network.
//!
//! One pass over links, with a name → network index: O(n) in links and allowed-network entries;
//! one pass over networks for VLAN tags that are not a number in 0..=4094 (the old schema took
//! any string, so this is a rule, not a schema error).
//! Unknown network names are DD002's to report.

use std::collections::{HashMap, HashSet};

use crate::diag::{Finding, Severity};
use crate::model::{Network, NetworkLink};
use crate::source::At;
use crate::validate::{Context, Rule, RuleInfo};

pub struct TrunkingRational;

static INFO: RuleInfo = RuleInfo {
    code: "DD2004",
    name: "trunking-rational",
    severity: Severity::Error,
    summary: "several networks on a link need 802.1q; an untrunked link has an untagged default network",
    explanation: "\
A link without 802.1q trunking carries exactly one network, untagged. So a link that allows
more than one network must set `trunking: {mode: 802.1q}`, and an untrunked link must name the
network it carries in `trunking.default_network`; that network must have no `vlan`, since
nothing on the link would tag or untag its frames and the node would come up unreachable on it.
Same checks as the old implementation; a network listed twice in `allowed_networks` counts
once. A `vlan` must be a tag 0..=4094 written in decimal (`'100'`): the old schema took any
string, and the switch or the kernel refused the rest at deploy time.",
    bad: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 9000
  trunking: {mode: disabled, default_network: mgmt}
  allowed_networks: [mgmt]
"#,
    good: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 9000
  trunking: {mode: 802.1q, default_network: mgmt}
  allowed_networks: [mgmt]
"#,
};

impl TrunkingRational {
    /// An untrunked link that allows several networks.
    fn too_many(link: &NetworkLink, distinct: &[&At<String>], out: &mut Vec<Finding>) {
        let names: Vec<&str> = distinct.iter().map(|n| n.v.as_str()).collect();
        let message = format!(
            "link `{}` allows {} networks ({}) without 802.1q trunking",
            link.name.v,
            names.len(),
            names.join(", ")
        );
        let f = match &link.trunking_mode {
            Some(mode) => Finding::error(INFO.code, mode.loc, message)
                .label("trunking disabled")
                .related(distinct[1].loc, "a second network allowed here"),
            None => Finding::error(INFO.code, distinct[1].loc, message)
                .label("a second network on an untrunked link")
                .related(distinct[0].loc, "first network"),
        };
        out.push(
            f.help("set `trunking: {mode: 802.1q}` on the link, or allow only one network on it"),
        );
    }

    /// An untrunked link without a default network.
    fn no_default(link: &NetworkLink, distinct: &[&At<String>], out: &mut Vec<Finding>) {
        let (loc, label) = match &link.trunking_mode {
            Some(mode) => (mode.loc, "trunking disabled"),
            None => (link.name.loc, "no trunking"),
        };
        let network = match distinct {
            [only] => only.v.as_str(),
            _ => "<network>",
        };
        out.push(
            Finding::error(INFO.code, loc, format!("link `{}` has trunking disabled and no default_network", link.name.v))
                .label(label)
                .help(format!(
                    "name the network the link carries untagged: `trunking: {{mode: disabled, default_network: {network}}}`"
                )),
        );
    }
}

impl Rule for TrunkingRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let networks: HashMap<&str, &Network> = cx
            .site
            .networks
            .iter()
            .map(|n| (n.name.v.as_str(), n))
            .collect();
        for net in &cx.site.networks {
            if let Some(vlan) = &net.vlan
                && !valid_vlan(&vlan.v)
            {
                out.push(
                    Finding::error(
                        INFO.code,
                        vlan.loc,
                        format!(
                            "network `{}` has VLAN tag `{}`, which is not a tag in 0..=4094",
                            net.name.v, vlan.v
                        ),
                    )
                    .label("not a VLAN tag")
                    .help("write the tag in decimal, 0 to 4094, as a string: `vlan: '100'`"),
                );
            }
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for link in cx.site.links.iter().filter(|l| !l.trunked()) {
            seen.clear();
            let distinct: Vec<&At<String>> = link
                .allowed_networks
                .iter()
                .filter(|n| seen.insert(n.v.as_str()))
                .collect();
            if distinct.len() > 1 {
                Self::too_many(link, &distinct, out);
            }
            let Some(default) = &link.default_network else {
                Self::no_default(link, &distinct, out);
                continue;
            };
            let Some(net) = networks.get(default.v.as_str()) else {
                continue;
            };
            if let Some(vlan) = &net.vlan {
                out.push(
                    Finding::error(
                        INFO.code,
                        vlan.loc,
                        format!(
                            "network `{}` has VLAN tag {} but is the untagged default network of link `{}`, which is not trunked",
                            net.name.v, vlan.v, link.name.v
                        ),
                    )
                    .label("VLAN tag on an untagged network")
                    .related(default.loc, format!("default network of link `{}`", link.name.v))
                    .help(format!(
                        "remove `vlan` from network `{}`, or set `trunking: {{mode: 802.1q}}` on link `{}`",
                        net.name.v, link.name.v
                    )),
                );
            }
        }
    }
}

/// A VLAN tag in decimal without leading zeros, 0..=4094 (4095 is reserved).
fn valid_vlan(v: &str) -> bool {
    !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'))
        && v.parse::<u16>().is_ok_and(|t| t <= 4094)
}
