//! drydock as its own provisioner, proven by real netboots (README, "The netboot tests"): QEMU TCG
//! virtual machines in a network namespace the test makes, booted through drydock's own dnsmasq,
//! iPXE and HTTP service, driven through real BMC protocols (sushy-tools' libvirt driver for
//! Redfish, VirtualBMC for IPMI), deployed by drydock's deploy agent.
//!
//! One lab, in order: the first apply deploys the UEFI node (IPMI) while the BIOS node
//! (Redfish) is destroyed mid-deploy — it fails with the reason — and a VM whose MAC is not in
//! the design boots nothing; the rerun deploys the BIOS node; the disks have the designed
//! partitions, volume group and filesystems, the seed holds the designed network configuration
//! (a VLAN on a trunked link) and the boot actions' files; each deploy waits for its signaling
//! boot action, which the test sends as the deployed OS would, with the report URL and key
//! read from the seed on the VM's disk (the test image has no OS to run it); a third apply
//! does nothing and `plan` is empty. The consoles are kept in
//! `target/netboot-artifacts/netboot/`.

mod apply_support;
mod netboot_support;
mod peers_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use apply_support::Watched;
use netboot_support::{
    BMC_PASSWORD, BRIDGE_IP, HTTP_PORT, Lab, SUSHY_PORT, VBMC_PORT, partitions, with_mounted,
};

const BIOS_MAC: &str = "52:54:00:77:00:01";
const UEFI_MAC: &str = "52:54:00:77:00:02";
const STRANGER_MAC: &str = "52:54:00:77:00:99";

fn design(ca: &Path) -> String {
    format!(
        r#"schema: drydock/Region/v1
metadata: {{schema: metadata/Document/v1, name: nblab}}
data:
  authorized_keys:
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrydockNetbootTestKey test@drydock
---
schema: drydock/Network/v1
metadata: {{schema: metadata/Document/v1, name: pxe}}
data:
  cidr: 10.77.0.0/24
  ranges:
    - {{type: static, start: 10.77.0.10, end: 10.77.0.49}}
    - {{type: dhcp, start: 10.77.0.100, end: 10.77.0.150}}
  dns: {{domain: pxe.nblab.test, servers: {BRIDGE_IP}}}
---
schema: drydock/Network/v1
metadata: {{schema: metadata/Document/v1, name: mgmt}}
data:
  cidr: 10.78.0.0/24
  vlan: '100'
  mtu: 1400
  ranges:
    - {{type: static, start: 10.78.0.10, end: 10.78.0.49}}
  routes:
    - {{subnet: 0.0.0.0/0, gateway: 10.78.0.1, metric: 100}}
  dns: {{domain: nblab.test, servers: 10.78.0.53}}
---
schema: drydock/Network/v1
metadata: {{schema: metadata/Document/v1, name: oob}}
data: {{cidr: 127.0.0.0/24}}
---
schema: drydock/NetworkLink/v1
metadata: {{schema: metadata/Document/v1, name: pxe-link}}
data:
  trunking: {{mode: 802.1q, default_network: pxe}}
  allowed_networks: [pxe, mgmt]
---
schema: drydock/HardwareProfile/v1
metadata: {{schema: metadata/Document/v1, name: vm-bios}}
data: {{boot_mode: bios, bootstrap_protocol: pxe, pxe_interface: 0}}
---
schema: drydock/HardwareProfile/v1
metadata: {{schema: metadata/Document/v1, name: vm-uefi}}
data: {{boot_mode: uefi, bootstrap_protocol: pxe, pxe_interface: 0}}
---
schema: drydock/HostProfile/v1
metadata: {{schema: metadata/Document/v1, name: base}}
data:
  primary_network: mgmt
  platform: {{image: testos}}
  interfaces:
    pxe:
      device_link: pxe-link
      slaves: [eth0]
      networks: [pxe, mgmt]
---
schema: drydock/BaremetalNode/v1
metadata: {{schema: metadata/Document/v1, name: nb-bios}}
data:
  host_profile: base
  hardware_profile: vm-bios
  oob: {{type: redfish, network: oob, account: admin, credential: 'env:NB_BMC_PASSWORD', port: {SUSHY_PORT}, system: nb-bios, ca_bundle: '{ca}'}}
  metadata: {{boot_mac: '{BIOS_MAC}'}}
  storage:
    physical_devices:
      vda:
        partitions:
          - {{name: root, size: 20g, filesystem: {{mountpoint: /, fstype: ext4}}}}
          - {{name: pv, size: '>1g', volume_group: vg0}}
    volume_groups:
      vg0:
        logical_volumes:
          - {{name: srv, size: 50%, filesystem: {{mountpoint: /srv, fstype: ext4}}}}
  addressing:
    - {{network: pxe, address: 10.77.0.11}}
    - {{network: mgmt, address: 10.78.0.11}}
    - {{network: oob, address: 127.0.0.1}}
---
schema: drydock/BaremetalNode/v1
metadata: {{schema: metadata/Document/v1, name: nb-uefi}}
data:
  host_profile: base
  hardware_profile: vm-uefi
  oob: {{type: ipmi, network: oob, account: admin, credential: 'env:NB_BMC_PASSWORD', port: {VBMC_PORT}}}
  metadata: {{boot_mac: '{UEFI_MAC}'}}
  storage:
    physical_devices:
      vda:
        partitions:
          - {{name: efi, size: 512mb, filesystem: {{mountpoint: /boot/efi, fstype: vfat}}}}
          - {{name: root, size: 20g, filesystem: {{mountpoint: /, fstype: ext4}}}}
  addressing:
    - {{network: pxe, address: dhcp}}
    - {{network: mgmt, address: 10.78.0.12}}
    - {{network: oob, address: 127.0.0.1}}
---
schema: drydock/BootAction/v1
metadata: {{schema: metadata/Document/v1, name: hello}}
data:
  signaling: false
  assets:
    - type: file
      path: /etc/drydock-hello
      permissions: '644'
      data: "deployed {{{{ node.hostname }}}} at {{{{ node.network.mgmt.ip }}}}\n"
      data_pipeline: [utf8_decode, template]
---
schema: drydock/BootAction/v1
metadata: {{schema: metadata/Document/v1, name: report}}
data:
  signaling: true
  assets:
    - type: file
      path: /usr/local/bin/drydock-report
      permissions: '755'
      data: "url={{{{ action.report_url }}}} key={{{{ action.key }}}}\n"
      data_pipeline: [utf8_decode, template]
"#,
        ca = ca.display()
    )
}

/// A tiny root filesystem tree as the image (the deploy, not the OS, is under test).
fn image(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("image");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(
        tree.join("etc/os-release"),
        "NAME=\"drydock netboot test image\"\n",
    )
    .unwrap();
    let out = dir.join("testos.tar.gz");
    let f = std::fs::File::create(&out).unwrap();
    let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
        f,
        flate2::Compression::fast(),
    ));
    t.append_dir_all(".", &tree).unwrap();
    t.into_inner().unwrap().finish().unwrap();
    out
}

struct Site {
    design: std::path::PathBuf,
    boot: std::path::PathBuf,
    state: std::path::PathBuf,
}

fn drydock(lab: &Lab, site: &Site, verb: &str) -> Command {
    let mut c = lab.in_ns(env!("CARGO_BIN_EXE_drydock"));
    c.arg("-v")
        .arg(verb)
        .arg(&site.design)
        .arg("--boot-config")
        .arg(&site.boot)
        .arg("--state")
        .arg(&site.state)
        .env("NB_BMC_PASSWORD", BMC_PASSWORD)
        .env("NO_COLOR", "1")
        .env_remove("DRYDOCK_STATE")
        .env_remove("DRYDOCK_LOG");
    if verb != "pxe-config" {
        c.args(["--provisioner", "pxe", "--color", "never"]);
    }
    if verb == "apply" {
        c.args(["--auto-approve", "--progress", "plain"]);
    }
    c
}

fn show(lines: &[String], stdout: &str) -> String {
    format!("--- stdout\n{stdout}\n--- stderr\n{}", lines.join("\n"))
}

#[test]
fn netboot_end_to_end() {
    let started = Instant::now();
    let mut lab = Lab::start("netboot");
    let d = lab.dir.path().to_path_buf();
    let ca = lab.start_sushy();
    lab.define("nb-bios", BIOS_MAC, false);
    lab.define("nb-uefi", UEFI_MAC, true);
    lab.define_booting("nb-stranger", STRANGER_MAC, false, &["network", "hd"]);
    lab.start_vbmc("nb-uefi");
    std::fs::create_dir_all(d.join("design")).unwrap();
    std::fs::write(d.join("design/site.yaml"), design(&ca)).unwrap();
    let agent = netboot_support::agent_dir();
    std::fs::write(
        d.join("boot.yaml"),
        format!(
            "listen: {BRIDGE_IP}:{HTTP_PORT}\ndhcp: {{interface: br0, ipv6_ra: 'fd77::'}}\nagent: {{kernel: {}, initramfs: {}}}\nimages:\n  testos: {{file: {}}}\nboot_timeout_secs: 180\n",
            agent.join("vmlinuz").display(),
            agent.join("initramfs.gz").display(),
            image(&d).display()
        ),
    )
    .unwrap();
    let site = Site {
        design: d.join("design"),
        boot: d.join("boot.yaml"),
        state: d.join("state"),
    };
    eprintln!("lab ready after {:.1?}", started.elapsed());

    // The generated dnsmasq configuration passes dnsmasq's own check.
    let conf = drydock(&lab, &site, "pxe-config").output().unwrap();
    assert!(
        conf.status.success(),
        "{}",
        String::from_utf8_lossy(&conf.stderr)
    );
    std::fs::write(d.join("dnsmasq-check.conf"), &conf.stdout).unwrap();
    let check = Command::new("dnsmasq")
        .arg("--test")
        .arg(format!(
            "--conf-file={}",
            d.join("dnsmasq-check.conf").display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // First apply: a stranger boots beside it, and the BIOS node is destroyed mid-deploy.
    let mut apply = Watched::spawn(drydock(&lab, &site, "apply"));
    assert!(
        apply.wait_for(Duration::from_secs(60), |l| l
            .contains("boot service listening")),
        "the boot service did not start:\n{}",
        apply.lines.join("\n")
    );
    let start = lab.virsh(&["start", "nb-stranger"]);
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    assert!(
        apply.wait_for(Duration::from_secs(240), |l| l.contains("deploy phase")
            && l.contains("node=nb-bios")),
        "nb-bios never reached its deploy:\n{}\n--- console\n{}",
        apply.lines.join("\n"),
        lab.serial("nb-bios")
    );
    let destroyed = lab.virsh(&["destroy", "nb-bios"]);
    assert!(
        destroyed.status.success(),
        "{}",
        String::from_utf8_lossy(&destroyed.stderr)
    );
    // nb-uefi's deploy waits for its boot-action signal once its disk boots.
    signal_when_on_disk(&lab, &mut apply, "nb-uefi", 1);
    let (status, stdout, lines) = apply.finish();
    let all = show(&lines, &stdout);
    assert_eq!(status.code(), Some(1), "{all}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name) && l.contains("  "))
            .unwrap_or("")
            .to_string()
    };
    assert!(row("nb-uefi").contains("deployed"), "{all}");
    assert!(
        row("nb-bios").contains("FAILED")
            && row("nb-bios")
                .contains("powered off during the deploy before its agent reported completion"),
        "{all}"
    );
    // No secret in the output.
    assert!(
        !all.contains(BMC_PASSWORD),
        "the BMC password leaked:\n{all}"
    );
    assert!(!all.contains("drydock.token="), "a token leaked:\n{all}");

    // The stranger got an address from the pool but no boot file, and asked drydock for nothing.
    assert!(
        lab.wait_serial(
            "nb-stranger",
            "No bootable device",
            Duration::from_secs(120)
        ),
        "the stranger's console:\n{}",
        lab.serial("nb-stranger")
    );
    let dnsmasq_log = std::fs::read_to_string(site.state.join("boot/dnsmasq/dnsmasq.log")).unwrap();
    let stranger: Vec<&str> = dnsmasq_log
        .lines()
        .filter(|l| l.contains(STRANGER_MAC))
        .collect();
    assert!(
        !stranger.is_empty(),
        "dnsmasq never saw the stranger:\n{dnsmasq_log}"
    );
    let ids: Vec<&str> = stranger
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    for l in dnsmasq_log
        .lines()
        .filter(|l| ids.iter().any(|id| l.contains(id)))
    {
        assert!(
            !(l.contains("tags:") && l.contains("drydock")),
            "the stranger was tagged as a node: {l}"
        );
        assert!(
            !l.contains("bootfile-name") || !l.contains("sent"),
            "the stranger was sent a boot file: {l}"
        );
    }
    assert!(
        !lab.serial("nb-stranger").contains("drydock"),
        "the stranger booted something of drydock's"
    );
    let _ = lab.virsh(&["destroy", "nb-stranger"]);

    // The rerun deploys the BIOS node.
    let mut rerun = Watched::spawn(drydock(&lab, &site, "apply"));
    signal_when_on_disk(&lab, &mut rerun, "nb-bios", 0);
    let (status, stdout, lines) = rerun.finish();
    let all = show(&lines, &stdout);
    assert_eq!(
        status.code(),
        Some(0),
        "{all}\n--- console\n{}",
        lab.serial("nb-bios")
    );
    assert!(stdout.contains("Apply complete"), "{all}");
    assert!(row_of(&stdout, "nb-bios").contains("deployed"), "{all}");

    // The disks, read back with the VMs off.
    for vm in ["nb-bios", "nb-uefi"] {
        let _ = lab.virsh(&["destroy", vm]);
    }
    check_bios_disk(&lab.disk("nb-bios"));
    check_uefi_disk(&lab.disk("nb-uefi"));

    // Nothing left to do.
    let third = drydock(&lab, &site, "apply").output().unwrap();
    let out = String::from_utf8_lossy(&third.stdout);
    assert_eq!(third.status.code(), Some(0), "{out}");
    assert!(out.contains("No changes."), "{out}");
    let mut plan = drydock(&lab, &site, "plan");
    plan.arg("--detailed-exitcode");
    let p = plan.output().unwrap();
    assert_eq!(
        p.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&p.stdout)
    );
    lab.keep_artifacts();
    eprintln!("netboot end to end: {:.1?}", started.elapsed());
}

/// A file of the seed's `write_files`.
fn write_file<'a>(user_data: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    user_data["write_files"]
        .as_array()
        .and_then(|w| w.iter().find(|f| f["path"] == path))
        .unwrap_or_else(|| panic!("{path} in the seed's write_files: {user_data}"))
}

/// Play the deployed OS of `vm` once drydock boots its disk: read the `report` boot action's
/// file from the seed on the root filesystem (partition `root` of the disk), and post its
/// signal to the report URL with the key, from inside the lab's network. The apply's
/// boot-action report waits for it.
fn signal_when_on_disk(lab: &Lab, apply: &mut Watched, vm: &str, root: usize) {
    let on_disk =
        |l: &str| l.contains("deployed; booting its disk") && l.contains(&format!("node={vm}"));
    let seen = apply.lines.iter().any(|l| on_disk(l));
    assert!(
        seen || apply.wait_for(Duration::from_secs(240), on_disk),
        "{vm} never booted its disk:\n{}\n--- console\n{}",
        apply.lines.join("\n"),
        lab.serial(vm)
    );
    let disk = lab.disk(vm);
    let p = partitions(&disk);
    let report = with_mounted(&disk, p[root].0 * 512, "ext4", |r| {
        let ud = std::fs::read_to_string(r.join("var/lib/cloud/seed/nocloud/user-data")).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(ud.trim_start_matches("#cloud-config\n")).unwrap();
        let content = write_file(&v, "/usr/local/bin/drydock-report")["content"]
            .as_str()
            .unwrap()
            .to_string();
        String::from_utf8(drydock::boot::cloudinit::base64_decode(&content).unwrap()).unwrap()
    });
    let field = |k: &str| {
        report
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {report}"))
            .to_string()
    };
    let (url, key) = (field("url="), field("key="));
    let out = lab
        .in_ns("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", &format!("X-Bootaction-Key: {key}")])
        .args(["-H", "Content-Type: application/json"])
        .args([
            "-d",
            &format!(r#"{{"status": "Success", "details": [{{"message": "{vm} is up", "error": false}}]}}"#),
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "201",
        "the boot-action signal of {vm}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn row_of(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with(name) && l.contains("  "))
        .unwrap_or("")
        .to_string()
}

const EXT4: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

fn check_uefi_disk(disk: &Path) {
    let p = partitions(disk);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        (p[0].1 * 512, p[0].2.as_str(), p[0].3.as_str()),
        (512_000_000, ESP, "efi"),
        "{p:?}"
    );
    assert_eq!(
        (p[1].1 * 512, p[1].2.as_str(), p[1].3.as_str()),
        (20_000_000_000, EXT4, "root"),
        "{p:?}"
    );
    // The ESP's FAT32 boot sector (read directly: the host kernel may have no vfat module),
    // with the volume id fstab names.
    let boot = read_at(disk, p[0].0 * 512, 512);
    assert_eq!(&boot[82..90], b"FAT32   ", "the ESP is FAT32");
    let id = u32::from_le_bytes([boot[67], boot[68], boot[69], boot[70]]);
    let esp_uuid = format!("UUID={:04X}-{:04X}", id >> 16, id & 0xffff);
    with_mounted(disk, p[1].0 * 512, "ext4", |root| {
        assert!(
            root.join("etc/os-release").is_file(),
            "the image is unpacked"
        );
        let fstab = std::fs::read_to_string(root.join("etc/fstab")).unwrap();
        assert!(
            fstab.contains(&format!("{esp_uuid} /boot/efi vfat ")) && fstab.contains(" / ext4 "),
            "{esp_uuid}\n{fstab}"
        );
        let seed = root.join("var/lib/cloud/seed/nocloud");
        let nc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(seed.join("network-config")).unwrap())
                .unwrap();
        assert_eq!(nc["version"], 2);
        assert_eq!(nc["ethernets"]["pxe"]["match"]["macaddress"], UEFI_MAC);
        assert_eq!(nc["ethernets"]["pxe"]["dhcp4"], true);
        let vlan = &nc["vlans"]["pxe.100"];
        assert_eq!(vlan["id"], 100, "{nc}");
        assert_eq!(vlan["link"], "pxe");
        assert_eq!(vlan["addresses"], serde_json::json!(["10.78.0.12/24"]));
        assert_eq!(vlan["mtu"], 1400);
        assert_eq!(vlan["routes"][0]["to"], "default");
        let ud = std::fs::read_to_string(seed.join("user-data")).unwrap();
        assert!(ud.starts_with("#cloud-config\n"), "{ud}");
        let v: serde_json::Value =
            serde_json::from_str(ud.trim_start_matches("#cloud-config\n")).unwrap();
        assert_eq!(v["hostname"], "nb-uefi");
        assert_eq!(
            v["ssh_authorized_keys"][0],
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrydockNetbootTestKey test@drydock"
        );
        let content = drydock::boot::cloudinit::base64_decode(
            write_file(&v, "/etc/drydock-hello")["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(content).unwrap(),
            "deployed nb-uefi at 10.78.0.12\n"
        );
        let md = std::fs::read_to_string(seed.join("meta-data")).unwrap();
        assert!(md.contains("\"local-hostname\": \"nb-uefi\""), "{md}");
    });
}

fn check_bios_disk(disk: &Path) {
    let p = partitions(disk);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        (p[0].1 * 512, p[0].2.as_str()),
        (20_000_000_000, "83"),
        "{p:?}"
    );
    assert_eq!(p[1].2, "8e", "the volume group's partition: {p:?}");
    with_mounted(disk, p[0].0 * 512, "ext4", |root| {
        let fstab = std::fs::read_to_string(root.join("etc/fstab")).unwrap();
        assert!(
            fstab.contains(" /srv ext4 ") && fstab.contains(" / ext4 "),
            "{fstab}"
        );
        let nc = std::fs::read_to_string(root.join("var/lib/cloud/seed/nocloud/network-config"))
            .unwrap();
        assert!(
            nc.contains("10.78.0.11/24") && nc.contains(BIOS_MAC),
            "{nc}"
        );
    });
    // The volume group: LVM's text metadata on the physical volume names vg0 and its srv
    // volume; srv's filesystem is found where the metadata says its extents start.
    let pv = p[1].0 * 512;
    let head = read_at(disk, pv, 1 << 20);
    let text = String::from_utf8_lossy(&head);
    let meta = text
        .rfind("vg0 {")
        .map(|i| &text[i..])
        .expect("LVM metadata for vg0 on the physical volume");
    assert!(meta.contains("srv {"), "{meta}");
    let num = |s: &str, key: &str| -> u64 {
        let i = s.find(key).unwrap_or_else(|| panic!("{key} in {s}"));
        s[i + key.len()..]
            .trim_start_matches([' ', '='])
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let extent = num(meta, "extent_size");
    let pe_start = num(meta, "pe_start");
    let srv = &meta[meta.find("srv {").unwrap()..];
    let stripes = &srv[srv.find("stripes").unwrap()..];
    let first = num(&stripes[stripes.find(',').unwrap()..], ",");
    let offset = pv + pe_start * 512 + first * extent * 512;
    with_mounted(disk, offset, "ext4", |srv| {
        assert!(
            srv.join("lost+found").is_dir(),
            "srv has an ext4 filesystem"
        );
    });
}

fn read_at(disk: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(disk).unwrap();
    f.seek(std::io::SeekFrom::Start(offset)).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact(&mut b).unwrap();
    b
}
