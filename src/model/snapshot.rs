//! Canonical, flat views of what a node and the site should look like (`field → value`), the
//! fingerprints made from them, and which fields can change without rebuilding a node.
//!
//! Field paths are stable and human-readable (`storage.bootdisk.partitions.root.size`), because
//! plan output shows them as the reasons for a change. Secret values never enter a snapshot:
//! a literal credential becomes a digest, shown as `(sensitive)`.

use crate::model::observed::Snapshot;
use crate::model::{AddressValue, BaremetalNode, Filesystem, ParamValue, Site, digest};

/// Whether changing a field needs the node rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Applied to a deployed node in place (tags, owner data, rack, BMC settings).
    InPlace,
    /// Needs the node redeployed: storage, image, kernel, addressing, interfaces, ...
    Rebuild,
}

/// What changing `field` takes.
pub fn effect(field: &str) -> Effect {
    const IN_PLACE: [&str; 4] = [
        "metadata.tags",
        "metadata.owner_data.",
        "metadata.rack",
        "oob.",
    ];
    if IN_PLACE
        .iter()
        .any(|p| field == p.trim_end_matches('.') || field.starts_with(p))
    {
        Effect::InPlace
    } else {
        Effect::Rebuild
    }
}

/// Whether a field holds a secret (its value is shown as `(sensitive)`).
pub fn is_sensitive(field: &str) -> bool {
    field
        .rsplit('.')
        .next()
        .is_some_and(crate::design::document::is_secret_key)
}

/// The deployment-relevant configuration of a node: its effective configuration, the hardware
/// profile it uses (kernel-parameter references resolved) and the boot actions that target it.
pub fn node(site: &Site, n: &BaremetalNode) -> Snapshot {
    let c = &n.config;
    let mut s = Snapshot::new();
    let mut put = |k: String, v: &str| {
        s.insert(k, v.to_string());
    };
    let opt = |v: &Option<crate::source::At<String>>| v.as_ref().map(|a| a.v.clone());
    for (k, v) in [
        ("hardware_profile", opt(&c.hardware_profile)),
        ("primary_network", opt(&c.primary_network)),
        (
            "metadata.boot_mac",
            opt(&c.boot_mac).map(|m| m.to_ascii_lowercase().replace('-', ":")),
        ),
        ("metadata.rack", opt(&c.rack)),
        ("platform.image", opt(&c.image)),
        ("platform.kernel", opt(&c.kernel)),
        ("oob.type", opt(&c.oob.kind)),
        ("oob.network", opt(&c.oob.network)),
        ("oob.account", opt(&c.oob.account)),
        ("oob.libvirt_uri", opt(&c.oob.libvirt_uri)),
        ("oob.port", opt(&c.oob.port)),
        ("oob.system", opt(&c.oob.system)),
        ("oob.cipher_suite", opt(&c.oob.cipher_suite)),
    ] {
        if let Some(v) = v {
            put(k.to_string(), &v);
        }
    }
    if let Some(cred) = &c.oob.credential {
        let v = if cred.v.starts_with("env:") || cred.v.starts_with("file:") {
            cred.v.clone()
        } else {
            format!("literal:{}", digest(cred.v.as_bytes()))
        };
        put("oob.credential".into(), &v);
    }
    if !c.tags.is_empty() {
        let mut tags: Vec<&str> = c.tags.iter().map(|t| t.v.as_str()).collect();
        tags.sort_unstable();
        put("metadata.tags".into(), &tags.join(","));
    }
    for (k, v) in &c.owner_data {
        put(format!("metadata.owner_data.{}", k.v), &v.v);
    }
    let hw = c
        .hardware_profile
        .as_ref()
        .and_then(|h| site.hardware_profile(&h.v));
    for p in c.kernel_params.iter() {
        match &p.value.v {
            ParamValue::Flag => put(format!("platform.kernel_params.{}", p.key.v), "true"),
            ParamValue::Off => {}
            ParamValue::Text(t) => put(
                format!("platform.kernel_params.{}", p.key.v),
                &resolve_hw(hw, t),
            ),
        }
    }
    if let Some(h) = hw {
        let opt = |v: &Option<crate::source::At<String>>| v.as_ref().map(|a| a.v.clone());
        for (k, v) in [
            ("hardware.boot_mode", opt(&h.boot_mode)),
            ("hardware.bootstrap_protocol", opt(&h.bootstrap_protocol)),
        ] {
            if let Some(v) = v {
                put(k.into(), &v);
            }
        }
        if let Some(p) = &h.pxe_interface {
            put("hardware.pxe_interface".into(), &p.v.to_string());
        }
        for a in &h.device_aliases {
            let addr = a.address.as_ref().map_or("", |x| x.v.as_str());
            let bus = a.bus_type.as_ref().map_or("", |x| x.v.as_str());
            put(
                format!("hardware.device_aliases.{}", a.name.v),
                &format!("{bus} {addr}"),
            );
        }
    }
    for ba in &site.boot_actions {
        if ba.node_filter.as_ref().is_none_or(|f| f.matches(site, n)) {
            put(format!("boot_actions.{}", ba.name.v), &ba.digest);
        }
    }
    for a in &n.addressing {
        let v = match &a.address.v {
            AddressValue::Dhcp => "dhcp".to_string(),
            AddressValue::Static(ip) => ip.to_string(),
        };
        put(format!("addressing.{}", a.network.v), &v);
    }
    for i in c.interfaces.iter() {
        let base = format!("interfaces.{}", i.name.v);
        if let Some(l) = &i.device_link {
            put(format!("{base}.device_link"), &l.v);
        }
        let join = |v: &[crate::source::At<String>]| {
            v.iter().map(|x| x.v.as_str()).collect::<Vec<_>>().join(",")
        };
        if !i.slaves.is_empty() {
            put(format!("{base}.slaves"), &join(&i.slaves));
        }
        if !i.networks.is_empty() {
            put(format!("{base}.networks"), &join(&i.networks));
        }
    }
    let fs = |s: &mut dyn FnMut(String, &str), base: &str, f: &Option<Filesystem>| {
        if let Some(f) = f {
            s(
                format!("{base}.mountpoint"),
                f.mountpoint.as_ref().map_or("", |m| m.v.as_str()),
            );
            s(
                format!("{base}.fstype"),
                f.fstype.as_ref().map_or("ext4", |m| m.v.as_str()),
            );
            s(
                format!("{base}.mount_options"),
                f.mount_options
                    .as_ref()
                    .map_or("defaults", |m| m.v.as_str()),
            );
        }
    };
    for d in c.devices.iter() {
        let base = format!("storage.{}", d.name.v);
        if let Some(vg) = &d.volume_group {
            put(format!("{base}.volume_group"), &vg.v);
        }
        for p in &d.partitions {
            let pb = format!("{base}.partitions.{}", p.name.v);
            put(
                format!("{pb}.size"),
                p.size.as_ref().map_or("", |s| s.v.as_str()),
            );
            if let Some(b) = &p.bootable {
                put(format!("{pb}.bootable"), &b.v.to_string());
            }
            if let Some(vg) = &p.volume_group {
                put(format!("{pb}.volume_group"), &vg.v);
            }
            fs(&mut put, &format!("{pb}.filesystem"), &p.filesystem);
        }
    }
    for vg in c.volume_groups.iter() {
        for lv in &vg.logical_volumes {
            let lb = format!("storage.volume_groups.{}.{}", vg.name.v, lv.name.v);
            put(
                format!("{lb}.size"),
                lv.size.as_ref().map_or("", |s| s.v.as_str()),
            );
            fs(&mut put, &format!("{lb}.filesystem"), &lv.filesystem);
        }
    }
    s
}

/// A kernel parameter's value with `hardwareprofile:cpuset.NAME` and
/// `hardwareprofile:hugepages.NAME.size|count` replaced by the hardware profile's values.
fn resolve_hw(hw: Option<&crate::model::HardwareProfile>, v: &str) -> String {
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
        ["hugepages", name, "size"] => h
            .hugepages
            .iter()
            .find(|p| p.name.v == *name)
            .and_then(|p| p.size.as_ref())
            .map(|s| s.v.clone()),
        ["hugepages", name, "count"] => h
            .hugepages
            .iter()
            .find(|p| p.name.v == *name)
            .and_then(|p| p.count.as_ref())
            .map(|s| s.v.clone()),
        _ => None,
    };
    found.unwrap_or_else(|| v.to_string())
}

/// The site-level configuration (keys `network[mgmt].cidr`, `link[gp].mtu`, `image[focal]`) the site's preparation depends on: networks, links and the
/// images and kernels nodes use.
pub fn site(site: &Site) -> Snapshot {
    let mut s = Snapshot::new();
    for n in &site.networks {
        let b = format!("network[{}]", n.name.v);
        if let Some(c) = &n.cidr {
            s.insert(format!("{b}.cidr"), c.v.to_string());
        }
        if let Some(v) = &n.vlan {
            s.insert(format!("{b}.vlan"), v.v.clone());
        }
        if let Some(m) = &n.mtu {
            s.insert(format!("{b}.mtu"), m.v.to_string());
        }
        let ranges: Vec<String> = n
            .ranges
            .iter()
            .map(|r| format!("{:?} {}-{}", r.kind.v, r.start.v, r.end.v).to_lowercase())
            .collect();
        if !ranges.is_empty() {
            s.insert(format!("{b}.ranges"), ranges.join(", "));
        }
        let routes: Vec<String> = n
            .routes
            .iter()
            .filter(|r| !r.expanded)
            .map(|r| {
                let via = r
                    .gateway
                    .as_ref()
                    .map_or(String::new(), |g| g.v.to_string());
                let to = r
                    .subnet
                    .as_ref()
                    .map(|x| x.v.clone())
                    .or(r.routedomain.as_ref().map(|d| format!("domain {}", d.v)));
                format!("{} via {via}", to.unwrap_or_default())
            })
            .collect();
        if !routes.is_empty() {
            s.insert(format!("{b}.routes"), routes.join(", "));
        }
        if let Some(d) = &n.dns_domain {
            s.insert(format!("{b}.dns.domain"), d.v.clone());
        }
        if let Some(d) = &n.dns_servers {
            s.insert(format!("{b}.dns.servers"), d.v.clone());
        }
        if let Some(r) = &n.dhcp_relay_self_ip {
            s.insert(format!("{b}.dhcp_relay.self_ip"), r.v.clone());
        }
        if let Some(r) = &n.dhcp_relay_upstream {
            s.insert(format!("{b}.dhcp_relay.upstream_target"), r.v.clone());
        }
    }
    for l in &site.links {
        let b = format!("link[{}]", l.name.v);
        s.insert(format!("{b}.mtu"), l.mtu().to_string());
        let bond = &l.bonding;
        s.insert(format!("{b}.bonding.mode"), bond.mode().to_string());
        if bond.mode() != "disabled" {
            s.insert(format!("{b}.bonding.mon_rate"), bond.mon_rate().to_string());
            s.insert(format!("{b}.bonding.up_delay"), bond.up_delay().to_string());
            s.insert(
                format!("{b}.bonding.down_delay"),
                bond.down_delay().to_string(),
            );
            for (k, v) in [("hash", &bond.hash), ("peer_rate", &bond.peer_rate)] {
                if let Some(v) = v {
                    s.insert(format!("{b}.bonding.{k}"), v.v.clone());
                }
            }
        }
        if let Some(ls) = &l.linkspeed {
            s.insert(format!("{b}.linkspeed"), ls.v.clone());
        }
        if let Some(m) = &l.trunking_mode {
            s.insert(format!("{b}.trunking.mode"), m.v.clone());
        }
        if let Some(d) = &l.default_network {
            s.insert(format!("{b}.trunking.default_network"), d.v.clone());
        }
        let allowed: Vec<&str> = l.allowed_networks.iter().map(|a| a.v.as_str()).collect();
        s.insert(format!("{b}.allowed_networks"), allowed.join(","));
    }
    if let Some(r) = site.region() {
        let keys: Vec<&str> = r.authorized_keys.iter().map(|k| k.v.as_str()).collect();
        if !keys.is_empty() {
            s.insert(
                format!("region[{}].authorized_keys", r.name.v),
                crate::source::digest(keys.join("\n").as_bytes()),
            );
        }
        for repo in &r.repositories {
            let url = repo.url.as_ref().map_or("", |u| u.v.as_str());
            let dists: Vec<&str> = repo.distributions.iter().map(|d| d.v.as_str()).collect();
            s.insert(
                format!("region[{}].repositories.{}", r.name.v, repo.name.v),
                format!("{url} {}", dists.join(",")),
            );
        }
    }
    for n in &site.nodes {
        if let Some(i) = &n.config.image {
            s.insert(format!("image[{}]", i.v), "used".into());
        }
        if let Some(k) = &n.config.kernel {
            s.insert(format!("kernel[{}]", k.v), "used".into());
        }
    }
    s
}

/// The fingerprint of a snapshot.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects() {
        assert_eq!(effect("metadata.tags"), Effect::InPlace);
        assert_eq!(effect("metadata.owner_data.role"), Effect::InPlace);
        assert_eq!(effect("oob.account"), Effect::InPlace);
        assert_eq!(effect("storage.sda.partitions.root.size"), Effect::Rebuild);
        assert_eq!(effect("platform.image"), Effect::Rebuild);
        assert_eq!(effect("metadata.boot_mac"), Effect::Rebuild);
    }
}
