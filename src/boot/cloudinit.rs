//! What a deployed node is told at first boot, as cloud-init reads it: the NoCloud seed
//! (`user-data` with the boot actions' files, units and packages, the region's SSH keys and
//! repositories; `meta-data`; `network-config` version 2 with the design's interfaces, bonds,
//! VLANs, addresses, routes and DNS) and, for the installer mode, Ubuntu autoinstall user-data
//! with the storage layout as curtin actions.
//!
//! Documents are emitted as JSON (a YAML subset every YAML 1.1 reader parses the same way):
//! MAC addresses and words like `no` stay strings, and design text cannot break the structure.
//! Boot-action assets go through their `data_pipeline` (`base64_decode`, `base64_encode`,
//! `utf8_decode`, `utf8_encode`, `template`); a template sees `node.*` and `action.*` as
//! Drydock's did. Pure functions: no I/O.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::boot::records::Inventory;
use crate::spec::{AddressMethod, AssetSpec, BootActionSpec, InterfaceSpec, NodeSpec};

/// What a boot action's template may refer to besides the node.
#[derive(Clone, Debug)]
pub struct ActionContext {
    /// `action.key`: the key the node signals with (its deploy token).
    pub key: String,
    /// `action.report_url`: where to POST the action's status.
    pub report_url: String,
    pub action_id: String,
    pub design_ref: String,
}

/// An asset rendered for a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub kind: String,
    pub path: String,
    pub permissions: String,
    pub content: Vec<u8>,
}

/// Decode standard base64 (padding optional, whitespace ignored).
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            c => return Err(format!("not base64: the character {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// `{{ path }}` substitution: Drydock's templates used Jinja; the node-facing variables
/// (`node.hostname`, `node.domain`, `node.fqdn`, `node.tags`, `node.labels.KEY`,
/// `node.network.NET.ip|cidr|dns_suffix`, `action.key`, `action.report_url`,
/// `action.action_id`, `action.design_ref`) are what real boot actions use. An unknown
/// variable is an error naming it (Jinja's strict undefined), never an empty string.
pub fn template(text: &str, node: &NodeSpec, action: &ActionContext) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a `{{` without its `}}`".to_string())?;
        let var = after[..end].trim();
        out.push_str(&lookup(var, node, action).ok_or_else(|| {
            format!("unknown template variable `{var}` (known: node.hostname, node.domain, node.fqdn, node.tags, node.labels.KEY, node.network.NET.ip, action.key, action.report_url, action.action_id, action.design_ref)")
        })?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(var: &str, node: &NodeSpec, action: &ActionContext) -> Option<String> {
    let domain = node
        .fqdn
        .split_once('.')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    Some(match var {
        "node.hostname" => node.name.clone(),
        "node.domain" => domain,
        "node.fqdn" => node.fqdn.clone(),
        "node.tags" => node.tags.join(","),
        "action.key" => action.key.clone(),
        "action.report_url" => action.report_url.clone(),
        "action.action_id" => action.action_id.clone(),
        "action.design_ref" => action.design_ref.clone(),
        v => {
            if let Some(k) = v.strip_prefix("node.labels.") {
                return node.owner_data.get(k).cloned();
            }
            let net = v.strip_prefix("node.network.")?;
            let (net, field) = net.rsplit_once('.')?;
            let a = node.addresses.iter().find(|a| a.network == net)?;
            match field {
                "ip" => match a.method {
                    AddressMethod::Static(ip) => ip.to_string(),
                    AddressMethod::Dhcp => "dhcp".into(),
                },
                "cidr" => a.cidr.clone()?,
                "dns_suffix" => a.dns_domain.clone()?,
                _ => return None,
            }
        }
    })
}

/// An asset's content after its pipeline.
pub fn render_asset(
    asset: &AssetSpec,
    node: &NodeSpec,
    action: &ActionContext,
) -> Result<Rendered, String> {
    let path = asset
        .path
        .clone()
        .ok_or_else(|| format!("a {} asset without a path", asset.kind))?;
    if asset.data.is_none() && asset.location.is_some() {
        return Err(format!(
            "asset {path}: `location` assets are not fetched by the PXE provisioner; give the content as `data`"
        ));
    }
    let mut bytes = asset.data.clone().unwrap_or_default().into_bytes();
    for step in &asset.data_pipeline {
        bytes = match step.as_str() {
            "base64_decode" => base64_decode(&String::from_utf8_lossy(&bytes))
                .map_err(|e| format!("asset {path}: base64_decode: {e}"))?,
            "base64_encode" => crate::driver::credential::base64(&bytes).into_bytes(),
            "utf8_decode" | "utf8_encode" => String::from_utf8(bytes)
                .map_err(|_| format!("asset {path}: {step}: not UTF-8"))?
                .into_bytes(),
            "template" => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("asset {path}: template: not UTF-8"))?;
                template(&text, node, action)
                    .map_err(|e| format!("asset {path}: template: {e}"))?
                    .into_bytes()
            }
            other => return Err(format!("asset {path}: unknown pipeline step `{other}`")),
        };
    }
    Ok(Rendered {
        kind: asset.kind.clone(),
        path,
        permissions: format!("0{}", asset.permissions.as_deref().unwrap_or("644")),
        content: bytes,
    })
}

/// The NoCloud `meta-data`.
pub fn meta_data(node: &NodeSpec, generation: u64) -> String {
    let v = json!({
        "instance-id": format!("drydock-{}-{generation}", node.name),
        "local-hostname": node.name,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).expect("json"))
}

/// The `#cloud-config` user-data: hostname, SSH keys, repositories, the boot actions' files and
/// units (enabled), their packages.
pub fn user_data(
    node: &NodeSpec,
    actions: &[(&BootActionSpec, ActionContext)],
) -> Result<String, String> {
    Ok(cloud_config_text(cloud_config(node, actions)?))
}

fn cloud_config_text(doc: serde_json::Map<String, Value>) -> String {
    format!(
        "#cloud-config\n{}\n",
        serde_json::to_string_pretty(&Value::Object(doc)).expect("json")
    )
}

/// Where the signal script of a boot action is written on the node.
pub fn signal_script_path(action: &str) -> String {
    format!("/var/lib/drydock/bootactions/{action}.signal")
}

/// The user-data of [`user_data`], and for each `signaling: true` boot action a script, run
/// last by cloud-init, that reports the action's status to `action.report_url` with
/// `action.key` (header `X-Bootaction-Key`): `Success` when its units are enabled and its
/// packages installed, else `Failure` with what is missing. For a provisioner that boots the
/// machine through someone else's installer (MAAS), where nothing of drydock's runs on the
/// node but cloud-init. The script's first lines are `url='…'` and `key='…'`.
pub fn user_data_signaling(
    node: &NodeSpec,
    actions: &[(&BootActionSpec, ActionContext)],
) -> Result<String, String> {
    let mut doc = cloud_config(node, actions)?;
    let mut files = Vec::new();
    let mut cmds = Vec::new();
    for (ba, cx) in actions.iter().filter(|(ba, _)| ba.signaling) {
        if cx.report_url.is_empty() || cx.key.is_empty() {
            return Err(format!(
                "boot action {} is signaling but has no report URL or key",
                ba.name
            ));
        }
        let script = signal_script(ba, cx)?;
        let path = signal_script_path(&ba.name);
        files.push(json!({
            "path": path,
            "permissions": "0700",
            "encoding": "b64",
            "content": crate::driver::credential::base64(script.as_bytes()),
            "owner": "root:root",
        }));
        cmds.push(json!([path]));
    }
    for (k, v) in [("write_files", files), ("runcmd", cmds)] {
        if v.is_empty() {
            continue;
        }
        match doc.get_mut(k) {
            Some(Value::Array(a)) => a.extend(v),
            _ => {
                doc.insert(k.into(), Value::Array(v));
            }
        }
    }
    Ok(cloud_config_text(doc))
}

/// A word put in the signal script unquoted-safe: systemd unit, package and action names.
fn shell_word(what: &str, w: &str) -> Result<String, String> {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._:+~-".contains(c))
    {
        Ok(w.to_string())
    } else {
        Err(format!(
            "{what} `{}` cannot go into the signal script (letters, digits and @._:+~- only)",
            crate::source::printable(w)
        ))
    }
}

fn signal_script(ba: &BootActionSpec, cx: &ActionContext) -> Result<String, String> {
    let name = shell_word("boot action name", &ba.name)?;
    if cx.report_url.contains(['\'', '\\', '\n']) || !cx.report_url.starts_with("http") {
        return Err(format!(
            "the report URL of boot action {name} is not a plain URL"
        ));
    }
    let key = shell_word("boot action key", &cx.key)?;
    let mut units = Vec::new();
    let mut packages = Vec::new();
    for a in &ba.assets {
        match a.kind.as_str() {
            "unit" => {
                let p = a.path.as_deref().unwrap_or_default();
                units.push(shell_word("unit", p.rsplit('/').next().unwrap_or(p))?);
            }
            "pkg_list" => {
                for (p, _) in &a.packages {
                    packages.push(shell_word("package", p)?);
                }
            }
            _ => {}
        }
    }
    let mut s = format!(
        "#!/bin/sh\nurl='{}'\nkey='{key}'\n# Written by drydock: reports boot action {name}'s status to drydock's boot service.\n# The key dies when the deploy ends.\nstatus=Success\nmessage='boot action {name}: laid down'\n",
        cx.report_url
    );
    if !units.is_empty() {
        s.push_str(&format!(
            "for u in {}; do\n  systemctl is-enabled --quiet \"$u\" || {{ status=Failure; message=\"boot action {name}: unit $u is not enabled\"; }}\ndone\n",
            units.join(" ")
        ));
    }
    if !packages.is_empty() {
        s.push_str(&format!(
            "for p in {}; do\n  dpkg-query -W \"$p\" >/dev/null 2>&1 || {{ status=Failure; message=\"boot action {name}: package $p is not installed\"; }}\ndone\n",
            packages.join(" ")
        ));
    }
    s.push_str(
        "exec curl -fsS --retry 30 --retry-delay 10 --retry-connrefused -X POST \\\n  -H 'Content-Type: application/json' -H \"X-Bootaction-Key: $key\" \\\n  --data \"{\\\"status\\\": \\\"$status\\\", \\\"details\\\": [{\\\"message\\\": \\\"$message\\\", \\\"error\\\": false}]}\" \"$url\"\n",
    );
    Ok(s)
}

fn cloud_config(
    node: &NodeSpec,
    actions: &[(&BootActionSpec, ActionContext)],
) -> Result<serde_json::Map<String, Value>, String> {
    let mut files = Vec::new();
    let mut units = Vec::new();
    let mut packages: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (ba, cx) in actions {
        for asset in &ba.assets {
            if asset.kind == "pkg_list" {
                for (p, v) in &asset.packages {
                    packages.insert(p.clone(), v.clone());
                }
                continue;
            }
            let r = render_asset(asset, node, cx)
                .map_err(|e| format!("boot action {}: {e}", ba.name))?;
            if r.kind == "unit" {
                units.push(r.path.rsplit('/').next().unwrap_or(&r.path).to_string());
            }
            files.push(json!({
                "path": r.path,
                "permissions": r.permissions,
                "encoding": "b64",
                "content": crate::driver::credential::base64(&r.content),
                "owner": "root:root",
            }));
        }
    }
    let mut doc = serde_json::Map::new();
    doc.insert("hostname".into(), json!(node.name));
    doc.insert("fqdn".into(), json!(node.fqdn));
    doc.insert("manage_etc_hosts".into(), json!(true));
    if !node.ssh_keys.is_empty() {
        doc.insert("ssh_authorized_keys".into(), json!(node.ssh_keys.to_vec()));
    }
    let sources: serde_json::Map<String, Value> = node
        .repositories
        .iter()
        .filter(|r| r.repo_type.as_deref().is_none_or(|t| t == "apt") && r.url.is_some())
        .map(|r| {
            let mut s = serde_json::Map::new();
            s.insert(
                "source".into(),
                json!(
                    format!(
                        "deb {} {} {}",
                        r.url.as_deref().unwrap_or(""),
                        r.distributions.first().map_or("$RELEASE", |d| d.as_str()),
                        r.components.join(" ")
                    )
                    .trim_end()
                ),
            );
            if let Some(k) = &r.gpgkey {
                s.insert("key".into(), json!(k));
            }
            (format!("drydock-{}.list", r.name), Value::Object(s))
        })
        .collect();
    if !sources.is_empty() {
        doc.insert("apt".into(), json!({ "sources": sources }));
    }
    if !packages.is_empty() {
        let list: Vec<Value> = packages
            .iter()
            .map(|(p, v)| match v {
                Some(v) => json!([p, v]),
                None => json!(p),
            })
            .collect();
        doc.insert("packages".into(), Value::Array(list));
    }
    if !files.is_empty() {
        doc.insert("write_files".into(), Value::Array(files));
    }
    if !units.is_empty() {
        let mut cmds = vec![json!(["systemctl", "daemon-reload"])];
        for u in &units {
            cmds.push(json!(["systemctl", "enable", "--now", u]));
        }
        doc.insert("runcmd".into(), Value::Array(cmds));
    }
    Ok(doc)
}

/// The MAC of an interface's slave: the design's (the boot MAC), else the NIC the agent found
/// at the slave's PCI address or with its name.
fn slave_mac(s: &crate::spec::SlaveSpec, inv: Option<&Inventory>) -> Option<String> {
    s.mac.clone().or_else(|| {
        let inv = inv?;
        inv.nics
            .iter()
            .find(|n| s.address.is_some() && n.pci == s.address)
            .or_else(|| inv.nics.iter().find(|n| n.name == s.name))
            .map(|n| n.mac.clone())
    })
}

fn ethernet(name: &str, mac: Option<String>, mtu: i64) -> Value {
    let mut e = serde_json::Map::new();
    match mac {
        Some(m) => {
            e.insert("match".into(), json!({ "macaddress": m }));
            e.insert("set-name".into(), json!(name));
        }
        None => {
            e.insert("match".into(), json!({ "name": name }));
        }
    }
    if mtu != 1500 {
        e.insert("mtu".into(), json!(mtu));
    }
    Value::Object(e)
}

/// Addresses, routes and DNS of the networks carried untagged (`vlan: None`) or on `vlan`.
fn addressing(
    node: &NodeSpec,
    iface: &InterfaceSpec,
    vlan: Option<u16>,
    dev: &mut serde_json::Map<String, Value>,
) {
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    let mut dns: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    for n in iface.networks.iter().filter(|n| n.vlan == vlan) {
        let Some(a) = node.addresses.iter().find(|a| a.network == n.network) else {
            continue;
        };
        let v6 = a.cidr.as_deref().is_some_and(|c| c.contains(':'));
        match a.method {
            AddressMethod::Static(ip) => {
                let prefix = a
                    .cidr
                    .as_deref()
                    .and_then(|c| c.split_once('/'))
                    .map_or(if v6 { "64" } else { "24" }, |(_, p)| p);
                addresses.push(json!(format!("{ip}/{prefix}")));
            }
            AddressMethod::Dhcp => {
                dev.insert(if v6 { "dhcp6" } else { "dhcp4" }.into(), json!(true));
            }
        }
        for r in a
            .routes
            .iter()
            .filter(|r| r.routedomain.is_none() || r.expanded)
        {
            let (Some(to), Some(via)) = (&r.subnet, r.gateway) else {
                continue;
            };
            let default = matches!(to.as_str(), "0.0.0.0/0" | "::/0");
            if default && !a.default_route {
                continue;
            }
            let mut route = serde_json::Map::new();
            route.insert(
                "to".into(),
                json!(if default { "default" } else { to.as_str() }),
            );
            route.insert("via".into(), json!(via.to_string()));
            if let Some(m) = r.metric {
                route.insert("metric".into(), json!(m));
            }
            routes.push(Value::Object(route));
        }
        dns.extend(a.dns_servers.iter().cloned());
        search.extend(a.dns_domain.iter().cloned());
        if let Some(m) = n.mtu
            && vlan.is_some()
        {
            dev.insert("mtu".into(), json!(m));
        }
    }
    if !addresses.is_empty() {
        dev.insert("addresses".into(), Value::Array(addresses));
    }
    if !routes.is_empty() {
        dev.insert("routes".into(), Value::Array(routes));
    }
    dns.dedup();
    search.dedup();
    if !dns.is_empty() || !search.is_empty() {
        let mut ns = serde_json::Map::new();
        if !dns.is_empty() {
            ns.insert("addresses".into(), json!(dns));
        }
        if !search.is_empty() {
            ns.insert("search".into(), json!(search));
        }
        dev.insert("nameservers".into(), Value::Object(ns));
    }
}

/// `network-config` version 2 (netplan's format, which cloud-init passes on).
pub fn network_config(node: &NodeSpec, inventory: Option<&Inventory>) -> Value {
    let mut ethernets = serde_json::Map::new();
    let mut bonds = serde_json::Map::new();
    let mut vlans = serde_json::Map::new();
    for iface in &node.interfaces {
        let mut dev = match &iface.bond {
            Some(b) => {
                let mut members = Vec::new();
                for s in &iface.slaves {
                    members.push(json!(s.name));
                    ethernets.insert(
                        s.name.clone(),
                        ethernet(&s.name, slave_mac(s, inventory), iface.mtu),
                    );
                }
                let mut p = serde_json::Map::new();
                p.insert("mode".into(), json!(b.mode));
                p.insert("mii-monitor-interval".into(), json!(b.mon_rate));
                p.insert("up-delay".into(), json!(b.up_delay));
                p.insert("down-delay".into(), json!(b.down_delay));
                if let Some(h) = &b.hash {
                    p.insert("transmit-hash-policy".into(), json!(h));
                }
                if let Some(r) = &b.peer_rate {
                    p.insert("lacp-rate".into(), json!(r));
                }
                let mut m = serde_json::Map::new();
                m.insert("interfaces".into(), Value::Array(members));
                m.insert("parameters".into(), Value::Object(p));
                if iface.mtu != 1500 {
                    m.insert("mtu".into(), json!(iface.mtu));
                }
                m
            }
            None => {
                let mac = iface.slaves.first().and_then(|s| slave_mac(s, inventory));
                match ethernet(&iface.name, mac, iface.mtu) {
                    Value::Object(m) => m,
                    _ => unreachable!("ethernet() builds an object"),
                }
            }
        };
        addressing(node, iface, None, &mut dev);
        if iface.bond.is_some() {
            bonds.insert(iface.name.clone(), Value::Object(dev));
        } else {
            ethernets.insert(iface.name.clone(), Value::Object(dev));
        }
        for tag in iface.networks.iter().filter_map(|n| n.vlan) {
            let mut v = serde_json::Map::new();
            v.insert("id".into(), json!(tag));
            v.insert("link".into(), json!(iface.name));
            addressing(node, iface, Some(tag), &mut v);
            vlans.insert(format!("{}.{tag}", iface.name), Value::Object(v));
        }
    }
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), json!(2));
    doc.insert("ethernets".into(), Value::Object(ethernets));
    if !bonds.is_empty() {
        doc.insert("bonds".into(), Value::Object(bonds));
    }
    if !vlans.is_empty() {
        doc.insert("vlans".into(), Value::Object(vlans));
    }
    Value::Object(doc)
}

/// The `network-config` file.
pub fn network_config_text(node: &NodeSpec, inventory: Option<&Inventory>) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(&network_config(node, inventory)).expect("json")
    )
}

/// Ubuntu autoinstall user-data for the installer mode: the storage layout as curtin actions,
/// the network configuration, SSH, the same user-data the image mode seeds (as `user-data`),
/// and a late command that reports completion to `done_url` with the token header.
pub fn autoinstall(
    node: &NodeSpec,
    actions: &[(&BootActionSpec, ActionContext)],
    done_url: &str,
    token: &str,
) -> Result<String, String> {
    let inner = user_data(node, actions)?;
    let inner: Value = serde_json::from_str(inner.trim_start_matches("#cloud-config\n"))
        .map_err(|e| format!("internal: user-data is not JSON: {e}"))?;
    let storage = curtin_storage(node)?;
    let auto = json!({
        "version": 1,
        "storage": { "config": storage },
        "network": network_config(node, None),
        "ssh": { "install-server": true, "authorized-keys": node.ssh_keys.to_vec(), "allow-pw": false },
        "user-data": inner,
        "late-commands": [
            format!("curl -fsS -X POST -H 'X-Drydock-Token: {token}' --data ok {done_url}")
        ],
        "shutdown": "poweroff",
    });
    Ok(format!(
        "#cloud-config\n{}\n",
        serde_json::to_string_pretty(&json!({ "autoinstall": auto })).expect("json")
    ))
}

/// curtin storage actions for the design's devices, partitions, volume groups, logical
/// volumes, filesystems and mounts.
fn curtin_storage(node: &NodeSpec) -> Result<Vec<Value>, String> {
    use crate::spec::SizeAmount;
    let size = |s: &Option<crate::spec::SizeSpec>, what: &str| -> Result<Value, String> {
        match s.as_ref().map(|s| (s.amount, s.at_least)) {
            Some((_, true)) => Ok(json!(-1)),
            Some((Some(SizeAmount::Bytes(b)), false)) => Ok(json!(format!("{b}B"))),
            Some((Some(SizeAmount::Percent(p)), false)) => Ok(json!(format!("{p}%"))),
            _ => Err(format!("{what}: no size the installer can use")),
        }
    };
    let uefi = node.hardware.boot_mode.as_deref() == Some("uefi");
    let mut out = Vec::new();
    let mut formats = Vec::new();
    let fs = |id: &str, f: &crate::spec::FilesystemSpec, formats: &mut Vec<Value>| {
        formats.push(
            json!({"type": "format", "id": format!("{id}-fs"), "volume": id, "fstype": f.fstype}),
        );
        if let Some(m) = &f.mountpoint {
            formats.push(json!({"type": "mount", "id": format!("{id}-mount"), "device": format!("{id}-fs"), "path": m, "options": f.mount_options}));
        }
    };
    for (di, d) in node.storage.devices.iter().enumerate() {
        let id = format!("disk-{di}");
        let mut disk = json!({"type": "disk", "id": id, "ptable": "gpt", "wipe": "superblock-recursive", "preserve": false, "grub_device": !uefi && di == 0});
        if d.address.is_some() || !d.name.starts_with(['s', 'v', 'n', 'h']) {
            disk["match"] = json!({"size": "largest"});
        } else {
            disk["path"] = json!(format!("/dev/{}", d.name));
        }
        out.push(disk);
        if !uefi && di == 0 {
            out.push(json!({"type": "partition", "id": format!("{id}-biosgrub"), "device": id, "size": "1MB", "flag": "bios_grub"}));
        }
        for (pi, p) in d.partitions.iter().enumerate() {
            let pid = format!("{id}-part-{pi}");
            let mut part = json!({"type": "partition", "id": pid, "device": id, "size": size(&p.size, &format!("partition {}", p.name))?});
            if p.bootable
                || p.filesystem.as_ref().and_then(|f| f.mountpoint.as_deref()) == Some("/boot/efi")
            {
                part["flag"] = json!(if uefi { "boot" } else { "" });
                if uefi {
                    part["grub_device"] = json!(true);
                }
            }
            out.push(part);
            if let Some(f) = &p.filesystem {
                fs(&pid, f, &mut formats);
            }
        }
    }
    for vg in &node.storage.volume_groups {
        let mut devices = Vec::new();
        for (di, d) in node.storage.devices.iter().enumerate() {
            if d.volume_group.as_deref() == Some(&vg.name) {
                devices.push(json!(format!("disk-{di}")));
            }
            for (pi, p) in d.partitions.iter().enumerate() {
                if p.volume_group.as_deref() == Some(&vg.name) {
                    devices.push(json!(format!("disk-{di}-part-{pi}")));
                }
            }
        }
        let vid = format!("vg-{}", vg.name);
        out.push(json!({"type": "lvm_volgroup", "id": vid, "name": vg.name, "devices": devices}));
        for lv in &vg.logical_volumes {
            let lid = format!("{vid}-{}", lv.name);
            let mut l =
                json!({"type": "lvm_partition", "id": lid, "name": lv.name, "volgroup": vid});
            if !lv.size.as_ref().is_some_and(|s| s.at_least) {
                l["size"] = size(&lv.size, &format!("logical volume {}", lv.name))?;
            }
            out.push(l);
            if let Some(f) = &lv.filesystem {
                fs(&lid, f, &mut formats);
            }
        }
    }
    out.extend(formats);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::spec::*;
    use std::sync::Arc;

    pub(crate) fn cx() -> ActionContext {
        ActionContext {
            key: "k3y".into(),
            report_url: "http://10.23.0.1:8081/api/v1.0/bootactions/abc".into(),
            action_id: "abc".into(),
            design_ref: "sha256:d".into(),
        }
    }

    /// A node with a trunked NIC (untagged pxe, VLAN 100 mgmt) and a bond of two NICs.
    pub(crate) fn node() -> NodeSpec {
        let addr = |net: &str, ip: &str, cidr: &str, default: bool| AddressSpec {
            network: net.into(),
            interface: None,
            method: if ip == "dhcp" {
                AddressMethod::Dhcp
            } else {
                AddressMethod::Static(ip.parse().unwrap())
            },
            cidr: Some(cidr.into()),
            gateway: None,
            default_route: default,
            routes: if net != "mgmt" {
                vec![]
            } else {
                vec![
                    RouteSpec {
                        subnet: Some("0.0.0.0/0".into()),
                        gateway: Some("10.24.0.1".parse().unwrap()),
                        metric: Some(100),
                        ..RouteSpec::default()
                    },
                    RouteSpec {
                        subnet: Some("10.99.0.0/16".into()),
                        gateway: Some("10.24.0.2".parse().unwrap()),
                        ..RouteSpec::default()
                    },
                ]
            },
            dns_domain: Some(format!("{net}.example")),
            dns_servers: vec!["10.24.0.53".into()],
        };
        NodeSpec {
            name: "n1".into(),
            fqdn: "n1.mgmt.example".into(),
            boot_mac: Some("52:54:00:00:00:01".into()),
            tags: vec!["compute".into()],
            owner_data: [("role".to_string(), "worker".to_string())].into(),
            interfaces: vec![
                InterfaceSpec {
                    name: "pxe".into(),
                    slaves: vec![SlaveSpec {
                        name: "eno1".into(),
                        address: Some("0000:00:03.0".into()),
                        mac: Some("52:54:00:00:00:01".into()),
                    }],
                    networks: vec![
                        InterfaceNetwork {
                            network: "pxe".into(),
                            vlan: None,
                            mtu: None,
                        },
                        InterfaceNetwork {
                            network: "mgmt".into(),
                            vlan: Some(100),
                            mtu: Some(1400),
                        },
                    ],
                    mtu: 1500,
                    ..InterfaceSpec::default()
                },
                InterfaceSpec {
                    name: "bond0".into(),
                    slaves: vec![
                        SlaveSpec {
                            name: "ens4".into(),
                            address: Some("0000:00:04.0".into()),
                            mac: None,
                        },
                        SlaveSpec {
                            name: "ens5".into(),
                            address: None,
                            mac: None,
                        },
                    ],
                    networks: vec![InterfaceNetwork {
                        network: "storage".into(),
                        vlan: None,
                        mtu: None,
                    }],
                    mtu: 9000,
                    bond: Some(BondSpec {
                        mode: "802.3ad".into(),
                        hash: Some("layer3+4".into()),
                        peer_rate: Some("fast".into()),
                        mon_rate: 100,
                        up_delay: 200,
                        down_delay: 200,
                    }),
                    ..InterfaceSpec::default()
                },
            ],
            addresses: vec![
                addr("pxe", "dhcp", "10.23.0.0/24", false),
                addr("mgmt", "10.24.0.11", "10.24.0.0/24", true),
                addr("storage", "10.25.0.11", "10.25.0.0/24", false),
            ],
            ssh_keys: Arc::from(vec!["ssh-ed25519 AAAA test@example".to_string()]),
            ..NodeSpec::default()
        }
    }

    #[test]
    fn templates_see_the_node_and_the_action() {
        let n = node();
        let t = template(
            "{{ node.hostname }}.{{node.domain}} {{ node.network.mgmt.ip }} {{ node.labels.role }} {{ action.report_url }} {{ action.key }}",
            &n,
            &cx(),
        )
        .unwrap();
        assert_eq!(
            t,
            "n1.mgmt.example 10.24.0.11 worker http://10.23.0.1:8081/api/v1.0/bootactions/abc k3y"
        );
        assert!(
            template("{{ node.nope }}", &n, &cx())
                .unwrap_err()
                .contains("node.nope")
        );
        assert!(template("{{ node.hostname", &n, &cx()).is_err());
    }

    #[test]
    fn assets_go_through_their_pipeline() {
        let n = node();
        let a = AssetSpec {
            kind: "file".into(),
            path: Some("/etc/x".into()),
            permissions: Some("600".into()),
            data: Some(crate::driver::credential::base64(
                b"host {{ node.hostname }}\n",
            )),
            data_pipeline: vec![
                "base64_decode".into(),
                "utf8_decode".into(),
                "template".into(),
            ],
            ..AssetSpec::default()
        };
        let r = render_asset(&a, &n, &cx()).unwrap();
        assert_eq!(r.content, b"host n1\n");
        assert_eq!(r.permissions, "0600");
        let bad = AssetSpec {
            data_pipeline: vec!["rot13".into()],
            ..a.clone()
        };
        assert!(render_asset(&bad, &n, &cx()).unwrap_err().contains("rot13"));
        let loc = AssetSpec {
            data: None,
            location: Some("http://x".into()),
            ..a
        };
        assert!(
            render_asset(&loc, &n, &cx())
                .unwrap_err()
                .contains("location")
        );
    }

    #[test]
    fn network_config_has_interfaces_bonds_vlans_addresses_routes_and_dns() {
        let inv = Inventory {
            nics: vec![
                crate::boot::records::Nic {
                    name: "eth1".into(),
                    mac: "52:54:00:00:00:04".into(),
                    pci: Some("0000:00:04.0".into()),
                },
                crate::boot::records::Nic {
                    name: "ens5".into(),
                    mac: "52:54:00:00:00:05".into(),
                    pci: None,
                },
            ],
            ..Inventory::default()
        };
        let v = network_config(&node(), Some(&inv));
        assert_eq!(v["version"], 2);
        let pxe = &v["ethernets"]["pxe"];
        assert_eq!(pxe["match"]["macaddress"], "52:54:00:00:00:01");
        assert_eq!(pxe["set-name"], "pxe");
        assert_eq!(pxe["dhcp4"], true);
        // The untagged pxe network has no default route (it is not primary).
        assert!(pxe.get("routes").is_none(), "{pxe}");
        let vlan = &v["vlans"]["pxe.100"];
        assert_eq!(vlan["id"], 100);
        assert_eq!(vlan["link"], "pxe");
        assert_eq!(vlan["mtu"], 1400);
        assert_eq!(vlan["addresses"], json!(["10.24.0.11/24"]));
        assert_eq!(
            vlan["routes"][0],
            json!({"to": "default", "via": "10.24.0.1", "metric": 100})
        );
        assert_eq!(
            vlan["routes"][1],
            json!({"to": "10.99.0.0/16", "via": "10.24.0.2"})
        );
        assert_eq!(
            vlan["nameservers"],
            json!({"addresses": ["10.24.0.53"], "search": ["mgmt.example"]})
        );
        let bond = &v["bonds"]["bond0"];
        assert_eq!(bond["interfaces"], json!(["ens4", "ens5"]));
        assert_eq!(bond["parameters"]["mode"], "802.3ad");
        assert_eq!(bond["parameters"]["transmit-hash-policy"], "layer3+4");
        assert_eq!(bond["mtu"], 9000);
        assert_eq!(bond["addresses"], json!(["10.25.0.11/24"]));
        // Slaves matched by the MAC found at their PCI address, or by name.
        assert_eq!(
            v["ethernets"]["ens4"]["match"]["macaddress"],
            "52:54:00:00:00:04"
        );
        assert_eq!(
            v["ethernets"]["ens5"]["match"]["macaddress"],
            "52:54:00:00:00:05"
        );
        // Without an inventory, an unresolvable slave is matched by name.
        let v = network_config(&node(), None);
        assert_eq!(v["ethernets"]["ens4"]["match"], json!({"name": "ens4"}));
    }

    #[test]
    fn user_data_has_keys_files_units_and_packages() {
        let ba = BootActionSpec {
            name: "ba".into(),
            signaling: true,
            assets: vec![
                AssetSpec {
                    kind: "file".into(),
                    path: Some("/etc/motd".into()),
                    data: Some("hi {{ node.hostname }}".into()),
                    data_pipeline: vec!["template".into()],
                    ..AssetSpec::default()
                },
                AssetSpec {
                    kind: "unit".into(),
                    path: Some("/etc/systemd/system/x.service".into()),
                    data: Some("[Unit]\n".into()),
                    ..AssetSpec::default()
                },
                AssetSpec {
                    kind: "pkg_list".into(),
                    packages: vec![("jq".into(), None), ("chrony".into(), Some("3.5".into()))],
                    ..AssetSpec::default()
                },
            ],
            ..BootActionSpec::default()
        };
        let u = user_data(&node(), &[(&ba, cx())]).unwrap();
        assert!(u.starts_with("#cloud-config\n"));
        let v: Value = serde_json::from_str(u.trim_start_matches("#cloud-config\n")).unwrap();
        assert_eq!(
            v["ssh_authorized_keys"],
            json!(["ssh-ed25519 AAAA test@example"])
        );
        assert_eq!(v["write_files"][0]["path"], "/etc/motd");
        assert_eq!(
            base64_decode(v["write_files"][0]["content"].as_str().unwrap()).unwrap(),
            b"hi n1"
        );
        assert_eq!(
            v["runcmd"][1],
            json!(["systemctl", "enable", "--now", "x.service"])
        );
        assert_eq!(v["packages"], json!([["chrony", "3.5"], "jq"]));
    }

    #[test]
    fn signaling_user_data_reports_each_signaling_action_with_its_url_and_key() {
        let unit = AssetSpec {
            kind: "unit".into(),
            path: Some("/etc/systemd/system/x.service".into()),
            data: Some("[Unit]\n".into()),
            ..AssetSpec::default()
        };
        let pkgs = AssetSpec {
            kind: "pkg_list".into(),
            packages: vec![("jq".into(), None)],
            ..AssetSpec::default()
        };
        let ba = BootActionSpec {
            name: "ba".into(),
            signaling: true,
            assets: vec![unit.clone(), pkgs],
            ..BootActionSpec::default()
        };
        let quiet = BootActionSpec {
            name: "quiet".into(),
            signaling: false,
            assets: vec![unit],
            ..BootActionSpec::default()
        };
        let u = user_data_signaling(&node(), &[(&ba, cx()), (&quiet, cx())]).unwrap();
        let v: Value = serde_json::from_str(u.trim_start_matches("#cloud-config\n")).unwrap();
        let files = v["write_files"].as_array().unwrap();
        let script: Vec<&Value> = files
            .iter()
            .filter(|f| f["path"] == signal_script_path("ba"))
            .collect();
        assert_eq!(script.len(), 1, "{u}");
        assert!(
            !files
                .iter()
                .any(|f| f["path"] == signal_script_path("quiet"))
        );
        assert_eq!(script[0]["permissions"], "0700");
        let text =
            String::from_utf8(base64_decode(script[0]["content"].as_str().unwrap()).unwrap())
                .unwrap();
        let c = cx();
        assert!(text.contains(&format!("url='{}'", c.report_url)), "{text}");
        assert!(text.contains(&format!("key='{}'", c.key)), "{text}");
        assert!(text.contains("for u in x.service;"), "{text}");
        assert!(text.contains("for p in jq;"), "{text}");
        assert!(text.contains("X-Bootaction-Key: $key"), "{text}");
        // Last: after the units are enabled.
        let run = v["runcmd"].as_array().unwrap();
        assert_eq!(run.last().unwrap(), &json!([signal_script_path("ba")]));
        // The script is sh.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, &text).unwrap();
        if let Ok(o) = std::process::Command::new("sh").arg("-n").arg(&p).output() {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            // Run it with stand-ins for systemctl, dpkg-query and curl: what it would POST.
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            let posted = |enabled: bool| {
                let stub = |name: &str, body: &str| {
                    let f = bin.join(name);
                    std::fs::write(&f, format!("#!/bin/sh\n{body}\n")).unwrap();
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
                };
                stub("systemctl", if enabled { "exit 0" } else { "exit 1" });
                stub("dpkg-query", "exit 0");
                let out = dir.path().join("curl.args");
                stub(
                    "curl",
                    &format!("printf '%s\\n' \"$@\" > {}", out.display()),
                );
                let o = std::process::Command::new("sh")
                    .arg(&p)
                    .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let args = std::fs::read_to_string(&out).unwrap();
                let args: Vec<&str> = args.lines().collect();
                let at = args.iter().position(|a| *a == "--data").unwrap();
                assert_eq!(args.last().unwrap(), &c.report_url);
                assert!(args.contains(&"X-Bootaction-Key: k3y"), "{args:?}");
                serde_json::from_str::<Value>(args[at + 1]).unwrap()
            };
            let ok = posted(true);
            assert_eq!(ok["status"], "Success");
            let bad = posted(false);
            assert_eq!(bad["status"], "Failure");
            assert_eq!(
                bad["details"][0]["message"],
                "boot action ba: unit x.service is not enabled"
            );
        }
        // Nothing unquoted-unsafe gets in, and a signaling action needs its URL and key.
        let mut bad = ba.clone();
        bad.name = "a'b".into();
        assert!(user_data_signaling(&node(), &[(&bad, cx())]).is_err());
        let mut nokey = cx();
        nokey.key.clear();
        let e = user_data_signaling(&node(), &[(&ba, nokey)]).unwrap_err();
        assert!(e.contains("no report URL or key"), "{e}");
    }

    #[test]
    fn autoinstall_carries_storage_network_and_the_callback() {
        let mut n = node();
        n.hardware.boot_mode = Some("uefi".into());
        n.storage.devices = vec![DeviceSpec {
            name: "vda".into(),
            partitions: vec![
                PartitionSpec {
                    name: "efi".into(),
                    size: Some(SizeSpec {
                        written: "512mb".into(),
                        amount: Some(SizeAmount::Bytes(512_000_000)),
                        at_least: false,
                    }),
                    filesystem: Some(FilesystemSpec {
                        mountpoint: Some("/boot/efi".into()),
                        fstype: "vfat".into(),
                        mount_options: "defaults".into(),
                    }),
                    ..PartitionSpec::default()
                },
                PartitionSpec {
                    name: "pv".into(),
                    size: Some(SizeSpec {
                        written: ">1g".into(),
                        amount: Some(SizeAmount::Bytes(1_000_000_000)),
                        at_least: true,
                    }),
                    volume_group: Some("vg0".into()),
                    ..PartitionSpec::default()
                },
            ],
            ..DeviceSpec::default()
        }];
        n.storage.volume_groups = vec![VolumeGroupSpec {
            name: "vg0".into(),
            logical_volumes: vec![LogicalVolumeSpec {
                name: "root".into(),
                size: Some(SizeSpec {
                    written: "80%".into(),
                    amount: Some(SizeAmount::Percent(80)),
                    at_least: false,
                }),
                filesystem: Some(FilesystemSpec {
                    mountpoint: Some("/".into()),
                    fstype: "ext4".into(),
                    mount_options: "defaults".into(),
                }),
            }],
        }];
        let u = autoinstall(&n, &[], "http://x/done", "tok").unwrap();
        let v: Value = serde_json::from_str(u.trim_start_matches("#cloud-config\n")).unwrap();
        let a = &v["autoinstall"];
        assert_eq!(a["version"], 1);
        let cfg = a["storage"]["config"].as_array().unwrap();
        let types: Vec<&str> = cfg.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "disk",
                "partition",
                "partition",
                "lvm_volgroup",
                "lvm_partition",
                "format",
                "mount",
                "format",
                "mount"
            ]
        );
        assert_eq!(cfg[0]["path"], "/dev/vda");
        assert_eq!(cfg[2]["size"], -1);
        assert_eq!(cfg[3]["devices"], json!(["disk-0-part-1"]));
        assert_eq!(cfg[4]["size"], "80%");
        assert_eq!(a["network"]["version"], 2);
        assert!(
            a["late-commands"][0]
                .as_str()
                .unwrap()
                .contains("http://x/done")
        );
    }
}
