//! The desired state, as drivers receive it: what a node and the site should look like, typed
//! and resolved (device aliases to hardware addresses, networks to their CIDR, VLAN, MTU and
//! routes, sizes parsed, kernel parameters rendered, boot actions with their assets). The plan
//! computes it once per node (`plan::desired`, Terraform's "after"); the executor hands it to
//! drivers unchanged; drivers never reach back into the design.
//!
//! Plain serializable data with no logic but its flat view (`flat`: the `field → value`
//! snapshot that diffs show and fingerprints hash). A credential is a [`Secret`]: a saved plan
//! holds its reference, never a literal value.

pub mod flat;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::vocab::Secret;

/// What a node should be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    /// Name plus the primary network's DNS domain.
    pub fqdn: String,
    pub rack: Option<String>,
    /// Lower case, `:`-separated.
    pub boot_mac: Option<String>,
    pub tags: Vec<String>,
    pub owner_data: BTreeMap<String, String>,
    pub hardware: HardwareSpec,
    /// The network whose route is the node's default route.
    pub primary_network: Option<String>,
    /// The network the node boots from (its PXE interface's untagged network), when known.
    pub pxe_network: Option<String>,
    pub interfaces: Vec<InterfaceSpec>,
    pub addresses: Vec<AddressSpec>,
    pub storage: StorageSpec,
    pub platform: PlatformSpec,
    /// The boot actions whose node filter selects the node, in design order (shared between
    /// the nodes they select: one copy in memory).
    pub boot_actions: Vec<Arc<BootActionSpec>>,
    /// The region's SSH public keys (shared by every node).
    pub ssh_keys: Arc<[String]>,
    /// The region's package repositories (shared by every node).
    pub repositories: Arc<[RepositorySpec]>,
    pub oob: OobSpec,
    /// Fingerprint of the flat view (`flat::node`): equal fingerprints, equal configurations.
    pub fingerprint: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareSpec {
    /// The hardware profile's name.
    pub profile: Option<String>,
    pub vendor: Option<String>,
    /// `uefi` or `bios`.
    pub boot_mode: Option<String>,
    pub bootstrap_protocol: Option<String>,
    pub pxe_interface: Option<i64>,
    pub device_aliases: Vec<DeviceAliasSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAliasSpec {
    pub name: String,
    /// `pci` for NICs, `scsi` for disks.
    pub bus_type: Option<String>,
    /// `0000:3b:00.0`, `0:2.0.0`, or `regexp:<pattern>`.
    pub address: Option<String>,
    pub dev_type: Option<String>,
}

/// How a node's BMC is driven (`oob.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OobKind {
    Ipmi,
    Redfish,
    Libvirt,
    /// Nothing to drive: the operator powers and boots the node.
    Manual,
}

impl OobKind {
    pub fn parse(s: &str) -> Option<OobKind> {
        match s {
            "ipmi" => Some(OobKind::Ipmi),
            "redfish" => Some(OobKind::Redfish),
            "libvirt" => Some(OobKind::Libvirt),
            "manual" => Some(OobKind::Manual),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OobKind::Ipmi => "ipmi",
            OobKind::Redfish => "redfish",
            OobKind::Libvirt => "libvirt",
            OobKind::Manual => "manual",
        }
    }
}

/// A node's BMC, as drivers need it. The credential is a reference (`env:NAME`, `file:/path`)
/// or a literal; it is resolved only when used and never printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OobSpec {
    pub kind: Option<OobKind>,
    /// The network the BMC is reached on (`oob.network`).
    pub network: Option<String>,
    /// The node's static address on that network.
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    pub account: Option<String>,
    pub credential: Option<Secret>,
    /// libvirt: the hypervisor's URI (`qemu+ssh://…`, `qemu:///system`).
    pub libvirt_uri: Option<String>,
    /// Redfish: the system's Id, name or UUID when a BMC has several.
    pub system: Option<String>,
    /// Redfish: CA bundle for the BMC's certificate.
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Redfish: skip certificate verification (warned about on every use).
    pub insecure: bool,
    /// IPMI lanplus cipher suite.
    pub cipher_suite: Option<u8>,
}

impl OobSpec {
    /// `address:port` for messages and as the serialization key of an endpoint.
    pub fn endpoint(&self, default_port: u16) -> String {
        match self.address {
            Some(IpAddr::V6(a)) => format!("[{a}]:{}", self.port.unwrap_or(default_port)),
            Some(a) => format!("{a}:{}", self.port.unwrap_or(default_port)),
            None => "(no BMC address)".into(),
        }
    }
}

/// A network interface of the node: a NIC, or a bond of NICs, on one link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceSpec {
    pub name: String,
    /// The NetworkLink the interface is cabled to.
    pub device_link: Option<String>,
    /// The NICs, with the hardware address of an alias where the hardware profile has one.
    pub slaves: Vec<SlaveSpec>,
    /// The networks it carries; tagged ones with their VLAN.
    pub networks: Vec<InterfaceNetwork>,
    /// The link's MTU (1500 by default).
    pub mtu: i64,
    /// The link's bond, when its mode is not `disabled`.
    pub bond: Option<BondSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaveSpec {
    /// As written: a device alias or an OS NIC name.
    pub name: String,
    /// The alias's bus address (`0000:3b:00.0`); `None` for an OS name.
    pub address: Option<String>,
    /// The boot MAC, on the slave of the PXE interface.
    pub mac: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceNetwork {
    pub network: String,
    /// The 802.1q tag, when the link is trunked and this is not its default network.
    pub vlan: Option<u16>,
    /// The network's MTU, when it sets one.
    pub mtu: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BondSpec {
    /// `802.3ad`, `active-backup`, `balance-rr`.
    pub mode: String,
    pub hash: Option<String>,
    pub peer_rate: Option<String>,
    pub mon_rate: i64,
    pub up_delay: i64,
    pub down_delay: i64,
}

/// How the node is addressed on one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSpec {
    pub network: String,
    /// The interface that carries the network, when one does.
    pub interface: Option<String>,
    pub method: AddressMethod,
    /// The network's CIDR, e.g. `172.16.2.0/24`.
    pub cidr: Option<String>,
    /// The gateway of the network's default route (`0.0.0.0/0` or `::/0`), if any.
    pub gateway: Option<IpAddr>,
    /// Whether this network's routes are the node's default route (its primary network).
    pub default_route: bool,
    /// Every route of the network (route domains expanded).
    pub routes: Vec<RouteSpec>,
    pub dns_domain: Option<String>,
    pub dns_servers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method", content = "address")]
pub enum AddressMethod {
    Dhcp,
    Static(IpAddr),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSpec {
    pub subnet: Option<String>,
    pub gateway: Option<IpAddr>,
    pub metric: Option<i64>,
    /// A route written with a route domain (expanded into the `subnet` routes).
    pub routedomain: Option<String>,
    /// Produced by expanding a route domain, not written.
    pub expanded: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSpec {
    pub devices: Vec<DeviceSpec>,
    pub volume_groups: Vec<VolumeGroupSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// As written: an OS name (`sda`) or a device alias.
    pub name: String,
    /// The alias's bus address (`0:2.0.0`); `None` for an OS name.
    pub address: Option<String>,
    /// The whole device is a physical volume of this volume group.
    pub volume_group: Option<String>,
    pub partitions: Vec<PartitionSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSpec {
    pub name: String,
    pub size: Option<SizeSpec>,
    pub bootable: bool,
    /// The partition is a physical volume of this volume group.
    pub volume_group: Option<String>,
    pub filesystem: Option<FilesystemSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeGroupSpec {
    pub name: String,
    pub logical_volumes: Vec<LogicalVolumeSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalVolumeSpec {
    pub name: String,
    pub size: Option<SizeSpec>,
    pub filesystem: Option<FilesystemSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemSpec {
    pub mountpoint: Option<String>,
    /// `ext4` when the design does not say.
    pub fstype: String,
    /// `defaults` when the design does not say.
    pub mount_options: String,
}

/// A storage size: as written, and parsed (`None` when it does not parse; validation refuses
/// such a design, so drivers only see parsed sizes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeSpec {
    pub written: String,
    pub amount: Option<SizeAmount>,
    /// `>N`: at least N, and the rest of the space.
    pub at_least: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeAmount {
    Bytes(u64),
    /// A share of the containing device or volume group.
    Percent(u64),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    pub image: Option<String>,
    pub kernel: Option<String>,
    /// Kernel parameters with hardware-profile references resolved; `None` is a bare flag.
    pub kernel_params: Vec<(String, Option<String>)>,
}

impl PlatformSpec {
    /// The kernel command line the parameters render to (`quiet isolcpus=4-23`).
    pub fn cmdline(&self) -> String {
        self.kernel_params
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootActionSpec {
    pub name: String,
    /// Digest of the boot action's whole document.
    pub digest: String,
    /// Whether the node reports the action's final status (default true).
    pub signaling: bool,
    pub assets: Vec<AssetSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetSpec {
    /// `unit`, `file` or `pkg_list`.
    pub kind: String,
    pub path: Option<String>,
    /// Where to fetch the content from, instead of `data`.
    pub location: Option<String>,
    /// Octal, e.g. `644`.
    pub permissions: Option<String>,
    /// Inline content as written (before `data_pipeline`).
    pub data: Option<String>,
    pub data_pipeline: Vec<String>,
    /// `pkg_list`: package → version (`None`: any).
    pub packages: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySpec {
    pub name: String,
    pub repo_type: Option<String>,
    pub url: Option<String>,
    pub distributions: Vec<String>,
    pub components: Vec<String>,
    pub subrepos: Vec<String>,
    /// `[amd64]` when the design does not say.
    pub arches: Vec<String>,
    pub gpgkey: Option<String>,
}

/// What the site should be: what PrepareSite lays down before any node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSpec {
    pub name: String,
    pub networks: Vec<NetworkSpec>,
    pub links: Vec<LinkSpec>,
    /// The images and kernels the nodes use, sorted.
    pub images: Vec<String>,
    pub kernels: Vec<String>,
    pub ssh_keys: Vec<String>,
    pub repositories: Vec<RepositorySpec>,
    /// Fingerprint of the flat view (`flat::site`).
    pub fingerprint: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    pub cidr: Option<String>,
    pub vlan: Option<String>,
    pub mtu: Option<i64>,
    pub ranges: Vec<RangeSpec>,
    pub routes: Vec<RouteSpec>,
    pub dns_domain: Option<String>,
    pub dns_servers: Vec<String>,
    pub dhcp_relay_self_ip: Option<String>,
    pub dhcp_relay_upstream: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSpec {
    /// `static`, `dhcp` or `reserved`.
    pub kind: String,
    pub start: IpAddr,
    pub end: IpAddr,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSpec {
    pub name: String,
    pub mtu: i64,
    /// `None` when the bonding mode is `disabled`.
    pub bond: Option<BondSpec>,
    pub linkspeed: Option<String>,
    /// Whether the link carries 802.1q-tagged networks.
    pub trunked: bool,
    pub default_network: Option<String>,
    pub allowed_networks: Vec<String>,
}
