//! The rules, one file each, named by code and name. `ALL` is the registry, in code order.

mod dd000_parse;
mod dd001_schema;
mod dd002_references;
mod dd003_duplicate_names;
mod dd005_layering_policy;
mod dd006_layering_parent;
mod dd007_layering_action;
mod dd008_substitution;
mod dd009_render_cycle;
mod dd1001_boot_storage;
mod dd1006_bond_rational;
mod dd1007_unique_network;
mod dd1008_hugepages;
mod dd1009_storage_partitioning;
mod dd1010_storage_sizing;
mod dd1011_storage_mountpoints;
mod dd2002_ip_locality;
mod dd2003_mtu_rational;
mod dd2004_trunking_rational;
mod dd2005_duplicate_ips;
mod dd2006_cidr_validity;
mod dd2007_range_overlap;
mod dd2008_range_in_cidr;
mod dd2009_cidr_overlap;
mod dd2010_static_in_dhcp;
mod dd2011_duplicate_mac;
mod dd3001_platform;
mod dd3003_hostname;
mod dd4001_oob_ipmi;
mod dd4002_oob_libvirt;
mod dd4003_bootaction_scope;
mod dd4004_bootaction_packages;
mod dd4005_oob_redfish;
mod dd4006_duplicate_oob;

use crate::validate::Rule;

pub static ALL: &[&dyn Rule] = &[
    &dd000_parse::Parse,
    &dd001_schema::Schema,
    &dd002_references::References,
    &dd003_duplicate_names::DuplicateNames,
    &dd005_layering_policy::LayeringPolicy,
    &dd006_layering_parent::LayeringParent,
    &dd007_layering_action::LayeringAction,
    &dd008_substitution::Substitution,
    &dd009_render_cycle::RenderCycle,
    &dd1001_boot_storage::BootStorage,
    &dd1006_bond_rational::BondRational,
    &dd1007_unique_network::UniqueNetwork,
    &dd1008_hugepages::Hugepages,
    &dd1009_storage_partitioning::StoragePartitioning,
    &dd1010_storage_sizing::StorageSizing,
    &dd1011_storage_mountpoints::StorageMountpoints,
    &dd2002_ip_locality::IpLocality,
    &dd2003_mtu_rational::MtuRational,
    &dd2004_trunking_rational::TrunkingRational,
    &dd2005_duplicate_ips::DuplicateIps,
    &dd2006_cidr_validity::CidrValidity,
    &dd2007_range_overlap::RangeOverlap,
    &dd2008_range_in_cidr::RangeInCidr,
    &dd2009_cidr_overlap::CidrOverlap,
    &dd2010_static_in_dhcp::StaticInDhcp,
    &dd2011_duplicate_mac::DuplicateMac,
    &dd3001_platform::Platform,
    &dd3003_hostname::Hostname,
    &dd4001_oob_ipmi::OobIpmi,
    &dd4002_oob_libvirt::OobLibvirt,
    &dd4003_bootaction_scope::BootactionScope,
    &dd4004_bootaction_packages::BootactionPackages,
    &dd4005_oob_redfish::OobRedfish,
    &dd4006_duplicate_oob::DuplicateOob,
];
