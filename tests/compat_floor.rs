//! The compatibility floor: documents that the old implementation's schemas accepted load
//! without a schema finding, one test per kind, each field written with every type the old
//! schemas allowed; and one schema error stays one finding instead of cascading.

use drydock::design::{self, Kind};
use drydock::diag::Finding;

/// Schema findings (DD000/DD001) of `yaml`, after checking every document stayed in.
fn schema_findings(yaml: &str) -> Vec<Finding> {
    let d = design::load_str("compat.yaml", yaml);
    assert!(
        d.documents.iter().all(|d| d.schema_valid),
        "a document was left out"
    );
    d.findings
        .into_iter()
        .filter(|f| f.is_error() && (f.code == "DD001" || f.code == "DD000"))
        .collect()
}

fn accepted(kind: Kind, yaml: &str) {
    let f = schema_findings(yaml);
    assert!(f.is_empty(), "{kind}: {f:#?}");
}

#[test]
fn region_every_field() {
    accepted(
        Kind::Region,
        r#"schema: drydock/Region/v1
metadata: {schema: metadata/Document/v1, name: site}
data:
  tag_definitions:
    - {tag: high_memory, definition_type: lshw_xpath, definition: "//node[@id=\"memory\"]"}
  authorized_keys: [ssh-rsa AAAA x@y]
  repositories:
    remove_unlisted: true
    main:
      repo_type: apt
      url: http://archive.ubuntu.com/ubuntu
      distributions: [bionic]
      subrepos: [updates]
      components: [main, restricted]
      gpgkey: "-----BEGIN PGP PUBLIC KEY BLOCK-----"
      options: {trusted: true, n: 1, list: [a]}
    docker:
      repo_type: apt
      url: https://download.docker.com/linux/ubuntu/
      arches: [amd64, arm64]
"#,
    );
}

#[test]
fn region_arches_default_to_amd64() {
    let d = design::load_str(
        "r.yaml",
        "schema: drydock/Region/v1\nmetadata: {name: s}\ndata:\n  repositories:\n    main: {repo_type: apt, url: 'http://x'}\n",
    );
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    let site = drydock::model::build(&d);
    let arches: Vec<_> = site.regions[0].repositories[0]
        .arches
        .iter()
        .map(|a| a.v.clone())
        .collect();
    assert_eq!(arches, ["amd64"]);
}

#[test]
fn network_every_field() {
    accepted(
        Kind::Network,
        r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt, labels: {enabled: true}}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  routedomain: storage
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
    - {type: dhcp, start: 172.16.2.201, end: 172.16.2.250}
    - {type: reserved, start: 172.16.2.1, end: 172.16.2.9}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
    - {routedomain: storage, gateway: 172.16.2.1, metric: 100.0}
  dns: {domain: example.com, servers: '172.16.2.1,8.8.8.8'}
  dhcp_relay: {self_ip: 172.16.2.2, upstream_target: 172.16.2.3}
  labels: {enabled: true, weight: 3, ratio: 0.5, name: x, nothing: null, list: [a], map: {a: b}}
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: float-mtu}
data:
  cidr: 172.16.3.0/24
  mtu: 1500.0
"#,
    );
}

#[test]
fn network_link_every_field() {
    accepted(
        Kind::NetworkLink,
        r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: slow, mon_rate: 100, up_delay: 200.0, down_delay: 200}
  mtu: 9000.0
  linkspeed: 10000full
  trunking: {mode: 802.1q, default_network: mgmt}
  allowed_networks: [mgmt, storage]
  labels: {noconfig: true, speed: 10}
---
schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  bonding: {mode: active-backup, mon_rate: 50}
  trunking: {mode: disabled, default_network: pxe}
  allowed_networks: [pxe]
"#,
    );
}

#[test]
fn hardware_profile_every_field() {
    accepted(
        Kind::HardwareProfile,
        r#"schema: drydock/HardwareProfile/v1
metadata: {schema: metadata/Document/v1, name: hw}
data:
  vendor: Dell
  generation: '8'
  hw_version: '3'
  bios_version: '2.2.3'
  boot_mode: bios
  bootstrap_protocol: pxe
  pxe_interface: 0
  device_aliases:
    prim_nic01: {address: '0000:00:03.0', dev_type: '82540EM Gigabit Ethernet Controller', bus_type: pci}
    bootdisk: {address: '2:0.0.0', dev_type: 'VBOX HARDDISK', bus_type: scsi}
    any: {address: 'regexp:0000:00:0[45].0', bus_type: pci}
  cpu_sets: {kvm: '4-43,48-87'}
  hugepages:
    dpdk: {size: 1G, count: 300}
    float: {size: 2M, count: 10.0}
"#,
    );
}

const HOST: &str = r#"
  host_profile: base
  hardware_profile: hw
  primary_network: mgmt
  oob: {type: ipmi, network: oob, account: admin, credential: env:IPMI_PASS, extra: 1}
  storage:
    physical_devices:
      sda:
        labels: {bootdrive: 'true'}
        partitions:
          - name: root
            size: 20g
            bootable: true
            part_uuid: 3a3a3a3a-0000-0000-0000-000000000000
            labels: {role: root}
            filesystem: {mountpoint: /, fstype: ext4, mount_options: defaults, fs_uuid: x, fs_label: root}
          - {name: pv, size: '>1g', volume_group: vg1}
      sdb: {volume_group: vg1}
    volume_groups:
      vg1:
        vg_uuid: x
        logical_volumes:
          - {name: var, size: 10%, lv_uuid: y, filesystem: {mountpoint: /var, fstype: xfs, extra: ok}}
  platform:
    image: bionic
    kernel: ga-18.04
    kernel_params: {quiet: true, console: ttyS0, hugepages: 300, ratio: 0.5, isolcpus: 'hardwareprofile:cpuset.kvm', nothing: null, off: false}
  metadata:
    tags: [compute]
    owner_data: {role: compute}
    rack: rack1
  interfaces:
    bond0:
      device_link: data
      slaves: [prim_nic01, ens4]
      networks: [mgmt]
      sriov: {vf_count: 8.0, trustmode: true}
      labels: {noconfig: true, n: 1}
"#;

#[test]
fn host_profile_every_field() {
    accepted(
        Kind::HostProfile,
        &format!(
            "schema: drydock/HostProfile/v1\nmetadata: {{schema: metadata/Document/v1, name: cp}}\ndata:{HOST}"
        ),
    );
}

#[test]
fn baremetal_node_every_field() {
    accepted(
        Kind::BaremetalNode,
        &format!(
            "schema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: n1}}\ndata:{}  addressing:\n    - {{network: oob, address: 172.16.0.10}}\n    - {{network: pxe, address: dhcp}}\n    - {{network: v6, address: 'fd00::10'}}\n",
            HOST.replace(
                "    rack: rack1\n",
                "    rack: rack1\n    boot_mac: '52:54:00:00:00:01'\n"
            )
        ),
    );
}

#[test]
fn boot_action_every_field() {
    accepted(
        Kind::BootAction,
        r#"schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: ba}
data:
  signaling: false
  node_filter:
    filter_set_type: union
    filter_set:
      - filter_type: intersection
        node_names: [n1]
        node_tags: [compute]
        node_labels: {role: compute, enabled: true}
        rack_names: [rack1]
        rack_labels: {row: a, number: 1}
  assets:
    - {type: unit, path: /etc/systemd/system/x.service, data: '[Unit]', data_pipeline: [utf8_decode, template], permissions: '644'}
    - {type: file, path: /etc/x, location: 'http://x/y', location_pipeline: [template], permissions: '0600'}
    - {type: pkg_list, data: {docker.io: '1.13.1-0ubuntu1', curl: null}}
"#,
    );
}

#[test]
fn rack_every_field() {
    accepted(
        Kind::Rack,
        r#"schema: drydock/Rack/v1
metadata: {schema: metadata/Document/v1, name: rack1}
data:
  tor_switches:
    switch01: {mgmt_ip: 1.1.1.1, sdn_api_uri: 'polling:https://polling.example.com/switchmgmt?switch=switch01name'}
  location: {clli: HSTNTXMOCG0, grid: EG12}
  local_networks: [pxe-rack1]
  labels: {row: a, number: 1, enabled: true}
"#,
    );
}

#[test]
fn one_bad_value_in_a_profile_is_one_finding_not_a_cascade() {
    // The old failure: a wrongly typed value took the profile out of the design, and every node
    // inheriting it then failed its references.
    let base = drydock::validate::examples::compose(
        r#"schema: drydock/HostProfile/v1
metadata: {schema: metadata/Document/v1, name: base}
data:
  hardware_profile: hw
  primary_network: mgmt
  oob: {type: ipmi, network: oob, account: admin, credential: env:IPMI_PASS}
  storage:
    physical_devices:
      sda:
        partitions:
          - {name: root, size: 30g, bootable: 7, filesystem: {mountpoint: /, fstype: ext4}}
          - {name: boot, size: 1g, filesystem: {mountpoint: /boot, fstype: ext4}}
  platform: {image: jammy, kernel: ga-22.04}
  interfaces:
    pxe: {device_link: pxe-link, slaves: [prim_nic01], networks: [pxe]}
    data: {device_link: data-link, slaves: [data_nic01], networks: [mgmt]}
"#,
    );
    let d = design::load_str("s.yaml", &base);
    let report = drydock::validate::validate(&d, &drydock::validate::Options::default());
    let errors: Vec<_> = report.findings.iter().filter(|f| f.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].code, "DD001");
    assert!(errors[0].message.contains("bootable"), "{errors:#?}");
}

#[test]
fn a_vlan_out_of_range_is_a_rule_finding_not_a_schema_error() {
    let text = drydock::validate::examples::compose(
        "schema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: storage}\ndata:\n  cidr: 172.16.9.0/24\n  vlan: '5000'\n",
    );
    let d = design::load_str("s.yaml", &text);
    let report = drydock::validate::validate(&d, &drydock::validate::Options::default());
    let codes: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.code)
        .collect();
    assert_eq!(codes, ["DD2004"], "{:#?}", report.findings);
    let good = text.replace("'5000'", "'4094'");
    let report = drydock::validate::validate(
        &design::load_str("s.yaml", &good),
        &drydock::validate::Options::default(),
    );
    assert!(!report.findings.iter().any(|f| f.code == "DD2004"));
}
