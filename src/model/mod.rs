//! The effective site: every document resolved into plain data — host-profile inheritance
//! applied, route domains expanded, FQDNs computed — with the source location of every value.
//!
//! Building it never fails and reports nothing: a reference that does not resolve is kept as
//! written (rules in `validate` report it). This module does no I/O.

pub mod filter;
pub mod inherit;
mod lower;
pub mod observed;
pub mod size;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnetwork::IpNetwork;

use crate::design::{DocId, Kind};
use crate::source::{At, Loc};

pub use lower::build;

/// A `(key, value)` pair of a string map (labels, owner_data), both with locations.
pub type Pair = (At<String>, At<String>);

/// The effective site.
#[derive(Debug, Default)]
pub struct Site {
    /// The Region documents; the last one read names the site.
    pub regions: Vec<Region>,
    pub racks: Vec<Rack>,
    pub networks: Vec<Network>,
    pub links: Vec<NetworkLink>,
    pub hardware_profiles: Vec<HardwareProfile>,
    /// Host profiles as written (not merged), for checks of profiles that no node uses.
    pub host_profiles: Vec<HostProfile>,
    /// Nodes with their effective (inherited) configuration.
    pub nodes: Vec<BaremetalNode>,
    pub boot_actions: Vec<BootAction>,
    /// Documents left out because they failed their schema.
    pub left_out: Vec<LeftOut>,
    /// A second document of a kind with a name already used (the first one is used).
    pub duplicates: Vec<Duplicate>,
    index: HashMap<(Kind, String), usize>,
}

#[derive(Clone, Debug)]
pub struct LeftOut {
    pub kind: Kind,
    pub name: String,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Duplicate {
    pub kind: Kind,
    pub name: At<String>,
    pub first: Loc,
}

impl Site {
    /// The site's Region: the last one read.
    pub fn region(&self) -> Option<&Region> {
        self.regions.last()
    }

    fn find(&self, kind: Kind, name: &str) -> Option<usize> {
        self.index.get(&(kind, name.to_string())).copied()
    }

    pub fn network(&self, name: &str) -> Option<&Network> {
        self.find(Kind::Network, name).map(|i| &self.networks[i])
    }
    pub fn link(&self, name: &str) -> Option<&NetworkLink> {
        self.find(Kind::NetworkLink, name).map(|i| &self.links[i])
    }
    pub fn rack(&self, name: &str) -> Option<&Rack> {
        self.find(Kind::Rack, name).map(|i| &self.racks[i])
    }
    pub fn hardware_profile(&self, name: &str) -> Option<&HardwareProfile> {
        self.find(Kind::HardwareProfile, name)
            .map(|i| &self.hardware_profiles[i])
    }
    pub fn host_profile(&self, name: &str) -> Option<&HostProfile> {
        self.find(Kind::HostProfile, name)
            .map(|i| &self.host_profiles[i])
    }
    pub fn node(&self, name: &str) -> Option<&BaremetalNode> {
        self.find(Kind::BaremetalNode, name).map(|i| &self.nodes[i])
    }

    /// Whether a document of this kind and name was left out for failing its schema.
    pub fn was_left_out(&self, kind: Kind, name: &str) -> bool {
        self.left_out
            .iter()
            .any(|l| l.kind == kind && l.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Region {
    pub name: At<String>,
    pub doc: DocId,
    pub authorized_keys: Vec<At<String>>,
    pub tag_definitions: Vec<TagDefinition>,
    pub repositories: Vec<Repository>,
    pub remove_unlisted: Option<At<bool>>,
}

#[derive(Clone, Debug)]
pub struct TagDefinition {
    pub tag: At<String>,
    pub definition_type: At<String>,
    pub definition: At<String>,
}

#[derive(Clone, Debug)]
pub struct Repository {
    pub name: At<String>,
    pub repo_type: Option<At<String>>,
    pub url: Option<At<String>>,
    pub distributions: Vec<At<String>>,
    pub components: Vec<At<String>>,
    pub subrepos: Vec<At<String>>,
    pub arches: Vec<At<String>>,
    pub gpgkey: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct Rack {
    pub name: At<String>,
    pub doc: DocId,
    pub tor_switches: Vec<TorSwitch>,
    pub location: Vec<Pair>,
    pub local_networks: Vec<At<String>>,
    pub labels: Vec<Pair>,
}

#[derive(Clone, Debug)]
pub struct TorSwitch {
    pub name: At<String>,
    pub mgmt_ip: Option<At<String>>,
    pub sdn_api_uri: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub name: At<String>,
    pub doc: DocId,
    /// The CIDR as written; `None` when it does not parse (a schema error).
    pub cidr: Option<At<IpNetwork>>,
    pub vlan: Option<At<String>>,
    pub mtu: Option<At<i64>>,
    pub routedomain: Option<At<String>>,
    pub ranges: Vec<AddressRange>,
    /// Routes as written, then those expanded from route domains (`expanded == true`).
    pub routes: Vec<Route>,
    pub dns_domain: Option<At<String>>,
    pub dns_servers: Option<At<String>>,
    pub dhcp_relay_self_ip: Option<At<String>>,
    pub dhcp_relay_upstream: Option<At<String>>,
    pub labels: Vec<Pair>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeType {
    Static,
    Dhcp,
    Reserved,
}

#[derive(Clone, Debug)]
pub struct AddressRange {
    pub kind: At<RangeType>,
    pub start: At<IpAddr>,
    pub end: At<IpAddr>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub subnet: Option<At<String>>,
    pub gateway: Option<At<IpAddr>>,
    pub metric: Option<At<i64>>,
    pub routedomain: Option<At<String>>,
    pub loc: Loc,
    /// Produced by expanding a `routedomain` route, not written.
    pub expanded: bool,
}

#[derive(Clone, Debug)]
pub struct NetworkLink {
    pub name: At<String>,
    pub doc: DocId,
    pub bonding: Bonding,
    pub mtu: Option<At<i64>>,
    pub linkspeed: Option<At<String>>,
    pub trunking_mode: Option<At<String>>,
    pub default_network: Option<At<String>>,
    pub allowed_networks: Vec<At<String>>,
    pub labels: Vec<Pair>,
}

impl NetworkLink {
    pub const DEFAULT_MTU: i64 = 1500;

    pub fn mtu(&self) -> i64 {
        self.mtu.as_ref().map_or(Self::DEFAULT_MTU, |m| m.v)
    }

    pub fn trunked(&self) -> bool {
        self.trunking_mode.as_ref().is_some_and(|m| m.v == "802.1q")
    }
}

#[derive(Clone, Debug, Default)]
pub struct Bonding {
    /// The `bonding` mapping, or the link's name when there is none.
    pub loc: Loc,
    pub mode: Option<At<String>>,
    pub hash: Option<At<String>>,
    pub peer_rate: Option<At<String>>,
    pub mon_rate: Option<At<i64>>,
    pub up_delay: Option<At<i64>>,
    pub down_delay: Option<At<i64>>,
}

impl Bonding {
    /// `disabled` when not given.
    pub fn mode(&self) -> &str {
        self.mode.as_ref().map_or("disabled", |m| m.v.as_str())
    }
    pub fn mon_rate(&self) -> i64 {
        self.mon_rate.as_ref().map_or(100, |v| v.v)
    }
    pub fn up_delay(&self) -> i64 {
        self.up_delay.as_ref().map_or(200, |v| v.v)
    }
    pub fn down_delay(&self) -> i64 {
        self.down_delay.as_ref().map_or(200, |v| v.v)
    }
}

#[derive(Clone, Debug)]
pub struct HardwareProfile {
    pub name: At<String>,
    pub doc: DocId,
    pub vendor: Option<At<String>>,
    pub boot_mode: Option<At<String>>,
    pub bootstrap_protocol: Option<At<String>>,
    pub pxe_interface: Option<At<i64>>,
    pub device_aliases: Vec<DeviceAlias>,
    pub cpu_sets: Vec<Pair>,
    pub hugepages: Vec<Hugepages>,
}

#[derive(Clone, Debug)]
pub struct DeviceAlias {
    pub name: At<String>,
    pub address: Option<At<String>>,
    pub bus_type: Option<At<String>>,
    pub dev_type: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct Hugepages {
    pub name: At<String>,
    pub size: Option<At<String>>,
    pub count: Option<At<String>>,
}

/// The host configuration shared by host profiles and nodes.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    pub hardware_profile: Option<At<String>>,
    pub primary_network: Option<At<String>>,
    pub oob: Oob,
    pub rack: Option<At<String>>,
    pub tags: Vec<At<String>>,
    pub owner_data: Vec<Pair>,
    pub boot_mac: Option<At<String>>,
    pub image: Option<At<String>>,
    pub kernel: Option<At<String>>,
    // The large sections are shared between a profile and the nodes that inherit them
    // unchanged (an `Arc` clone, not a deep copy).
    pub kernel_params: Arc<Vec<KernelParam>>,
    pub devices: Arc<Vec<PhysicalDevice>>,
    pub volume_groups: Arc<Vec<VolumeGroup>>,
    pub interfaces: Arc<Vec<Interface>>,
}

#[derive(Clone, Debug, Default)]
pub struct Oob {
    /// The `oob` mapping; `Loc::NONE` when there is none.
    pub loc: Loc,
    pub kind: Option<At<String>>,
    pub network: Option<At<String>>,
    pub account: Option<At<String>>,
    /// A secret, or a reference to one (`env:NAME`, `file:/path`): never print its value.
    pub credential: Option<At<crate::vocab::Secret>>,
    pub libvirt_uri: Option<At<String>>,
    /// BMC port, when not the protocol's default (Redfish 443, IPMI 623).
    pub port: Option<At<String>>,
    /// Redfish: which system behind the BMC (Id, name or UUID), when there are several.
    pub system: Option<At<String>>,
    /// Redfish: a PEM CA bundle that signs the BMC's certificate.
    pub ca_bundle: Option<At<String>>,
    /// Redfish: do not verify the BMC's certificate (warned about on every use).
    pub insecure: Option<At<bool>>,
    /// IPMI: the lanplus cipher suite (default 3).
    pub cipher_suite: Option<At<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// `true`: rendered as a bare flag.
    Flag,
    /// `false` or null: not rendered.
    Off,
    Text(String),
}

#[derive(Clone, Debug)]
pub struct KernelParam {
    pub key: At<String>,
    pub value: At<ParamValue>,
}

#[derive(Clone, Debug)]
pub struct PhysicalDevice {
    pub name: At<String>,
    pub labels: Vec<Pair>,
    pub volume_group: Option<At<String>>,
    pub partitions: Vec<Partition>,
    /// Whether `partitions` was written (even empty).
    pub has_partitions_key: bool,
}

#[derive(Clone, Debug)]
pub struct Partition {
    pub name: At<String>,
    pub loc: Loc,
    pub size: Option<At<String>>,
    pub bootable: Option<At<bool>>,
    pub volume_group: Option<At<String>>,
    pub filesystem: Option<Filesystem>,
}

#[derive(Clone, Debug)]
pub struct Filesystem {
    pub loc: Loc,
    pub mountpoint: Option<At<String>>,
    /// `ext4` when not given.
    pub fstype: Option<At<String>>,
    pub mount_options: Option<At<String>>,
}

#[derive(Clone, Debug)]
pub struct VolumeGroup {
    pub name: At<String>,
    pub logical_volumes: Vec<LogicalVolume>,
}

#[derive(Clone, Debug)]
pub struct LogicalVolume {
    pub name: At<String>,
    pub loc: Loc,
    pub size: Option<At<String>>,
    pub filesystem: Option<Filesystem>,
}

#[derive(Clone, Debug)]
pub struct Interface {
    pub name: At<String>,
    pub device_link: Option<At<String>>,
    pub slaves: Vec<At<String>>,
    pub networks: Vec<At<String>>,
    pub labels: Vec<Pair>,
}

#[derive(Clone, Debug)]
pub struct HostProfile {
    pub name: At<String>,
    pub doc: DocId,
    pub parent: Option<At<String>>,
    /// The profile as written, without inheritance.
    pub config: HostConfig,
    /// Whether any node inherits from this profile.
    pub used: bool,
}

/// Why a node's profile chain could not be followed to its end.
#[derive(Clone, Debug)]
pub enum ChainError {
    /// `host_profile` names a profile that does not exist.
    Missing(At<String>),
    /// The chain comes back to a profile already in it.
    Loop { at: At<String>, chain: Vec<String> },
}

#[derive(Clone, Debug)]
pub struct BaremetalNode {
    pub name: At<String>,
    pub doc: DocId,
    /// The node's own `host_profile`.
    pub host_profile: Option<At<String>>,
    /// The profiles inherited from, nearest first.
    pub profile_chain: Vec<String>,
    pub chain_error: Option<ChainError>,
    /// The effective configuration.
    pub config: HostConfig,
    pub addressing: Vec<Address>,
    /// Name plus the primary network's DNS domain (`.local` without one).
    pub fqdn: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressValue {
    Dhcp,
    Static(IpAddr),
}

#[derive(Clone, Debug)]
pub struct Address {
    pub network: At<String>,
    pub address: At<AddressValue>,
}

impl BaremetalNode {
    /// The node's static address on a network.
    pub fn static_address(&self, network: &str) -> Option<&At<AddressValue>> {
        self.addressing
            .iter()
            .find(|a| a.network.v == network && matches!(a.address.v, AddressValue::Static(_)))
            .map(|a| &a.address)
    }
}

#[derive(Clone, Debug)]
pub struct BootAction {
    pub name: At<String>,
    pub doc: DocId,
    /// Digest of the whole `data` (what a deploy lays down changes with it).
    pub digest: String,
    pub signaling: Option<At<bool>>,
    pub node_filter: Option<filter::NodeFilter>,
    pub assets: Vec<Asset>,
}

#[derive(Clone, Debug)]
pub struct Asset {
    pub loc: Loc,
    pub kind: Option<At<String>>,
    pub path: Option<At<String>>,
    pub location: Option<At<String>>,
    pub permissions: Option<At<String>>,
    /// Inline content as written (a `file` or `unit`), before `data_pipeline`.
    pub data: Option<At<String>>,
    pub data_pipeline: Vec<At<String>>,
    /// For `pkg_list`: package → version (None for "any").
    pub packages: Vec<(At<String>, Option<At<String>>)>,
    /// Whether `data` was given at all.
    pub has_data: bool,
}

pub use crate::source::digest;
