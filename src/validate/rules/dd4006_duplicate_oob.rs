//! DD4006 duplicate-oob: no two nodes share one BMC address.
//!
//! A node's BMC address is its static address on its `oob.network`, for the drivers that talk
//! to a BMC (`ipmi`, `redfish`). One hash map over those addresses: O(n). Addresses are keyed
//! by IP alone, not by network: drydock connects to the BMC by IP, so the same IP on two OOB
//! networks is as ambiguous to it as on one.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::model::AddressValue;
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateOob;

/// A BMC endpoint: address, port, system.
type Endpoint<'a> = (IpAddr, Option<&'a str>, Option<&'a str>);

static INFO: RuleInfo = RuleInfo {
    code: "DD4006",
    name: "duplicate-oob",
    severity: Severity::Error,
    summary: "no two nodes share one BMC address",
    explanation: "\
drydock powers nodes on and off, and sets their boot device, through their BMC, at the node's
static address on its `oob.network` (for `oob.type` `ipmi` and `redfish`). Two nodes with one
BMC address means that commands meant for one machine reach the other: a redeploy of one node
reboots or wipes its neighbour. Every repeat is reported at the address, pointing at the node
that has it first. The comparison is by IP, whatever the OOB network: drydock connects by IP.

DD2005 (duplicate-ips) reports any static address used twice; this rule says what the clash
means for BMCs and is the one to keep when DD2005 is skipped.

This rule is new in drydock: the old implementation did not check it, so a design it accepted
may fail here. `--skip DD4006` turns the rule off while migrating.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.11}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
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

impl Rule for DuplicateOob {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        // A BMC endpoint is its address, port and (Redfish) system: virtual-BMC labs serve
        // many machines from one address on several ports, and one Redfish BMC can manage
        // several systems.
        let mut first: HashMap<Endpoint, (Loc, &str)> = HashMap::new();
        for node in &cx.site.nodes {
            let oob = &node.config.oob;
            if !oob
                .kind
                .as_ref()
                .is_some_and(|k| k.v == "ipmi" || k.v == "redfish")
            {
                continue;
            }
            let Some(network) = &oob.network else {
                continue;
            };
            let Some(addr) = node.static_address(&network.v) else {
                continue;
            };
            let AddressValue::Static(ip) = addr.v else {
                continue;
            };
            let n = node.name.v.as_str();
            let key = (
                ip,
                oob.port.as_ref().map(|p| p.v.as_str()),
                oob.system.as_ref().map(|s| s.v.as_str()),
            );
            match first.get(&key) {
                None => {
                    first.insert(key, (addr.loc, n));
                }
                Some(&(loc, other)) => out.push(
                    Finding::error(INFO.code, addr.loc, format!("BMC {ip}{} of node `{n}` is also the BMC of node `{other}`", oob.port.as_ref().map_or(String::new(), |p| format!(" port {}", p.v))))
                        .label("shared BMC address")
                        .related(loc, format!("BMC address of `{other}`"))
                        .help("give every node's BMC its own address on the oob network; DD4006 is new in drydock (the old implementation did not check it), and `--skip DD4006` turns it off while migrating")
                        .node(n),
                ),
            }
        }
    }
}
