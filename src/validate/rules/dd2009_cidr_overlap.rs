//! DD2009 cidr-overlap: networks in one route domain do not overlap.
//!
//! Networks are grouped by route domain (no route domain is a group of its own) and address
//! family; each group is sorted by first address and swept once, keeping the network that
//! reaches furthest so far: one that starts before that end overlaps it. O(n log n) in
//! networks, and each overlapping network is reported once.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct CidrOverlap;

static INFO: RuleInfo = RuleInfo {
    code: "DD2009",
    name: "cidr-overlap",
    severity: Severity::Error,
    summary: "networks in one route domain do not overlap",
    explanation: "\
Two networks in the same route domain, or two networks that are both in none, must not share
addresses. A node on both gets two routes to the same addresses and sends traffic out of
whichever interface the kernel picks, and a route-domain route to one network can shadow part
of the other. Networks in different route domains get no routes to each other and may overlap.
New in drydock: the old implementation accepted overlapping networks; `--skip DD2009`
turns the rule off while migrating a design.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  cidr: 172.16.2.128/25
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  cidr: 172.16.3.0/24
"#,
};

/// Networks that must not overlap: one route domain (or none), one address family (is IPv6).
type Group<'a> = (Option<&'a str>, bool);

/// A network's first and last address, and its index.
type Span = (u128, u128, usize);

/// An address as a number within its family (the family is part of the group key).
fn num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Rule for CidrOverlap {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let networks = &cx.site.networks;
        // A BTreeMap so that findings come out in the same order on every run.
        let mut groups: BTreeMap<Group, Vec<Span>> = BTreeMap::new();
        for (i, n) in networks.iter().enumerate() {
            let Some(c) = &n.cidr else { continue };
            let domain = n.routedomain.as_ref().map(|d| d.v.as_str());
            groups.entry((domain, c.v.is_ipv6())).or_default().push((
                num(c.v.network()),
                num(c.v.broadcast()),
                i,
            ));
        }
        for ((domain, _), mut group) in groups {
            // By first address, the larger network first (so that the networks inside it are
            // reported against it), then as written.
            group.sort_unstable_by_key(|&(start, end, i)| (start, Reverse(end), i));
            let mut reach: Option<(u128, usize)> = None;
            for &(start, end, i) in &group {
                if let Some((far, j)) = reach
                    && start <= far
                {
                    let (n, other) = (&networks[i], &networks[j]);
                    let (Some(c), Some(oc)) = (&n.cidr, &other.cidr) else {
                        continue;
                    };
                    let scope = match domain {
                        Some(d) => format!("both in route domain `{d}`"),
                        None => "neither in a route domain".to_string(),
                    };
                    out.push(
                        Finding::error(
                            INFO.code,
                            c.loc,
                            format!(
                                "network `{}` ({}) overlaps network `{}` ({}), {scope}",
                                n.name.v, c.v, other.name.v, oc.v
                            ),
                        )
                        .label(format!("overlaps {}", oc.v))
                        .related(oc.loc, format!("network `{}`'s CIDR", other.name.v))
                        .help(format!(
                            "give the networks disjoint CIDRs (networks in different route domains may overlap). This rule is new in drydock: the old implementation accepted overlapping networks; `--skip {}` turns it off while migrating a design",
                            INFO.code
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
