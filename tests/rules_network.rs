//! Tests of the network rules (DD2002–DD2004, DD2006–DD2011): firing and non-firing cases per
//! rule, IPv6 cases for the overlap rules, and regressions against the old implementation.
//! Documents go over the example base site, as in `tests/rules.rs`, whose helpers are copied here.

use drydock::diag::Severity;

mod rules_support;
use rules_support::*;

/// A Network document.
fn network(name: &str, body: &str) -> String {
    format!(
        "schema: drydock/Network/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n{body}"
    )
}

/// A NetworkLink document.
fn link(name: &str, body: &str) -> String {
    format!(
        "schema: drydock/NetworkLink/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n{body}"
    )
}

/// A node on the base profile with its own boot MAC and addressing (`- {network, address}` lines).
fn node(name: &str, mac: &str, addressing: &str) -> String {
    format!(
        "schema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n  host_profile: base\n  metadata: {{boot_mac: '{mac}'}}\n  addressing:\n{addressing}"
    )
}

/// Documents joined into one stream.
fn docs(parts: &[String]) -> String {
    parts.join("---\n")
}

/// The base `pxe` network with other ranges.
fn pxe(ranges: &str) -> String {
    network(
        "pxe",
        &format!("  cidr: 172.16.1.0/24\n  ranges:\n{ranges}"),
    )
}

const REGION: &str =
    "schema: drydock/Region/v1\nmetadata: {schema: metadata/Document/v1, name: lonely}\ndata: {}\n";

#[test]
fn base_site_has_no_network_findings() {
    let all = run("");
    assert!(all.iter().all(|f| !f.code.starts_with("DD20")), "{all:#?}");
}

// DD2002 ip-locality

#[test]
fn dd2002_fires_on_a_static_address_outside_its_network() {
    let n3 = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n    - {network: mgmt, address: 172.16.3.13}\n",
    );
    check("DD2002", &n3, 1);
    let f = &findings("DD2002", &n3)[0];
    assert!(
        f.message.contains("172.16.3.13") && f.message.contains("`mgmt`"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n3"]);
    assert_eq!(f.related.len(), 1);
}

#[test]
fn dd2002_quiet_on_addresses_inside_their_networks() {
    let n3 = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n    - {network: mgmt, address: 172.16.2.13}\n",
    );
    check("DD2002", &n3, 0);
}

#[test]
fn dd2002_checks_ipv6_addresses() {
    let v6 = network("v6", "  cidr: '2001:db8:1::/64'\n");
    let inside = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n    - {network: v6, address: '2001:db8:1::13'}\n",
    );
    check("DD2002", &docs(&[v6.clone(), inside]), 0);
    let outside = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n    - {network: v6, address: '2001:db8:2::13'}\n",
    );
    check("DD2002", &docs(&[v6.clone(), outside]), 1);
    // An IPv4 address on an IPv6 network is outside it.
    let v4 = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n    - {network: v6, address: 172.16.0.14}\n",
    );
    check("DD2002", &docs(&[v6, v4]), 1);
}

#[test]
fn dd2002_fires_on_a_gateway_outside_the_network() {
    let mgmt = network(
        "mgmt",
        "  cidr: 172.16.2.0/24\n  vlan: '100'\n  mtu: 9000\n  routes:\n    - {subnet: 0.0.0.0/0, gateway: 172.16.9.1, metric: 10}\n",
    );
    check("DD2002", &mgmt, 1);
    assert!(fired("DD2002", &mgmt)[0].contains("gateway 172.16.9.1"));
}

#[test]
fn dd2002_fires_on_a_route_without_gateway() {
    let mgmt = network(
        "mgmt",
        "  cidr: 172.16.2.0/24\n  vlan: '100'\n  mtu: 9000\n  routes:\n    - {subnet: 10.0.0.0/8, metric: 10}\n",
    );
    check("DD2002", &mgmt, 1);
    assert!(fired("DD2002", &mgmt)[0].contains("no gateway"));
}

#[test]
fn dd2002_reports_a_route_domain_route_once_not_per_expansion() {
    // The route expands to a route per other network in the domain; only the written one is checked.
    let mut parts = vec![network(
        "mgmt",
        "  cidr: 172.16.2.0/24\n  vlan: '100'\n  mtu: 9000\n  routedomain: rd\n  routes:\n    - {routedomain: rd, gateway: 172.16.9.1, metric: 10}\n",
    )];
    for i in 0..3 {
        parts.push(network(
            &format!("s{i}"),
            &format!("  cidr: 10.{i}.0.0/24\n  routedomain: rd\n"),
        ));
    }
    let text = docs(&parts);
    check("DD2002", &text, 1);
    assert!(fired("DD2002", &text)[0].contains("route domain `rd`"));
}

#[test]
fn dd2002_warns_once_on_a_design_without_networks_or_nodes() {
    let all = run_raw(REGION);
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD2002").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].severity, Severity::Warning);
    assert_eq!(mine[0].message, "the design has no networks and no nodes");
    // Located at the Region's name.
    assert!(!mine[0].loc.is_none());
}

#[test]
fn dd2002_warns_on_a_design_without_nodes() {
    let text = format!("{REGION}---\n{}", network("pxe", "  cidr: 172.16.1.0/24\n"));
    let mine: Vec<_> = run_raw(&text)
        .into_iter()
        .filter(|f| f.code == "DD2002")
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].message, "the design has no nodes");
}

#[test]
fn dd2002_empty_design_warning_has_no_location_without_a_region() {
    let mine: Vec<_> = run_raw(&network("pxe", "  cidr: 172.16.1.0/24\n"))
        .into_iter()
        .filter(|f| f.code == "DD2002")
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert!(mine[0].loc.is_none());
}

// DD2003 mtu-rational

#[test]
fn dd2003_fires_on_a_link_mtu_out_of_range() {
    let l = link(
        "pxe-link",
        "  mtu: 1000\n  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe]\n",
    );
    check("DD2003", &l, 1);
    assert!(fired("DD2003", &l)[0].contains("MTU 1000, outside 1280..=65536"));
}

#[test]
fn dd2003_fires_on_a_network_mtu_out_of_range() {
    let n = network("pxe", "  cidr: 172.16.1.0/24\n  mtu: 70000\n");
    check("DD2003", &n, 1);
    assert!(fired("DD2003", &n)[0].contains("network `pxe` has MTU 70000"));
}

#[test]
fn dd2003_accepts_the_bounds() {
    let l = link(
        "data-link",
        "  mtu: 65536\n  trunking: {mode: 802.1q}\n  allowed_networks: [mgmt]\n",
    );
    let n = network("pxe", "  cidr: 172.16.1.0/24\n  mtu: 1280\n");
    check("DD2003", &docs(&[l, n]), 0);
}

#[test]
fn dd2003_fires_on_a_default_network_above_the_default_link_mtu() {
    // pxe-link has no `mtu`, so 1500.
    let n = network("pxe", "  cidr: 172.16.1.0/24\n  mtu: 9000\n");
    check("DD2003", &n, 1);
    assert!(fired("DD2003", &n)[0].contains("more than the MTU 1500 of its link `pxe-link`"));
}

#[test]
fn dd2003_regression_tagged_network_mtu_above_link_mtu() {
    // The old implementation compared only the untagged default network with its link.
    let l = link(
        "data-link",
        "  mtu: 1500\n  trunking: {mode: 802.1q}\n  allowed_networks: [mgmt]\n",
    );
    check("DD2003", &l, 1);
    let f = &findings("DD2003", &l)[0];
    assert!(
        f.message.contains("network `mgmt` has MTU 9000"),
        "{}",
        f.message
    );
    assert_eq!(f.related.len(), 1);
}

#[test]
fn dd2003_compares_a_network_named_twice_once() {
    let l = link(
        "data-link",
        "  mtu: 1500\n  trunking: {mode: 802.1q, default_network: mgmt}\n  allowed_networks: [mgmt, mgmt]\n",
    );
    assert_eq!(fired("DD2003", &l).len(), 1);
}

#[test]
fn dd2003_quiet_when_networks_fit_their_links() {
    let l = link(
        "data-link",
        "  mtu: 9100\n  trunking: {mode: 802.1q}\n  allowed_networks: [mgmt]\n",
    );
    check("DD2003", &l, 0);
}

// DD2004 trunking-rational

#[test]
fn dd2004_fires_on_several_networks_without_trunking() {
    let storage = network("storage", "  cidr: 172.16.3.0/24\n");
    let l = link(
        "pxe-link",
        "  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe, storage]\n",
    );
    let text = docs(&[storage, l]);
    check("DD2004", &text, 1);
    assert!(fired("DD2004", &text)[0].contains("allows 2 networks (pxe, storage) without 802.1q"));
}

#[test]
fn dd2004_fires_without_a_trunking_section_too() {
    let storage = network("storage", "  cidr: 172.16.3.0/24\n");
    let l = link("pxe-link", "  allowed_networks: [pxe, storage]\n");
    // Two networks, and no default network.
    check("DD2004", &docs(&[storage, l]), 2);
}

#[test]
fn dd2004_fires_on_an_untrunked_link_without_default_network() {
    let l = link(
        "pxe-link",
        "  trunking: {mode: disabled}\n  allowed_networks: [pxe]\n",
    );
    check("DD2004", &l, 1);
    let f = &findings("DD2004", &l)[0];
    assert!(f.message.contains("no default_network"));
    assert!(f.help.as_deref().unwrap().contains("default_network: pxe"));
}

#[test]
fn dd2004_fires_on_a_tagged_default_network() {
    let n = network("pxe", "  cidr: 172.16.1.0/24\n  vlan: '5'\n");
    check("DD2004", &n, 1);
    assert!(fired("DD2004", &n)[0].contains("VLAN tag 5"));
}

#[test]
fn dd2004_quiet_on_a_trunked_link_with_several_networks() {
    let storage = network("storage", "  cidr: 172.16.3.0/24\n  vlan: '200'\n");
    let l = link(
        "data-link",
        "  mtu: 9000\n  trunking: {mode: 802.1q}\n  allowed_networks: [mgmt, storage]\n",
    );
    check("DD2004", &docs(&[storage, l]), 0);
}

#[test]
fn dd2004_counts_a_network_listed_twice_once() {
    let l = link(
        "pxe-link",
        "  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe, pxe]\n",
    );
    check("DD2004", &l, 0);
}

// DD2006 cidr-validity

#[test]
fn dd2006_fires_on_host_bits_with_the_corrected_cidr() {
    let n = network("pxe", "  cidr: 172.16.1.5/24\n");
    check("DD2006", &n, 1);
    let f = &findings("DD2006", &n)[0];
    assert!(
        f.message.contains("172.16.1.5/24") && f.message.contains("host bits"),
        "{}",
        f.message
    );
    assert!(f.help.as_deref().unwrap().contains("`cidr: 172.16.1.0/24`"));
}

#[test]
fn dd2006_fires_on_ipv6_host_bits() {
    let n = network("v6", "  cidr: '2001:db8::1/64'\n");
    check("DD2006", &n, 1);
    assert!(
        findings("DD2006", &n)[0]
            .help
            .as_deref()
            .unwrap()
            .contains("`cidr: 2001:db8::/64`")
    );
}

#[test]
fn dd2006_quiet_on_network_addresses() {
    check("DD2006", &network("v6", "  cidr: '2001:db8::/64'\n"), 0);
    check("DD2006", &network("all", "  cidr: 10.0.0.0/8\n"), 0);
}

#[test]
fn dd2006_warns_once_on_a_design_without_networks() {
    let mine: Vec<_> = run_raw(REGION)
        .into_iter()
        .filter(|f| f.code == "DD2006")
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].severity, Severity::Warning);
    assert_eq!(mine[0].message, "the design has no networks");
    assert!(!mine[0].loc.is_none());
}

// DD2007 range-overlap

#[test]
fn dd2007_fires_on_overlapping_ranges() {
    let n = pxe(
        "    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n    - {type: reserved, start: 172.16.1.150, end: 172.16.1.250}\n",
    );
    check("DD2007", &n, 1);
    let f = &findings("DD2007", &n)[0];
    assert!(
        f.message
            .contains("reserved range 172.16.1.150-172.16.1.250"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("dhcp range 172.16.1.100-172.16.1.200"),
        "{}",
        f.message
    );
    assert!(f.help.as_deref().unwrap().contains("--skip DD2007"));
    assert_eq!(f.related.len(), 1);
}

#[test]
fn dd2007_reports_each_range_inside_a_larger_one() {
    let n = pxe(
        "    - {type: static, start: 172.16.1.10, end: 172.16.1.90}\n    - {type: reserved, start: 172.16.1.1, end: 172.16.1.99}\n    - {type: reserved, start: 172.16.1.50, end: 172.16.1.60}\n    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n",
    );
    check("DD2007", &n, 2);
}

#[test]
fn dd2007_quiet_on_adjacent_ranges() {
    let n = pxe(
        "    - {type: reserved, start: 172.16.1.1, end: 172.16.1.99}\n    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n    - {type: static, start: 172.16.1.201, end: 172.16.1.254}\n",
    );
    check("DD2007", &n, 0);
}

#[test]
fn dd2007_fires_on_overlapping_ipv6_ranges() {
    let n = network(
        "v6",
        "  cidr: '2001:db8::/64'\n  ranges:\n    - {type: dhcp, start: '2001:db8::100', end: '2001:db8::1ff'}\n    - {type: static, start: '2001:db8::1f0', end: '2001:db8::2ff'}\n",
    );
    check("DD2007", &n, 1);
    assert!(fired("DD2007", &n)[0].contains("2001:db8::1f0-2001:db8::2ff"));
}

#[test]
fn dd2007_quiet_on_disjoint_ipv6_ranges() {
    let n = network(
        "v6",
        "  cidr: '2001:db8::/64'\n  ranges:\n    - {type: dhcp, start: '2001:db8::100', end: '2001:db8::1ff'}\n    - {type: static, start: '2001:db8::200', end: '2001:db8::2ff'}\n",
    );
    check("DD2007", &n, 0);
}

#[test]
fn dd2007_quiet_on_ranges_of_different_networks() {
    // oob's static range and a range on another network with the same addresses.
    let n = network(
        "other",
        "  cidr: 172.16.0.0/24\n  routedomain: elsewhere\n  ranges:\n    - {type: dhcp, start: 172.16.0.10, end: 172.16.0.200}\n",
    );
    check("DD2007", &n, 0);
}

// DD2008 range-in-cidr

#[test]
fn dd2008_fires_on_a_range_leaving_the_cidr() {
    let n = pxe("    - {type: dhcp, start: 172.16.1.100, end: 172.16.2.200}\n");
    check("DD2008", &n, 1);
    let f = &findings("DD2008", &n)[0];
    assert!(
        f.message.contains("end 172.16.2.200") && f.message.contains("outside"),
        "{}",
        f.message
    );
    assert!(f.help.as_deref().unwrap().contains("--skip DD2008"));
}

#[test]
fn dd2008_fires_on_both_ends_outside() {
    check(
        "DD2008",
        &pxe("    - {type: dhcp, start: 172.16.2.100, end: 172.16.2.200}\n"),
        2,
    );
}

#[test]
fn dd2008_fires_on_a_reversed_range() {
    let n = pxe("    - {type: dhcp, start: 172.16.1.200, end: 172.16.1.100}\n");
    check("DD2008", &n, 1);
    assert!(fired("DD2008", &n)[0].contains("before its start"));
}

#[test]
fn dd2008_checks_ipv6_ranges() {
    let bad = network(
        "v6",
        "  cidr: '2001:db8::/64'\n  ranges:\n    - {type: dhcp, start: '2001:db8::100', end: '2001:db8:0:1::1ff'}\n",
    );
    check("DD2008", &bad, 1);
    let good = network(
        "v6",
        "  cidr: '2001:db8::/64'\n  ranges:\n    - {type: dhcp, start: '2001:db8::100', end: '2001:db8::ffff:ffff:ffff:ffff'}\n",
    );
    check("DD2008", &good, 0);
}

#[test]
fn dd2008_quiet_on_a_range_of_one_address_at_the_cidr_edges() {
    check(
        "DD2008",
        &pxe(
            "    - {type: reserved, start: 172.16.1.0, end: 172.16.1.0}\n    - {type: reserved, start: 172.16.1.255, end: 172.16.1.255}\n",
        ),
        0,
    );
}

// DD2009 cidr-overlap

#[test]
fn dd2009_fires_on_overlapping_networks() {
    let n = network("wide", "  cidr: 172.16.0.0/16\n");
    // It contains oob, pxe and mgmt: each of them is reported against it.
    check("DD2009", &n, 3);
    let all = fired("DD2009", &n);
    assert!(
        all.iter()
            .all(|m| m.contains("overlaps network `wide` (172.16.0.0/16)")),
        "{all:#?}"
    );
}

#[test]
fn dd2009_reports_the_smaller_of_two_networks_with_one_start() {
    let n = network(
        "pxe",
        "  cidr: 172.16.0.0/23\n  ranges:\n    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n",
    );
    check("DD2009", &n, 1);
    let f = &findings("DD2009", &n)[0];
    assert!(
        f.message
            .contains("`oob` (172.16.0.0/24) overlaps network `pxe` (172.16.0.0/23)"),
        "{}",
        f.message
    );
    assert!(f.message.contains("neither in a route domain"));
    assert!(f.help.as_deref().unwrap().contains("--skip DD2009"));
}

#[test]
fn dd2009_fires_within_one_route_domain() {
    let a = network("a", "  cidr: 10.0.0.0/24\n  routedomain: rd\n");
    let b = network("b", "  cidr: 10.0.0.128/25\n  routedomain: rd\n");
    let text = docs(&[a, b]);
    check("DD2009", &text, 1);
    assert!(fired("DD2009", &text)[0].contains("both in route domain `rd`"));
}

#[test]
fn dd2009_quiet_across_route_domains() {
    let a = network("a", "  cidr: 10.0.0.0/24\n  routedomain: rd1\n");
    let b = network("b", "  cidr: 10.0.0.0/24\n  routedomain: rd2\n");
    // And one in a route domain against one in none.
    let c = network("c", "  cidr: 10.0.0.0/24\n");
    check("DD2009", &docs(&[a, b, c]), 0);
}

#[test]
fn dd2009_fires_on_overlapping_ipv6_networks() {
    let a = network("a", "  cidr: '2001:db8::/48'\n");
    let b = network("b", "  cidr: '2001:db8:0:5::/64'\n");
    check("DD2009", &docs(&[a, b]), 1);
}

#[test]
fn dd2009_quiet_on_ipv4_and_ipv6_with_equal_numbers() {
    // 10.0.0.0/8 and ::a00:0/104 are the same numbers in different families.
    let a = network("a", "  cidr: 10.0.0.0/8\n");
    let b = network("b", "  cidr: '::a00:0/104'\n");
    let c = network("c", "  cidr: '2001:db8::/64'\n");
    check("DD2009", &docs(&[a, b, c]), 0);
}

#[test]
fn dd2009_finds_one_overlap_among_many_disjoint_networks() {
    // A sweep over sorted networks, not a pairwise comparison: 1,000 disjoint /24s give no
    // finding, one more inside them gives exactly one.
    let mut parts: Vec<String> = (0..1000)
        .map(|i| {
            network(
                &format!("n{i}"),
                &format!("  cidr: 10.{}.{}.0/24\n", i / 256, i % 256),
            )
        })
        .collect();
    check("DD2009", &docs(&parts), 0);
    parts.push(network("extra", "  cidr: 10.2.7.128/25\n"));
    check("DD2009", &docs(&parts), 1);
    assert!(
        fired("DD2009", &docs(&parts))[0]
            .contains("`extra` (10.2.7.128/25) overlaps network `n519`")
    );
}

// DD2010 static-in-dhcp

/// n3 with `address` on pxe.
fn pxe_node(address: &str) -> String {
    node(
        "n3",
        "52:54:00:00:00:03",
        &format!(
            "    - {{network: oob, address: 172.16.0.13}}\n    - {{network: pxe, address: {address}}}\n"
        ),
    )
}

#[test]
fn dd2010_fires_on_a_static_address_in_a_dhcp_range() {
    let n = pxe_node("172.16.1.150");
    check("DD2010", &n, 1);
    let f = &findings("DD2010", &n)[0];
    assert!(
        f.message.contains("172.16.1.150")
            && f.message.contains("dhcp range 172.16.1.100-172.16.1.200"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n3"]);
    assert!(f.help.as_deref().unwrap().contains("--skip DD2010"));
}

#[test]
fn dd2010_fires_at_the_edges_of_the_range() {
    check("DD2010", &pxe_node("172.16.1.100"), 1);
    check("DD2010", &pxe_node("172.16.1.200"), 1);
}

#[test]
fn dd2010_quiet_outside_the_dhcp_range() {
    check("DD2010", &pxe_node("172.16.1.99"), 0);
    check("DD2010", &pxe_node("172.16.1.201"), 0);
}

#[test]
fn dd2010_quiet_in_a_static_or_reserved_range() {
    let n = pxe(
        "    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}\n    - {type: static, start: 172.16.1.10, end: 172.16.1.20}\n    - {type: reserved, start: 172.16.1.21, end: 172.16.1.30}\n",
    );
    check("DD2010", &docs(&[n.clone(), pxe_node("172.16.1.15")]), 0);
    check("DD2010", &docs(&[n, pxe_node("172.16.1.25")]), 0);
}

#[test]
fn dd2010_finds_an_address_in_a_long_range_past_a_later_short_one() {
    // Sorted by start, the short range comes last before the address; the long one still holds it.
    let n = pxe(
        "    - {type: dhcp, start: 172.16.1.10, end: 172.16.1.200}\n    - {type: dhcp, start: 172.16.1.20, end: 172.16.1.30}\n",
    );
    let text = docs(&[n, pxe_node("172.16.1.100")]);
    let f = findings("DD2010", &text);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].message.contains("172.16.1.10-172.16.1.200"));
}

#[test]
fn dd2010_checks_ipv6_addresses() {
    let v6 = network(
        "v6",
        "  cidr: '2001:db8::/64'\n  ranges:\n    - {type: dhcp, start: '2001:db8::100', end: '2001:db8::1ff'}\n",
    );
    let on = |a: &str| {
        node(
            "n3",
            "52:54:00:00:00:03",
            &format!(
                "    - {{network: oob, address: 172.16.0.13}}\n    - {{network: v6, address: '{a}'}}\n"
            ),
        )
    };
    check("DD2010", &docs(&[v6.clone(), on("2001:db8::150")]), 1);
    check("DD2010", &docs(&[v6, on("2001:db8::250")]), 0);
}

// DD2011 duplicate-mac

#[test]
fn dd2011_fires_on_a_repeated_boot_mac_ignoring_case_and_separators() {
    let n3 = node(
        "n3",
        "52-54-00-00-00-0A",
        "    - {network: oob, address: 172.16.0.13}\n",
    );
    let n4 = node(
        "n4",
        "52:54:00:00:00:0a",
        "    - {network: oob, address: 172.16.0.14}\n",
    );
    let text = docs(&[n3, n4]);
    check("DD2011", &text, 1);
    let f = &findings("DD2011", &text)[0];
    assert!(
        f.message.contains("52:54:00:00:00:0a") && f.message.contains("node `n3`"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n4"]);
    assert!(f.help.as_deref().unwrap().contains("--skip DD2011"));
}

#[test]
fn dd2011_reports_every_repeat() {
    let parts: Vec<String> = (3..6)
        .map(|i| {
            node(
                &format!("n{i}"),
                "52:54:00:00:00:01",
                &format!("    - {{network: oob, address: 172.16.0.1{i}}}\n"),
            )
        })
        .collect();
    // n1 has it first; n3, n4 and n5 repeat it.
    check("DD2011", &docs(&parts), 3);
}

#[test]
fn dd2011_quiet_on_distinct_macs() {
    let n3 = node(
        "n3",
        "52:54:00:00:00:03",
        "    - {network: oob, address: 172.16.0.13}\n",
    );
    check("DD2011", &n3, 0);
}
