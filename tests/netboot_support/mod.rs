//! A netboot lab for the end-to-end tests (README, "The netboot tests"): a network namespace made by
//! the test with a bridge (10.77.0.1/24, fd77::1/64) and no uplink; libvirtd started by the test
//! inside it (monolithic, as root without systemd: its qemu.conf bind-mounted over the system's
//! in a private mount namespace); QEMU TCG virtual machines defined on the bridge, each with a
//! sparse disk and its serial console in a file; sushy-tools' libvirt driver (Redfish over
//! HTTPS with a CA made for the lab, basic auth) and VirtualBMC (IPMI) on the namespace's
//! 127.0.0.1. Everything is started by pid and stopped on drop (domains destroyed and
//! undefined, daemons killed, the namespace deleted); each VM's serial log is kept under
//! `target/netboot-artifacts/<lab>/`. It installs nothing: `./scripts/test.sh` does
//! (`scripts/install-netboot.sh`); anything missing is a panic that says so.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::peers_support;

pub const BRIDGE_IP: &str = "10.77.0.1";
pub const HTTP_PORT: u16 = 8089;
pub const SUSHY_PORT: u16 = 8443;
pub const VBMC_PORT: u16 = 6230;
pub const BMC_USER: &str = "admin";
pub const BMC_PASSWORD: &str = "netboot-pw";

/// How often a waiting check looks again (short: these are events, not delays).
const POLL: Duration = Duration::from_millis(50);

const QEMU_CONF: &str = "# Written by tests/netboot_support: libvirt as root without systemd.\n\
user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\nsecurity_driver = \"none\"\n\
namespaces = [ ]\ncgroup_controllers = [ ]\nstdio_handler = \"file\"\n";

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("{what}: cannot run {cmd:?}: {e} (./scripts/test.sh installs the netboot peers)")
    });
    if !out.status.success() {
        panic!(
            "{what}: {cmd:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn wait_until(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > limit {
            panic!("{what} within {limit:?}");
        }
        std::thread::sleep(POLL);
    }
}

pub fn venv_bin(name: &str) -> PathBuf {
    let p = peers_support::peers_dir()
        .join("netboot-venv/bin")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing: run ./scripts/test.sh (scripts/install-netboot.sh installs sushy-tools and VirtualBMC)",
        p.display()
    );
    p
}

/// The deploy agent built by scripts/build-agent.sh.
pub fn agent_dir() -> PathBuf {
    let d = peers_support::peers_dir().join("agent");
    assert!(
        d.join("initramfs.gz").is_file() && d.join("vmlinuz").is_file(),
        "the deploy agent is not built in {}: run ./scripts/test.sh (scripts/install-netboot.sh builds it)",
        d.display()
    );
    d
}

/// SIGTERM, then SIGKILL after 5 s; `target` is a pid, or a process group as `-pgid`.
/// `alive` says whether the process is still there (a child of ours is reaped by the caller).
fn kill_wait(target: i32, mut alive: impl FnMut() -> bool) {
    // SAFETY: kill(2) on a process (group) this lab started.
    unsafe { libc::kill(target, libc::SIGTERM) };
    let start = Instant::now();
    while alive() {
        if start.elapsed() > Duration::from_secs(5) {
            unsafe { libc::kill(target, libc::SIGKILL) };
        }
        if start.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(POLL);
    }
}

fn pid_alive(pid: i32) -> bool {
    // A zombie is gone for our purposes.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

/// A daemon of the lab in its own process group (its workers die with it).
fn spawn_group(mut cmd: Command, log: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let f = fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub ns: String,
    pub artifacts: PathBuf,
    libvirtd_pid: Option<i32>,
    sushy: Option<Child>,
    vbmcd: Option<Child>,
    pub domains: Vec<String>,
}

impl Lab {
    /// The namespace, its bridge and libvirtd.
    pub fn start(name: &str) -> Lab {
        assert!(
            unsafe { libc::geteuid() } == 0,
            "the netboot tests need root (network namespaces, libvirtd, loop devices)"
        );
        for tool in [
            "ip",
            "virsh",
            "libvirtd",
            "qemu-system-x86_64",
            "dnsmasq",
            "unshare",
            "sfdisk",
        ] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false),
                "`{tool}` is not installed: run ./scripts/test.sh (scripts/install-netboot.sh installs it)"
            );
        }
        // A live libvirtd (a zombie left by an earlier lab of this process is not one).
        let running = fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
            pid > 0
                && fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "libvirtd")
                && pid_alive(pid)
        });
        assert!(
            !running,
            "a libvirtd already runs on this machine: the netboot tests start their own (stop the other one)"
        );
        let dir = tempfile::Builder::new()
            .prefix("drydock-netboot-")
            .tempdir()
            .unwrap();
        let ns = format!("ddnb{}{}", std::process::id(), name.len());
        let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/netboot-artifacts")
            .join(name);
        let _ = fs::remove_dir_all(&artifacts);
        fs::create_dir_all(&artifacts).unwrap();
        let mut lab = Lab {
            dir,
            ns,
            artifacts,
            libvirtd_pid: None,
            sushy: None,
            vbmcd: None,
            domains: Vec::new(),
        };
        let ip = |args: &str| {
            run(
                Command::new("ip").args(args.split_whitespace()),
                "the lab's network",
            );
        };
        ip(&format!("netns add {}", lab.ns));
        let ns = lab.ns.clone();
        ip(&format!("-n {ns} link set lo up"));
        ip(&format!("-n {ns} link add br0 type bridge"));
        ip(&format!("-n {ns} addr add {BRIDGE_IP}/24 dev br0"));
        ip(&format!("-n {ns} addr add fd77::1/64 dev br0 nodad"));
        ip(&format!("-n {ns} link set br0 up"));
        let d = lab.dir.path();
        fs::write(d.join("qemu.conf"), QEMU_CONF).unwrap();
        let pidfile = d.join("libvirtd.pid");
        run(
            lab.in_ns("unshare").args([
                "-m",
                "sh",
                "-c",
                &format!(
                    "mount --bind {} /etc/libvirt/qemu.conf && exec libvirtd -d -p {}",
                    d.join("qemu.conf").display(),
                    pidfile.display()
                ),
            ]),
            "libvirtd",
        );
        wait_until(Duration::from_secs(30), "libvirtd did not answer", || {
            Command::new("virsh")
                .args(["-c", "qemu:///system", "version"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
        lab.libvirtd_pid = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        assert!(lab.libvirtd_pid.is_some(), "libvirtd wrote no pid file");
        lab
    }

    /// A command run inside the lab's namespace.
    pub fn in_ns(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(program);
        c
    }

    pub fn virsh(&self, args: &[&str]) -> Output {
        Command::new("virsh")
            .args(["-q", "-c", "qemu:///system"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn disk(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.img"))
    }

    pub fn serial_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.serial"))
    }

    /// Define a VM on the bridge: BIOS (SeaBIOS, the NIC's iPXE ROM) or UEFI (OVMF's own PXE),
    /// 256 MiB, one virtio disk of 24 GiB (sparse), its console in a file. It boots its disk
    /// until a BMC says otherwise.
    pub fn define(&mut self, name: &str, mac: &str, uefi: bool) {
        self.define_booting(name, mac, uefi, &["hd"]);
    }

    /// [`Lab::define`] with the boot order given (`network`, `hd`).
    pub fn define_booting(&mut self, name: &str, mac: &str, uefi: bool, boot: &[&str]) {
        let boot: String = boot.iter().map(|b| format!("<boot dev='{b}'/>")).collect();
        let d = self.dir.path();
        let disk = self.disk(name);
        fs::File::create(&disk).unwrap().set_len(24 << 30).unwrap();
        let firmware = if uefi {
            let vars = d.join(format!("{name}_VARS.fd"));
            fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
                .expect("OVMF is installed (scripts/install-netboot.sh)");
            format!(
                "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n    <nvram>{}</nvram>",
                vars.display()
            )
        } else {
            "<bios useserial='yes'/>".to_string()
        };
        let rom = if uefi { "<rom enabled='no'/>" } else { "" };
        let xml = format!(
            "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    {firmware}\n    {boot}\n  </os>\n  <features><acpi/></features>\n  <on_reboot>restart</on_reboot>\n  <devices>\n    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      <source file='{disk}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n    <interface type='bridge'>\n      <mac address='{mac}'/>\n      <source bridge='br0'/>\n      <model type='virtio'/>\n      {rom}\n    </interface>\n    <serial type='file'>\n      <source path='{serial}' append='on'/>\n      <target port='0'/>\n    </serial>\n    <video><model type='none'/></video>\n  </devices>\n</domain>\n",
            disk = disk.display(),
            serial = self.serial_path(name).display(),
        );
        let file = d.join(format!("{name}.xml"));
        fs::write(&file, xml).unwrap();
        run(
            Command::new("virsh")
                .args(["-c", "qemu:///system", "define"])
                .arg(&file),
            "defining a VM",
        );
        self.domains.push(name.to_string());
    }

    pub fn domstate(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.virsh(&["domstate", name]).stdout)
            .trim()
            .to_string()
    }

    pub fn serial(&self, name: &str) -> String {
        String::from_utf8_lossy(&fs::read(self.serial_path(name)).unwrap_or_default()).into_owned()
    }

    /// Wait until `needle` shows on a VM's console; `limit` only guards against a hang.
    pub fn wait_serial(&self, name: &str, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.serial(name).contains(needle) {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// sushy-tools with its libvirt driver on 127.0.0.1:SUSHY_PORT in the namespace: HTTPS
    /// with the lab's CA (returned), basic auth.
    pub fn start_sushy(&mut self) -> PathBuf {
        let d = self.dir.path().join("sushy");
        fs::create_dir_all(&d).unwrap();
        peers_support::make_certificates(&d);
        peers_support::write_htpasswd(&d.join("htpasswd"), BMC_USER, BMC_PASSWORD);
        let conf = d.join("sushy.conf");
        fs::write(
            &conf,
            format!(
                "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\nSUSHY_EMULATOR_LISTEN_PORT = {SUSHY_PORT}\nSUSHY_EMULATOR_SSL_CERT = {:?}\nSUSHY_EMULATOR_SSL_KEY = {:?}\nSUSHY_EMULATOR_AUTH_FILE = {:?}\nSUSHY_EMULATOR_LIBVIRT_URI = 'qemu:///system'\n",
                d.join("bmc.pem"),
                d.join("bmc.key"),
                d.join("htpasswd")
            ),
        )
        .unwrap();
        let mut cmd = self.in_ns(venv_bin("sushy-emulator"));
        cmd.arg("--config")
            .arg(&conf)
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("SUSHY_EMULATOR_CONFIG");
        let child = spawn_group(cmd, &d.join("sushy.log"));
        self.sushy = Some(child);
        let ca = d.join("ca.pem");
        let url = format!("https://127.0.0.1:{SUSHY_PORT}/redfish/v1/Systems");
        wait_until(
            Duration::from_secs(30),
            "sushy-emulator did not answer",
            || {
                self.in_ns("curl")
                    .args(["-sf", "-o", "/dev/null", "--cacert"])
                    .arg(&ca)
                    .args(["-u", &format!("{BMC_USER}:{BMC_PASSWORD}"), &url])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false)
            },
        );
        ca
    }

    fn vbmc(&self, args: &[&str]) -> Output {
        self.in_ns(venv_bin("vbmc"))
            .args(args)
            .env("VIRTUALBMC_CONFIG", self.dir.path().join("vbmc/vbmc.conf"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// VirtualBMC for `domain` on 127.0.0.1:VBMC_PORT in the namespace.
    pub fn start_vbmc(&mut self, domain: &str) {
        let d = self.dir.path().join("vbmc");
        fs::create_dir_all(d.join("config")).unwrap();
        fs::write(
            d.join("vbmc.conf"),
            format!(
                "[default]\nconfig_dir = {}\nserver_port = 50891\n[log]\nlogfile = {}\n",
                d.join("config").display(),
                d.join("vbmcd.log").display()
            ),
        )
        .unwrap();
        let mut cmd = self.in_ns(venv_bin("vbmcd"));
        cmd.arg("--foreground")
            .env("VIRTUALBMC_CONFIG", d.join("vbmc.conf"));
        let child = spawn_group(cmd, &d.join("vbmcd.out"));
        self.vbmcd = Some(child);
        wait_until(Duration::from_secs(30), "vbmcd did not answer", || {
            self.vbmc(&["list"]).status.success()
        });
        let port = VBMC_PORT.to_string();
        let add = self.vbmc(&[
            "add",
            domain,
            "--port",
            &port,
            "--address",
            "127.0.0.1",
            "--username",
            BMC_USER,
            "--password",
            BMC_PASSWORD,
            "--libvirt-uri",
            "qemu:///system",
        ]);
        assert!(
            add.status.success(),
            "vbmc add: {}",
            String::from_utf8_lossy(&add.stderr)
        );
        let start = self.vbmc(&["start", domain]);
        assert!(
            start.status.success(),
            "vbmc start: {}",
            String::from_utf8_lossy(&start.stderr)
        );
        wait_until(
            Duration::from_secs(30),
            "the virtual BMC did not answer",
            || {
                self.in_ns("ipmitool")
                    .args([
                        "-I",
                        "lanplus",
                        "-C",
                        "3",
                        "-H",
                        "127.0.0.1",
                        "-p",
                        &port,
                        "-U",
                        BMC_USER,
                        "-P",
                        BMC_PASSWORD,
                        "chassis",
                        "power",
                        "status",
                    ])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false)
            },
        );
    }

    /// Keep the consoles (and the daemons' logs) as test artifacts.
    pub fn keep_artifacts(&self) {
        for d in &self.domains {
            let _ = fs::copy(
                self.serial_path(d),
                self.artifacts.join(format!("{d}.serial.log")),
            );
        }
        for (from, to) in [
            ("sushy/sushy.log", "sushy.log"),
            ("vbmc/vbmcd.log", "vbmcd.log"),
        ] {
            let _ = fs::copy(self.dir.path().join(from), self.artifacts.join(to));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.keep_artifacts();
        for d in &self.domains {
            let _ = self.virsh(&["destroy", d]);
            let _ = self.virsh(&["undefine", "--nvram", d]);
        }
        for mut c in [self.sushy.take(), self.vbmcd.take()].into_iter().flatten() {
            let pid = c.id() as i32;
            // The whole group: vbmcd runs a worker process per virtual BMC.
            kill_wait(-pid, || matches!(c.try_wait(), Ok(None)));
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = c.wait();
        }
        if let Some(pid) = self.libvirtd_pid.take() {
            kill_wait(pid, || pid_alive(pid));
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Partitions as `sfdisk --dump` lists them: (start sector, size in sectors, type, name).
pub fn partitions(disk: &Path) -> Vec<(u64, u64, String, String)> {
    let out = run(
        Command::new("sfdisk").arg("--dump").arg(disk),
        "reading the partition table",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" : start="))
        .map(|l| {
            let field = |k: &str| {
                l.split(',')
                    .find_map(|f| {
                        f.trim()
                            .split_once('=')
                            .filter(|(a, _)| a.trim().ends_with(k))
                            .map(|(_, v)| v.trim().trim_matches('"').to_string())
                    })
                    .unwrap_or_default()
            };
            (
                field("start").parse().unwrap(),
                field("size").parse().unwrap(),
                field("type"),
                field("name"),
            )
        })
        .collect()
}

/// A filesystem at `offset` bytes of `disk`, mounted read-only (loop device) while `f` runs.
pub fn with_mounted<T>(disk: &Path, offset: u64, fstype: &str, f: impl FnOnce(&Path) -> T) -> T {
    let m = tempfile::tempdir().unwrap();
    run(
        Command::new("mount")
            .args(["-t", fstype, "-o", &format!("ro,loop,offset={offset}")])
            .arg(disk)
            .arg(m.path()),
        "mounting a deployed filesystem",
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(m.path())));
    let _ = Command::new("umount").arg(m.path()).output();
    match r {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
