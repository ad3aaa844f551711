//! A node's storage on MAAS, exactly as designed: the layout is cleared (`blank`), then the
//! boot disk is set, partitions are made with their sizes (percentages resolved against the
//! real disk, `>N` taking the rest), formatted and mounted; volume groups are made from whole
//! disks and partitions, and logical volumes (percentages of the group) formatted and
//! mounted. MAAS refuses a deploy without `/` mounted, so a design without one is refused here
//! first, with the reason. Disks given as device aliases resolve through their SCSI address to
//! the disk commissioning found there.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Maas, kv, s, u};
use crate::driver::{DriverError, DriverResult, NodeSpec};
use crate::spec::{FilesystemSpec, SizeAmount, SizeSpec};

const MIB: u64 = 1 << 20;
/// What MAAS keeps for the partition table (rounded up).
const TABLE: u64 = 8 * MIB;

fn permanent(s: impl Into<String>) -> DriverError {
    DriverError::Permanent(s.into())
}

fn align(n: u64) -> u64 {
    n / (4 * MIB) * (4 * MIB)
}

/// A size in bytes against `whole`; `None` means "the rest".
fn resolve(size: &Option<SizeSpec>, whole: u64) -> Option<u64> {
    let sz = size.as_ref()?;
    if sz.at_least {
        return None;
    }
    match sz.amount? {
        SizeAmount::Bytes(b) => Some(align(b)),
        SizeAmount::Percent(p) => Some(align(whole / 100 * p)),
    }
}

fn minimum(size: &Option<SizeSpec>, whole: u64) -> u64 {
    match size.as_ref().and_then(|s| s.amount) {
        Some(SizeAmount::Bytes(b)) => b,
        Some(SizeAmount::Percent(p)) => whole / 100 * p,
        None => 0,
    }
}

async fn filesystem(maas: &Maas, path: &str, fs: &FilesystemSpec) -> DriverResult<()> {
    let c = &maas.client;
    c.post(path, Some("format"), &[kv("fstype", &fs.fstype)])
        .await?;
    if let Some(mp) = &fs.mountpoint {
        let mut f = vec![kv("mount_point", mp)];
        if !fs.mount_options.is_empty() && fs.mount_options != "defaults" {
            f.push(kv("mount_options", &fs.mount_options));
        }
        c.post(path, Some("mount"), &f).await?;
    }
    Ok(())
}

/// `boot_disk`: the id of MAAS's boot disk now (set again only when it differs).
pub async fn apply_node(
    maas: &Maas,
    node: &NodeSpec,
    sid: &str,
    boot_disk: Option<u64>,
) -> DriverResult<()> {
    let st = &node.storage;
    if st.devices.is_empty() {
        // No storage in the design: MAAS's own layout stays.
        return Ok(());
    }
    let mounts_root = st
        .devices
        .iter()
        .flat_map(|d| &d.partitions)
        .any(|p| p.filesystem.as_ref().and_then(|f| f.mountpoint.as_deref()) == Some("/"))
        || st
            .volume_groups
            .iter()
            .flat_map(|v| &v.logical_volumes)
            .any(|l| l.filesystem.as_ref().and_then(|f| f.mountpoint.as_deref()) == Some("/"));
    if !mounts_root {
        return Err(permanent(format!(
            "{}: the storage layout mounts no root filesystem; MAAS refuses to deploy a machine without `/` mounted (give a partition or logical volume mountpoint '/')",
            node.name
        )));
    }
    let c = &maas.client;
    let hw = maas.discovered(sid).await?;
    // MAAS answers with the machine: its disks as the blank layout left them.
    let m = c
        .post(
            &format!("machines/{sid}/"),
            Some("set_storage_layout"),
            &[kv("storage_layout", "blank")],
        )
        .await?;
    let disks: Vec<Value> = m["physicalblockdevice_set"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |name: &str, address: Option<&str>| -> DriverResult<Value> {
        let wanted = match address {
            Some(a) => hw.disk_by_scsi.get(&super::network::scsi_path(a)).cloned(),
            None => Some(name.to_string()),
        };
        wanted
            .and_then(|w| {
                disks
                    .iter()
                    .find(|d| s(&d["type"]) == "physical" && s(&d["name"]) == w)
                    .cloned()
            })
            .ok_or_else(|| {
                permanent(format!(
                    "{}: no commissioned disk matches {name}{}; MAAS found {}",
                    node.name,
                    address.map(|a| format!(" (SCSI {a})")).unwrap_or_default(),
                    disks
                        .iter()
                        .map(|d| s(&d["name"]).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    };
    // The boot disk: the one holding `/` (or a bootable partition), else the first.
    let boot = st
        .devices
        .iter()
        .find(|d| {
            d.partitions
                .iter()
                .any(|p| p.filesystem.as_ref().and_then(|f| f.mountpoint.as_deref()) == Some("/"))
        })
        .or_else(|| {
            st.devices
                .iter()
                .find(|d| d.partitions.iter().any(|p| p.bootable))
        })
        .unwrap_or(&st.devices[0]);
    let boot = find(&boot.name, boot.address.as_deref())?;
    if boot_disk != Some(u(&boot["id"])) {
        c.post(
            &format!("nodes/{sid}/blockdevices/{}/", u(&boot["id"])),
            Some("set_boot_disk"),
            &[],
        )
        .await?;
    }
    let mut members: BTreeMap<String, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for d in &st.devices {
        let disk = find(&d.name, d.address.as_deref())?;
        let did = u(&disk["id"]);
        let size = u(&disk["size"]);
        if let Some(vg) = &d.volume_group {
            members.entry(vg.clone()).or_default().0.push(did);
            continue;
        }
        let avail = size.saturating_sub(TABLE);
        let fixed: Vec<Option<u64>> = d
            .partitions
            .iter()
            .map(|p| resolve(&p.size, size))
            .collect();
        for (i, p) in d.partitions.iter().enumerate() {
            let mut f = Vec::new();
            match fixed[i] {
                Some(b) => f.push(kv("size", b)),
                None => {
                    // The rest, less what the partitions after it need.
                    let used: u64 = fixed[..i].iter().flatten().sum();
                    let after: u64 = fixed[i + 1..].iter().flatten().sum();
                    let rest = align(avail.saturating_sub(used + after));
                    let min = minimum(&p.size, size);
                    if rest < min {
                        return Err(permanent(format!(
                            "{}: partition {} needs at least {min} bytes; {rest} are left on {} ({} bytes)",
                            node.name,
                            p.name,
                            s(&disk["name"]),
                            size
                        )));
                    }
                    if i + 1 < d.partitions.len() {
                        f.push(kv("size", rest));
                    }
                }
            }
            if p.bootable {
                f.push(kv("bootable", "true"));
            }
            let part = c
                .post(
                    &format!("nodes/{sid}/blockdevices/{did}/partitions/"),
                    None,
                    &f,
                )
                .await
                .map_err(|e| {
                    permanent(format!(
                        "{}: partition {} on {}: {}",
                        node.name,
                        p.name,
                        s(&disk["name"]),
                        e.message
                    ))
                })?;
            let pid = u(&part["id"]);
            if let Some(vg) = &p.volume_group {
                members.entry(vg.clone()).or_default().1.push(pid);
            }
            if let Some(fs) = &p.filesystem {
                // The partition detail URL has no trailing slash (MAAS LP:1715230).
                filesystem(
                    maas,
                    &format!("nodes/{sid}/blockdevices/{did}/partition/{pid}"),
                    fs,
                )
                .await?;
            }
        }
    }
    for vg in &st.volume_groups {
        let (bds, parts) = members.get(&vg.name).cloned().unwrap_or_default();
        if bds.is_empty() && parts.is_empty() {
            return Err(permanent(format!(
                "{}: volume group {} has no physical volume (no disk or partition names it)",
                node.name, vg.name
            )));
        }
        let mut f = vec![kv("name", &vg.name)];
        f.extend(bds.iter().map(|b| kv("block_devices", b)));
        f.extend(parts.iter().map(|p| kv("partitions", p)));
        let g = c
            .post(&format!("nodes/{sid}/volume-groups/"), None, &f)
            .await?;
        let gid = u(&g["id"]);
        let gsize = u(&g["size"]);
        for (i, lv) in vg.logical_volumes.iter().enumerate() {
            let mut f = vec![kv("name", &lv.name)];
            match resolve(&lv.size, gsize) {
                Some(b) => f.push(kv("size", b)),
                None if i + 1 < vg.logical_volumes.len() => {
                    let fixed: u64 = vg
                        .logical_volumes
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .filter_map(|(_, l)| resolve(&l.size, gsize))
                        .sum();
                    f.push(kv("size", align(gsize.saturating_sub(fixed))));
                }
                None => {}
            }
            let v = c
                .post(
                    &format!("nodes/{sid}/volume-group/{gid}/"),
                    Some("create_logical_volume"),
                    &f,
                )
                .await
                .map_err(|e| {
                    permanent(format!(
                        "{}: logical volume {} in {}: {}",
                        node.name, lv.name, vg.name, e.message
                    ))
                })?;
            if let Some(fs) = &lv.filesystem {
                filesystem(
                    maas,
                    &format!("nodes/{sid}/blockdevices/{}/", u(&v["id"])),
                    fs,
                )
                .await?;
            }
        }
    }
    Ok(())
}
