//! Networks on MAAS: PrepareSite's network template (a fabric per NetworkLink, its VLANs, a
//! subnet per Network with gateway and DNS, IP ranges, DHCP on the primary rack), the
//! region's SSH keys and package repositories, and each node's interfaces (bonds, VLAN
//! interfaces, MTUs, links with static addresses or DHCP, the default gateway).
//!
//! Idempotent and minimal: what matches is left alone, what differs is updated, and what the
//! design does not name is never deleted (foreign fabrics and subnets are logged as such).
//! A design network's VLAN is `(fabric of its first link, tag)`: the tag when the link is
//! trunked and the network is not the link's default network, 0 (untagged) otherwise, which
//! is how the nodes' `InterfaceNetwork::vlan` reads it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use serde_json::Value;

use super::client::Client;
use super::{Maas, kv, s, strings, u};
use crate::driver::{DriverError, DriverResult, NodeSpec, SiteSpec};
use crate::spec::AddressMethod;
use crate::spec::NetworkSpec;

fn permanent(s: impl Into<String>) -> DriverError {
    DriverError::Permanent(s.into())
}

/// Fabrics, VLANs and subnets as MAAS has them.
#[derive(Debug, Default)]
pub struct NetIndex {
    /// Fabric name → id.
    pub fabrics: HashMap<String, u64>,
    /// (fabric id, vid) → VLAN JSON.
    pub vlans: HashMap<(u64, u64), Value>,
    /// CIDR → subnet JSON.
    pub subnets: HashMap<String, Value>,
}

impl NetIndex {
    pub async fn read(c: &Client) -> DriverResult<NetIndex> {
        let fabrics = c.get("fabrics/", None, &[]).await?;
        let subnets = c.get("subnets/", None, &[]).await?;
        let mut ix = NetIndex::default();
        for f in fabrics.as_array().into_iter().flatten() {
            ix.fabrics.insert(s(&f["name"]).to_string(), u(&f["id"]));
            for v in f["vlans"].as_array().into_iter().flatten() {
                ix.vlans.insert((u(&f["id"]), u(&v["vid"])), v.clone());
            }
        }
        for sn in subnets.as_array().into_iter().flatten() {
            ix.subnets.insert(s(&sn["cidr"]).to_string(), sn.clone());
        }
        Ok(ix)
    }

    fn vlan_id(&self, link: &str, vid: u64) -> DriverResult<u64> {
        let f = self.fabrics.get(link).ok_or_else(|| {
            permanent(format!(
                "MAAS has no fabric `{link}` (PrepareSite makes one per NetworkLink; was it run?)"
            ))
        })?;
        self.vlans
            .get(&(*f, vid))
            .map(|v| u(&v["id"]))
            .ok_or_else(|| {
                permanent(format!(
                    "MAAS has no VLAN {vid} on fabric `{link}` (PrepareSite makes the design's VLANs)"
                ))
            })
    }
}

/// What commissioning found, from LXD's resources in `50-maas-01-commissioning`'s output.
#[derive(Debug, Default)]
pub struct Discovered {
    /// PCI address → MAC.
    pub nic_by_pci: HashMap<String, String>,
    /// SCSI address (`0:2:0:0`) → disk name (`sda`).
    pub disk_by_scsi: HashMap<String, String>,
}

impl Discovered {
    pub async fn read(c: &Client, sid: &str) -> DriverResult<Discovered> {
        let v = c
            .get(
                &format!("nodes/{sid}/results/"),
                None,
                &[kv("type", "commissioning"), kv("include_output", "true")],
            )
            .await?;
        let mut d = Discovered::default();
        for set in v.as_array().into_iter().flatten() {
            for r in set["results"].as_array().into_iter().flatten() {
                if s(&r["name"]) != "50-maas-01-commissioning" {
                    continue;
                }
                let Ok(bytes) = crate::boot::cloudinit::base64_decode(s(&r["output"])) else {
                    continue;
                };
                let Ok(out) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                let res = &out["resources"];
                for card in res["network"]["cards"].as_array().into_iter().flatten() {
                    let pci = s(&card["pci_address"]);
                    for (i, p) in card["ports"].as_array().into_iter().flatten().enumerate() {
                        let mac = s(&p["address"]).to_ascii_lowercase();
                        // One PCI function per port; a multi-port function gets `.N` suffixes.
                        let key = if i == 0 {
                            pci.to_string()
                        } else {
                            format!("{pci}#{i}")
                        };
                        d.nic_by_pci.insert(key, mac);
                    }
                }
                for disk in res["storage"]["disks"].as_array().into_iter().flatten() {
                    if let Some(scsi) = s(&disk["device_path"]).rsplit("scsi-").next()
                        && s(&disk["device_path"]).contains("scsi-")
                    {
                        d.disk_by_scsi
                            .insert(scsi.to_string(), s(&disk["id"]).to_string());
                    }
                }
            }
        }
        Ok(d)
    }
}

/// `0:2.0.0` (Drydock's host:bus.target.lun) as LXD writes it, `0:2:0:0`.
pub fn scsi_path(address: &str) -> String {
    address.replace('.', ":")
}

/// The gateway of a network's default route.
fn gateway(n: &NetworkSpec) -> Option<IpAddr> {
    n.routes
        .iter()
        .find(|r| matches!(r.subnet.as_deref(), Some("0.0.0.0/0") | Some("::/0")))
        .and_then(|r| r.gateway)
}

/// Each network's (link, vid), by the rule in the module comment.
pub fn placement(site: &SiteSpec) -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    for l in &site.links {
        for n in &l.allowed_networks {
            if out.contains_key(n) {
                continue;
            }
            let tag = site
                .networks
                .iter()
                .find(|x| &x.name == n)
                .and_then(|x| x.vlan.as_deref())
                .and_then(|v| v.parse::<u64>().ok());
            let vid = match tag {
                Some(t) if l.trunked && l.default_network.as_deref() != Some(n.as_str()) => t,
                _ => 0,
            };
            out.insert(n.clone(), (l.name.clone(), vid));
        }
    }
    out
}

/// PrepareSite's network template.
pub async fn prepare_site(maas: &Maas, site: &SiteSpec) -> DriverResult<()> {
    let c = &maas.client;
    let mut ix = NetIndex::read(c).await?;
    let mut changes = 0;
    // One fabric per link.
    for l in &site.links {
        if !ix.fabrics.contains_key(&l.name) {
            let f = c
                .post(
                    "fabrics/",
                    None,
                    &[
                        kv("name", &l.name),
                        kv("description", "drydock NetworkLink"),
                    ],
                )
                .await?;
            changes += 1;
            ix.fabrics.insert(l.name.clone(), u(&f["id"]));
            for v in f["vlans"].as_array().into_iter().flatten() {
                ix.vlans.insert((u(&f["id"]), u(&v["vid"])), v.clone());
            }
        }
    }
    let place = placement(site);
    // VLANs, with the network's MTU (or the link's).
    for n in &site.networks {
        let Some((link, vid)) = place.get(&n.name) else {
            tracing::warn!(network = %n.name, "no NetworkLink allows this network: it is not laid down in MAAS");
            continue;
        };
        let fid = ix.fabrics[link];
        let link_mtu = site.links.iter().find(|l| &l.name == link).map(|l| l.mtu);
        let mtu = n.mtu.or(link_mtu).unwrap_or(1500) as u64;
        match ix.vlans.get(&(fid, *vid)) {
            None => {
                let v = c
                    .post(
                        &format!("fabrics/{fid}/vlans/"),
                        None,
                        &[kv("vid", vid), kv("name", &n.name), kv("mtu", mtu)],
                    )
                    .await?;
                changes += 1;
                ix.vlans.insert((fid, *vid), v);
            }
            Some(v) => {
                let mut f = Vec::new();
                if u(&v["mtu"]) != mtu {
                    f.push(kv("mtu", mtu));
                }
                if *vid != 0 && s(&v["name"]) != n.name {
                    f.push(kv("name", &n.name));
                }
                if !f.is_empty() {
                    let v = c.put(&format!("fabrics/{fid}/vlans/{vid}/"), &f).await?;
                    changes += 1;
                    ix.vlans.insert((fid, *vid), v);
                }
            }
        }
    }
    // Subnets.
    for n in &site.networks {
        let (Some(cidr), Some((link, vid))) = (&n.cidr, place.get(&n.name)) else {
            continue;
        };
        let vlan = ix.vlan_id(link, *vid)?;
        let gw = gateway(n).map(|g| g.to_string());
        match ix.subnets.get(cidr) {
            None => {
                let mut f = vec![kv("cidr", cidr), kv("name", &n.name), kv("vlan", vlan)];
                if let Some(g) = &gw {
                    f.push(kv("gateway_ip", g));
                }
                for d in &n.dns_servers {
                    f.push(kv("dns_servers", d));
                }
                let sn = c.post("subnets/", None, &f).await?;
                changes += 1;
                ix.subnets.insert(cidr.clone(), sn);
            }
            Some(sn) => {
                let mut f = Vec::new();
                if s(&sn["name"]) != n.name {
                    f.push(kv("name", &n.name));
                }
                if u(&sn["vlan"]["id"]) != vlan {
                    f.push(kv("vlan", vlan));
                }
                if sn["gateway_ip"].as_str().map(str::to_string) != gw {
                    f.push(kv("gateway_ip", gw.clone().unwrap_or_default()));
                }
                let dns: Vec<String> = strings(&sn["dns_servers"]);
                if dns != n.dns_servers {
                    if n.dns_servers.is_empty() {
                        f.push(kv("dns_servers", ""));
                    }
                    for d in &n.dns_servers {
                        f.push(kv("dns_servers", d));
                    }
                }
                if !f.is_empty() {
                    let sn = c.put(&format!("subnets/{}/", u(&sn["id"])), &f).await?;
                    changes += 1;
                    ix.subnets.insert(cidr.clone(), sn);
                }
            }
        }
    }
    // IP ranges: `dhcp` → dynamic; `static` and `reserved` → reserved (MAAS never hands them
    // out; the design's static addresses are assigned explicitly).
    let ranges = c.get("ipranges/", None, &[]).await?;
    let ranges: Vec<Value> = ranges.as_array().cloned().unwrap_or_default();
    let mut dhcp_vlans = BTreeSet::new();
    for n in &site.networks {
        let (Some(cidr), Some((link, vid))) = (&n.cidr, place.get(&n.name)) else {
            continue;
        };
        let sid = u(&ix.subnets[cidr]["id"]);
        for r in &n.ranges {
            let kind = if r.kind == "dhcp" {
                "dynamic"
            } else {
                "reserved"
            };
            if kind == "dynamic" {
                dhcp_vlans.insert((link.clone(), *vid));
            }
            let (start, end) = (r.start.to_string(), r.end.to_string());
            let same = ranges
                .iter()
                .find(|x| s(&x["start_ip"]) == start && s(&x["end_ip"]) == end);
            let comment = format!("drydock: {} range of {}", r.kind, n.name);
            match same {
                Some(x) if s(&x["type"]) == kind => {}
                Some(x) => {
                    c.put(
                        &format!("ipranges/{}/", u(&x["id"])),
                        &[kv("type", kind), kv("comment", &comment)],
                    )
                    .await?;
                    changes += 1;
                }
                None => {
                    c.post(
                        "ipranges/",
                        None,
                        &[
                            kv("type", kind),
                            kv("start_ip", &start),
                            kv("end_ip", &end),
                            kv("subnet", sid),
                            kv("comment", &comment),
                        ],
                    )
                    .await?;
                    changes += 1;
                }
            }
        }
    }
    // DHCP on the VLANs with a dynamic range, served by the primary rack controller.
    if !dhcp_vlans.is_empty() {
        let racks = c.get("rackcontrollers/", None, &[]).await?;
        let rack = racks
            .as_array()
            .and_then(|a| a.first())
            .map(|r| s(&r["system_id"]).to_string());
        let Some(rack) = rack else {
            return Err(permanent(
                "MAAS has no rack controller: DHCP cannot be turned on for the design's dynamic ranges; connect a rack controller",
            ));
        };
        for (link, vid) in dhcp_vlans {
            let fid = ix.fabrics[&link];
            let v = &ix.vlans[&(fid, vid)];
            if !v["dhcp_on"].as_bool().unwrap_or(false) || s(&v["primary_rack"]) != rack {
                c.put(
                    &format!("fabrics/{fid}/vlans/{vid}/"),
                    &[kv("dhcp_on", "true"), kv("primary_rack", &rack)],
                )
                .await?;
                changes += 1;
            }
        }
    }
    changes += static_routes(c, site, &ix).await?;
    let designed: BTreeSet<&str> = site.links.iter().map(|l| l.name.as_str()).collect();
    for name in ix.fabrics.keys().filter(|f| !designed.contains(f.as_str())) {
        tracing::info!(fabric = %name, "foreign fabric (not in the design): left alone");
    }
    let cidrs: BTreeSet<&str> = site
        .networks
        .iter()
        .filter_map(|n| n.cidr.as_deref())
        .collect();
    for cidr in ix.subnets.keys().filter(|c| !cidrs.contains(c.as_str())) {
        tracing::info!(subnet = %cidr, "foreign subnet (not in the design): left alone");
    }
    tracing::info!(changes, "MAAS network template in place");
    Ok(())
}

/// The networks' routes to other subnets MAAS knows, as static routes (MAAS's static route
/// needs its destination as a subnet: a route to anything else is logged and left to the
/// node's network configuration). Returns how many were made or updated.
async fn static_routes(c: &Client, site: &SiteSpec, ix: &NetIndex) -> DriverResult<usize> {
    let have = c.get("static-routes/", None, &[]).await?;
    let have: Vec<Value> = have.as_array().cloned().unwrap_or_default();
    let mut changes = 0;
    for n in &site.networks {
        let Some(src) = n.cidr.as_ref().and_then(|c| ix.subnets.get(c)) else {
            continue;
        };
        for r in &n.routes {
            let (Some(dest), Some(gw)) = (&r.subnet, r.gateway) else {
                continue;
            };
            if dest == "0.0.0.0/0" || dest == "::/0" {
                continue;
            }
            let Some(dst) = ix.subnets.get(dest) else {
                tracing::info!(network = %n.name, route = %dest, "route not laid down in MAAS: its destination is not a MAAS subnet");
                continue;
            };
            let (sid, did) = (u(&src["id"]), u(&dst["id"]));
            let metric = r.metric.unwrap_or(0).max(0) as u64;
            let same = have
                .iter()
                .find(|x| u(&x["source"]["id"]) == sid && u(&x["destination"]["id"]) == did);
            match same {
                Some(x) if s(&x["gateway_ip"]) == gw.to_string() && u(&x["metric"]) == metric => {}
                Some(x) => {
                    c.put(
                        &format!("static-routes/{}/", u(&x["id"])),
                        &[kv("gateway_ip", gw), kv("metric", metric)],
                    )
                    .await?;
                    changes += 1;
                }
                None => {
                    c.post(
                        "static-routes/",
                        None,
                        &[
                            kv("source", sid),
                            kv("destination", did),
                            kv("gateway_ip", gw),
                            kv("metric", metric),
                        ],
                    )
                    .await?;
                    changes += 1;
                }
            }
        }
    }
    Ok(changes)
}

/// The region's SSH keys and package repositories.
pub async fn prepare_credentials(maas: &Maas, site: &SiteSpec) -> DriverResult<()> {
    let c = &maas.client;
    let keys = c.get("account/prefs/sshkeys/", None, &[]).await?;
    let have: BTreeSet<String> = keys
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| s(&k["key"]).trim().to_string())
        .collect();
    for k in &site.ssh_keys {
        if !have.contains(k.trim()) {
            c.post("account/prefs/sshkeys/", None, &[kv("key", k.trim())])
                .await?;
        }
    }
    let repos = c.get("package-repositories/", None, &[]).await?;
    let repos: Vec<Value> = repos.as_array().cloned().unwrap_or_default();
    for r in &site.repositories {
        let Some(url) = &r.url else { continue };
        let list = |v: &Value| -> Vec<String> { strings(v) };
        let mut f = vec![kv("url", url)];
        let mut push_list = |k: &str, v: &[String]| {
            if v.is_empty() {
                f.push(kv(k, ""));
            }
            for x in v {
                f.push(kv(k, x));
            }
        };
        push_list("distributions", &r.distributions);
        push_list("components", &r.components);
        push_list("arches", &r.arches);
        if let Some(k) = &r.gpgkey {
            f.push(kv("key", k));
        }
        match repos.iter().find(|x| s(&x["name"]) == r.name) {
            None => {
                f.push(kv("name", &r.name));
                c.post("package-repositories/", None, &f).await?;
            }
            Some(x) => {
                let same = s(&x["url"]) == url
                    && list(&x["distributions"]) == r.distributions
                    && list(&x["components"]) == r.components
                    && (r.arches.is_empty() || list(&x["arches"]) == r.arches)
                    && r.gpgkey.as_deref().is_none_or(|k| s(&x["key"]) == k);
                if !same {
                    c.put(&format!("package-repositories/{}/", u(&x["id"])), &f)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// A link the design wants on one MAAS interface.
#[derive(Debug, Clone, PartialEq)]
struct WantLink {
    mode: &'static str,
    subnet: u64,
    ip: Option<String>,
    gateway: bool,
}

/// Replace the interface of `v`'s id in `ifaces` by `v` (MAAS answers a change with the
/// interface as it now is), or add it: no re-read after each change.
fn upsert(ifaces: &mut Vec<Value>, v: Value) {
    match ifaces.iter_mut().find(|i| i["id"] == v["id"]) {
        Some(i) => *i = v,
        None => ifaces.push(v),
    }
}

/// The node's interfaces: slaves matched to the commissioned NICs, bonds, VLAN interfaces,
/// MTUs and links.
///
/// `seen` is the machine's interfaces as a fresh machine list showed them, when nothing has
/// changed them since (the first attempt in this process); otherwise they are read.
pub async fn apply_node(
    maas: &Maas,
    node: &NodeSpec,
    sid: &str,
    seen: Option<&Value>,
) -> DriverResult<()> {
    let c = &maas.client;
    let ix = maas.net_index(false).await?;
    let hw = maas.discovered(sid).await?;
    let path = format!("nodes/{sid}/interfaces/");
    let mut ifaces: Vec<Value> = match seen.and_then(Value::as_array) {
        Some(a) => a.clone(),
        None => c
            .get(&path, None, &[])
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default(),
    };
    let by_mac = |ifaces: &[Value], mac: &str| -> Option<Value> {
        ifaces
            .iter()
            .find(|i| s(&i["type"]) == "physical" && s(&i["mac_address"]).eq_ignore_ascii_case(mac))
            .cloned()
    };
    // The MAAS interface of each design interface (bond or physical), then its VLAN children.
    let mut targets: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for d in &node.interfaces {
        let link = d.device_link.clone().ok_or_else(|| {
            permanent(format!(
                "{}: interface {} has no device_link",
                node.name, d.name
            ))
        })?;
        let base_vlan = ix.vlan_id(&link, 0)?;
        let mut slaves = Vec::new();
        for sl in &d.slaves {
            let found = if let Some(mac) = &sl.mac {
                by_mac(&ifaces, mac)
            } else if let Some(pci) = &sl.address {
                hw.nic_by_pci.get(pci).and_then(|mac| by_mac(&ifaces, mac))
            } else {
                ifaces
                    .iter()
                    .find(|i| s(&i["type"]) == "physical" && s(&i["name"]) == sl.name)
                    .cloned()
            };
            let i = found.ok_or_else(|| {
                permanent(format!(
                    "{}: no commissioned NIC matches slave {} of interface {} ({}); MAAS found {}",
                    node.name,
                    sl.name,
                    d.name,
                    sl.address
                        .as_deref()
                        .or(sl.mac.as_deref())
                        .unwrap_or("by name"),
                    ifaces
                        .iter()
                        .filter(|i| s(&i["type"]) == "physical")
                        .map(|i| format!("{} {}", s(&i["name"]), s(&i["mac_address"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            slaves.push(i);
        }
        if slaves.is_empty() {
            return Err(permanent(format!(
                "{}: interface {} has no slaves",
                node.name, d.name
            )));
        }
        let target = if let Some(bond) = &d.bond {
            // A bond's parents must share a VLAN; the bond then moves them to its own.
            let shared = slaves
                .iter()
                .all(|x| x["vlan"]["id"] == slaves[0]["vlan"]["id"]);
            for sl in slaves.iter().filter(|_| !shared) {
                if u(&sl["vlan"]["id"]) != base_vlan {
                    let v = c
                        .put(
                            &format!("{path}{}/", u(&sl["id"])),
                            &[kv("vlan", base_vlan)],
                        )
                        .await?;
                    upsert(&mut ifaces, v);
                }
            }
            let want_parents: BTreeSet<String> =
                slaves.iter().map(|x| s(&x["name"]).to_string()).collect();
            let existing = ifaces
                .iter()
                .find(|i| s(&i["type"]) == "bond" && s(&i["name"]) == d.name)
                .cloned();
            let existing = match existing {
                Some(b) => {
                    let parents: BTreeSet<String> = strings(&b["parents"]);
                    if parents == want_parents {
                        Some(b)
                    } else {
                        c.delete(&format!("{path}{}/", u(&b["id"]))).await?;
                        ifaces.retain(|i| i["id"] != b["id"]);
                        None
                    }
                }
                None => None,
            };
            let mut params = vec![
                kv("bond_mode", &bond.mode),
                kv("bond_miimon", bond.mon_rate),
                kv("bond_updelay", bond.up_delay),
                kv("bond_downdelay", bond.down_delay),
                kv("mtu", d.mtu),
            ];
            if let Some(r) = &bond.peer_rate {
                params.push(kv("bond_lacp_rate", r));
            }
            if let Some(h) = &bond.hash {
                params.push(kv("bond_xmit_hash_policy", h));
            }
            match existing {
                Some(b) => {
                    let differs = params.iter().any(|(k, v)| {
                        let have = &b["params"][k.as_str()];
                        have.as_str().map_or(have.to_string(), str::to_string) != *v
                    }) || u(&b["vlan"]["id"]) != base_vlan;
                    if differs {
                        params.push(kv("vlan", base_vlan));
                        let v = c.put(&format!("{path}{}/", u(&b["id"])), &params).await?;
                        upsert(&mut ifaces, v);
                    }
                    (u(&b["id"]), d.name.clone())
                }
                None => {
                    let mut f = vec![kv("name", &d.name), kv("vlan", base_vlan)];
                    for sl in &slaves {
                        f.push(kv("parents", u(&sl["id"])));
                    }
                    f.extend(params);
                    let b = c.post(&path, Some("create_bond"), &f).await?;
                    let id = u(&b["id"]);
                    upsert(&mut ifaces, b);
                    (id, d.name.clone())
                }
            }
        } else {
            let i = &slaves[0];
            let mut f = Vec::new();
            if s(&i["name"]) != d.name {
                f.push(kv("name", &d.name));
            }
            if u(&i["vlan"]["id"]) != base_vlan {
                f.push(kv("vlan", base_vlan));
            }
            if u(&i["params"]["mtu"]) != d.mtu as u64 {
                f.push(kv("mtu", d.mtu));
            }
            let id = u(&i["id"]);
            if !f.is_empty() {
                let v = c.put(&format!("{path}{id}/"), &f).await?;
                upsert(&mut ifaces, v);
            }
            (id, d.name.clone())
        };
        targets.insert(d.name.clone(), target);
    }
    // VLAN interfaces for the tagged networks.
    for d in &node.interfaces {
        let (pid, pname) = targets[&d.name].clone();
        let link = d.device_link.clone().unwrap_or_default();
        for n in &d.networks {
            let Some(tag) = n.vlan else { continue };
            let name = format!("{pname}.{tag}");
            if ifaces.iter().any(|i| s(&i["name"]) == name) {
                continue;
            }
            let vlan = ix.vlan_id(&link, tag as u64)?;
            let mut f = vec![kv("vlan", vlan), kv("parent", pid)];
            if let Some(m) = n.mtu {
                f.push(kv("mtu", m));
            }
            let v = c.post(&path, Some("create_vlan"), &f).await?;
            upsert(&mut ifaces, v);
        }
    }
    // The links each MAAS interface should have.
    let mut want: BTreeMap<String, Vec<WantLink>> = BTreeMap::new();
    for a in &node.addresses {
        let Some(iface) = &a.interface else { continue };
        let Some(d) = node.interfaces.iter().find(|d| &d.name == iface) else {
            continue;
        };
        let Some(n) = d.networks.iter().find(|n| n.network == a.network) else {
            continue;
        };
        let name = match n.vlan {
            Some(tag) => format!("{}.{tag}", targets[&d.name].1),
            None => targets[&d.name].1.clone(),
        };
        let Some(cidr) = &a.cidr else { continue };
        let subnet = ix.subnets.get(cidr).map(|s| u(&s["id"])).ok_or_else(|| {
            permanent(format!(
                "{}: MAAS has no subnet {cidr} for network {} (PrepareSite makes it)",
                node.name, a.network
            ))
        })?;
        let primary = node.primary_network.as_deref() == Some(a.network.as_str());
        let has_gw = ix.subnets[cidr]["gateway_ip"].is_string();
        want.entry(name).or_default().push(match &a.method {
            AddressMethod::Static(ip) => WantLink {
                mode: "static",
                subnet,
                ip: Some(ip.to_string()),
                gateway: primary && has_gw,
            },
            AddressMethod::Dhcp => WantLink {
                mode: "dhcp",
                subnet,
                ip: None,
                gateway: false,
            },
        });
    }
    let designed: BTreeSet<String> = targets
        .values()
        .map(|t| t.1.clone())
        .chain(want.keys().cloned())
        .collect();
    for i in &ifaces {
        let name = s(&i["name"]).to_string();
        if !designed.contains(&name) {
            continue;
        }
        let wanted = want.get(&name).cloned().unwrap_or_default();
        let iid = u(&i["id"]);
        let mut present = Vec::new();
        for l in i["links"].as_array().into_iter().flatten() {
            let mode = s(&l["mode"]);
            let sn = u(&l["subnet"]["id"]);
            let ip = l["ip_address"].as_str().map(str::to_string);
            let keep = wanted
                .iter()
                .any(|w| w.mode == mode && w.subnet == sn && (w.mode != "static" || w.ip == ip));
            if keep {
                present.push((mode.to_string(), sn));
            } else if mode != "link_up" || !wanted.is_empty() {
                c.post(
                    &format!("{path}{iid}/"),
                    Some("unlink_subnet"),
                    &[kv("id", u(&l["id"]))],
                )
                .await?;
            }
        }
        for w in &wanted {
            if present.iter().any(|(m, sn)| m == w.mode && *sn == w.subnet) {
                continue;
            }
            let mut f = vec![
                kv("mode", w.mode.to_ascii_uppercase()),
                kv("subnet", w.subnet),
            ];
            if let Some(ip) = &w.ip {
                f.push(kv("ip_address", ip));
            }
            if w.gateway {
                f.push(kv("default_gateway", "true"));
            }
            c.post(&format!("{path}{iid}/"), Some("link_subnet"), &f)
                .await?;
        }
    }
    Ok(())
}
