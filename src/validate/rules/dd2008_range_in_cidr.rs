//! DD2008 range-in-cidr: address ranges lie inside their network's CIDR and start <= end.
//!
//! One pass over every network's ranges: O(r). Ranges of a network whose CIDR does not parse
//! (a schema error) are not checked against it, but their order still is.

use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::model::{AddressRange, RangeType};
use crate::source::At;
use crate::validate::{Context, Rule, RuleInfo};

pub struct RangeInCidr;

static INFO: RuleInfo = RuleInfo {
    code: "DD2008",
    name: "range-in-cidr",
    severity: Severity::Error,
    summary: "address ranges lie inside their network's CIDR and start <= end",
    explanation: "\
Both ends of every address range (static, dhcp, reserved) must lie inside the network's CIDR,
and the start must not come after the end. A range that leaves the CIDR hands out addresses the
network cannot carry (usually a typo in one octet, or a range copied from another network); a
reversed range is empty, so a dhcp range that is reversed leases nothing. New in drydock: the
old implementation accepted such ranges; `--skip DD2008` turns the rule off while migrating a
design.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: dhcp, start: 172.16.1.100, end: 172.16.2.200}
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
"#,
};

const NEW: &str = "This rule is new in drydock: the old implementation accepted this range; `--skip DD2008` turns it off while migrating a design";

fn kind(r: &AddressRange) -> &'static str {
    match r.kind.v {
        RangeType::Static => "static",
        RangeType::Dhcp => "dhcp",
        RangeType::Reserved => "reserved",
    }
}

impl Rule for RangeInCidr {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for net in &cx.site.networks {
            for r in &net.ranges {
                if let Some(cidr) = &net.cidr {
                    let ends: [(&str, &At<IpAddr>); 2] = [("start", &r.start), ("end", &r.end)];
                    for (which, ip) in ends {
                        if cidr.v.contains(ip.v) {
                            continue;
                        }
                        out.push(
                            Finding::error(
                                INFO.code,
                                ip.loc,
                                format!(
                                    "{which} {} of a {} range of network `{}` is outside the network ({})",
                                    ip.v,
                                    kind(r),
                                    net.name.v,
                                    cidr.v
                                ),
                            )
                            .label(format!("not in {}", cidr.v))
                            .related(cidr.loc, format!("network `{}`'s CIDR", net.name.v))
                            .help(format!(
                                "keep the range within {} ({} to {}). {NEW}",
                                cidr.v,
                                cidr.v.network(),
                                cidr.v.broadcast()
                            )),
                        );
                    }
                }
                let same_family = r.start.v.is_ipv4() == r.end.v.is_ipv4();
                if same_family && r.start.v > r.end.v {
                    out.push(
                        Finding::error(
                            INFO.code,
                            r.end.loc,
                            format!(
                                "{} range of network `{}` ends at {}, before its start {}",
                                kind(r),
                                net.name.v,
                                r.end.v,
                                r.start.v
                            ),
                        )
                        .label("before the start")
                        .related(r.start.loc, "start of the range")
                        .help(format!("a range runs upwards from its start to its end, both included: swap them or correct the typo. {NEW}")),
                    );
                }
            }
        }
    }
}
