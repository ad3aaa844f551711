//! DD2005 duplicate-ips: no static address is assigned twice across all nodes.
//!
//! One hash map over every static address: O(n) in addresses. Addresses are compared as
//! parsed IPs, so `10.0.0.01`-style spellings cannot hide a duplicate.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::model::AddressValue;
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateIps;

static INFO: RuleInfo = RuleInfo {
    code: "DD2005",
    name: "duplicate-ips",
    severity: Severity::Error,
    summary: "no static address is assigned twice",
    explanation: "\
Two nodes (or one node on two networks) with the same static address cannot both be deployed:
the second one to come up takes the address from the first, and both become unreachable on it.
Every static address in `addressing` must be unique across the site. DHCP addresses are not
checked, nor a node's address on its own oob network: that is its BMC endpoint, which DD4006
checks together with the BMC's port and system (virtual-BMC labs serve many machines from one
address). Every repeated address is reported at each place it is written after the first.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.11}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for DuplicateIps {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let mut first: HashMap<IpAddr, (Loc, &str)> = HashMap::new();
        for node in &cx.site.nodes {
            // A node's address on its own oob network is its BMC endpoint: DD4006 checks those,
            // with ports and systems (one address may serve several virtual BMCs).
            let oob_network = node.config.oob.network.as_ref().map(|n| n.v.as_str());
            for a in node
                .addressing
                .iter()
                .filter(|a| Some(a.network.v.as_str()) != oob_network)
            {
                let AddressValue::Static(ip) = a.address.v else {
                    continue;
                };
                match first.get(&ip) {
                    None => {
                        first.insert(ip, (a.address.loc, &node.name.v));
                    }
                    Some(&(loc, other)) => out.push(
                        Finding::error(
                            INFO.code,
                            a.address.loc,
                            format!(
                                "address {ip} of node `{}` is already assigned to node `{other}`",
                                node.name.v
                            ),
                        )
                        .label("duplicate")
                        .related(loc, "first assigned here")
                        .help("give each node its own address from the network's static range")
                        .node(&node.name.v),
                    ),
                }
            }
        }
    }
}
