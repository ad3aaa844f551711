//! DD2007 range-overlap: the address ranges of one network do not overlap.
//!
//! Per network, the ranges are sorted by start and swept once, keeping the range that reaches
//! furthest so far: a range that starts before that end overlaps it. O(r log r) in ranges, and
//! each overlapping range is reported once (against the range it overlaps that reaches
//! furthest). Ranges whose start is after their end, or whose ends are of different address
//! families, are DD2008's to report and are left out here.

use std::cmp::Reverse;
use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::model::{AddressRange, RangeType};
use crate::validate::{Context, Rule, RuleInfo};

pub struct RangeOverlap;

static INFO: RuleInfo = RuleInfo {
    code: "DD2007",
    name: "range-overlap",
    severity: Severity::Error,
    summary: "the address ranges of one network do not overlap",
    explanation: "\
The ranges of a network (static, dhcp, reserved) must not share an address. An address in both
a dhcp and a static range can be leased to one machine and assigned to another; the provisioner
(MAAS) refuses overlapping ranges outright, so the deployment fails when it configures the
network rather than when the design is checked. Every overlapping range is reported, pointing
at the range it overlaps. New in drydock: the old implementation accepted overlapping ranges;
`--skip DD2007` turns the rule off while migrating a design.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: reserved, start: 172.16.1.1, end: 172.16.1.100}
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: reserved, start: 172.16.1.1, end: 172.16.1.99}
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
"#,
};

/// An address as a sort key: the family first, so IPv4 and IPv6 addresses never compare equal.
type Key = (u8, u128);

fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(a) => (4, u32::from(a).into()),
        IpAddr::V6(a) => (6, u128::from(a)),
    }
}

fn kind(r: &AddressRange) -> &'static str {
    match r.kind.v {
        RangeType::Static => "static",
        RangeType::Dhcp => "dhcp",
        RangeType::Reserved => "reserved",
    }
}

impl Rule for RangeOverlap {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let mut sorted: Vec<(Key, Key, usize)> = Vec::new();
        for net in &cx.site.networks {
            sorted.clear();
            sorted.extend(
                net.ranges
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (key(r.start.v), key(r.end.v), i))
                    .filter(|(s, e, _)| s.0 == e.0 && s <= e),
            );
            // By start, the longer range first (so that the ranges inside it are reported
            // against it), then as written, so that findings are deterministic.
            sorted.sort_unstable_by_key(|&(start, end, i)| (start, Reverse(end), i));
            let mut reach: Option<(Key, usize)> = None;
            for &(start, end, i) in &sorted {
                if let Some((far, j)) = reach
                    && start <= far
                {
                    let (r, other) = (&net.ranges[i], &net.ranges[j]);
                    let shared_end = if end < far { r.end.v } else { other.end.v };
                    let shared = if shared_end == r.start.v {
                        r.start.v.to_string()
                    } else {
                        format!("{}-{shared_end}", r.start.v)
                    };
                    out.push(
                        Finding::error(
                            INFO.code,
                            r.loc,
                            format!(
                                "{} range {}-{} of network `{}` overlaps {} range {}-{}",
                                kind(r),
                                r.start.v,
                                r.end.v,
                                net.name.v,
                                kind(other),
                                other.start.v,
                                other.end.v
                            ),
                        )
                        .label(format!("shares {shared} with another range"))
                        .related(other.loc, format!("the {} range it overlaps", kind(other)))
                        .help(format!(
                            "make the ranges disjoint, e.g. start this one after {}. This rule is new in drydock: the old implementation accepted overlapping ranges; `--skip {}` turns it off while migrating a design",
                            other.end.v, INFO.code
                        )),
                    );
                }
                if reach.is_none_or(|(far, _)| end > far) {
                    reach = Some((end, i));
                }
            }
        }
    }
}
