//! The deploy script a node's deploy agent runs (`agent/init` sources it with `set -e`): the
//! design's storage layout resolved against the disks the agent found, then partitions
//! (sfdisk, named fields), volume groups and logical volumes (LVM without udev), filesystems
//! (with UUIDs drydock chooses, so `/etc/fstab` is written without probing), the image (a root
//! filesystem tree unpacked onto the mounted filesystems, or a whole-disk image written over
//! the disk, then a `cidata` partition), its checksum checked, and the cloud-init NoCloud seed.
//! Each step reports a phase. Pure: the text is computed from the node and its inventory and
//! unit-tested; any design value in it is shell-quoted.

use std::fmt::Write as _;

use crate::boot::config::ImageFormat;
use crate::boot::records::{Disk, Inventory};
use crate::spec::{FilesystemSpec, NodeSpec, SizeAmount, SizeSpec};

/// The image a node gets.
#[derive(Clone, Debug)]
pub struct ImageRef {
    pub name: String,
    /// Path on the boot service (`boot/images/NAME`).
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: ImageFormat,
}

/// `'text'` for the shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

const SECTOR: u64 = 512;
/// Room sfdisk keeps: 1 MiB before the first partition, the GPT backup at the end.
const SLACK: u64 = 2 << 20;

/// A deterministic UUID (v4 layout) for a filesystem of a node: fstab can name it before it
/// exists, and a redeploy of the same design gets the same UUIDs.
pub fn fs_uuid(node: &str, what: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("drydock-fs\0{node}\0{what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// The disk a design device is: the one at its alias's address, the one with its name, or the
/// only disk when the design has one device and the machine one disk.
pub fn resolve_disk<'a>(
    name: &str,
    address: Option<&str>,
    devices_in_design: usize,
    inv: &'a Inventory,
) -> Result<&'a Disk, String> {
    let norm = |s: &str| s.replace('.', ":");
    if let Some(a) = address
        && let Some(d) = inv
            .disks
            .iter()
            .find(|d| d.address.as_deref().map(norm) == Some(norm(a)))
    {
        return Ok(d);
    }
    if let Some(d) = inv.disks.iter().find(|d| d.name == name) {
        return Ok(d);
    }
    if devices_in_design == 1 && inv.disks.len() == 1 {
        return Ok(&inv.disks[0]);
    }
    let found: Vec<String> = inv
        .disks
        .iter()
        .map(|d| {
            format!(
                "{} ({} bytes{})",
                d.name,
                d.bytes,
                d.address
                    .as_deref()
                    .map(|a| format!(", at {a}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Err(format!(
        "storage device `{name}`{} is not on the machine; its deploy agent found: {}",
        address
            .map(|a| format!(" (address {a})"))
            .unwrap_or_default(),
        if found.is_empty() {
            "no disks".to_string()
        } else {
            found.join(", ")
        }
    ))
}

/// `/dev/vda` + 1 → `/dev/vda1`; `/dev/nvme0n1` + 1 → `/dev/nvme0n1p1`.
fn part_dev(disk: &str, n: usize) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("/dev/{disk}p{n}")
    } else {
        format!("/dev/{disk}{n}")
    }
}

/// Bytes of a size in a container of `total` bytes (`>N` handled by the caller).
fn bytes(s: &SizeSpec, total: u64) -> Option<u64> {
    match s.amount? {
        SizeAmount::Bytes(b) => Some(b),
        SizeAmount::Percent(p) => Some(total / 100 * p),
    }
}

struct Fs {
    dev: String,
    spec: FilesystemSpec,
    uuid: String,
}

fn mkfs(out: &mut String, fs: &Fs, node: &str) -> Result<(), String> {
    let dev = quote(&fs.dev);
    match fs.spec.fstype.as_str() {
        t @ ("ext4" | "ext3" | "ext2") => {
            let _ = writeln!(out, "/sbin/mke2fs -q -F -t {t} -U {} {dev}", fs.uuid);
        }
        "vfat" | "fat32" => {
            let _ = writeln!(
                out,
                "/sbin/mkfs.fat -F 32 -i {} {dev} >/dev/null",
                vfat_id(&fs.uuid)
            );
        }
        "swap" => {
            let _ = writeln!(out, "mkswap {dev}");
        }
        other => {
            return Err(format!(
                "node {node}: filesystem type `{other}` on {} cannot be made by the deploy agent (ext2, ext3, ext4, vfat, swap)",
                fs.dev
            ));
        }
    }
    Ok(())
}

/// The FAT volume id (8 hex digits) for a UUID; fstab writes it `XXXX-XXXX`.
fn vfat_id(uuid: &str) -> String {
    uuid.replace('-', "")[..8].to_ascii_uppercase()
}

fn fstab_source(fs: &Fs) -> String {
    match fs.spec.fstype.as_str() {
        "vfat" | "fat32" => {
            let id = vfat_id(&fs.uuid);
            format!("UUID={}-{}", &id[..4], &id[4..])
        }
        "swap" => fs.dev.clone(),
        _ => format!("UUID={}", fs.uuid),
    }
}

/// The whole deploy script for `node` on the machine the agent described.
pub fn deploy(node: &NodeSpec, inv: &Inventory, image: &ImageRef) -> Result<String, String> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# deploy script for node {}, image {} (generated by drydock)",
        node.name, image.name
    );
    s.push_str("export DM_DISABLE_UDEV=1\nLVM='--config=activation{udev_sync=0 udev_rules=0} devices{obtain_device_list_from_udev=0}'\n");
    s.push_str("wait_dev() { i=0; while [ ! -b \"$1\" ]; do i=$((i+1)); [ $i -gt 100 ] && { say \"$1 did not appear\"; return 1; }; sleep 0.1; done; }\n");
    if node.storage.devices.is_empty() {
        return Err(format!(
            "node {} has no storage devices in its design: the deploy agent needs at least the root disk",
            node.name
        ));
    }
    // Old volume groups on the disks would keep their devices busy.
    s.push_str("phase 'storage: releasing old volume groups'\nvgchange \"$LVM\" -an >/dev/null 2>&1 || true\n");
    let mut filesystems: Vec<Fs> = Vec::new();
    let mut pvs: Vec<(String, String)> = Vec::new(); // (vg, device)
    let ndev = node.storage.devices.len();
    let mut root_disk: Option<String> = None;
    for d in &node.storage.devices {
        let disk = resolve_disk(&d.name, d.address.as_deref(), ndev, inv)
            .map_err(|e| format!("node {}: {e}", node.name))?;
        let dname = disk.name.clone();
        let _ = writeln!(s, "phase {}", quote(&format!("storage: wiping {dname}")));
        let _ = writeln!(s, "/sbin/wipefs -a -f /dev/{dname} >/dev/null");
        if let Some(vg) = &d.volume_group {
            pvs.push((vg.clone(), format!("/dev/{dname}")));
            continue;
        }
        if d.partitions.is_empty() {
            continue;
        }
        let uefi = node.hardware.boot_mode.as_deref() == Some("uefi");
        let label = if uefi || d.partitions.len() > 4 {
            "gpt"
        } else {
            "dos"
        };
        let fixed: u64 = d
            .partitions
            .iter()
            .filter(|p| !p.size.as_ref().is_some_and(|z| z.at_least))
            .map(|p| {
                p.size
                    .as_ref()
                    .and_then(|z| bytes(z, disk.bytes))
                    .unwrap_or(0)
            })
            .sum();
        let at_least: u64 = d
            .partitions
            .iter()
            .filter(|p| p.size.as_ref().is_some_and(|z| z.at_least))
            .map(|p| {
                p.size
                    .as_ref()
                    .and_then(|z| bytes(z, disk.bytes))
                    .unwrap_or(0)
            })
            .sum();
        if fixed + at_least + SLACK > disk.bytes {
            return Err(format!(
                "node {}: the partitions of `{}` need {} bytes; disk {dname} has {}",
                node.name,
                d.name,
                fixed + at_least + SLACK,
                disk.bytes
            ));
        }
        let greedy = d
            .partitions
            .iter()
            .filter(|p| p.size.as_ref().is_some_and(|z| z.at_least))
            .count() as u64;
        let spare = (disk.bytes - SLACK - fixed - at_least) / greedy.max(1);
        let _ = writeln!(
            s,
            "phase {}",
            quote(&format!("storage: partitioning {dname} ({label})"))
        );
        let _ = writeln!(
            s,
            "/sbin/sfdisk --wipe always --wipe-partitions always -q /dev/{dname} <<'SFDISK'"
        );
        let _ = writeln!(s, "label: {label}");
        let last = d.partitions.len() - 1;
        for (i, p) in d.partitions.iter().enumerate() {
            let size = p
                .size
                .as_ref()
                .ok_or_else(|| format!("node {}: partition `{}` has no size", node.name, p.name))?;
            let want = bytes(size, disk.bytes).ok_or_else(|| {
                format!(
                    "node {}: partition `{}` has a size that does not parse ({})",
                    node.name, p.name, size.written
                )
            })? + if size.at_least { spare } else { 0 };
            let efi =
                p.filesystem.as_ref().and_then(|f| f.mountpoint.as_deref()) == Some("/boot/efi");
            let ty = match (label, efi, p.volume_group.is_some()) {
                ("gpt", true, _) => "U",
                (_, true, _) => "ef",
                ("gpt", _, true) => "E6D6D379-F507-44C2-A23C-238F2A3DF928",
                (_, _, true) => "8e",
                _ => "L",
            };
            let mut line = String::new();
            // The last greedy partition takes whatever alignment left.
            if !(size.at_least && i == last) {
                let _ = write!(line, "size={}, ", want / SECTOR);
            }
            let _ = write!(line, "type={ty}");
            if label == "gpt" {
                let name: String = p
                    .name
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
                    .collect();
                let _ = write!(line, ", name={name}");
            }
            if p.bootable && label == "dos" {
                line.push_str(", bootable");
            }
            let _ = writeln!(s, "{line}");
        }
        s.push_str("SFDISK\n");
        for (i, p) in d.partitions.iter().enumerate() {
            let dev = part_dev(&dname, i + 1);
            let _ = writeln!(s, "wait_dev {dev}");
            if let Some(vg) = &p.volume_group {
                pvs.push((vg.clone(), dev.clone()));
            }
            if let Some(f) = &p.filesystem {
                if f.mountpoint.as_deref() == Some("/") {
                    root_disk = Some(dname.clone());
                }
                filesystems.push(Fs {
                    uuid: fs_uuid(&node.name, &format!("{}/{}", d.name, p.name)),
                    dev,
                    spec: f.clone(),
                });
            }
        }
    }
    for vg in &node.storage.volume_groups {
        let devs: Vec<&str> = pvs
            .iter()
            .filter(|(v, _)| *v == vg.name)
            .map(|(_, d)| d.as_str())
            .collect();
        if devs.is_empty() {
            return Err(format!(
                "node {}: volume group `{}` has no physical volume",
                node.name, vg.name
            ));
        }
        let vgq = quote(&vg.name);
        let _ = writeln!(
            s,
            "phase {}",
            quote(&format!("storage: volume group {}", vg.name))
        );
        for d in &devs {
            let _ = writeln!(s, "lvm pvcreate \"$LVM\" -ff -y {d} >/dev/null");
        }
        let _ = writeln!(
            s,
            "lvm vgcreate \"$LVM\" -y {vgq} {} >/dev/null",
            devs.join(" ")
        );
        // Fixed sizes first, the greedy one last (it takes what is free).
        let mut lvs: Vec<_> = vg.logical_volumes.iter().collect();
        lvs.sort_by_key(|l| l.size.as_ref().is_some_and(|z| z.at_least));
        for lv in lvs {
            let size = lv.size.as_ref().ok_or_else(|| {
                format!(
                    "node {}: logical volume `{}` has no size",
                    node.name, lv.name
                )
            })?;
            let arg = match (size.amount, size.at_least) {
                (_, true) => "-l 100%FREE".to_string(),
                (Some(SizeAmount::Bytes(b)), false) => format!("-L {}b", b / SECTOR * SECTOR),
                (Some(SizeAmount::Percent(p)), false) => format!("-l {p}%VG"),
                (None, _) => {
                    return Err(format!(
                        "node {}: logical volume `{}` has a size that does not parse ({})",
                        node.name, lv.name, size.written
                    ));
                }
            };
            let _ = writeln!(
                s,
                "lvm lvcreate \"$LVM\" -y -Wy -Zy {arg} -n {} {vgq} >/dev/null",
                quote(&lv.name)
            );
            let dev = format!("/dev/{}/{}", vg.name, lv.name);
            let _ = writeln!(
                s,
                "lvm vgmknodes \"$LVM\" {vgq} >/dev/null 2>&1 || true\nwait_dev {}",
                quote(&dev)
            );
            if let Some(f) = &lv.filesystem {
                filesystems.push(Fs {
                    uuid: fs_uuid(&node.name, &format!("{}/{}", vg.name, lv.name)),
                    dev,
                    spec: f.clone(),
                });
            }
        }
    }
    let root = filesystems
        .iter()
        .find(|f| f.spec.mountpoint.as_deref() == Some("/"));
    if image.format == ImageFormat::TarGz && root.is_none() {
        return Err(format!(
            "node {}: no filesystem is mounted at `/`: a root-filesystem image needs one",
            node.name
        ));
    }
    if image.format == ImageFormat::Raw {
        // A whole-disk image replaces the layout: written over the first device.
        let disk = root_disk.unwrap_or_else(|| {
            resolve_disk(
                &node.storage.devices[0].name,
                node.storage.devices[0].address.as_deref(),
                ndev,
                inv,
            )
            .map(|d| d.name.clone())
            .unwrap_or_else(|_| "vda".into())
        });
        let _ = writeln!(
            s,
            "phase {}",
            quote(&format!("image: writing {} over {disk}", image.name))
        );
        let _ = writeln!(
            s,
            "wget -q -O - --header \"X-Drydock-Token: $TOKEN\" \"$URL/{}\" | dd of=/dev/{disk} bs=4M conv=fsync 2>/dev/null",
            image.path
        );
        let _ = writeln!(s, "phase 'image: checking the checksum'");
        let _ = writeln!(
            s,
            "[ \"$(head -c {} /dev/{disk} | sha256sum | cut -d' ' -f1)\" = {} ] || {{ say 'image checksum mismatch'; exit 1; }}",
            image.bytes, image.sha256
        );
        s.push_str("phase 'seed: a cidata partition for the cloud-init seed'\n");
        let _ = writeln!(
            s,
            "/sbin/sfdisk --relocate gpt-bak-std /dev/{disk} >/dev/null 2>&1 || true"
        );
        let _ = writeln!(
            s,
            "echo 'size=32MiB, type=L' | /sbin/sfdisk --append -q /dev/{disk}"
        );
        s.push_str("sync\n");
        let _ = writeln!(
            s,
            "SEED={}$(ls -d /sys/block/{disk}/{disk}* | wc -l)\nwait_dev \"$SEED\"\n/sbin/mkfs.fat -n CIDATA \"$SEED\" >/dev/null\nmkdir -p /mnt/seed\nmount -t vfat \"$SEED\" /mnt/seed",
            part_dev(&disk, 0).trim_end_matches('0')
        );
        seed(&mut s, node, "/mnt/seed");
        s.push_str("umount /mnt/seed\nsync\nphase 'done'\n");
        return Ok(s);
    }
    s.push_str("phase 'storage: making filesystems'\n");
    for f in &filesystems {
        mkfs(&mut s, f, &node.name)?;
    }
    // Mount shallow mount points first.
    let mut mounts: Vec<&Fs> = filesystems
        .iter()
        .filter(|f| {
            f.spec
                .mountpoint
                .as_deref()
                .is_some_and(|m| m.starts_with('/'))
                && f.spec.fstype != "swap"
        })
        .collect();
    mounts.sort_by_key(|f| {
        let m = f.spec.mountpoint.as_deref().unwrap_or("/");
        (m.trim_end_matches('/').matches('/').count(), m.to_string())
    });
    for f in &mounts {
        let m = f.spec.mountpoint.as_deref().unwrap_or("/");
        let target = format!("/mnt/target{}", if m == "/" { "" } else { m });
        let ty = if f.spec.fstype == "fat32" {
            "vfat"
        } else {
            f.spec.fstype.as_str()
        };
        let _ = writeln!(
            s,
            "mkdir -p {t}\nmount -t {ty} {} {t}",
            quote(&f.dev),
            t = quote(&target)
        );
    }
    let _ = writeln!(
        s,
        "phase {}",
        quote(&format!("image: fetching {}", image.name))
    );
    let _ = writeln!(s, "fetch {} /mnt/target/.drydock-image", quote(&image.path));
    let _ = writeln!(
        s,
        "phase 'image: checking the checksum'\ncheck_sha256 /mnt/target/.drydock-image {}",
        image.sha256
    );
    let _ = writeln!(
        s,
        "phase {}",
        quote(&format!("image: unpacking {}", image.name))
    );
    s.push_str(
        "tar -xzf /mnt/target/.drydock-image -C /mnt/target\nrm -f /mnt/target/.drydock-image\n",
    );
    s.push_str("phase 'config: fstab'\nmkdir -p /mnt/target/etc\ncat >/mnt/target/etc/fstab <<'FSTAB'\n# written by drydock's deploy agent from the design\n");
    for f in &filesystems {
        let m = match (f.spec.fstype.as_str(), f.spec.mountpoint.as_deref()) {
            ("swap", _) => "none".to_string(),
            (_, Some(m)) => m.to_string(),
            (_, None) => continue,
        };
        let ty = if f.spec.fstype == "fat32" {
            "vfat"
        } else {
            f.spec.fstype.as_str()
        };
        let pass = if m == "/" {
            1
        } else if f.spec.fstype == "swap" {
            0
        } else {
            2
        };
        let opts: String = f
            .spec
            .mount_options
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let _ = writeln!(
            s,
            "{} {m} {ty} {} 0 {pass}",
            fstab_source(f),
            if ty == "swap" { "sw" } else { &opts }
        );
    }
    s.push_str("FSTAB\n");
    seed(&mut s, node, "/mnt/target/var/lib/cloud/seed/nocloud");
    s.push_str("phase 'storage: unmounting'\nsync\n");
    for f in mounts.iter().rev() {
        let m = f.spec.mountpoint.as_deref().unwrap_or("/");
        let _ = writeln!(
            s,
            "umount {}",
            quote(&format!("/mnt/target{}", if m == "/" { "" } else { m }))
        );
    }
    if !node.storage.volume_groups.is_empty() {
        s.push_str(
            "vgchange \"$LVM\" -an >/dev/null 2>&1 || lvm vgchange \"$LVM\" -an >/dev/null\n",
        );
    }
    s.push_str("sync\nphase 'done'\n");
    Ok(s)
}

/// Fetch the seed's three files into `dir`.
fn seed(s: &mut String, node: &NodeSpec, dir: &str) {
    let _ = writeln!(s, "phase 'seed: cloud-init NoCloud seed'\nmkdir -p {dir}");
    for f in ["user-data", "meta-data", "network-config"] {
        let _ = writeln!(
            s,
            "fetch {} {dir}/{f}",
            quote(&format!("api/v1/agent/{}/seed/{f}", node.name))
        );
    }
    let _ = writeln!(s, "chmod 600 {dir}/user-data");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::*;

    fn size(written: &str, amount: SizeAmount, at_least: bool) -> Option<SizeSpec> {
        Some(SizeSpec {
            written: written.into(),
            amount: Some(amount),
            at_least,
        })
    }

    fn fs(m: &str, t: &str) -> Option<FilesystemSpec> {
        Some(FilesystemSpec {
            mountpoint: Some(m.into()),
            fstype: t.into(),
            mount_options: "defaults".into(),
        })
    }

    pub(crate) fn node() -> NodeSpec {
        NodeSpec {
            name: "n1".into(),
            hardware: HardwareSpec {
                boot_mode: Some("uefi".into()),
                ..HardwareSpec::default()
            },
            storage: StorageSpec {
                devices: vec![DeviceSpec {
                    name: "sda".into(),
                    address: Some("0000:00:05.0".into()),
                    partitions: vec![
                        PartitionSpec {
                            name: "efi".into(),
                            size: size("512mb", SizeAmount::Bytes(512 << 20), false),
                            filesystem: fs("/boot/efi", "vfat"),
                            ..PartitionSpec::default()
                        },
                        PartitionSpec {
                            name: "root".into(),
                            size: size("1g", SizeAmount::Bytes(1 << 30), false),
                            filesystem: fs("/", "ext4"),
                            ..PartitionSpec::default()
                        },
                        PartitionSpec {
                            name: "pv".into(),
                            size: size(">100mb", SizeAmount::Bytes(100 << 20), true),
                            volume_group: Some("vg0".into()),
                            ..PartitionSpec::default()
                        },
                    ],
                    ..DeviceSpec::default()
                }],
                volume_groups: vec![VolumeGroupSpec {
                    name: "vg0".into(),
                    logical_volumes: vec![
                        LogicalVolumeSpec {
                            name: "var".into(),
                            size: size(">1m", SizeAmount::Bytes(1 << 20), true),
                            filesystem: fs("/var", "ext4"),
                        },
                        LogicalVolumeSpec {
                            name: "log".into(),
                            size: size("20%", SizeAmount::Percent(20), false),
                            filesystem: fs("/var/log", "ext4"),
                        },
                    ],
                }],
            },
            ..NodeSpec::default()
        }
    }

    fn inv(bytes: u64) -> Inventory {
        Inventory {
            disks: vec![Disk {
                name: "vda".into(),
                bytes,
                address: Some("0000:00:05.0".into()),
            }],
            ..Inventory::default()
        }
    }

    fn image() -> ImageRef {
        ImageRef {
            name: "test".into(),
            path: "boot/images/test".into(),
            sha256: "ab".repeat(32),
            bytes: 10,
            format: ImageFormat::TarGz,
        }
    }

    #[test]
    fn partitions_lvm_filesystems_image_fstab_and_seed() {
        let s = deploy(&node(), &inv(4 << 30), &image()).unwrap();
        // The alias's address found the disk though the design calls it sda.
        assert!(
            s.contains(
                "/sbin/sfdisk --wipe always --wipe-partitions always -q /dev/vda <<'SFDISK'\nlabel: gpt\n"
            ),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "size={}, type=U, name=efi\n",
                (512u64 << 20) / 512
            )),
            "{s}"
        );
        assert!(
            s.contains(&format!("size={}, type=L, name=root\n", (1u64 << 30) / 512)),
            "{s}"
        );
        // The greedy last partition takes the rest: no size.
        assert!(
            s.contains("\ntype=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=pv\n"),
            "{s}"
        );
        assert!(s.contains("lvm pvcreate \"$LVM\" -ff -y /dev/vda3"), "{s}");
        assert!(
            s.contains("lvm vgcreate \"$LVM\" -y 'vg0' /dev/vda3"),
            "{s}"
        );
        // Fixed logical volumes before the greedy one.
        let log = s.find("-l 20%VG -n 'log'").unwrap();
        let var = s.find("-l 100%FREE -n 'var'").unwrap();
        assert!(log < var, "{s}");
        let root_uuid = fs_uuid("n1", "sda/root");
        assert!(
            s.contains(&format!("mke2fs -q -F -t ext4 -U {root_uuid} '/dev/vda2'")),
            "{s}"
        );
        assert!(s.contains("/sbin/mkfs.fat -F 32 -i "), "{s}");
        // Mounted shallow first: / before /var before /var/log (and /boot/efi after /).
        let order: Vec<usize> = [
            "mount -t ext4 '/dev/vda2' '/mnt/target'",
            "'/mnt/target/var'\n",
            "'/mnt/target/var/log'",
        ]
        .iter()
        .map(|m| s.find(m).unwrap_or_else(|| panic!("{m} in {s}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{s}");
        assert!(s.contains(&format!(
            "check_sha256 /mnt/target/.drydock-image {}",
            "ab".repeat(32)
        )));
        assert!(
            s.contains(&format!("UUID={root_uuid} / ext4 defaults 0 1")),
            "{s}"
        );
        assert!(s.contains("fetch 'api/v1/agent/n1/seed/network-config' /mnt/target/var/lib/cloud/seed/nocloud/network-config"));
        assert!(s.ends_with("phase 'done'\n"));
    }

    #[test]
    fn a_missing_disk_or_a_disk_too_small_is_an_error_that_says_what_was_found() {
        let mut n = node();
        n.storage.devices[0].address = None;
        n.storage.devices.push(DeviceSpec {
            name: "sdb".into(),
            ..DeviceSpec::default()
        });
        let e = deploy(&n, &inv(4 << 30), &image()).unwrap_err();
        assert!(
            e.contains("`sda`") && e.contains("vda (4294967296 bytes, at 0000:00:05.0)"),
            "{e}"
        );
        let e = deploy(&node(), &inv(1 << 30), &image()).unwrap_err();
        assert!(
            e.contains("need") && e.contains("vda has 1073741824"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_filesystems_and_no_root_are_errors() {
        let mut n = node();
        n.storage.devices[0].partitions[1].filesystem = fs("/", "xfs");
        assert!(
            deploy(&n, &inv(4 << 30), &image())
                .unwrap_err()
                .contains("`xfs`")
        );
        let mut n = node();
        n.storage.devices[0].partitions[1].filesystem = fs("/srv", "ext4");
        assert!(
            deploy(&n, &inv(4 << 30), &image())
                .unwrap_err()
                .contains("mounted at `/`")
        );
    }

    #[test]
    fn design_names_are_quoted() {
        let mut n = node();
        n.storage.volume_groups[0].logical_volumes[0].name = "x'; reboot; '".into();
        let s = deploy(&n, &inv(4 << 30), &image()).unwrap();
        assert!(s.contains("-n 'x'\\''; reboot; '\\'''"), "{s}");
    }

    #[test]
    fn a_whole_disk_image_is_written_over_the_disk_with_a_cidata_seed() {
        let img = ImageRef {
            format: ImageFormat::Raw,
            bytes: 1234,
            ..image()
        };
        let s = deploy(&node(), &inv(4 << 30), &img).unwrap();
        assert!(s.contains("| dd of=/dev/vda bs=4M"), "{s}");
        assert!(s.contains("head -c 1234 /dev/vda | sha256sum"), "{s}");
        assert!(s.contains("mkfs.fat -n CIDATA"), "{s}");
        assert!(s.contains("/mnt/seed/user-data"), "{s}");
        assert!(!s.contains("mke2fs"), "{s}");
    }

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let u = fs_uuid("n1", "sda/root");
        assert_eq!(u, fs_uuid("n1", "sda/root"));
        assert_ne!(u, fs_uuid("n2", "sda/root"));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
