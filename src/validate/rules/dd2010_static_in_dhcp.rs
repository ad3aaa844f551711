//! DD2010 static-in-dhcp: static addresses are not inside a DHCP range of their network.
//!
//! Per network, the dhcp ranges are sorted by start once, with the range reaching furthest so
//! far beside each (ranges may overlap each other; that is DD2007's). Each static address is
//! then one binary search: the ranges starting at or before it, and whether the furthest of
//! them reaches it. O(r log r + a log r) in ranges and addresses.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::model::{AddressRange, AddressValue, RangeType};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StaticInDhcp;

static INFO: RuleInfo = RuleInfo {
    code: "DD2010",
    name: "static-in-dhcp",
    severity: Severity::Error,
    summary: "static addresses are not inside a DHCP range of their network",
    explanation: "\
A node's static address must not lie inside a dhcp range of the same network: the DHCP server
can lease it to another machine (a node still commissioning, or anything else on the segment),
and the two then fight over the address. Static addresses belong in the network's static range.
New in drydock: the old implementation accepted this; `--skip DD2010` turns the rule off while
migrating a design.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: 172.16.1.150}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: 172.16.1.50}
    - {network: mgmt, address: 172.16.2.12}
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

/// The dhcp ranges of one network, ready for lookups.
#[derive(Default)]
struct DhcpRanges<'a> {
    /// Range starts, ascending.
    starts: Vec<Key>,
    /// For each start, the furthest end among the ranges up to it, and that range.
    reach: Vec<(Key, &'a AddressRange)>,
}

impl<'a> DhcpRanges<'a> {
    fn new(ranges: &'a [AddressRange]) -> DhcpRanges<'a> {
        let mut sorted: Vec<(Key, Key, usize)> = ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind.v == RangeType::Dhcp)
            .map(|(i, r)| (key(r.start.v), key(r.end.v), i))
            .filter(|(s, e, _)| s.0 == e.0 && s <= e)
            .collect();
        sorted.sort_unstable();
        let mut out = DhcpRanges::default();
        for (start, end, i) in sorted {
            let furthest = match out.reach.last() {
                Some(&(far, r)) if far >= end => (far, r),
                _ => (end, &ranges[i]),
            };
            out.starts.push(start);
            out.reach.push(furthest);
        }
        out
    }

    /// The dhcp range that contains `ip`, if any.
    fn containing(&self, ip: IpAddr) -> Option<&'a AddressRange> {
        let k = key(ip);
        let n = self.starts.partition_point(|s| *s <= k);
        let &(far, r) = self.reach.get(n.checked_sub(1)?)?;
        (k <= far).then_some(r)
    }
}

impl Rule for StaticInDhcp {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let dhcp: HashMap<&str, DhcpRanges> = cx
            .site
            .networks
            .iter()
            .filter(|n| n.ranges.iter().any(|r| r.kind.v == RangeType::Dhcp))
            .map(|n| (n.name.v.as_str(), DhcpRanges::new(&n.ranges)))
            .collect();
        for node in &cx.site.nodes {
            for a in &node.addressing {
                let AddressValue::Static(ip) = a.address.v else {
                    continue;
                };
                let Some(range) = dhcp
                    .get(a.network.v.as_str())
                    .and_then(|d| d.containing(ip))
                else {
                    continue;
                };
                out.push(
                    Finding::error(
                        INFO.code,
                        a.address.loc,
                        format!(
                            "static address {ip} of node `{}` is inside dhcp range {}-{} of network `{}`",
                            node.name.v, range.start.v, range.end.v, a.network.v
                        ),
                    )
                    .label("in a dhcp range")
                    .related(range.loc, "the dhcp range")
                    .help(format!(
                        "DHCP can lease this address to another machine: pick one outside the dhcp range, from the network's static range. This rule is new in drydock: the old implementation accepted this; `--skip {}` turns it off while migrating a design",
                        INFO.code
                    ))
                    .node(&node.name.v),
                );
            }
        }
    }
}
