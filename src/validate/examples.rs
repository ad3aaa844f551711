//! The small valid site that rule examples are written against. `drydock explain` prints a
//! rule's example documents; tests put them over this base (a document of the same kind and
//! name replaces the base's) and check that the bad one fires the rule and the good one passes.

use crate::design::{self, Kind};

/// A minimal site that validates with no findings.
pub const BASE: &str = r#"schema: drydock/Region/v1
metadata: {schema: metadata/Document/v1, name: example}
data:
  authorized_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLEKEYEXAMPLEKEYEXAMPLEKEYEXAMPLEK admin@example']
---
schema: drydock/Rack/v1
metadata: {schema: metadata/Document/v1, name: r1}
data:
  labels: {row: a}
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: oob}
data:
  cidr: 172.16.0.0/24
  ranges:
    - {type: static, start: 172.16.0.10, end: 172.16.0.200}
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data:
  cidr: 172.16.1.0/24
  ranges:
    - {type: dhcp, start: 172.16.1.100, end: 172.16.1.200}
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
  dns: {domain: example.com, servers: '172.16.2.1'}
---
schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: pxe-link}
data:
  trunking: {mode: disabled, default_network: pxe}
  allowed_networks: [pxe]
---
schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: 802.3ad, hash: layer3+4, peer_rate: fast, mon_rate: 100, up_delay: 200, down_delay: 200}
  mtu: 9000
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt]
---
schema: drydock/HardwareProfile/v1
metadata: {schema: metadata/Document/v1, name: hw}
data:
  vendor: Dell
  boot_mode: uefi
  bootstrap_protocol: pxe
  pxe_interface: 0
  device_aliases:
    nic1: {address: '0000:00:03.0', bus_type: pci}
    nic2: {address: '0000:00:04.0', bus_type: pci}
    disk1: {address: '2:0.0.0', bus_type: scsi}
  cpu_sets: {vm: '2-7'}
  hugepages: {dpdk: {size: 1G, count: 4}}
---
schema: drydock/HostProfile/v1
metadata: {schema: metadata/Document/v1, name: base}
data:
  hardware_profile: hw
  primary_network: mgmt
  oob: {type: ipmi, network: oob, account: admin, credential: 'env:BMC_PASSWORD'}
  metadata: {rack: r1, tags: [compute], owner_data: {role: compute}}
  platform:
    image: focal
    kernel: ga-20.04
    kernel_params: {console: ttyS1, isolcpus: 'hardwareprofile:cpuset.vm'}
  storage:
    physical_devices:
      disk1:
        partitions:
          - {name: root, size: 30g, bootable: true, filesystem: {mountpoint: /}}
          - {name: boot, size: 1g, filesystem: {mountpoint: /boot}}
          - {name: data, size: '>10g', volume_group: vg0}
    volume_groups:
      vg0:
        logical_volumes:
          - {name: var, size: 50%, filesystem: {mountpoint: /var}}
  interfaces:
    pxe: {device_link: pxe-link, slaves: [nic1], networks: [pxe]}
    bond0: {device_link: data-link, slaves: [nic2], networks: [mgmt]}
---
schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n1}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:01'}
  addressing:
    - {network: oob, address: 172.16.0.11}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.11}
---
schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
---
schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: motd}
data:
  assets:
    - {type: file, path: /etc/motd, permissions: '644', data: 'deployed by drydock'}
"#;

/// The base site with `documents` over it: a document of the same kind and name replaces the
/// base's, others are added. A document `schema: drydock/<Kind>/v1` with `metadata.name` and
/// no `data`... is not special: to remove a base document, replace it.
pub fn compose(documents: &str) -> String {
    let over: Vec<(Kind, String)> = design::load_str("example.yaml", documents)
        .documents
        .iter()
        .map(|d| (d.kind, d.name.v.clone()))
        .collect();
    let mut out = String::new();
    for part in BASE.split("\n---\n") {
        let d = design::load_str("base.yaml", part);
        let replaced = d
            .documents
            .first()
            .is_some_and(|d| over.contains(&(d.kind, d.name.v.clone())));
        if !replaced {
            out.push_str(part.trim_end());
            out.push_str("\n---\n");
        }
    }
    out.push_str(documents);
    out
}
