//! Lowering: schema-valid documents → the effective [`Site`]. Resolves host-profile chains
//! (with a memo, so a thousand nodes on one profile merge it once), expands route domains and
//! computes FQDNs. Unresolvable references are kept as written for the rules to report.

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::design::yaml::{Node, Value};
use crate::design::{Design, DocId, Kind};
use crate::model::filter::{Filter, NodeFilter, SetOp};
use crate::model::inherit::{merge_field, merge_host};
use crate::model::*;
use crate::source::{At, Loc};

fn text(n: &Node, key: &str) -> Option<At<String>> {
    let v = n.get(key)?;
    v.scalar_text().map(|t| At::new(t, v.loc))
}

/// An integer field. The old schemas typed these as `number`: a float is read as its whole part.
fn int(n: &Node, key: &str) -> Option<At<i64>> {
    let v = n.get(key)?;
    let i = match v.value {
        Value::Int(i) => i,
        Value::Float(f) if f.is_finite() => f.trunc() as i64,
        _ => return None,
    };
    Some(At::new(i, v.loc))
}

fn boolean(n: &Node, key: &str) -> Option<At<bool>> {
    let v = n.get(key)?;
    v.as_bool().map(|b| At::new(b, v.loc))
}

fn texts(n: &Node, key: &str) -> Vec<At<String>> {
    n.get(key)
        .and_then(Node::as_seq)
        .map(|s| {
            s.iter()
                .filter_map(|v| v.scalar_text().map(|t| At::new(t, v.loc)))
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(n: Option<&Node>) -> Vec<Pair> {
    n.and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        At::new(k.name.clone(), k.loc),
                        At::new(v.scalar_text().unwrap_or_default(), v.loc),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Named entries of a mapping: `(name, value)`.
fn named(n: Option<&Node>) -> impl Iterator<Item = (At<String>, &Node)> {
    n.and_then(Node::as_map)
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (At::new(k.name.clone(), k.loc), v)))
}

fn seq(n: Option<&Node>) -> &[Node] {
    n.and_then(Node::as_seq).unwrap_or(&[])
}

/// Build the effective site from a loaded design.
pub fn build(design: &Design) -> Site {
    let mut site = Site::default();
    let mut profile_data: HashMap<String, (DocId, &Node)> = HashMap::new();
    let mut node_docs = Vec::new();
    for (i, d) in design.documents.iter().enumerate() {
        let id = DocId(i as u32);
        if !d.schema_valid {
            site.left_out.push(LeftOut {
                kind: d.kind,
                name: d.name.v.clone(),
                loc: d.name.loc,
            });
            continue;
        }
        let key = (d.kind, d.name.v.clone());
        if d.kind != Kind::Region
            && let Some(&first) = site.index.get(&key)
        {
            let first = first_loc(&site, d.kind, first);
            site.duplicates.push(Duplicate {
                kind: d.kind,
                name: d.name.clone(),
                first,
            });
            continue;
        }
        let data = &d.data;
        let name = d.name.clone();
        let at = match d.kind {
            Kind::Region => {
                site.regions.push(region(name, id, data));
                site.regions.len() - 1
            }
            Kind::Rack => {
                site.racks.push(rack(name, id, data));
                site.racks.len() - 1
            }
            Kind::Network => {
                site.networks.push(network(name, id, data));
                site.networks.len() - 1
            }
            Kind::NetworkLink => {
                site.links.push(link(name, id, data));
                site.links.len() - 1
            }
            Kind::HardwareProfile => {
                site.hardware_profiles
                    .push(hardware_profile(name, id, data));
                site.hardware_profiles.len() - 1
            }
            Kind::HostProfile => {
                profile_data.insert(name.v.clone(), (id, data));
                site.host_profiles.push(HostProfile {
                    parent: text(data, "host_profile"),
                    config: host_config(data),
                    name,
                    doc: id,
                    used: false,
                });
                site.host_profiles.len() - 1
            }
            Kind::BaremetalNode => {
                node_docs.push((name, id, data));
                continue;
            }
            Kind::BootAction => {
                site.boot_actions.push(boot_action(name, id, data));
                site.boot_actions.len() - 1
            }
        };
        site.index.insert(key, at);
    }
    expand_route_domains(&mut site.networks);

    let mut resolver = Resolver {
        profiles: &profile_data,
        memo: HashMap::new(),
        used: Vec::new(),
    };
    for (name, id, data) in node_docs {
        let key = (Kind::BaremetalNode, name.v.clone());
        if let Some(&first) = site.index.get(&key) {
            let first = site.nodes[first].name.loc;
            site.duplicates.push(Duplicate {
                kind: Kind::BaremetalNode,
                name,
                first,
            });
            continue;
        }
        let node = baremetal_node(&site, &mut resolver, name, id, data);
        site.index.insert(key, site.nodes.len());
        site.nodes.push(node);
    }
    for used in resolver.used {
        if let Some(i) = site.find(Kind::HostProfile, &used) {
            site.host_profiles[i].used = true;
        }
    }
    site
}

fn first_loc(site: &Site, kind: Kind, i: usize) -> Loc {
    match kind {
        Kind::Region => site.regions[i].name.loc,
        Kind::Rack => site.racks[i].name.loc,
        Kind::Network => site.networks[i].name.loc,
        Kind::NetworkLink => site.links[i].name.loc,
        Kind::HardwareProfile => site.hardware_profiles[i].name.loc,
        Kind::HostProfile => site.host_profiles[i].name.loc,
        Kind::BaremetalNode => site.nodes[i].name.loc,
        Kind::BootAction => site.boot_actions[i].name.loc,
    }
}

fn region(name: At<String>, doc: DocId, d: &Node) -> Region {
    let repos = d.get("repositories");
    Region {
        authorized_keys: texts(d, "authorized_keys"),
        tag_definitions: seq(d.get("tag_definitions"))
            .iter()
            .filter_map(|t| {
                Some(TagDefinition {
                    tag: text(t, "tag")?,
                    definition_type: text(t, "definition_type")?,
                    definition: text(t, "definition")?,
                })
            })
            .collect(),
        repositories: named(repos)
            .filter(|(n, _)| n.v != "remove_unlisted")
            .map(|(name, r)| Repository {
                name,
                repo_type: text(r, "repo_type"),
                url: text(r, "url"),
                distributions: texts(r, "distributions"),
                components: texts(r, "components"),
                subrepos: texts(r, "subrepos"),
                // Optional, `[amd64]` by default, as in the old object model.
                arches: if r.get("arches").is_some() {
                    texts(r, "arches")
                } else {
                    vec![At::new("amd64".to_string(), r.loc)]
                },
                gpgkey: text(r, "gpgkey"),
            })
            .collect(),
        remove_unlisted: repos.and_then(|r| boolean(r, "remove_unlisted")),
        name,
        doc,
    }
}

fn rack(name: At<String>, doc: DocId, d: &Node) -> Rack {
    Rack {
        tor_switches: named(d.get("tor_switches"))
            .map(|(name, t)| TorSwitch {
                name,
                mgmt_ip: text(t, "mgmt_ip"),
                sdn_api_uri: text(t, "sdn_api_uri"),
            })
            .collect(),
        location: pairs(d.get("location")),
        local_networks: texts(d, "local_networks"),
        labels: pairs(d.get("labels")),
        name,
        doc,
    }
}

fn ip(n: &Node, key: &str) -> Option<At<IpAddr>> {
    let t = text(n, key)?;
    let ip = t.v.parse().ok()?;
    Some(At::new(ip, t.loc))
}

fn network(name: At<String>, doc: DocId, d: &Node) -> Network {
    let dns = d.get("dns");
    let relay = d.get("dhcp_relay");
    Network {
        cidr: text(d, "cidr").and_then(|c| Some(At::new(c.v.parse().ok()?, c.loc))),
        vlan: text(d, "vlan"),
        mtu: int(d, "mtu"),
        routedomain: text(d, "routedomain"),
        ranges: seq(d.get("ranges"))
            .iter()
            .filter_map(|r| {
                let t = text(r, "type")?;
                let kind = match t.v.as_str() {
                    "static" => RangeType::Static,
                    "dhcp" => RangeType::Dhcp,
                    "reserved" => RangeType::Reserved,
                    _ => return None,
                };
                Some(AddressRange {
                    kind: At::new(kind, t.loc),
                    start: ip(r, "start")?,
                    end: ip(r, "end")?,
                    loc: r.loc,
                })
            })
            .collect(),
        routes: seq(d.get("routes"))
            .iter()
            .map(|r| Route {
                subnet: text(r, "subnet"),
                gateway: ip(r, "gateway"),
                metric: int(r, "metric"),
                routedomain: text(r, "routedomain"),
                loc: r.loc,
                expanded: false,
            })
            .collect(),
        dns_domain: dns.and_then(|n| text(n, "domain")),
        dns_servers: dns.and_then(|n| text(n, "servers")),
        dhcp_relay_self_ip: relay.and_then(|n| text(n, "self_ip")),
        dhcp_relay_upstream: relay.and_then(|n| text(n, "upstream_target")),
        labels: pairs(d.get("labels")),
        name,
        doc,
    }
}

/// A route `{routedomain: R, gateway, metric}` becomes one route per CIDR of the other
/// networks in route domain R. Only the first such route of a network is expanded.
fn expand_route_domains(networks: &mut [Network]) {
    let mut by_domain: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for (i, n) in networks.iter().enumerate() {
        if let (Some(rd), Some(c)) = (&n.routedomain, &n.cidr) {
            by_domain
                .entry(rd.v.clone())
                .or_default()
                .push((i, c.v.to_string()));
        }
    }
    for (i, n) in networks.iter_mut().enumerate() {
        let Some(r) = n
            .routes
            .iter()
            .find(|r| r.routedomain.is_some() && !r.expanded)
            .cloned()
        else {
            continue;
        };
        let own = n.cidr.as_ref().map(|c| c.v.to_string());
        let domain = r.routedomain.as_ref().map(|d| d.v.as_str()).unwrap_or("");
        for (j, cidr) in by_domain.get(domain).into_iter().flatten() {
            if *j == i || Some(cidr) == own.as_ref() {
                continue;
            }
            n.routes.push(Route {
                subnet: Some(At::new(cidr.clone(), r.loc)),
                gateway: r.gateway.clone(),
                metric: r.metric.clone(),
                routedomain: None,
                loc: r.loc,
                expanded: true,
            });
        }
    }
}

fn link(name: At<String>, doc: DocId, d: &Node) -> NetworkLink {
    let b = d.get("bonding");
    let t = d.get("trunking");
    NetworkLink {
        bonding: match b {
            Some(b) => Bonding {
                loc: b.loc,
                mode: text(b, "mode"),
                hash: text(b, "hash"),
                peer_rate: text(b, "peer_rate"),
                mon_rate: int(b, "mon_rate"),
                up_delay: int(b, "up_delay"),
                down_delay: int(b, "down_delay"),
            },
            None => Bonding {
                loc: name.loc,
                ..Bonding::default()
            },
        },
        mtu: int(d, "mtu"),
        linkspeed: text(d, "linkspeed"),
        trunking_mode: t.and_then(|t| text(t, "mode")),
        default_network: t.and_then(|t| text(t, "default_network")),
        allowed_networks: texts(d, "allowed_networks"),
        labels: pairs(d.get("labels")),
        name,
        doc,
    }
}

fn hardware_profile(name: At<String>, doc: DocId, d: &Node) -> HardwareProfile {
    HardwareProfile {
        vendor: text(d, "vendor"),
        boot_mode: text(d, "boot_mode"),
        bootstrap_protocol: text(d, "bootstrap_protocol"),
        pxe_interface: int(d, "pxe_interface"),
        device_aliases: named(d.get("device_aliases"))
            .map(|(name, a)| DeviceAlias {
                name,
                address: text(a, "address"),
                bus_type: text(a, "bus_type"),
                dev_type: text(a, "dev_type"),
            })
            .collect(),
        cpu_sets: pairs(d.get("cpu_sets")),
        hugepages: named(d.get("hugepages"))
            .map(|(name, h)| Hugepages {
                name,
                size: text(h, "size"),
                count: text(h, "count"),
            })
            .collect(),
        name,
        doc,
    }
}

fn filesystem(n: Option<&Node>) -> Option<Filesystem> {
    let f = n.filter(|f| f.as_map().is_some())?;
    Some(Filesystem {
        loc: f.loc,
        mountpoint: text(f, "mountpoint"),
        fstype: text(f, "fstype"),
        mount_options: text(f, "mount_options"),
    })
}

fn entry_name(n: &Node) -> At<String> {
    text(n, "name").unwrap_or_else(|| At::new(String::new(), n.loc))
}

/// A host profile's or node's configuration, from its (merged) data.
fn host_config(d: &Node) -> HostConfig {
    let mut c = HostConfig {
        oob: Oob {
            loc: Loc::NONE,
            ..Oob::default()
        },
        ..HostConfig::default()
    };
    for (k, v) in d.as_map().into_iter().flat_map(|m| m.iter()) {
        set_section(&mut c, &k.name, Some(v));
    }
    c
}

/// Set one top-level section of a configuration from its (merged) value; `None` unsets it.
fn set_section(c: &mut HostConfig, key: &str, v: Option<&Node>) {
    let scalar = |v: Option<&Node>| v.and_then(|n| n.scalar_text().map(|t| At::new(t, n.loc)));
    match key {
        "hardware_profile" => c.hardware_profile = scalar(v),
        "primary_network" => c.primary_network = scalar(v),
        "oob" => {
            c.oob = match v {
                Some(o) => Oob {
                    loc: o.loc,
                    kind: text(o, "type"),
                    network: text(o, "network"),
                    account: text(o, "account"),
                    credential: text(o, "credential")
                        .map(|t| At::new(crate::vocab::Secret::new(t.v), t.loc)),
                    libvirt_uri: text(o, "libvirt_uri"),
                    port: text(o, "port"),
                    system: text(o, "system"),
                    ca_bundle: text(o, "ca_bundle"),
                    insecure: boolean(o, "insecure"),
                    cipher_suite: text(o, "cipher_suite"),
                },
                None => Oob {
                    loc: Loc::NONE,
                    ..Oob::default()
                },
            }
        }
        "metadata" => {
            c.rack = v.and_then(|m| text(m, "rack"));
            c.tags = v.map(|m| texts(m, "tags")).unwrap_or_default();
            c.owner_data = pairs(v.and_then(|m| m.get("owner_data")));
            c.boot_mac = v.and_then(|m| text(m, "boot_mac"));
        }
        "platform" => {
            c.image = v.and_then(|p| text(p, "image"));
            c.kernel = v.and_then(|p| text(p, "kernel"));
            c.kernel_params = Arc::new(kernel_params(v.and_then(|p| p.get("kernel_params"))));
        }
        "storage" => {
            c.devices = Arc::new(devices(v.and_then(|s| s.get("physical_devices"))));
            c.volume_groups = Arc::new(volume_groups(v.and_then(|s| s.get("volume_groups"))));
        }
        "interfaces" => c.interfaces = Arc::new(interfaces(v)),
        _ => {}
    }
}

fn kernel_params(n: Option<&Node>) -> Vec<KernelParam> {
    named(n)
        .map(|(key, v)| {
            let value = match &v.value {
                Value::Bool(true) => ParamValue::Flag,
                Value::Bool(false) | Value::Null => ParamValue::Off,
                _ => ParamValue::Text(v.scalar_text().unwrap_or_default()),
            };
            KernelParam {
                key,
                value: At::new(value, v.loc),
            }
        })
        .collect()
}

fn devices(n: Option<&Node>) -> Vec<PhysicalDevice> {
    named(n)
        .map(|(name, dev)| PhysicalDevice {
            name,
            labels: pairs(dev.get("labels")),
            volume_group: text(dev, "volume_group"),
            has_partitions_key: dev.get("partitions").is_some(),
            partitions: seq(dev.get("partitions"))
                .iter()
                .map(|p| Partition {
                    name: entry_name(p),
                    loc: p.loc,
                    size: text(p, "size"),
                    bootable: boolean(p, "bootable"),
                    volume_group: text(p, "volume_group"),
                    filesystem: filesystem(p.get("filesystem")),
                })
                .collect(),
        })
        .collect()
}

fn volume_groups(n: Option<&Node>) -> Vec<VolumeGroup> {
    named(n)
        .map(|(name, vg)| VolumeGroup {
            name,
            logical_volumes: seq(vg.get("logical_volumes"))
                .iter()
                .map(|lv| LogicalVolume {
                    name: entry_name(lv),
                    loc: lv.loc,
                    size: text(lv, "size"),
                    filesystem: filesystem(lv.get("filesystem")),
                })
                .collect(),
        })
        .collect()
}

fn interfaces(n: Option<&Node>) -> Vec<Interface> {
    named(n)
        .map(|(name, i)| Interface {
            name,
            device_link: text(i, "device_link"),
            slaves: texts(i, "slaves"),
            networks: texts(i, "networks"),
            labels: pairs(i.get("labels")),
        })
        .collect()
}

/// A node's effective configuration: its profile's (already lowered; the big sections are
/// shared `Arc`s), with each section the node writes itself merged and lowered again. This is
/// what keeps 10,000 nodes on a handful of profiles cheap.
fn overlay(data: &Node, profile: &Effective) -> HostConfig {
    let mut c = profile.config.clone();
    c.boot_mac = None; // not inherited
    for (k, child) in data.as_map().into_iter().flat_map(|m| m.iter()) {
        if child.is_null() {
            continue;
        }
        let merged = merge_field(&k.name, child, profile.tree.get(&k.name));
        set_section(&mut c, &k.name, merged.as_ref());
    }
    c
}

/// A profile's effective data, lowered once and shared by every node that uses it.
struct Effective {
    tree: Node,
    config: HostConfig,
    chain: Vec<String>,
}

/// Follows host-profile chains, memoising each profile's effective data.
struct Resolver<'a> {
    profiles: &'a HashMap<String, (DocId, &'a Node)>,
    memo: HashMap<String, Result<Rc<Effective>, ChainError>>,
    used: Vec<String>,
}

impl Resolver<'_> {
    /// The effective data of profile `name` and its chain (nearest first).
    fn effective(
        &mut self,
        name: &At<String>,
        visiting: &mut Vec<String>,
    ) -> Result<Rc<Effective>, ChainError> {
        if let Some(r) = self.memo.get(&name.v) {
            return r.clone();
        }
        if visiting.contains(&name.v) {
            let mut chain = visiting.clone();
            chain.push(name.v.clone());
            return Err(ChainError::Loop {
                at: name.clone(),
                chain,
            });
        }
        let Some(&(_, data)) = self.profiles.get(&name.v) else {
            return Err(ChainError::Missing(name.clone()));
        };
        self.used.push(name.v.clone());
        visiting.push(name.v.clone());
        let r = match text(data, "host_profile") {
            Some(parent) => self.effective(&parent, visiting).map(|p| {
                let mut chain = p.chain.clone();
                chain.insert(0, name.v.clone());
                (merge_host(data, &p.tree), chain)
            }),
            None => Ok((data.clone(), vec![name.v.clone()])),
        }
        .map(|(tree, chain)| {
            Rc::new(Effective {
                config: host_config(&tree),
                tree,
                chain,
            })
        });
        visiting.pop();
        // Loops are memoised only from their entry point; a profile inside a loop reports it
        // from wherever the walk starts, which names the same cycle.
        self.memo.insert(name.v.clone(), r.clone());
        r
    }
}

fn baremetal_node(
    site: &Site,
    resolver: &mut Resolver,
    name: At<String>,
    doc: DocId,
    data: &Node,
) -> BaremetalNode {
    let host_profile = text(data, "host_profile");
    let (config, chain, chain_error) = match &host_profile {
        Some(p) => match resolver.effective(p, &mut Vec::new()) {
            Ok(eff) => (overlay(data, &eff), eff.chain.clone(), None),
            Err(e) => (host_config(data), Vec::new(), Some(e)),
        },
        None => (host_config(data), Vec::new(), None),
    };
    let addressing = seq(data.get("addressing"))
        .iter()
        .filter_map(|a| {
            let network = text(a, "network")?;
            let addr = text(a, "address")?;
            let v = if addr.v == "dhcp" {
                AddressValue::Dhcp
            } else {
                AddressValue::Static(addr.v.parse().ok()?)
            };
            Some(Address {
                network,
                address: At::new(v, addr.loc),
            })
        })
        .collect();
    let domain = config
        .primary_network
        .as_ref()
        .and_then(|p| site.network(&p.v))
        .and_then(|n| n.dns_domain.as_ref())
        .map_or("local", |d| d.v.as_str());
    BaremetalNode {
        fqdn: format!("{}.{}", name.v, domain.trim_start_matches('.')),
        name,
        doc,
        host_profile,
        profile_chain: chain,
        chain_error,
        config,
        addressing,
    }
}

fn boot_action(name: At<String>, doc: DocId, d: &Node) -> BootAction {
    let node_filter = d
        .get("node_filter")
        .filter(|f| f.as_map().is_some())
        .map(|f| NodeFilter {
            loc: f.loc,
            set_type: text(f, "filter_set_type")
                .and_then(|t| SetOp::parse(&t.v))
                .unwrap_or(SetOp::Union),
            filters: seq(f.get("filter_set"))
                .iter()
                .map(|x| Filter {
                    op: text(x, "filter_type").and_then(|t| SetOp::parse(&t.v)),
                    node_names: texts(x, "node_names"),
                    node_tags: texts(x, "node_tags"),
                    node_labels: pairs(x.get("node_labels")),
                    rack_names: texts(x, "rack_names"),
                    rack_labels: pairs(x.get("rack_labels")),
                })
                .collect(),
        });
    BootAction {
        digest: crate::source::digest(d.to_json().to_string().as_bytes()),
        signaling: boolean(d, "signaling"),
        node_filter,
        assets: seq(d.get("assets"))
            .iter()
            .map(|a| {
                let data = a.get("data");
                Asset {
                    loc: a.loc,
                    kind: text(a, "type"),
                    path: text(a, "path"),
                    location: text(a, "location"),
                    permissions: text(a, "permissions"),
                    data: data.and_then(|d| d.scalar_text().map(|t| At::new(t, d.loc))),
                    data_pipeline: texts(a, "data_pipeline"),
                    has_data: data.is_some_and(|d| !d.is_null()),
                    packages: data
                        .and_then(Node::as_map)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (
                                        At::new(k.name.clone(), k.loc),
                                        v.scalar_text().map(|t| At::new(t, v.loc)),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect(),
        name,
        doc,
    }
}
