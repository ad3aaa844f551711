//! Tests of the host rules: boot storage, bonds, links, hugepages, storage layout, platform and
//! hostnames (DD1001–DD1011, DD3001, DD3003). Each design is documents over the example base
//! site; `check` asserts the count of one rule's findings and that nothing else is an error.

use drydock::diag::Severity;
use drydock::validate::{self, Options};

mod rules_support;
use rules_support::*;

/// Node `n2` of the base site with `extra` (indented data fields) added to its data.
fn n2(extra: &str) -> String {
    format!(
        r#"schema: drydock/BaremetalNode/v1
metadata: {{schema: metadata/Document/v1, name: n2}}
data:
  host_profile: base
  metadata: {{boot_mac: '52:54:00:00:00:02'}}
{extra}
  addressing:
    - {{network: oob, address: 172.16.0.12}}
    - {{network: pxe, address: dhcp}}
    - {{network: mgmt, address: 172.16.2.12}}
"#
    )
}

/// The base host profile with `storage` (indented under `storage:`) as its storage.
fn base_with_storage(storage: &str) -> String {
    format!(
        r#"schema: drydock/HostProfile/v1
metadata: {{schema: metadata/Document/v1, name: base}}
data:
  hardware_profile: hw
  primary_network: mgmt
  oob: {{type: ipmi, network: oob, account: admin, credential: 'env:BMC_PASSWORD'}}
  metadata: {{rack: r1, tags: [compute], owner_data: {{role: compute}}}}
  platform:
    image: focal
    kernel: ga-20.04
    kernel_params: {{console: ttyS1, isolcpus: 'hardwareprofile:cpuset.vm'}}
  storage:
{storage}
  interfaces:
    pxe: {{device_link: pxe-link, slaves: [nic1], networks: [pxe]}}
    bond0: {{device_link: data-link, slaves: [nic2], networks: [mgmt]}}
"#
    )
}

/// The base `data-link` with `bonding` as its bonding mapping.
fn data_link(bonding: &str) -> String {
    format!(
        r#"schema: drydock/NetworkLink/v1
metadata: {{schema: metadata/Document/v1, name: data-link}}
data:
  bonding: {bonding}
  mtu: 9000
  trunking: {{mode: 802.1q}}
  allowed_networks: [mgmt]
"#
    )
}

const CODES: [&str; 9] = [
    "DD1001", "DD1006", "DD1007", "DD1008", "DD1009", "DD1010", "DD1011", "DD3001", "DD3003",
];

#[test]
fn examples_of_these_rules_behave() {
    for code in CODES {
        let i = validate::info(code).unwrap();
        assert!(
            !i.explanation.is_empty() && i.explanation != "TODO",
            "{code}: no explanation"
        );
        let bad = run(i.bad);
        assert!(
            bad.iter().any(|f| f.code == code),
            "{code}: bad example does not fire: {bad:#?}"
        );
        let good = run(i.good);
        assert!(
            !good.iter().any(|f| f.code == code),
            "{code}: good example fires: {good:#?}"
        );
        assert!(
            !good.iter().any(|f| f.is_error()),
            "{code}: good example has errors: {good:#?}"
        );
    }
}

#[test]
fn base_site_is_clean_for_these_rules() {
    let all = run("");
    let mine: Vec<_> = all.iter().filter(|f| CODES.contains(&f.code)).collect();
    assert!(mine.is_empty(), "{mine:#?}");
}

// DD1001 boot-storage

/// `n2` with its own partitions on `disk1` (merged by name over the base profile's).
fn n2_partitions(partitions: &str) -> String {
    n2(&format!(
        "  storage:\n    physical_devices:\n      disk1:\n        partitions:\n{partitions}"
    ))
}

#[test]
fn dd1001_small_root_fires() {
    let d = n2_partitions("          - {name: root, size: 10g}");
    check("DD1001", &d, 1);
    let f = &findings("DD1001", &d)[0];
    assert!(
        f.message.contains("`10g` is less than 20 GB"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n2"]);
}

#[test]
fn dd1001_root_of_exactly_20g_passes() {
    check(
        "DD1001",
        &n2_partitions("          - {name: root, size: 20g}"),
        0,
    );
    check(
        "DD1001",
        &n2_partitions("          - {name: root, size: 20GB}"),
        0,
    );
}

#[test]
fn dd1001_root_just_under_20g_fires() {
    check(
        "DD1001",
        &n2_partitions("          - {name: root, size: 19999mb}"),
        1,
    );
}

#[test]
fn dd1001_percent_root_fires() {
    let d = n2_partitions("          - {name: root, size: 50%}");
    check("DD1001", &d, 1);
    assert!(fired("DD1001", &d)[0].contains("not an absolute size"));
}

#[test]
fn dd1001_at_least_root_fires() {
    let d = n2_partitions("          - {name: root, size: '>30g'}");
    check("DD1001", &d, 1);
    assert!(fired("DD1001", &d)[0].contains("`>30g` is not an absolute size"));
}

#[test]
fn dd1001_unparseable_root_fires() {
    // DD1010 reports the size too, as every size that does not parse.
    let d = n2_partitions("          - {name: root, size: 20Gb}");
    let m = fired("DD1001", &d);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("does not parse"), "{}", m[0]);
}

#[test]
fn dd1001_small_boot_fires() {
    let d = n2_partitions("          - {name: boot, size: 512mb}");
    check("DD1001", &d, 1);
    assert!(fired("DD1001", &d)[0].contains("less than 1 GB"));
}

#[test]
fn dd1001_boot_of_exactly_1g_passes() {
    check(
        "DD1001",
        &n2_partitions("          - {name: boot, size: 1000mb}"),
        0,
    );
}

#[test]
fn dd1001_missing_root_fires() {
    let d = n2_partitions("          - {name: '!root'}");
    check("DD1001", &d, 1);
    assert!(fired("DD1001", &d)[0].contains("no root filesystem"));
}

#[test]
fn dd1001_node_without_storage_fires() {
    // No storage to point at: one finding at each node's name.
    let d = base_with_storage("    physical_devices: {}");
    check("DD1001", &d, 2);
    assert!(
        fired("DD1001", &d)
            .iter()
            .all(|m| m.contains("no root filesystem"))
    );
}

#[test]
fn dd1001_root_as_logical_volume_passes() {
    let d = base_with_storage(
        r#"    physical_devices:
      disk1:
        partitions:
          - {name: boot, size: 1g, bootable: true, filesystem: {mountpoint: /boot}}
          - {name: pv, size: '>40g', volume_group: vg0}
    volume_groups:
      vg0:
        logical_volumes:
          - {name: lv_root, size: 30g, filesystem: {mountpoint: /}}
          - {name: var, size: 50%, filesystem: {mountpoint: /var}}"#,
    );
    check("DD1001", &d, 0);
}

#[test]
fn dd1001_small_root_logical_volume_fires() {
    let d = base_with_storage(
        r#"    physical_devices:
      disk1:
        partitions:
          - {name: pv, size: '>40g', volume_group: vg0}
    volume_groups:
      vg0:
        logical_volumes:
          - {name: lv_root, size: 10g, filesystem: {mountpoint: /}}"#,
    );
    check("DD1001", &d, 1);
    assert_eq!(findings("DD1001", &d)[0].nodes, ["n1", "n2"]);
}

#[test]
fn dd1001_root_as_partition_mounted_at_slash_passes() {
    let d = base_with_storage(
        r#"    physical_devices:
      disk1:
        partitions:
          - {name: os, size: 30g, bootable: true, filesystem: {mountpoint: /}}"#,
    );
    check("DD1001", &d, 0);
}

#[test]
fn dd1001_inherited_small_root_is_one_finding_for_every_node() {
    let d = base_with_storage(
        r#"    physical_devices:
      disk1:
        partitions:
          - {name: root, size: 10g, filesystem: {mountpoint: /}}"#,
    );
    let f = findings("DD1001", &d);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].nodes, ["n1", "n2"]);
    assert!(!f[0].message.contains("n1"));
}

// DD1006 bond-rational

#[test]
fn dd1006_short_up_delay_fires() {
    let d = data_link("{mode: 802.3ad, mon_rate: 100, up_delay: 50}");
    check("DD1006", &d, 1);
    assert!(fired("DD1006", &d)[0].contains("up_delay 50 ms"));
}

#[test]
fn dd1006_defaults_below_a_large_mon_rate_fire() {
    let d = data_link("{mode: 802.3ad, mon_rate: 500}");
    check("DD1006", &d, 2);
}

#[test]
fn dd1006_sound_802_3ad_passes() {
    check("DD1006", "", 0);
    check(
        "DD1006",
        &data_link("{mode: 802.3ad, mon_rate: 100, up_delay: 100, down_delay: 300}"),
        0,
    );
}

#[test]
fn dd1006_active_backup_does_not_crash() {
    check("DD1006", &data_link("{mode: active-backup}"), 0);
    check(
        "DD1006",
        &data_link("{mode: active-backup, mon_rate: 100, up_delay: 200, down_delay: 200}"),
        0,
    );
    let d = data_link("{mode: active-backup, hash: layer3+4, peer_rate: fast}");
    check("DD1006", &d, 2);
    assert!(
        fired("DD1006", &d)
            .iter()
            .any(|m| m.contains("hash `layer3+4` is set on active-backup bond"))
    );
}

#[test]
fn dd1006_balance_rr_is_checked() {
    let d = data_link("{mode: balance-rr, hash: layer2}");
    check("DD1006", &d, 1);
    assert!(fired("DD1006", &d)[0].contains("balance-rr"));
    check("DD1006", &data_link("{mode: balance-rr}"), 0);
}

#[test]
fn dd1006_bond_options_with_bonding_disabled_warn() {
    let d = data_link("{mode: disabled, hash: layer3+4, mon_rate: 100}");
    check("DD1006", &d, 2);
    let f = findings("DD1006", &d);
    assert!(f.iter().all(|f| f.severity == Severity::Warning), "{f:#?}");
    assert!(f[0].message.contains("ignored"));
    // No options: nothing to say.
    check("DD1006", &data_link("{mode: disabled}"), 0);
}

// DD1007 unique-network

fn link_allowing(networks: &str) -> String {
    format!(
        r#"schema: drydock/NetworkLink/v1
metadata: {{schema: metadata/Document/v1, name: data-link}}
data:
  bonding: {{mode: 802.3ad}}
  mtu: 9000
  trunking: {{mode: 802.1q}}
  allowed_networks: [{networks}]
"#
    )
}

#[test]
fn dd1007_network_on_two_links_fires() {
    let d = link_allowing("mgmt, pxe");
    check("DD1007", &d, 1);
    assert!(
        fired("DD1007", &d)[0].contains(
            "network `pxe` is allowed on link `data-link` and already on link `pxe-link`"
        )
    );
}

#[test]
fn dd1007_network_listed_twice_on_one_link_passes() {
    check("DD1007", &link_allowing("mgmt, mgmt"), 0);
}

#[test]
fn dd1007_interface_network_not_on_its_link_fires() {
    let d = n2("  interfaces:\n    pxe: {networks: [mgmt]}");
    check("DD1007", &d, 1);
    let f = &findings("DD1007", &d)[0];
    assert!(
        f.message
            .contains("network `mgmt` is not allowed on link `pxe-link`"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n2"]);
}

#[test]
fn dd1007_interface_without_link_fires() {
    let d = n2("  interfaces:\n    eth9: {slaves: [eth9], networks: [mgmt]}");
    check("DD1007", &d, 1);
    assert!(fired("DD1007", &d)[0].contains("has no device_link"));
}

#[test]
fn dd1007_interface_without_link_or_networks_passes() {
    check(
        "DD1007",
        &n2("  interfaces:\n    eth9: {slaves: [eth9]}"),
        0,
    );
}

#[test]
fn dd1007_undefined_link_is_left_to_dd002() {
    let d = n2("  interfaces:\n    pxe: {device_link: nope}");
    assert!(fired("DD1007", &d).is_empty());
}

#[test]
fn dd1007_quiet_on_base() {
    check("DD1007", "", 0);
}

// DD1008 hugepages

fn n2_kernel_params(params: &str) -> String {
    n2(&format!("  platform:\n    kernel_params: {params}"))
}

#[test]
fn dd1008_size_without_count_fires() {
    let d = n2_kernel_params("{hugepagesz: 1G}");
    check("DD1008", &d, 1);
    assert!(fired("DD1008", &d)[0].contains("`hugepagesz` is set without `hugepages`"));
}

#[test]
fn dd1008_count_without_size_fires() {
    let d = n2_kernel_params("{hugepages: 4}");
    check("DD1008", &d, 1);
    assert!(fired("DD1008", &d)[0].contains("`hugepages` is set without `hugepagesz`"));
}

#[test]
fn dd1008_both_or_neither_pass() {
    check(
        "DD1008",
        &n2_kernel_params("{hugepagesz: 1G, hugepages: 4}"),
        0,
    );
    check("DD1008", "", 0);
}

#[test]
fn dd1008_param_set_to_false_counts_as_absent() {
    check(
        "DD1008",
        &n2_kernel_params("{hugepagesz: 1G, hugepages: false}"),
        1,
    );
}

// DD1009 storage-partitioning

#[test]
fn dd1009_device_with_partitions_and_volume_group_fires() {
    let d = n2("  storage:\n    physical_devices:\n      disk1: {volume_group: vg0}");
    check("DD1009", &d, 1);
    assert!(
        fired("DD1009", &d)[0]
            .contains("device `disk1` has both partitions and volume group `vg0`")
    );
}

#[test]
fn dd1009_device_with_neither_fires() {
    let d = n2("  storage:\n    physical_devices:\n      sdb: {labels: {role: spare}}");
    check("DD1009", &d, 1);
    assert!(fired("DD1009", &d)[0].contains("neither partitions nor a volume group"));
}

#[test]
fn dd1009_partition_with_filesystem_and_volume_group_fires() {
    let d = n2_partitions("          - {name: data, filesystem: {mountpoint: /data}}");
    check("DD1009", &d, 1);
    assert!(
        fired("DD1009", &d)[0]
            .contains("partition `data` has both a filesystem and volume group `vg0`")
    );
}

#[test]
fn dd1009_raw_partition_passes() {
    check(
        "DD1009",
        &n2_partitions("          - {name: journal, size: 10g}"),
        0,
    );
}

#[test]
fn dd1009_volume_group_without_physical_volume_fires() {
    let d = n2(
        "  storage:\n    volume_groups:\n      vg1:\n        logical_volumes:\n          - {name: log, size: 10g, filesystem: {mountpoint: /var/log}}",
    );
    check("DD1009", &d, 1);
    assert!(fired("DD1009", &d)[0].contains("volume group `vg1` has no physical volume"));
}

#[test]
fn dd1009_undefined_volume_group_fires() {
    let d = n2("  storage:\n    physical_devices:\n      sdb: {volume_group: vg9}");
    check("DD1009", &d, 1);
    assert!(fired("DD1009", &d)[0].contains("volume group `vg9` is not defined"));
}

#[test]
fn dd1009_partition_backed_volume_group_passes() {
    // Regression: the old implementation demanded a whole device per volume group.
    let d = base_with_storage(
        r#"    physical_devices:
      disk1:
        partitions:
          - {name: root, size: 30g, bootable: true, filesystem: {mountpoint: /}}
          - {name: boot, size: 1g, filesystem: {mountpoint: /boot}}
          - {name: pv1, size: 100g, volume_group: vg0}
          - {name: pv2, size: '>10g', volume_group: vg1}
    volume_groups:
      vg0:
        logical_volumes:
          - {name: var, size: 50%, filesystem: {mountpoint: /var}}
      vg1:
        logical_volumes:
          - {name: log, size: 50%, filesystem: {mountpoint: /var/log}}"#,
    );
    check("DD1009", &d, 0);
}

#[test]
fn dd1009_removal_markers_are_not_devices() {
    // A top-level profile may remove entries it does not have; the markers stay in the model.
    let d = base_with_storage(
        r#"    physical_devices:
      '!sdb': {}
      disk1:
        partitions:
          - {name: root, size: 30g, bootable: true, filesystem: {mountpoint: /}}
          - {name: '!boot'}
          - {name: data, size: '>10g', volume_group: vg0}
    volume_groups:
      '!vg9': {}
      vg0:
        logical_volumes:
          - {name: var, size: 50%, filesystem: {mountpoint: /var}}"#,
    );
    for code in ["DD1001", "DD1009", "DD1010", "DD1011"] {
        check(code, &d, 0);
    }
}

#[test]
fn dd1009_device_backed_volume_group_passes() {
    check(
        "DD1009",
        &n2("  storage:\n    physical_devices:\n      sdb: {volume_group: vg0}"),
        0,
    );
}

// DD1010 storage-sizing

/// `n2` with its own logical volumes in `vg0` (added to the base profile's `var`, 50%).
fn n2_volumes(volumes: &str) -> String {
    n2(&format!(
        "  storage:\n    volume_groups:\n      vg0:\n        logical_volumes:\n{volumes}"
    ))
}

#[test]
fn dd1010_sizes_that_do_not_parse_fire_each() {
    let d = n2_volumes(
        "          - {name: a, size: 10Gb, filesystem: {mountpoint: /a}}\n          - {name: b, size: 'ten g', filesystem: {mountpoint: /b}}",
    );
    check("DD1010", &d, 2);
    let f = findings("DD1010", &d);
    assert!(f.iter().any(|f| f.message.contains("`10Gb`")), "{f:#?}");
    assert!(
        f.iter()
            .all(|f| f.help.as_deref().is_some_and(|h| h.contains("mib")))
    );
}

#[test]
fn dd1010_volume_group_over_99_percent_fires() {
    let d = n2_volumes("          - {name: log, size: 60%, filesystem: {mountpoint: /var/log}}");
    check("DD1010", &d, 1);
    assert!(fired("DD1010", &d)[0].contains("volume group `vg0` take 110%"));
}

#[test]
fn dd1010_exactly_99_percent_passes() {
    check(
        "DD1010",
        &n2_volumes("          - {name: log, size: 49%, filesystem: {mountpoint: /var/log}}"),
        0,
    );
}

#[test]
fn dd1010_sum_of_100_percent_fires_and_does_not_crash() {
    // Regression: the old implementation crashed on a sum over 99%.
    check(
        "DD1010",
        &n2_volumes("          - {name: log, size: 50%, filesystem: {mountpoint: /var/log}}"),
        1,
    );
    check(
        "DD1010",
        &n2_volumes("          - {name: var, size: 1000%}"),
        1,
    );
}

#[test]
fn dd1010_device_over_99_percent_fires() {
    let d = n2(r#"  storage:
    physical_devices:
      sdb:
        partitions:
          - {name: a, size: 50%, filesystem: {mountpoint: /a}}
          - {name: b, size: '>60%', filesystem: {mountpoint: /b}}"#);
    check("DD1010", &d, 1);
    let f = &findings("DD1010", &d)[0];
    assert!(
        f.message.contains("partitions of device `sdb` take 110%"),
        "{}",
        f.message
    );
    assert_eq!(f.related.len(), 2);
}

#[test]
fn dd1010_percentages_summed_per_volume_group() {
    // Regression: the old implementation summed the logical volumes of all groups together.
    let d = n2(r#"  storage:
    physical_devices:
      sdb: {volume_group: vg1}
    volume_groups:
      vg0:
        logical_volumes:
          - {name: var, size: 60%}
      vg1:
        logical_volumes:
          - {name: log, size: 60%, filesystem: {mountpoint: /var/log}}"#);
    check("DD1010", &d, 0);
}

#[test]
fn dd1010_quiet_on_base() {
    check("DD1010", "", 0);
}

// DD1011 storage-mountpoints

#[test]
fn dd1011_partition_and_logical_volume_on_one_mountpoint_fires() {
    let d = n2_volumes("          - {name: b, size: 1g, filesystem: {mountpoint: /boot}}");
    check("DD1011", &d, 1);
    let f = &findings("DD1011", &d)[0];
    assert!(f.message.contains("mountpoint `/boot` of logical volume `b` of volume group `vg0` is already used by partition `boot`"), "{}", f.message);
    assert_eq!(f.related.len(), 1);
}

#[test]
fn dd1011_every_duplicate_is_reported() {
    let d = n2_volumes(
        "          - {name: v2, size: 10%, filesystem: {mountpoint: /var}}\n          - {name: v3, size: 10%, filesystem: {mountpoint: /var/}}",
    );
    check("DD1011", &d, 2);
}

#[test]
fn dd1011_duplicates_across_volume_groups_fire() {
    let d = n2(r#"  storage:
    physical_devices:
      sdb: {volume_group: vg1}
    volume_groups:
      vg1:
        logical_volumes:
          - {name: var2, size: 10%, filesystem: {mountpoint: /var}}"#);
    check("DD1011", &d, 1);
}

#[test]
fn dd1011_swap_none_may_repeat() {
    let d = n2_volumes(
        "          - {name: swap1, size: 1g, filesystem: {mountpoint: none, fstype: swap}}\n          - {name: swap2, size: 1g, filesystem: {mountpoint: none, fstype: swap}}",
    );
    check("DD1011", &d, 0);
}

#[test]
fn dd1011_quiet_on_distinct_mountpoints() {
    check("DD1011", "", 0);
    check(
        "DD1011",
        &n2_volumes("          - {name: log, size: 10%, filesystem: {mountpoint: /var/log}}"),
        0,
    );
}

// DD3001 platform

#[test]
fn dd3001_unknown_image_fires() {
    let d = n2("  platform: {image: trusty}");
    check("DD3001", &d, 1);
    let f = &findings("DD3001", &d)[0];
    assert!(
        f.message
            .contains("image `trusty` is not offered by the simulator"),
        "{}",
        f.message
    );
    assert_eq!(f.nodes, ["n2"]);
}

#[test]
fn dd3001_unknown_kernel_fires() {
    let d = n2("  platform: {kernel: hwe-14.04}");
    check("DD3001", &d, 1);
    assert!(fired("DD3001", &d)[0].contains("kernel `hwe-14.04`"));
}

#[test]
fn dd3001_known_image_and_kernel_pass() {
    check("DD3001", "", 0);
    check(
        "DD3001",
        &n2("  platform: {image: ubuntu/jammy, kernel: hwe-22.04}"),
        0,
    );
}

#[test]
fn dd3001_without_catalog_warns_once_for_the_design() {
    let all = run_with("", &Options::default());
    let mine: Vec<_> = all.iter().filter(|f| f.code == "DD3001").collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].severity, Severity::Warning);
    assert!(
        mine[0].loc.is_none() && mine[0].nodes.is_empty(),
        "{mine:#?}"
    );
    // Even with a bad image: nothing can say it is bad.
    let all = run_with(&n2("  platform: {image: trusty}"), &Options::default());
    assert_eq!(all.iter().filter(|f| f.code == "DD3001").count(), 1);
}

// DD3003 hostname

fn mgmt_domain(domain: &str) -> String {
    format!(
        r#"schema: drydock/Network/v1
metadata: {{schema: metadata/Document/v1, name: mgmt}}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {{type: static, start: 172.16.2.10, end: 172.16.2.200}}
  routes:
    - {{subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}}
  dns: {{domain: '{domain}', servers: '172.16.2.1'}}
"#
    )
}

fn node_named(name: &str) -> String {
    format!(
        r#"schema: drydock/BaremetalNode/v1
metadata: {{schema: metadata/Document/v1, name: '{name}'}}
data:
  host_profile: base
  metadata: {{boot_mac: '52:54:00:00:00:03'}}
  addressing:
    - {{network: oob, address: 172.16.0.13}}
    - {{network: pxe, address: dhcp}}
    - {{network: mgmt, address: 172.16.2.13}}
"#
    )
}

#[test]
fn dd3003_bad_domain_is_one_finding_for_every_node() {
    let d = mgmt_domain("site_1.example.com");
    check("DD3003", &d, 1);
    let f = &findings("DD3003", &d)[0];
    assert!(f.message.contains("`site_1`"), "{}", f.message);
    assert_eq!(f.nodes, ["n1", "n2"]);
}

#[test]
fn dd3003_bad_node_name_fires() {
    let d = node_named("n_3");
    check("DD3003", &d, 1);
    assert!(fired("DD3003", &d)[0].contains("node name `n_3`"));
}

#[test]
fn dd3003_label_starting_or_ending_with_hyphen_fires() {
    check("DD3003", &mgmt_domain("-site.example.com"), 1);
    check("DD3003", &node_named("n3-"), 1);
    assert!(fired("DD3003", &node_named("n3-"))[0].contains("starts or ends with `-`"));
}

#[test]
fn dd3003_long_label_fires() {
    let d = mgmt_domain(&format!("{}.example.com", "a".repeat(64)));
    check("DD3003", &d, 1);
    assert!(fired("DD3003", &d)[0].contains("more than 63"));
    check(
        "DD3003",
        &mgmt_domain(&format!("{}.example.com", "a".repeat(63))),
        0,
    );
}

#[test]
fn dd3003_long_fqdn_fires_per_node() {
    let label = "a".repeat(60);
    let d = mgmt_domain(&[label.as_str(); 5].join("."));
    check("DD3003", &d, 2);
    assert!(fired("DD3003", &d)[0].contains("more than 255"));
}

#[test]
fn dd3003_valid_hostnames_pass() {
    check("DD3003", "", 0);
    check("DD3003", &node_named("N3-rack1"), 0);
    check("DD3003", &mgmt_domain("site-1.Example.com"), 0);
}
