//! Tests of the reference, duplicate-name, OOB and boot-action rules (DD002, DD003,
//! DD4001–DD4006) over the example base site, and of the load-time rules DD000 and DD001 on
//! whole documents. `check` is the one helper per feature: documents over the base site and
//! the number of findings of one rule expected.

use drydock::design::{self, Design};
use drydock::diag::Finding;
use drydock::validate::{self};

mod rules_support;
use rules_support::*;

/// The source text a finding points at.
fn text_at<'a>(d: &'a Design, f: &Finding) -> &'a str {
    let file = d.sources.get(f.loc.file).expect("a located finding");
    &file.text[f.loc.start as usize..(f.loc.start + f.loc.len) as usize]
}

/// A node `n3` over the base profile, with `EXTRA` replaced by more of its `data`.
const NODE3: &str = r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n3}
data:
  host_profile: base
  EXTRA
  addressing:
    - {network: oob, address: 172.16.0.13}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.13}
"#;

fn node3(extra: &str) -> String {
    NODE3.replace("EXTRA", extra)
}

/// A node like n3 named `name`, on profile `profile`, with the given last address octet.
fn node(name: &str, profile: &str, octet: u8) -> String {
    format!(
        "schema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n  host_profile: {profile}\n  metadata: {{boot_mac: '52:54:00:00:01:{octet:02x}'}}\n  addressing:\n    - {{network: oob, address: 172.16.0.{octet}}}\n    - {{network: pxe, address: dhcp}}\n    - {{network: mgmt, address: 172.16.2.{octet}}}\n"
    )
}

fn profile(name: &str, body: &str) -> String {
    format!(
        "schema: drydock/HostProfile/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n{body}"
    )
}

/// Join documents into one stream.
fn docs(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_end())
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n"
}

const MINE: [&str; 8] = [
    "DD002", "DD003", "DD4001", "DD4002", "DD4003", "DD4004", "DD4005", "DD4006",
];

#[test]
fn base_site_is_clean_for_these_rules() {
    let all = run("");
    let mine: Vec<_> = all
        .iter()
        .filter(|f| MINE.contains(&f.code) || f.code == "DD000" || f.code == "DD001")
        .collect();
    assert!(mine.is_empty(), "{mine:#?}");
}

#[test]
fn examples_fire_when_bad_and_pass_when_good() {
    for code in MINE.iter().chain(&["DD000", "DD001"]) {
        let i = validate::info(code).unwrap();
        assert!(
            !i.explanation.is_empty() && i.explanation != "TODO",
            "{code}: no explanation"
        );
        assert!(
            !i.bad.is_empty() && !i.good.is_empty(),
            "{code}: no examples"
        );
        let bad = run(i.bad);
        assert!(
            bad.iter().any(|f| f.code == *code),
            "{code}: bad example does not fire: {bad:#?}"
        );
        let good = run(i.good);
        assert!(
            !good.iter().any(|f| f.code == *code),
            "{code}: good example fires: {good:#?}"
        );
        assert!(
            !good.iter().any(|f| f.is_error()),
            "{code}: good example has errors: {good:#?}"
        );
    }
}

// DD002 references

#[test]
fn dd002_fires_on_an_unknown_primary_network() {
    let n3 = node3("primary_network: mgmnt\n  metadata: {boot_mac: '52:54:00:00:00:03'}");
    check("DD002", &n3, 1);
    let m = &fired("DD002", &n3)[0];
    assert!(
        m.contains("primary_network") && m.contains("`mgmnt`") && m.contains("does not exist"),
        "{m}"
    );
    let f = &findings("DD002", &n3)[0];
    assert_eq!(f.nodes, ["n3"]);
    assert!(
        f.help.as_deref().unwrap().contains("did you mean `mgmt`"),
        "{f:#?}"
    );
}

#[test]
fn dd002_quiet_when_everything_resolves() {
    check(
        "DD002",
        &node3("metadata: {boot_mac: '52:54:00:00:00:03'}"),
        0,
    );
}

#[test]
fn dd002_checks_every_kind_of_reference() {
    let p = profile(
        "p",
        r#"  host_profile: base
  hardware_profile: hw
  primary_network: nope-primary
  oob: {network: nope-oob}
  platform:
    kernel_params:
      a: 'hardwareprofile:cpuset.nope'
      b: 'hardwareprofile:hugepages.nope.size'
      c: 'hardwareprofile:hugepages.dpdk.count'
      d: 'hardwareprofile:bogus'
  interfaces:
    extra: {device_link: nope-link, slaves: [eno1], networks: [nope-if]}
"#,
    );
    let n = node("n3", "p", 13).replace(
        "- {network: pxe, address: dhcp}",
        "- {network: nope-addr, address: dhcp}",
    );
    let link = r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: spare-link}
data:
  trunking: {mode: disabled, default_network: nope-default}
  allowed_networks: [nope-allowed]
"#;
    let msgs = fired("DD002", &docs(&[&p, &n, link]));
    for want in [
        "nope-primary",
        "nope-oob",
        "cpu set `nope`",
        "hugepages `nope`",
        "hardwareprofile:bogus",
        "nope-link",
        "nope-if",
        "nope-addr",
        "nope-default",
        "nope-allowed",
    ] {
        assert_eq!(
            msgs.iter().filter(|m| m.contains(want)).count(),
            1,
            "{want}: {msgs:#?}"
        );
    }
    assert_eq!(msgs.len(), 10, "{msgs:#?}");
}

#[test]
fn dd002_hugepages_and_cpuset_references_that_resolve_pass() {
    let p = profile(
        "p",
        "  host_profile: base\n  platform:\n    kernel_params: {hugepagesz: 'hardwareprofile:hugepages.dpdk.size', hugepages: 'hardwareprofile:hugepages.dpdk.count'}\n",
    );
    check("DD002", &docs(&[&p, &node("n3", "p", 13)]), 0);
}

#[test]
fn dd002_interface_slaves_are_never_an_error() {
    let p = profile(
        "p",
        "  host_profile: base\n  interfaces:\n    bond0: {slaves: [eno1, enp3s0f1]}\n",
    );
    check("DD002", &docs(&[&p, &node("n3", "p", 13)]), 0);
}

#[test]
fn dd002_node_without_hardware_profile_is_an_error_at_its_name() {
    let (d, all) = run_design(&node3(
        "hardware_profile: '!'\n  metadata: {boot_mac: '52:54:00:00:00:03'}",
    ));
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD002").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert!(
        mine[0].is_error() && mine[0].message.contains("no hardware profile"),
        "{mine:#?}"
    );
    assert_eq!(text_at(&d, mine[0]), "n3");
}

#[test]
fn dd002_profile_loop_is_reported_once_naming_every_node() {
    let a = profile("a", "  host_profile: b\n");
    let b = profile("b", "  host_profile: a\n");
    let design = docs(&[
        &a,
        &b,
        &node("n3", "a", 13),
        &node("n4", "a", 14),
        &node("n5", "b", 15),
    ]);
    let (d, all) = run_design(&design);
    let loops: Vec<_> = all
        .iter()
        .filter(|f| f.code == "DD002" && f.message.contains("loop"))
        .collect();
    assert_eq!(loops.len(), 1, "{loops:#?}");
    let f = loops[0];
    assert!(f.is_error());
    assert!(
        f.message.contains("a → b → a") || f.message.contains("b → a → b"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n3", "n4", "n5"]);
    // At the `host_profile` value that closes the loop, inside a profile.
    let at = text_at(&d, f);
    assert!(at == "a" || at == "b", "{at}");
    assert_eq!(
        d.document_at(f.loc).unwrap().kind,
        design::Kind::HostProfile
    );
    // A loop leaves the nodes without a hardware profile: not reported again.
    assert!(
        !all.iter()
            .any(|f| f.code == "DD002" && f.message.contains("hardware profile")),
        "{all:#?}"
    );
}

#[test]
fn dd002_missing_parent_profile_is_reported_at_the_value() {
    let (d, all) = run_design(&node("n3", "bsae", 13));
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD002").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert!(mine[0].message.contains("host profile `bsae`"), "{mine:#?}");
    assert_eq!(text_at(&d, mine[0]), "bsae");
}

#[test]
fn dd002_inherited_dangling_reference_is_reported_at_the_profile_with_its_nodes() {
    let p = profile("p", "  host_profile: base\n  primary_network: nope\n");
    let (d, all) = run_design(&docs(&[&p, &node("n3", "p", 13), &node("n4", "p", 14)]));
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD002").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    let f = mine[0];
    assert!(f.is_error());
    assert_eq!(f.nodes, ["n3", "n4"]);
    assert!(
        !f.message.contains("n3") && !f.message.contains("n4"),
        "{}",
        f.message
    );
    assert_eq!(text_at(&d, f), "nope");
    let doc = d.document_at(f.loc).unwrap();
    assert_eq!(
        (doc.kind, doc.name.v.as_str()),
        (design::Kind::HostProfile, "p")
    );
    let (_, line, _) = d.sources.position(f.loc).unwrap();
    let text = &d.sources.get(f.loc.file).unwrap().text;
    assert_eq!(
        text.lines().nth(line as usize - 1).unwrap().trim(),
        "primary_network: nope"
    );
}

#[test]
fn dd002_dangling_reference_in_an_unused_profile_is_a_warning() {
    let p = profile(
        "spare",
        "  hardware_profile: hw\n  primary_network: nope\n  host_profile: gone\n",
    );
    let all = findings("DD002", &p);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter()
            .all(|f| !f.is_error() && f.message.contains("no node uses host profile `spare`")),
        "{all:#?}"
    );
    check("DD002", &p, 2);
}

#[test]
fn dd002_loop_among_unused_profiles_is_a_warning() {
    let all = findings(
        "DD002",
        &docs(&[
            &profile("a", "  host_profile: b\n"),
            &profile("b", "  host_profile: a\n"),
        ]),
    );
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(
        !all[0].is_error() && all[0].message.contains("loop"),
        "{all:#?}"
    );
}

#[test]
fn dd002_reference_to_a_left_out_document_says_so() {
    let storage = r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  vlan: '200'
"#;
    let n3 = node3("primary_network: storage\n  metadata: {boot_mac: '52:54:00:00:00:03'}");
    let all = run(&docs(&[storage, &n3]));
    assert!(
        all.iter().any(|f| f.code == "DD001"),
        "the network fails its schema: {all:#?}"
    );
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD002").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert!(
        mine[0]
            .message
            .contains("left out because it failed its schema"),
        "{mine:#?}"
    );
    let help = mine[0].help.as_deref().unwrap();
    assert!(
        help.contains("a Network named `storage` exists but was left out")
            && help.contains("fix that first"),
        "{help}"
    );
    assert_eq!(mine[0].related.len(), 1);
}

#[test]
fn dd002_unknown_rack_is_only_a_note() {
    let n3 = node3("metadata: {rack: r9, boot_mac: '52:54:00:00:00:03'}");
    check("DD002", &n3, 1);
    let f = &findings("DD002", &n3)[0];
    assert!(
        f.severity == drydock::diag::Severity::Note && f.message.contains("rack `r9`"),
        "{f:#?}"
    );
}

#[test]
fn dd002_an_undefined_rack_is_one_note_naming_every_node() {
    let mut docs = String::new();
    for i in 3..8 {
        docs.push_str(&format!(
            "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: n{i}}}\ndata:\n  host_profile: base\n  metadata: {{rack: r9, boot_mac: '52:54:00:00:00:0{i}'}}\n  addressing:\n    - {{network: oob, address: 172.16.0.1{i}}}\n    - {{network: pxe, address: dhcp}}\n    - {{network: mgmt, address: 172.16.2.1{i}}}\n"
        ));
    }
    let all = findings("DD002", &docs);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].nodes, ["n3", "n4", "n5", "n6", "n7"]);
    assert_eq!(all[0].related.len(), 3, "the other places it is written");
}

// DD003 duplicate-names

const STORAGE: &str = "schema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: NAME}\ndata:\n  cidr: CIDR\n";

fn storage(name: &str, cidr: &str) -> String {
    STORAGE.replace("NAME", name).replace("CIDR", cidr)
}

#[test]
fn dd003_fires_at_the_second_document_of_a_name() {
    let design = docs(&[
        &storage("storage", "172.16.3.0/24"),
        &storage("storage", "172.16.4.0/24"),
    ]);
    check("DD003", &design, 1);
    let (d, all) = run_design(&design);
    let f = all.iter().find(|f| f.code == "DD003").unwrap();
    assert!(
        f.message.contains("Network") && f.message.contains("`storage`"),
        "{}",
        f.message
    );
    assert_eq!(f.related.len(), 1);
    assert!(f.related[0].loc.start < f.loc.start);
    assert_eq!(text_at(&d, f), "storage");
}

#[test]
fn dd003_quiet_on_distinct_names_and_on_one_name_across_kinds() {
    let link = "schema: drydock/NetworkLink/v1\nmetadata: {schema: metadata/Document/v1, name: storage}\ndata:\n  trunking: {mode: disabled, default_network: storage}\n  allowed_networks: [storage]\n";
    check(
        "DD003",
        &docs(&[
            &storage("storage", "172.16.3.0/24"),
            &storage("storage-b", "172.16.4.0/24"),
            link,
        ]),
        0,
    );
}

#[test]
fn dd003_more_regions_warn_naming_the_last() {
    let old = "schema: drydock/Region/v1\nmetadata: {schema: metadata/Document/v1, name: leftover}\ndata: {}\n";
    // The base's Region comes first, then this one: this one is the site.
    check("DD003", old, 1);
    let f = &findings("DD003", old)[0];
    assert!(!f.is_error());
    assert!(
        f.message.contains("`example` is ignored") && f.message.contains("Region `leftover`"),
        "{}",
        f.message
    );
}

// DD4001 oob-ipmi

#[test]
fn dd4001_missing_parameters_are_errors_not_crashes() {
    let n3 = node3(
        "oob: {account: '!', credential: '!', network: '!'}\n  metadata: {boot_mac: '52:54:00:00:00:03'}",
    );
    check("DD4001", &n3, 3);
    let msgs = fired("DD4001", &n3);
    for field in ["account", "credential", "network"] {
        assert!(
            msgs.iter().any(|m| m.contains(&format!("no `{field}`"))),
            "{field}: {msgs:#?}"
        );
    }
}

#[test]
fn dd4001_quiet_on_a_complete_ipmi_node() {
    check(
        "DD4001",
        &node3("metadata: {boot_mac: '52:54:00:00:00:03'}"),
        0,
    );
}

#[test]
fn dd4001_needs_a_static_address_on_the_oob_network() {
    let none = node3("metadata: {boot_mac: '52:54:00:00:00:03'}")
        .replace("    - {network: oob, address: 172.16.0.13}\n", "");
    check("DD4001", &none, 1);
    assert!(fired("DD4001", &none)[0].contains("no static address on oob network `oob`"));
    let dhcp = node3("metadata: {boot_mac: '52:54:00:00:00:03'}").replace(
        "{network: oob, address: 172.16.0.13}",
        "{network: oob, address: dhcp}",
    );
    check("DD4001", &dhcp, 1);
    assert!(fired("DD4001", &dhcp)[0].contains("dhcp"));
}

#[test]
fn dd4001_missing_field_in_a_profile_is_one_finding_for_every_node() {
    let p = profile("p", "  host_profile: base\n  oob: {account: '!'}\n");
    let all = findings(
        "DD4001",
        &docs(&[&p, &node("n3", "p", 13), &node("n4", "p", 14)]),
    );
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].nodes, ["n3", "n4"]);
}

#[test]
fn dd4001_literal_credential_is_a_warning() {
    let n3 = node3("oob: {credential: hunter2}\n  metadata: {boot_mac: '52:54:00:00:00:03'}");
    check("DD4001", &n3, 1);
    let f = &findings("DD4001", &n3)[0];
    assert!(!f.is_error() && f.message.contains("literal"), "{f:#?}");
    assert!(f.help.as_deref().unwrap().contains("env:NAME"));
    check(
        "DD4001",
        &node3(
            "oob: {credential: 'file:/etc/drydock/bmc'}\n  metadata: {boot_mac: '52:54:00:00:00:03'}",
        ),
        0,
    );
}

#[test]
fn no_credential_value_ever_appears_in_a_finding() {
    const SECRET: &str = "Zq7-distinctive-S3CRET";
    let ipmi = node("n3", "base", 13).replace(
        "  metadata:",
        &format!("  oob: {{credential: '{SECRET}', network: '!'}}\n  metadata:"),
    );
    let redfish = node("n4", "base", 14)
        .replace(
            "  metadata:",
            &format!("  oob: {{type: redfish, credential: '{SECRET}', account: '!'}}\n  metadata:"),
        )
        .replace("address: 172.16.0.14", "address: dhcp");
    let dup = node("n5", "base", 11).replace(
        "  metadata:",
        &format!("  oob: {{type: redfish, credential: '{SECRET}'}}\n  metadata:"),
    );
    let profile_secret = profile(
        "spare",
        &format!("  oob: {{type: ipmi, credential: '{SECRET}', network: nope}}\n"),
    );
    let all = run(&docs(&[&ipmi, &redfish, &dup, &profile_secret]));
    for code in ["DD4001", "DD4005", "DD4006"] {
        assert!(
            all.iter().any(|f| f.code == code),
            "{code} should fire: {all:#?}"
        );
    }
    for f in &all {
        let mut texts = vec![f.message.as_str()];
        texts.extend(f.label.as_deref());
        texts.extend(f.help.as_deref());
        texts.extend(f.related.iter().map(|r| r.message.as_str()));
        for t in texts {
            assert!(
                !t.contains(SECRET) && !t.contains("distinctive"),
                "credential printed by {}: {t}",
                f.code
            );
        }
    }
}

// DD4005 oob-redfish

#[test]
fn dd4005_quiet_on_a_complete_redfish_node() {
    check(
        "DD4005",
        &node3("oob: {type: redfish}\n  metadata: {boot_mac: '52:54:00:00:00:03'}"),
        0,
    );
}

#[test]
fn dd4005_fires_on_missing_credential_and_says_it_is_new() {
    let n3 =
        node3("oob: {type: redfish, credential: '!'}\n  metadata: {boot_mac: '52:54:00:00:00:03'}");
    check("DD4005", &n3, 1);
    let f = &findings("DD4005", &n3)[0];
    assert!(
        f.message.contains("redfish oob has no `credential`"),
        "{}",
        f.message
    );
    let help = f.help.as_deref().unwrap();
    assert!(
        help.contains("new in drydock") && help.contains("--skip DD4005"),
        "{help}"
    );
    // Not an IPMI node any more.
    assert!(fired("DD4001", &n3).is_empty());
}

#[test]
fn dd4005_needs_a_static_oob_address() {
    let n3 = node3("oob: {type: redfish}\n  metadata: {boot_mac: '52:54:00:00:00:03'}")
        .replace("address: 172.16.0.13", "address: dhcp");
    check("DD4005", &n3, 1);
}

// DD4002 oob-libvirt

const LIBVIRT: &str =
    "oob: {type: libvirt, libvirt_uri: URI}\n  metadata: {boot_mac: '52:54:00:00:00:03'}";

#[test]
fn dd4002_quiet_on_qemu_ssh_with_boot_mac() {
    check(
        "DD4002",
        &node3(&LIBVIRT.replace("URI", "'qemu+ssh://virsh@hv1/system'")),
        0,
    );
}

#[test]
fn dd4002_fires_on_other_schemes_missing_uri_and_missing_boot_mac() {
    let n3 = node3(&LIBVIRT.replace("URI", "'qemu:///system'"));
    check("DD4002", &n3, 1);
    assert!(fired("DD4002", &n3)[0].contains("scheme `qemu`"));
    check("DD4002", &node3(&LIBVIRT.replace("URI", "'!'")), 1);
    let no_mac = node3("oob: {type: libvirt, libvirt_uri: 'qemu+ssh://hv1/system'}");
    check("DD4002", &no_mac, 1);
    assert!(fired("DD4002", &no_mac)[0].contains("boot_mac"));
}

// DD4003 bootaction-scope

fn motd(filter: &str) -> String {
    format!(
        "schema: drydock/BootAction/v1\nmetadata: {{schema: metadata/Document/v1, name: motd}}\ndata:\n  node_filter:\n    filter_set_type: union\n    filter_set:\n      - {filter}\n  assets:\n    - {{type: file, path: /etc/motd, permissions: '644', data: hi}}\n"
    )
}

#[test]
fn dd4003_warns_for_each_node_no_boot_action_targets() {
    let ba = motd("{filter_type: union, node_names: [n1]}");
    check("DD4003", &ba, 1);
    let f = &findings("DD4003", &ba)[0];
    assert!(!f.is_error() && f.message.contains("`n2`"), "{f:#?}");
}

#[test]
fn dd4003_quiet_when_every_node_is_targeted() {
    check("DD4003", "", 0);
    check(
        "DD4003",
        &motd("{filter_type: intersection, rack_labels: {row: a}, node_tags: [compute]}"),
        0,
    );
    // One action selects n1, another n2.
    let other = motd("{filter_type: union, node_names: [n2]}").replace("name: motd", "name: motd2");
    check(
        "DD4003",
        &docs(&[&motd("{filter_type: union, node_names: [n1]}"), &other]),
        0,
    );
}

// DD4004 bootaction-packages

fn pkgs(asset: &str) -> String {
    format!(
        "schema: drydock/BootAction/v1\nmetadata: {{schema: metadata/Document/v1, name: packages}}\ndata:\n  assets:\n    - {asset}\n"
    )
}

#[test]
fn dd4004_quiet_on_debian_versions_null_and_location() {
    check(
        "DD4004",
        &pkgs(
            "{type: pkg_list, data: {a: '1.2.3', b: '1:2.0-1ubuntu1', c: null, d: '2.0~rc1+dfsg'}}",
        ),
        0,
    );
    check(
        "DD4004",
        &pkgs("{type: pkg_list, location: 'http://repo/pkgs.yaml'}"),
        0,
    );
    check("DD4004", &pkgs("{type: pkg_list, data: 'a: 1.0'}"), 0);
}

#[test]
fn dd4004_upstream_version_without_revision_passes() {
    // Regression: the old pattern demanded a `-revision`.
    check(
        "DD4004",
        &pkgs("{type: pkg_list, data: {openssh-server: '8.2'}}"),
        0,
    );
}

#[test]
fn dd4004_fires_on_bad_versions_and_on_no_packages() {
    let bad = pkgs("{type: pkg_list, data: {a: 'v1.2', b: latest, c: '1.0'}}");
    check("DD4004", &bad, 2);
    let msgs = fired("DD4004", &bad);
    assert!(
        msgs.iter()
            .any(|m| m.contains("`v1.2`") && m.contains("`a`")),
        "{msgs:#?}"
    );
    check("DD4004", &pkgs("{type: pkg_list}"), 1);
    check("DD4004", &pkgs("{type: pkg_list, data: {}}"), 1);
    assert!(fired("DD4004", &pkgs("{type: pkg_list}"))[0].contains("no packages"));
}

// DD4006 duplicate-oob

#[test]
fn dd4006_fires_on_a_shared_bmc_address() {
    let n3 = node("n3", "base", 13).replace("172.16.0.13", "172.16.0.11");
    let all = findings("DD4006", &n3);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = &all[0];
    assert!(
        f.message.contains("172.16.0.11")
            && f.message.contains("`n1`")
            && f.message.contains("`n3`"),
        "{}",
        f.message
    );
    let help = f.help.as_deref().unwrap();
    assert!(
        help.contains("new in drydock") && help.contains("--skip DD4006"),
        "{help}"
    );
}

#[test]
fn dd4006_quiet_on_distinct_bmc_addresses_and_for_libvirt() {
    check("DD4006", &node("n3", "base", 13), 0);
    let virt = node("n3", "base", 13).replace(
        "  metadata:",
        "  oob: {type: libvirt, libvirt_uri: 'qemu+ssh://hv/system'}\n  metadata:",
    );
    let virt4 = node("n4", "base", 14)
        .replace(
            "  metadata:",
            "  oob: {type: libvirt, libvirt_uri: 'qemu+ssh://hv/system'}\n  metadata:",
        )
        .replace("172.16.0.14", "172.16.0.13");
    // Both VMs on one hypervisor share an oob address; DD2005 may report the address, DD4006 not.
    assert!(fired("DD4006", &docs(&[&virt, &virt4])).is_empty());
}

// DD000 parse (whole documents, loaded directly)

/// Load `text` as one file; its DD000/DD001 findings with their 1-based line.
fn load(text: &str) -> (Design, Vec<(Finding, u32)>) {
    let d = design::load_str("t.yaml", text);
    let fs = d
        .findings
        .iter()
        .map(|f| (f.clone(), d.sources.position(f.loc).map_or(0, |p| p.1)))
        .collect();
    (d, fs)
}

#[test]
fn dd000_yaml_syntax_error() {
    let (d, fs) =
        load("schema: drydock/Network/v1\nmetadata: {name: x\ndata:\n  cidr: 10.0.0.0/24\n");
    assert!(d.documents.is_empty());
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert!(
        fs[0].0.code == "DD000" && fs[0].0.is_error() && fs[0].0.message.contains("syntax"),
        "{fs:#?}"
    );
}

#[test]
fn dd000_duplicate_key_warns_and_the_last_wins() {
    let (d, fs) = load(
        "schema: drydock/Network/v1\nmetadata: {name: x}\ndata:\n  cidr: 10.0.0.0/24\n  cidr: 10.0.1.0/24\n",
    );
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let (f, line) = &fs[0];
    assert!(
        f.code == "DD000" && !f.is_error() && f.message.contains("duplicate key `cidr`"),
        "{f:#?}"
    );
    assert_eq!(*line, 5);
    let site = drydock::model::build(&d);
    assert_eq!(
        site.network("x")
            .unwrap()
            .cidr
            .as_ref()
            .unwrap()
            .v
            .to_string(),
        "10.0.1.0/24"
    );
}

#[test]
fn dd000_unquoted_mac_and_bare_yes_warn() {
    let (_, fs) = load(
        "schema: drydock/BaremetalNode/v1\nmetadata: {name: n}\ndata:\n  metadata:\n    boot_mac: 52:54:00:00:00:01\n    owner_data: {x: yes}\n  addressing:\n    - {network: oob, address: dhcp}\n",
    );
    let warnings: Vec<_> = fs.iter().filter(|(f, _)| f.code == "DD000").collect();
    assert_eq!(warnings.len(), 2, "{fs:#?}");
    assert!(warnings.iter().all(|(f, _)| !f.is_error()));
    let mac = warnings
        .iter()
        .find(|(f, _)| f.message.contains("MAC"))
        .unwrap();
    assert_eq!(mac.1, 5);
    assert!(
        mac.0
            .help
            .as_deref()
            .unwrap()
            .contains("'52:54:00:00:00:01'")
    );
    let yes = warnings
        .iter()
        .find(|(f, _)| f.message.contains("`yes`"))
        .unwrap();
    assert_eq!(yes.1, 6);
    // Quoted, they are fine.
    let (_, fs) = load(
        "schema: drydock/BaremetalNode/v1\nmetadata: {name: n}\ndata:\n  metadata:\n    boot_mac: '52:54:00:00:00:01'\n    owner_data: {x: 'yes'}\n  addressing:\n    - {network: oob, address: dhcp}\n",
    );
    assert!(fs.is_empty(), "{fs:#?}");
}

#[test]
fn dd000_unknown_kind_and_version() {
    let (d, fs) = load(
        "schema: drydock/Widget/v1\nmetadata: {name: x}\ndata: {}\n---\nschema: drydock/Network/v2\nmetadata: {name: y}\ndata: {cidr: 10.0.0.0/24}\n",
    );
    assert!(d.documents.is_empty());
    assert_eq!(fs.len(), 2, "{fs:#?}");
    assert!(fs.iter().all(|(f, _)| f.code == "DD000" && f.is_error()));
    assert!(
        fs[0].0.message.contains("Widget") && fs[0].1 == 1,
        "{fs:#?}"
    );
    assert!(
        fs[1].0.message.contains("drydock/Network/v2") && fs[1].1 == 5,
        "{fs:#?}"
    );
}

#[test]
fn dd000_foreign_documents_are_skipped_quietly() {
    let (d, fs) =
        load("schema: pegleg/SiteDefinition/v1\nmetadata: {name: s}\ndata: {site_type: foundry}\n");
    assert!(fs.is_empty() && d.documents.is_empty());
    assert_eq!(d.foreign, 1);
}

// DD001 schema

#[test]
fn dd001_integer_vlan() {
    let (d, fs) = load(
        "schema: drydock/Network/v1\nmetadata: {name: x}\ndata:\n  cidr: 10.0.0.0/24\n  vlan: 100\n",
    );
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let (f, line) = &fs[0];
    assert!(
        f.code == "DD001" && f.is_error() && f.message.contains("vlan"),
        "{f:#?}"
    );
    assert_eq!(*line, 5);
    assert!(f.help.as_deref().unwrap().contains("'100'"), "{f:#?}");
    // Only the offending value is left out, not the network.
    assert!(d.documents[0].schema_valid);
    assert!(d.documents[0].data.get("vlan").is_none());
    assert!(d.documents[0].data.get("cidr").is_some());
}

#[test]
fn dd001_unknown_top_level_key_points_at_the_key() {
    let (d, fs) = load(
        "schema: drydock/Network/v1\nmetadata: {name: x}\ndata:\n  cidr: 10.0.0.0/24\n  gateway: 10.0.0.1\n",
    );
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let f = &fs[0].0;
    assert!(
        f.code == "DD001" && f.message.contains("`gateway`"),
        "{f:#?}"
    );
    assert_eq!(d.sources.position(f.loc).map(|p| (p.1, p.2)), Some((5, 3)));
}

#[test]
fn dd001_null_interface() {
    let (_, fs) = load(
        "schema: drydock/HostProfile/v1\nmetadata: {name: p}\ndata:\n  interfaces:\n    pxe: {device_link: l}\n    bond0: null\n",
    );
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let (f, line) = &fs[0];
    assert!(
        f.code == "DD001" && f.is_error() && f.message.contains("bond0"),
        "{f:#?}"
    );
    assert_eq!(*line, 6);
}
