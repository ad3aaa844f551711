//! The flat view of a desired state: `field path → value`, sorted. Plan diffs show its fields
//! as the reasons for a change (`storage.bootdisk.partitions.root.size: 20g -> 30g`), the
//! journal records it as what a node was deployed with, and its digest is the fingerprint.
//!
//! A node's view holds the node's own configuration — what a redeploy or an update in place
//! changes — and the digests of the boot actions that target it. What a node takes from site
//! objects (a network's CIDR, VLAN and routes, a link's bond, the region's keys) is in the site's
//! view, prepared by PrepareSite: changing a network does not redeploy the nodes on it. A literal
//! credential never enters a view: it becomes a digest.

use std::collections::BTreeMap;

use crate::source::digest;
use crate::spec::{FilesystemSpec, NodeSpec, SiteSpec, SizeSpec};

/// A flat, canonical view: `field path → value`, sorted.
pub type Snapshot = BTreeMap<String, String>;

/// The fingerprint of a view.
pub fn fingerprint(s: &Snapshot) -> String {
    let mut bytes = Vec::with_capacity(s.len() * 48);
    for (k, v) in s {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0);
    }
    digest(&bytes)
}

/// The flat view of a node.
pub fn node(n: &NodeSpec) -> Snapshot {
    // Collected unsorted and built in one pass (a sorted bulk build is cheaper than inserting
    // 70 keys with long common prefixes one by one).
    let mut s: Vec<(String, String)> = Vec::with_capacity(96);
    let mut put = |k: String, v: String| {
        s.push((k, v));
    };
    let h = &n.hardware;
    let o = &n.oob;
    for (k, v) in [
        ("hardware_profile", h.profile.clone()),
        ("primary_network", n.primary_network.clone()),
        ("metadata.boot_mac", n.boot_mac.clone()),
        ("metadata.rack", n.rack.clone()),
        ("platform.image", n.platform.image.clone()),
        ("platform.kernel", n.platform.kernel.clone()),
        ("oob.type", o.kind.map(|k| k.as_str().to_string())),
        ("oob.network", o.network.clone()),
        ("oob.account", o.account.clone()),
        ("oob.libvirt_uri", o.libvirt_uri.clone()),
        ("oob.port", o.port.map(|p| p.to_string())),
        ("oob.system", o.system.clone()),
        ("oob.cipher_suite", o.cipher_suite.map(|c| c.to_string())),
        ("hardware.boot_mode", h.boot_mode.clone()),
        ("hardware.bootstrap_protocol", h.bootstrap_protocol.clone()),
        (
            "hardware.pxe_interface",
            h.pxe_interface.map(|p| p.to_string()),
        ),
    ] {
        if let Some(v) = v {
            put(k.to_string(), v);
        }
    }
    if let Some(cred) = &o.credential {
        let v = match (cred.reference(), cred.expose()) {
            (Some(r), _) => r.to_string(),
            (None, Some(lit)) => format!("literal:{}", digest(lit.as_bytes())),
            (None, None) => "literal:(withheld)".to_string(),
        };
        put("oob.credential".into(), v);
    }
    if !n.tags.is_empty() {
        let mut tags: Vec<&str> = n.tags.iter().map(String::as_str).collect();
        tags.sort_unstable();
        put("metadata.tags".into(), tags.join(","));
    }
    for (k, v) in &n.owner_data {
        put(format!("metadata.owner_data.{k}"), v.clone());
    }
    for (k, v) in &n.platform.kernel_params {
        put(
            format!("platform.kernel_params.{k}"),
            v.clone().unwrap_or_else(|| "true".into()),
        );
    }
    for a in &h.device_aliases {
        put(
            format!("hardware.device_aliases.{}", a.name),
            format!(
                "{} {}",
                a.bus_type.as_deref().unwrap_or(""),
                a.address.as_deref().unwrap_or("")
            ),
        );
    }
    for ba in &n.boot_actions {
        put(format!("boot_actions.{}", ba.name), ba.digest.clone());
    }
    for a in &n.addresses {
        let v = match &a.method {
            crate::spec::AddressMethod::Dhcp => "dhcp".to_string(),
            crate::spec::AddressMethod::Static(ip) => ip.to_string(),
        };
        put(format!("addressing.{}", a.network), v);
    }
    for i in &n.interfaces {
        let base = format!("interfaces.{}", i.name);
        if let Some(l) = &i.device_link {
            put(format!("{base}.device_link"), l.clone());
        }
        if !i.slaves.is_empty() {
            let names: Vec<&str> = i.slaves.iter().map(|s| s.name.as_str()).collect();
            put(format!("{base}.slaves"), names.join(","));
        }
        if !i.networks.is_empty() {
            let names: Vec<&str> = i.networks.iter().map(|n| n.network.as_str()).collect();
            put(format!("{base}.networks"), names.join(","));
        }
    }
    let size = |s: &Option<SizeSpec>| s.as_ref().map_or(String::new(), |s| s.written.clone());
    let fs = |put: &mut dyn FnMut(String, String), base: &str, f: &Option<FilesystemSpec>| {
        if let Some(f) = f {
            put(
                format!("{base}.mountpoint"),
                f.mountpoint.clone().unwrap_or_default(),
            );
            put(format!("{base}.fstype"), f.fstype.clone());
            put(format!("{base}.mount_options"), f.mount_options.clone());
        }
    };
    for d in &n.storage.devices {
        let base = format!("storage.{}", d.name);
        if let Some(vg) = &d.volume_group {
            put(format!("{base}.volume_group"), vg.clone());
        }
        for p in &d.partitions {
            let pb = format!("{base}.partitions.{}", p.name);
            put(format!("{pb}.size"), size(&p.size));
            if p.bootable {
                put(format!("{pb}.bootable"), "true".into());
            }
            if let Some(vg) = &p.volume_group {
                put(format!("{pb}.volume_group"), vg.clone());
            }
            fs(&mut put, &format!("{pb}.filesystem"), &p.filesystem);
        }
    }
    for vg in &n.storage.volume_groups {
        for lv in &vg.logical_volumes {
            let lb = format!("storage.volume_groups.{}.{}", vg.name, lv.name);
            put(format!("{lb}.size"), size(&lv.size));
            fs(&mut put, &format!("{lb}.filesystem"), &lv.filesystem);
        }
    }
    s.into_iter().collect()
}

/// The flat view of the site (keys `network[mgmt].cidr`, `link[gp].mtu`, `image[focal]`).
pub fn site(site: &SiteSpec) -> Snapshot {
    let mut s = Snapshot::new();
    for n in &site.networks {
        let b = format!("network[{}]", n.name);
        for (k, v) in [
            ("cidr", n.cidr.clone()),
            ("vlan", n.vlan.clone()),
            ("mtu", n.mtu.map(|m| m.to_string())),
            ("dns.domain", n.dns_domain.clone()),
            (
                "dns.servers",
                (!n.dns_servers.is_empty()).then(|| n.dns_servers.join(",")),
            ),
            ("dhcp_relay.self_ip", n.dhcp_relay_self_ip.clone()),
            ("dhcp_relay.upstream_target", n.dhcp_relay_upstream.clone()),
        ] {
            if let Some(v) = v {
                s.insert(format!("{b}.{k}"), v);
            }
        }
        let ranges: Vec<String> = n
            .ranges
            .iter()
            .map(|r| format!("{} {}-{}", r.kind, r.start, r.end))
            .collect();
        if !ranges.is_empty() {
            s.insert(format!("{b}.ranges"), ranges.join(", "));
        }
        let routes: Vec<String> = n
            .routes
            .iter()
            .filter(|r| !r.expanded)
            .map(|r| {
                let via = r.gateway.map_or(String::new(), |g| g.to_string());
                let to = r
                    .subnet
                    .clone()
                    .or(r.routedomain.as_ref().map(|d| format!("domain {d}")));
                let metric = r.metric.map_or(String::new(), |m| format!(" metric {m}"));
                format!("{} via {via}{metric}", to.unwrap_or_default())
            })
            .collect();
        if !routes.is_empty() {
            s.insert(format!("{b}.routes"), routes.join(", "));
        }
    }
    for l in &site.links {
        let b = format!("link[{}]", l.name);
        s.insert(format!("{b}.mtu"), l.mtu.to_string());
        match &l.bond {
            None => {
                s.insert(format!("{b}.bonding.mode"), "disabled".into());
            }
            Some(bond) => {
                s.insert(format!("{b}.bonding.mode"), bond.mode.clone());
                s.insert(format!("{b}.bonding.mon_rate"), bond.mon_rate.to_string());
                s.insert(format!("{b}.bonding.up_delay"), bond.up_delay.to_string());
                s.insert(
                    format!("{b}.bonding.down_delay"),
                    bond.down_delay.to_string(),
                );
                for (k, v) in [("hash", &bond.hash), ("peer_rate", &bond.peer_rate)] {
                    if let Some(v) = v {
                        s.insert(format!("{b}.bonding.{k}"), v.clone());
                    }
                }
            }
        }
        if let Some(ls) = &l.linkspeed {
            s.insert(format!("{b}.linkspeed"), ls.clone());
        }
        s.insert(
            format!("{b}.trunking.mode"),
            if l.trunked { "802.1q" } else { "disabled" }.into(),
        );
        if let Some(d) = &l.default_network {
            s.insert(format!("{b}.trunking.default_network"), d.clone());
        }
        s.insert(
            format!("{b}.allowed_networks"),
            l.allowed_networks.join(","),
        );
    }
    let region = &site.name;
    if !site.ssh_keys.is_empty() {
        s.insert(
            format!("region[{region}].authorized_keys"),
            digest(site.ssh_keys.join("\n").as_bytes()),
        );
    }
    for repo in &site.repositories {
        s.insert(
            format!("region[{region}].repositories.{}", repo.name),
            format!(
                "{} {} {} {}",
                repo.url.as_deref().unwrap_or(""),
                repo.distributions.join(","),
                repo.components.join(","),
                repo.arches.join(",")
            ),
        );
    }
    for i in &site.images {
        s.insert(format!("image[{i}]"), "used".into());
    }
    for k in &site.kernels {
        s.insert(format!("kernel[{k}]"), "used".into());
    }
    s
}
