//! The desired state of each node and of the site, made from the effective site model once per
//! plan: device aliases resolved to hardware addresses, networks to their CIDR, VLAN, MTU,
//! routes and DNS, links to their bonds, sizes parsed, hardware-profile references in kernel
//! parameters resolved, the boot actions that select the node with their assets, the region's
//! keys and repositories. Pure: no I/O.
//!
//! The node's PXE interface (where the boot MAC belongs) is the interface that carries a
//! network named `pxe`, else the one at the hardware profile's `pxe_interface` index, else the
//! first; its PXE network is the untagged network on it.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::model::observed::Snapshot;
use crate::model::size::{Amount, Size};
use crate::model::{
    AddressValue, BaremetalNode, Filesystem, HardwareProfile, ParamValue, RangeType, Site,
};
use crate::source::At;
use crate::spec::flat;
use crate::spec::{
    AddressMethod, AddressSpec, AssetSpec, BondSpec, BootActionSpec, DeviceAliasSpec, DeviceSpec,
    FilesystemSpec, HardwareSpec, InterfaceNetwork, InterfaceSpec, LinkSpec, LogicalVolumeSpec,
    NetworkSpec, NodeSpec, OobKind, OobSpec, PartitionSpec, PlatformSpec, RangeSpec,
    RepositorySpec, RouteSpec, SiteSpec, SizeAmount, SizeSpec, SlaveSpec, StorageSpec,
    VolumeGroupSpec,
};
use crate::vocab::Secret;

fn opt(v: &Option<At<String>>) -> Option<String> {
    v.as_ref().map(|a| a.v.clone())
}

fn strings(v: &[At<String>]) -> Vec<String> {
    v.iter().map(|a| a.v.clone()).collect()
}

/// What every node's desired state shares, made once per plan: the boot actions, the region's
/// keys and repositories, and the site's networks and links resolved (by name).
pub struct Shared {
    boot_actions: Vec<Arc<BootActionSpec>>,
    ssh_keys: Arc<[String]>,
    repositories: Arc<[RepositorySpec]>,
    site: SiteSpec,
    networks: std::collections::HashMap<String, usize>,
    links: std::collections::HashMap<String, usize>,
}

impl Shared {
    pub fn new(site: &Site) -> Shared {
        Shared::with_site(site, self::site(site))
    }

    /// [`Shared::new`] with the site's desired state already made (`plan` makes it once).
    pub fn with_site(site: &Site, spec: SiteSpec) -> Shared {
        let region = site.region();
        Shared {
            boot_actions: site
                .boot_actions
                .iter()
                .map(|ba| Arc::new(boot_action(ba)))
                .collect(),
            ssh_keys: region
                .map(|r| strings(&r.authorized_keys))
                .unwrap_or_default()
                .into(),
            repositories: region.map(repositories).unwrap_or_default().into(),
            // The first document of a name is the one used (as `Site::network` finds it).
            networks: spec
                .networks
                .iter()
                .enumerate()
                .rev()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
            links: spec
                .links
                .iter()
                .enumerate()
                .rev()
                .map(|(i, l)| (l.name.clone(), i))
                .collect(),
            site: spec,
        }
    }

    fn network(&self, name: &str) -> Option<&NetworkSpec> {
        self.networks.get(name).map(|&i| &self.site.networks[i])
    }

    fn link(&self, name: &str) -> Option<&LinkSpec> {
        self.links.get(name).map(|&i| &self.site.links[i])
    }
}

fn boot_action(ba: &crate::model::BootAction) -> BootActionSpec {
    BootActionSpec {
        name: ba.name.v.clone(),
        digest: ba.digest.clone(),
        signaling: ba.signaling.as_ref().is_none_or(|s| s.v),
        assets: ba
            .assets
            .iter()
            .map(|a| AssetSpec {
                kind: opt(&a.kind).unwrap_or_default(),
                path: opt(&a.path),
                location: opt(&a.location),
                permissions: opt(&a.permissions),
                data: opt(&a.data),
                data_pipeline: strings(&a.data_pipeline),
                packages: a
                    .packages
                    .iter()
                    .map(|(k, v)| (k.v.clone(), opt(v)))
                    .collect(),
            })
            .collect(),
    }
}

/// The desired state of a node of the design, with its fingerprint.
pub fn node(site: &Site, n: &BaremetalNode) -> NodeSpec {
    node_with(&Shared::new(site), site, n)
}

/// [`node`], with what the nodes share made once.
pub fn node_with(shared: &Shared, site: &Site, n: &BaremetalNode) -> NodeSpec {
    let c = &n.config;
    let hw = c
        .hardware_profile
        .as_ref()
        .and_then(|h| site.hardware_profile(&h.v));
    let alias = |name: &str| {
        hw.and_then(|h| h.device_aliases.iter().find(|a| a.name.v == name))
            .and_then(|a| opt(&a.address))
    };
    let boot_mac = c
        .boot_mac
        .as_ref()
        .map(|m| m.v.to_ascii_lowercase().replace('-', ":"));
    let mut interfaces: Vec<InterfaceSpec> = c
        .interfaces
        .iter()
        .map(|i| {
            let link = i.device_link.as_ref().and_then(|l| shared.link(&l.v));
            InterfaceSpec {
                name: i.name.v.clone(),
                device_link: opt(&i.device_link),
                slaves: i
                    .slaves
                    .iter()
                    .map(|s| SlaveSpec {
                        name: s.v.clone(),
                        address: alias(&s.v),
                        mac: None,
                    })
                    .collect(),
                networks: i
                    .networks
                    .iter()
                    .map(|name| {
                        let net = shared.network(&name.v);
                        let tagged = link.is_some_and(|l| {
                            l.trunked && l.default_network.as_ref().is_none_or(|d| *d != name.v)
                        });
                        InterfaceNetwork {
                            network: name.v.clone(),
                            vlan: net
                                .filter(|_| tagged)
                                .and_then(|n| n.vlan.as_ref())
                                .and_then(|v| v.parse().ok()),
                            mtu: net.and_then(|n| n.mtu),
                        }
                    })
                    .collect(),
                mtu: link.map_or(crate::model::NetworkLink::DEFAULT_MTU, |l| l.mtu),
                bond: link.and_then(|l| l.bond.clone()),
            }
        })
        .collect();
    let pxe_index = interfaces
        .iter()
        .position(|i| i.networks.iter().any(|n| n.network == "pxe"))
        .or_else(|| {
            hw.and_then(|h| h.pxe_interface.as_ref())
                .and_then(|p| usize::try_from(p.v).ok())
                .filter(|&p| p < interfaces.len())
        })
        .or((!interfaces.is_empty()).then_some(0));
    let pxe_network = pxe_index.and_then(|i| {
        interfaces[i]
            .networks
            .iter()
            .find(|n| n.vlan.is_none())
            .map(|n| n.network.clone())
    });
    if let (Some(i), Some(mac)) = (pxe_index, &boot_mac)
        && let Some(s) = interfaces[i].slaves.first_mut()
    {
        s.mac = Some(mac.clone());
    }
    let addresses = n
        .addressing
        .iter()
        .map(|a| {
            let net = shared.network(&a.network.v);
            let routes: Vec<RouteSpec> = net.map(|n| n.routes.clone()).unwrap_or_default();
            let gateway = routes
                .iter()
                .find(|r| matches!(r.subnet.as_deref(), Some("0.0.0.0/0" | "::/0")))
                .and_then(|r| r.gateway);
            AddressSpec {
                network: a.network.v.clone(),
                interface: interfaces
                    .iter()
                    .find(|i| i.networks.iter().any(|x| x.network == a.network.v))
                    .map(|i| i.name.clone()),
                method: match &a.address.v {
                    AddressValue::Dhcp => AddressMethod::Dhcp,
                    AddressValue::Static(ip) => AddressMethod::Static(*ip),
                },
                cidr: net.and_then(|n| n.cidr.clone()),
                gateway,
                default_route: c
                    .primary_network
                    .as_ref()
                    .is_some_and(|p| p.v == a.network.v),
                routes,
                dns_domain: net.and_then(|n| n.dns_domain.clone()),
                dns_servers: net.map(|n| n.dns_servers.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let storage = StorageSpec {
        devices: c
            .devices
            .iter()
            .map(|d| DeviceSpec {
                name: d.name.v.clone(),
                address: alias(&d.name.v),
                volume_group: opt(&d.volume_group),
                partitions: d
                    .partitions
                    .iter()
                    .map(|p| PartitionSpec {
                        name: p.name.v.clone(),
                        size: p.size.as_ref().map(size),
                        bootable: p.bootable.as_ref().is_some_and(|b| b.v),
                        volume_group: opt(&p.volume_group),
                        filesystem: p.filesystem.as_ref().map(filesystem),
                    })
                    .collect(),
            })
            .collect(),
        volume_groups: c
            .volume_groups
            .iter()
            .map(|vg| VolumeGroupSpec {
                name: vg.name.v.clone(),
                logical_volumes: vg
                    .logical_volumes
                    .iter()
                    .map(|lv| LogicalVolumeSpec {
                        name: lv.name.v.clone(),
                        size: lv.size.as_ref().map(size),
                        filesystem: lv.filesystem.as_ref().map(filesystem),
                    })
                    .collect(),
            })
            .collect(),
    };
    let platform = PlatformSpec {
        image: opt(&c.image),
        kernel: opt(&c.kernel),
        kernel_params: c
            .kernel_params
            .iter()
            .filter_map(|p| match &p.value.v {
                ParamValue::Flag => Some((p.key.v.clone(), None)),
                ParamValue::Off => None,
                ParamValue::Text(t) => Some((p.key.v.clone(), Some(resolve_hw(hw, t)))),
            })
            .collect(),
    };
    let boot_actions = site
        .boot_actions
        .iter()
        .zip(&shared.boot_actions)
        .filter(|(ba, _)| ba.node_filter.as_ref().is_none_or(|f| f.matches(site, n)))
        .map(|(_, spec)| spec.clone())
        .collect();
    let oob_address =
        c.oob
            .network
            .as_ref()
            .and_then(|net| match n.static_address(&net.v).map(|a| &a.v) {
                Some(AddressValue::Static(ip)) => Some(*ip),
                _ => None,
            });
    let mut spec = NodeSpec {
        name: n.name.v.clone(),
        fqdn: n.fqdn.clone(),
        rack: opt(&c.rack),
        boot_mac,
        tags: strings(&c.tags),
        owner_data: c
            .owner_data
            .iter()
            .map(|(k, v)| (k.v.clone(), v.v.clone()))
            .collect(),
        hardware: hw.map(hardware).unwrap_or_else(|| HardwareSpec {
            profile: opt(&c.hardware_profile),
            ..HardwareSpec::default()
        }),
        primary_network: opt(&c.primary_network),
        pxe_network,
        interfaces,
        addresses,
        storage,
        platform,
        boot_actions,
        ssh_keys: shared.ssh_keys.clone(),
        repositories: shared.repositories.clone(),
        oob: OobSpec {
            kind: c.oob.kind.as_ref().and_then(|k| OobKind::parse(&k.v)),
            network: opt(&c.oob.network),
            address: oob_address,
            port: c.oob.port.as_ref().and_then(|p| p.v.parse().ok()),
            account: opt(&c.oob.account),
            credential: c.oob.credential.as_ref().map(|s| s.v.clone()),
            libvirt_uri: opt(&c.oob.libvirt_uri),
            system: opt(&c.oob.system),
            ca_bundle: c.oob.ca_bundle.as_ref().map(|p| p.v.clone().into()),
            insecure: c.oob.insecure.as_ref().is_some_and(|i| i.v),
            cipher_suite: c.oob.cipher_suite.as_ref().and_then(|p| p.v.parse().ok()),
        },
        fingerprint: String::new(),
    };
    spec.fingerprint = flat::fingerprint(&flat::node(&spec));
    spec
}

/// What drivers need to release a node that is no longer in the design, from what the journal
/// recorded of it (its flat view and fingerprint).
pub fn recorded(name: &str, snapshot: &Snapshot, fingerprint: Option<&str>) -> NodeSpec {
    NodeSpec {
        name: name.to_string(),
        fqdn: name.to_string(),
        rack: snapshot.get("metadata.rack").cloned(),
        boot_mac: snapshot.get("metadata.boot_mac").cloned(),
        primary_network: snapshot.get("primary_network").cloned(),
        oob: OobSpec {
            kind: snapshot.get("oob.type").and_then(|k| OobKind::parse(k)),
            network: snapshot.get("oob.network").cloned(),
            account: snapshot.get("oob.account").cloned(),
            // A literal was never recorded; a reference can still be resolved.
            credential: snapshot
                .get("oob.credential")
                .filter(|c| !c.starts_with("literal:"))
                .map(|c| Secret::new(c.clone())),
            ..OobSpec::default()
        },
        fingerprint: fingerprint.unwrap_or_default().to_string(),
        ..NodeSpec::default()
    }
}

/// The desired state of the site, with its fingerprint.
pub fn site(site: &Site) -> SiteSpec {
    let mut images = BTreeSet::new();
    let mut kernels = BTreeSet::new();
    for n in &site.nodes {
        if let Some(i) = &n.config.image {
            images.insert(i.v.clone());
        }
        if let Some(k) = &n.config.kernel {
            kernels.insert(k.v.clone());
        }
    }
    let region = site.region();
    let mut spec = SiteSpec {
        name: region.map_or_else(String::new, |r| r.name.v.clone()),
        networks: site
            .networks
            .iter()
            .map(|n| NetworkSpec {
                name: n.name.v.clone(),
                cidr: n.cidr.as_ref().map(|c| c.v.to_string()),
                vlan: opt(&n.vlan),
                mtu: n.mtu.as_ref().map(|m| m.v),
                ranges: n
                    .ranges
                    .iter()
                    .map(|r| RangeSpec {
                        kind: match r.kind.v {
                            RangeType::Static => "static",
                            RangeType::Dhcp => "dhcp",
                            RangeType::Reserved => "reserved",
                        }
                        .into(),
                        start: r.start.v,
                        end: r.end.v,
                    })
                    .collect(),
                routes: routes(n),
                dns_domain: opt(&n.dns_domain),
                dns_servers: dns_servers(n),
                dhcp_relay_self_ip: opt(&n.dhcp_relay_self_ip),
                dhcp_relay_upstream: opt(&n.dhcp_relay_upstream),
            })
            .collect(),
        links: site
            .links
            .iter()
            .map(|l| LinkSpec {
                name: l.name.v.clone(),
                mtu: l.mtu(),
                bond: bond(&l.bonding),
                linkspeed: opt(&l.linkspeed),
                trunked: l.trunked(),
                default_network: opt(&l.default_network),
                allowed_networks: strings(&l.allowed_networks),
            })
            .collect(),
        images: images.into_iter().collect(),
        kernels: kernels.into_iter().collect(),
        ssh_keys: region
            .map(|r| strings(&r.authorized_keys))
            .unwrap_or_default(),
        repositories: region.map(repositories).unwrap_or_default(),
        fingerprint: String::new(),
    };
    spec.fingerprint = flat::fingerprint(&flat::site(&spec));
    spec
}

fn bond(b: &crate::model::Bonding) -> Option<BondSpec> {
    (b.mode() != "disabled").then(|| BondSpec {
        mode: b.mode().to_string(),
        hash: opt(&b.hash),
        peer_rate: opt(&b.peer_rate),
        mon_rate: b.mon_rate(),
        up_delay: b.up_delay(),
        down_delay: b.down_delay(),
    })
}

fn routes(n: &crate::model::Network) -> Vec<RouteSpec> {
    n.routes
        .iter()
        .map(|r| RouteSpec {
            subnet: opt(&r.subnet),
            gateway: r.gateway.as_ref().map(|g| g.v),
            metric: r.metric.as_ref().map(|m| m.v),
            routedomain: opt(&r.routedomain),
            expanded: r.expanded,
        })
        .collect()
}

fn dns_servers(n: &crate::model::Network) -> Vec<String> {
    n.dns_servers.as_ref().map_or_else(Vec::new, |s| {
        s.v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

fn repositories(r: &crate::model::Region) -> Vec<RepositorySpec> {
    r.repositories
        .iter()
        .map(|repo| RepositorySpec {
            name: repo.name.v.clone(),
            repo_type: opt(&repo.repo_type),
            url: opt(&repo.url),
            distributions: strings(&repo.distributions),
            components: strings(&repo.components),
            subrepos: strings(&repo.subrepos),
            arches: if repo.arches.is_empty() {
                vec!["amd64".into()]
            } else {
                strings(&repo.arches)
            },
            gpgkey: opt(&repo.gpgkey),
        })
        .collect()
}

fn hardware(h: &HardwareProfile) -> HardwareSpec {
    HardwareSpec {
        profile: Some(h.name.v.clone()),
        vendor: opt(&h.vendor),
        boot_mode: opt(&h.boot_mode),
        bootstrap_protocol: opt(&h.bootstrap_protocol),
        pxe_interface: h.pxe_interface.as_ref().map(|p| p.v),
        device_aliases: h
            .device_aliases
            .iter()
            .map(|a| DeviceAliasSpec {
                name: a.name.v.clone(),
                bus_type: opt(&a.bus_type),
                address: opt(&a.address),
                dev_type: opt(&a.dev_type),
            })
            .collect(),
    }
}

fn size(s: &At<String>) -> SizeSpec {
    let parsed = Size::parse(&s.v).ok();
    SizeSpec {
        written: s.v.clone(),
        amount: parsed.map(|p| match p.amount {
            Amount::Bytes(b) => SizeAmount::Bytes(b),
            Amount::Percent(p) => SizeAmount::Percent(p),
        }),
        at_least: parsed.is_some_and(|p| p.at_least),
    }
}

fn filesystem(f: &Filesystem) -> FilesystemSpec {
    FilesystemSpec {
        mountpoint: opt(&f.mountpoint),
        fstype: opt(&f.fstype).unwrap_or_else(|| "ext4".into()),
        mount_options: opt(&f.mount_options).unwrap_or_else(|| "defaults".into()),
    }
}

/// A kernel parameter's value with `hardwareprofile:cpuset.NAME` and
/// `hardwareprofile:hugepages.NAME.size|count` replaced by the hardware profile's values.
fn resolve_hw(hw: Option<&HardwareProfile>, v: &str) -> String {
    let Some(r) = v.strip_prefix("hardwareprofile:") else {
        return v.to_string();
    };
    let Some(h) = hw else { return v.to_string() };
    let parts: Vec<&str> = r.split('.').collect();
    let found = match parts.as_slice() {
        ["cpuset", name] => h
            .cpu_sets
            .iter()
            .find(|(k, _)| k.v == *name)
            .map(|(_, v)| v.v.clone()),
        ["hugepages", name, field @ ("size" | "count")] => h
            .hugepages
            .iter()
            .find(|p| p.name.v == *name)
            .and_then(|p| if *field == "size" { &p.size } else { &p.count }.as_ref())
            .map(|s| s.v.clone()),
        _ => None,
    };
    found.unwrap_or_else(|| v.to_string())
}

/// Put back the literal credentials a saved plan withheld (`Secret::withheld`), from the design
/// it was made from (the caller has checked the design's content hash).
pub fn restore_secrets(plan: &mut crate::plan::Plan, site: &Site) {
    for c in &mut plan.nodes {
        let Some(spec) = c.desired.as_mut() else {
            continue;
        };
        if spec
            .oob
            .credential
            .as_ref()
            .is_some_and(Secret::is_withheld)
        {
            spec.oob.credential = site
                .node(&c.node)
                .and_then(|n| n.config.oob.credential.as_ref())
                .map(|s| s.v.clone());
        }
    }
}
