//! DD2006 cidr-validity: CIDRs have no host bits set.
//!
//! One pass over networks: O(n). A CIDR that does not parse at all is a schema error (DD001)
//! and never reaches this rule.

use ipnetwork::IpNetwork;

use crate::design::Kind;
use crate::diag::{Finding, Severity};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct CidrValidity;

static INFO: RuleInfo = RuleInfo {
    code: "DD2006",
    name: "cidr-validity",
    severity: Severity::Error,
    summary: "CIDRs have no host bits set",
    explanation: "\
A network's `cidr` names the network, so the bits after the prefix length must be zero:
`10.0.0.5/24` is an address with a netmask, not a network, and the provisioner either rejects
it or silently creates `10.0.0.0/24`. The help line gives the corrected CIDR. A design with no
networks gets one warning, since no address in it can be checked. Same check as the old
implementation, which silently ignored CIDRs that failed for any other reason (drydock reports
those as schema errors).",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.1/24
  ranges:
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
"#,
};

impl Rule for CidrValidity {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let site = cx.site;
        if site.networks.is_empty() {
            let loc = site.region().map_or(Loc::NONE, |r| r.name.loc);
            let left_out = site
                .left_out
                .iter()
                .filter(|l| l.kind == Kind::Network)
                .count();
            let help = if left_out > 0 {
                format!(
                    "{left_out} Network document(s) were left out for failing their schema: fix those findings first"
                )
            } else {
                "add the site's Network documents, or check that the design path includes them"
                    .to_string()
            };
            out.push(
                Finding::warning(INFO.code, loc, "the design has no networks")
                    .label("site without networks")
                    .help(help),
            );
        }
        for net in &site.networks {
            let Some(cidr) = &net.cidr else { continue };
            let network = cidr.v.network();
            if cidr.v.ip() == network {
                continue;
            }
            // The network address with the same prefix length always makes a valid CIDR.
            let fixed = IpNetwork::new(network, cidr.v.prefix())
                .map_or_else(|_| network.to_string(), |n| n.to_string());
            out.push(
                Finding::error(
                    INFO.code,
                    cidr.loc,
                    format!(
                        "CIDR {} of network `{}` has host bits set",
                        cidr.v, net.name.v
                    ),
                )
                .label("host bits set")
                .help(format!(
                    "write the network's address: `cidr: {fixed}` ({} is an address inside it)",
                    cidr.v.ip()
                )),
            );
        }
    }
}
