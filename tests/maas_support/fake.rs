//! A MAAS region API (REST 2.0) fake that keeps MAAS's semantics as we read
//! them from MAAS's source: OAuth PLAINTEXT with nonces and timestamps, `op=` dispatch and its
//! 400s, the 404 catch-all and the trailing-slash rules (the partition detail URL has none),
//! form bodies (urlencoded and multipart, repeated keys), the NODE_STATUS machine with its
//! legal transitions and exact error texts, commissioning/deploying/releasing that advance on
//! a clock the caller controls, commissioning results (NICs with MACs, names and PCI
//! addresses; disks with sizes, models, serials and SCSI paths), the interface, storage and
//! VLAN gates, boot resources, tags, SSH keys and package repositories, and per-machine fault
//! injection (BMC unreachable, deploy never signalling, commissioning failure, 503 with
//! Retry-After).
//!
//! It is not part of drydock: `examples/maas_fake.rs` runs it as a program and the MAAS tests
//! (`tests/maas_*.rs`) start it in-process, both by including this one file. It is one file on
//! purpose (an example can include a file, not a module tree), and it deliberately leaves out
//! what a driver does not use (RAID, bcache, bridges, spaces, zones, pools, DNS, events).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const PREFIX: &str = "/MAAS/api/2.0/";
const MIB: u64 = 1 << 20;
/// MAAS's `node_timeout` default (commissioning, deploying, testing).
pub const NODE_TIMEOUT_MS: u64 = 30 * 60 * 1000;
/// Releasing is fixed at 5 minutes.
pub const RELEASE_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// How long the fake's asynchronous operations take, in its clock's milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timings {
    pub commission_ms: u64,
    pub testing_ms: u64,
    pub deploy_ms: u64,
    pub release_ms: u64,
    pub erase_ms: u64,
    /// From an accepted power action to the revert when the BMC cannot be reached.
    pub bmc_fail_ms: u64,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            commission_ms: 120_000,
            testing_ms: 30_000,
            deploy_ms: 600_000,
            release_ms: 30_000,
            erase_ms: 60_000,
            bmc_fail_ms: 5_000,
        }
    }
}

/// How the fake's clock moves.
#[derive(Clone, Copy, Debug)]
pub enum ClockMode {
    /// Only when the caller says ([`Fake::advance`], `POST /_fake/advance?seconds=N`).
    Manual,
    /// Real time multiplied by this factor (a demo: 600 makes a 10-minute deploy a second).
    Scaled(f64),
}

pub struct Options {
    /// `consumer_key:token_key:token_secret`.
    pub api_key: String,
    pub clock: ClockMode,
    pub timings: Timings,
    /// Where the world is written after every change (`--state DIR`), and read from at start.
    pub state_dir: Option<PathBuf>,
}

/// What can go wrong with one machine (keyed by hostname or any of its MACs; `*` for the
/// region: only `unavailable` applies to it).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Power actions fail after the operation was accepted: the status reverts (§8.1).
    pub bmc_unreachable: bool,
    /// The installed OS never signals: Deploying until the 30-minute timeout (§8.2).
    pub deploy_no_signal: bool,
    /// A commissioning script fails: Failed commissioning (§8.6).
    pub commission_fail: bool,
    /// The next N requests about this machine answer 503 with `Retry-After` (§8.8).
    pub unavailable: u32,
    pub retry_after_secs: u64,
}

/// The hardware commissioning finds behind a machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hardware {
    pub nics: Vec<Nic>,
    pub disks: Vec<Disk>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Nic {
    pub name: String,
    pub mac: String,
    pub pci_address: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub size: u64,
    pub model: String,
    pub serial: String,
    /// SCSI `host:channel:target:lun`.
    pub scsi: String,
}

impl Hardware {
    /// A Dell R740 as the demo design describes it: the onboard `eno1` carries the boot MAC,
    /// the XXV710's two ports sit at 0000:3b:00.0/.1, a 480 GB boot volume at 0:2:0:0 and a
    /// 1.92 TB data volume at 0:2:1:0. MACs and serials derive from the boot MAC.
    pub fn default_for(boot_mac: &str) -> Hardware {
        let tail: String = boot_mac.replace(':', "");
        let suffix = &tail[tail.len().saturating_sub(4)..];
        let mac2 = |n: u8| format!("3c:fd:fe:{}:{}:{n:02x}", &suffix[..2], &suffix[2..]);
        Hardware {
            nics: vec![
                Nic {
                    name: "eno1".into(),
                    mac: boot_mac.to_ascii_lowercase(),
                    pci_address: "0000:01:00.0".into(),
                },
                Nic {
                    name: "enp59s0f0".into(),
                    mac: mac2(0),
                    pci_address: "0000:3b:00.0".into(),
                },
                Nic {
                    name: "enp59s0f1".into(),
                    mac: mac2(1),
                    pci_address: "0000:3b:00.1".into(),
                },
            ],
            disks: vec![
                Disk {
                    name: "sda".into(),
                    size: 480_103_981_056,
                    model: "PERC H740P Adp".into(),
                    serial: format!("61866da0{suffix}a0"),
                    scsi: "0:2:0:0".into(),
                },
                Disk {
                    name: "sdb".into(),
                    size: 1_919_850_381_312,
                    model: "PERC H740P Adp".into(),
                    serial: format!("61866da0{suffix}b1"),
                    scsi: "0:2:1:0".into(),
                },
            ],
        }
    }
}

// ---------------------------------------------------------------------------------------
// The world.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct St(pub u8);

impl St {
    pub const NEW: St = St(0);
    pub const COMMISSIONING: St = St(1);
    pub const FAILED_COMMISSIONING: St = St(2);
    pub const READY: St = St(4);
    pub const DEPLOYED: St = St(6);
    pub const BROKEN: St = St(8);
    pub const DEPLOYING: St = St(9);
    pub const ALLOCATED: St = St(10);
    pub const FAILED_DEPLOYMENT: St = St(11);
    pub const RELEASING: St = St(12);
    pub const FAILED_RELEASING: St = St(13);
    pub const DISK_ERASING: St = St(14);
    pub const FAILED_DISK_ERASING: St = St(15);
    pub const TESTING: St = St(21);
    pub const FAILED_TESTING: St = St(22);

    pub fn name(self) -> &'static str {
        [
            "New",
            "Commissioning",
            "Failed commissioning",
            "Missing",
            "Ready",
            "Reserved",
            "Deployed",
            "Retired",
            "Broken",
            "Deploying",
            "Allocated",
            "Failed deployment",
            "Releasing",
            "Releasing failed",
            "Disk erasing",
            "Failed disk erasing",
            "Rescue mode",
            "Entering rescue mode",
            "Failed to enter rescue mode",
            "Exiting rescue mode",
            "Failed to exit rescue mode",
            "Testing",
            "Failed testing",
        ][self.0 as usize]
    }

    /// The `status=` filter's lower-case enum names.
    pub fn short(self) -> &'static str {
        [
            "new",
            "commissioning",
            "failed_commissioning",
            "missing",
            "ready",
            "reserved",
            "deployed",
            "retired",
            "broken",
            "deploying",
            "allocated",
            "failed_deployment",
            "releasing",
            "failed_releasing",
            "disk_erasing",
            "failed_disk_erasing",
            "rescue_mode",
            "entering_rescue_mode",
            "failed_entering_rescue_mode",
            "exiting_rescue_mode",
            "failed_exiting_rescue_mode",
            "testing",
            "failed_testing",
        ][self.0 as usize]
    }

    /// `NODE_TRANSITIONS` (node_status.py), the rows a driver reaches.
    fn may_become(self, to: St) -> bool {
        let allowed: &[u8] = match self.0 {
            0 => &[1, 21, 3, 4, 7, 8, 17],
            1 => &[2, 4, 7, 3, 0, 8, 21],
            2 => &[1, 3, 4, 7, 8, 21],
            4 => &[17, 1, 10, 5, 7, 3, 8, 21],
            6 => &[10, 3, 8, 4, 14, 12, 17, 21],
            8 => &[1, 4, 14, 12, 17, 21, 6],
            9 => &[10, 3, 8, 11, 6, 4, 14, 12],
            10 => &[4, 7, 3, 8, 9, 14, 12, 17, 21],
            11 => &[10, 3, 8, 4, 14, 12, 17, 21],
            12 => &[0, 10, 5, 6, 4, 8, 3, 11, 15, 13],
            13 => &[4, 12, 14, 8, 3],
            14 => &[4, 15, 12, 8, 3],
            15 => &[4, 14, 12, 8, 3],
            21 => &[8, 0, 4, 5, 10, 6, 1, 11, 3, 7, 13, 15, 18, 20, 22],
            22 => &[1, 4, 8, 21, 14, 12],
            _ => &[],
        };
        allowed.contains(&to.0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    pub id: u64,
    /// auto, dhcp, static, link_up.
    pub mode: String,
    pub subnet: Option<u64>,
    pub ip: Option<String>,
    pub default_gateway: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Iface {
    pub id: u64,
    pub name: String,
    /// physical, bond, vlan.
    pub kind: String,
    pub mac: String,
    pub parents: Vec<u64>,
    pub vlan: Option<u64>,
    pub mtu: Option<u64>,
    pub params: BTreeMap<String, Value>,
    pub links: Vec<Link>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fs {
    pub fstype: String,
    pub mount_point: Option<String>,
    pub mount_options: Option<String>,
    pub label: Option<String>,
    pub uuid: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Partition {
    pub id: u64,
    pub size: u64,
    pub bootable: bool,
    pub filesystem: Option<Fs>,
    /// The volume group the partition is a physical volume of.
    pub vg: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlockDev {
    pub id: u64,
    pub name: String,
    /// physical, or virtual (a logical volume).
    pub kind: String,
    pub size: u64,
    pub model: String,
    pub serial: String,
    pub scsi: String,
    pub filesystem: Option<Fs>,
    pub partitions: Vec<Partition>,
    /// The volume group a whole disk is a physical volume of.
    pub vg: Option<u64>,
    /// The volume group a logical volume belongs to.
    pub lv_of: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vg {
    pub id: u64,
    pub name: String,
    pub uuid: String,
    pub block_devices: Vec<u64>,
    pub partitions: Vec<u64>,
}

/// An asynchronous operation under way, and when it completes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Pending {
    /// The BMC cannot be reached: revert to `back` at `at` (with the event text).
    Revert {
        at: u64,
        back: St,
        event: String,
    },
    Commission {
        at: u64,
        testing: bool,
    },
    Testing {
        at: u64,
    },
    Deploy {
        at: u64,
    },
    Release {
        at: u64,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub system_id: String,
    pub hostname: String,
    pub domain: String,
    pub status: St,
    pub status_message: String,
    pub error_description: String,
    pub status_expires: Option<u64>,
    pub pending: Option<Pending>,
    pub power_type: String,
    pub power_parameters: BTreeMap<String, String>,
    pub power_state: String,
    pub architecture: String,
    pub owner: Option<String>,
    pub owner_data: BTreeMap<String, String>,
    pub osystem: String,
    pub distro_series: String,
    pub hwe_kernel: Option<String>,
    pub user_data: Option<String>,
    /// The MACs the machine was enlisted with.
    pub macs: Vec<String>,
    pub hardware: Hardware,
    /// 0 pending, 2 passed, 3 failed (the script result codes MAAS shows).
    pub commissioning_status: u8,
    pub commissioning_scripts: Vec<String>,
    pub interfaces: Vec<Iface>,
    pub boot_interface: Option<u64>,
    pub blockdevices: Vec<BlockDev>,
    pub boot_disk: Option<u64>,
    pub volume_groups: Vec<Vg>,
    pub events: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fabric {
    pub id: u64,
    pub name: String,
    pub class_type: Option<String>,
    pub description: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vlan {
    pub id: u64,
    pub fabric: u64,
    pub vid: u16,
    pub name: String,
    pub mtu: u64,
    pub dhcp_on: bool,
    pub primary_rack: Option<String>,
    pub description: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subnet {
    pub id: u64,
    pub name: String,
    pub cidr: String,
    pub vlan: u64,
    pub gateway_ip: Option<String>,
    pub dns_servers: Vec<String>,
    pub managed: bool,
    pub description: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IpRange {
    pub id: u64,
    pub kind: String,
    pub start: String,
    pub end: String,
    pub subnet: u64,
    pub comment: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaticRoute {
    pub id: u64,
    pub source: u64,
    pub destination: u64,
    pub gateway_ip: String,
    pub metric: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub comment: String,
    pub definition: String,
    pub kernel_opts: String,
    pub machines: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repo {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub distributions: Vec<String>,
    pub components: Vec<String>,
    pub arches: Vec<String>,
    pub key: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BootResource {
    pub id: u64,
    /// `ubuntu/jammy`.
    pub name: String,
    /// `amd64/ga-22.04`.
    pub architecture: String,
    /// Extra kernels, comma-separated (`hwe-22.04,hwe-22.04-edge`).
    pub subarches: String,
    pub complete: bool,
}

/// One request as it arrived, for the tests that check a driver's conventions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
    /// Milliseconds since the fake started (real time).
    pub at_ms: u64,
    /// The form's keys (JSON bodies have none).
    pub keys: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct World {
    pub now_ms: u64,
    pub next_id: u64,
    pub machines: Vec<Machine>,
    pub fabrics: Vec<Fabric>,
    pub vlans: Vec<Vlan>,
    pub subnets: Vec<Subnet>,
    pub ipranges: Vec<IpRange>,
    pub static_routes: Vec<StaticRoute>,
    pub tags: Vec<Tag>,
    pub sshkeys: Vec<(u64, String)>,
    pub repos: Vec<Repo>,
    pub boot_resources: Vec<BootResource>,
    /// The configured commissioning image.
    pub commissioning_series: String,
    pub rack: String,
    pub faults: HashMap<String, Faults>,
    pub hardware: HashMap<String, Hardware>,
    /// Every (consumer, token, nonce) seen, with its timestamp (pruned after 300 s).
    pub nonces: HashMap<String, u64>,
    /// When the nonces were last pruned (pruning on every request would be quadratic).
    #[serde(skip)]
    pub nonces_pruned: u64,
    #[serde(skip)]
    pub log: Vec<Logged>,
    pub timings: Timings,
}

fn seeded_world(timings: Timings) -> World {
    let mut w = World {
        next_id: 1,
        commissioning_series: "jammy".into(),
        rack: "rackc1".into(),
        timings,
        ..Default::default()
    };
    w.fabrics.push(Fabric {
        id: 0,
        name: "fabric-0".into(),
        class_type: None,
        description: String::new(),
    });
    w.vlans.push(Vlan {
        id: 5001,
        fabric: 0,
        vid: 0,
        name: "untagged".into(),
        mtu: 1500,
        dhcp_on: false,
        primary_rack: None,
        description: String::new(),
    });
    w.next_id = 5002;
    for (series, release, hwe) in [
        ("focal", "20.04", "hwe-20.04,hwe-20.04-edge"),
        (
            "jammy",
            "22.04",
            "hwe-22.04,hwe-22.04-edge,hwe-22.04-lowlatency",
        ),
        ("noble", "24.04", "hwe-24.04"),
    ] {
        let id = w.id();
        w.boot_resources.push(BootResource {
            id,
            name: format!("ubuntu/{series}"),
            architecture: format!("amd64/ga-{release}"),
            subarches: format!("generic,ga-{release},{hwe}"),
            complete: true,
        });
    }
    w
}

impl World {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn machine(&self, sid: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.system_id == sid)
    }

    pub fn machine_by_hostname(&self, h: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.hostname == h)
    }

    fn faults_of(&self, m: &Machine) -> Faults {
        self.faults
            .get(&m.hostname)
            .or_else(|| m.macs.iter().find_map(|mac| self.faults.get(mac)))
            .cloned()
            .unwrap_or_default()
    }

    fn vlan(&self, id: u64) -> Option<&Vlan> {
        self.vlans.iter().find(|v| v.id == id)
    }

    fn fabric_name(&self, id: u64) -> String {
        self.fabrics
            .iter()
            .find(|f| f.id == id)
            .map_or(String::new(), |f| f.name.clone())
    }

    /// Advance every machine's asynchronous operation to the clock.
    fn tick(&mut self) {
        let now = self.now_ms;
        let t = self.timings.clone();
        let series = self.commissioning_series.clone();
        let faults: Vec<Faults> = self.machines.iter().map(|m| self.faults_of(m)).collect();
        let mut next_ids = self.next_id;
        for (m, f) in self.machines.iter_mut().zip(faults) {
            let _ = &series;
            while let Some(p) = m.pending.clone() {
                match p {
                    Pending::Revert { at, back, event } if at <= now => {
                        m.status = back;
                        if event.contains("COMMISSIONING") {
                            m.commissioning_status = 0;
                        }
                        m.status_expires = None;
                        m.status_message = event.clone();
                        m.events.push(event);
                        m.power_state = "error".into();
                        m.pending = None;
                        if back == St::NEW || back == St::READY {
                            m.owner = None;
                        }
                    }
                    Pending::Commission { at, testing } if at <= now => {
                        if f.commission_fail {
                            m.status = St::FAILED_COMMISSIONING;
                            m.commissioning_status = 3;
                            m.status_expires = None;
                            m.error_description =
                                "Script 50-maas-01-commissioning failed (exit status 1)".into();
                            m.status_message = "Failed commissioning".into();
                            m.events.push(m.error_description.clone());
                            m.pending = None;
                            m.power_state = "off".into();
                            continue;
                        }
                        discover(m, &mut next_ids);
                        m.commissioning_status = 2;
                        if testing {
                            m.status = St::TESTING;
                            m.status_message = "Testing".into();
                            m.status_expires = Some(at + NODE_TIMEOUT_MS);
                            m.pending = Some(Pending::Testing {
                                at: at + t.testing_ms,
                            });
                        } else {
                            finish_commissioning(m);
                        }
                    }
                    Pending::Testing { at } if at <= now => finish_commissioning(m),
                    Pending::Deploy { at } if at <= now => {
                        m.status = St::DEPLOYED;
                        m.status_expires = None;
                        m.status_message = "Deployed".into();
                        m.pending = None;
                        m.power_state = "on".into();
                    }
                    Pending::Release { at } if at <= now => {
                        m.status = St::READY;
                        m.status_expires = None;
                        m.status_message = "Released".into();
                        m.owner = None;
                        m.owner_data.clear();
                        m.osystem.clear();
                        m.distro_series.clear();
                        m.hwe_kernel = None;
                        m.user_data = None;
                        m.power_state = "off".into();
                        m.pending = None;
                        clear_allocated_ips(m);
                    }
                    _ => break,
                }
            }
            // The status monitor: an operation that outlived its timeout fails.
            if let Some(exp) = m.status_expires
                && exp <= now
            {
                let (to, what, mins) = match m.status {
                    St::DEPLOYING => (St::FAILED_DEPLOYMENT, "Deploying", 30),
                    St::COMMISSIONING => (St::FAILED_COMMISSIONING, "Commissioning", 30),
                    St::TESTING => (St::FAILED_TESTING, "Testing", 30),
                    St::RELEASING => (St::FAILED_RELEASING, "Releasing", 5),
                    St::DISK_ERASING => (St::FAILED_DISK_ERASING, "Disk erasing", 5),
                    _ => (m.status, "", 0),
                };
                if mins > 0 {
                    m.status = to;
                    m.error_description =
                        format!("Node operation '{what}' timed out after {mins} minutes.");
                    m.status_message = m.error_description.clone();
                    m.events.push(m.error_description.clone());
                    m.pending = None;
                }
                m.status_expires = None;
            }
        }
        self.next_id = next_ids;
    }
}

fn finish_commissioning(m: &mut Machine) {
    m.status = St::READY;
    m.status_expires = None;
    m.status_message = "Ready".into();
    m.owner = None;
    m.pending = None;
    m.power_state = "off".into();
}

fn clear_allocated_ips(m: &mut Machine) {
    for i in &mut m.interfaces {
        for l in &mut i.links {
            if l.mode == "auto" {
                l.ip = None;
            }
        }
    }
}

/// What commissioning writes: the NICs and disks found, and MAAS's default (flat) layout.
fn discover(m: &mut Machine, next: &mut u64) {
    let mut id = || {
        *next += 1;
        *next
    };
    let hw = m.hardware.clone();
    if m.interfaces.is_empty()
        || !m
            .commissioning_scripts
            .iter()
            .any(|s| s == "skip_networking")
    {
        let boot_mac = m.macs.first().cloned().unwrap_or_default();
        m.interfaces = hw
            .nics
            .iter()
            .map(|n| Iface {
                id: id(),
                name: n.name.clone(),
                kind: "physical".into(),
                mac: n.mac.clone(),
                parents: vec![],
                vlan: Some(5001),
                mtu: None,
                params: BTreeMap::new(),
                links: vec![],
            })
            .collect();
        m.boot_interface = m
            .interfaces
            .iter()
            .find(|i| i.mac == boot_mac)
            .map(|i| i.id);
        let boot = m.boot_interface;
        for i in &mut m.interfaces {
            if Some(i.id) == boot {
                let lid = id();
                i.links.push(Link {
                    id: lid,
                    mode: "dhcp".into(),
                    subnet: None,
                    ip: None,
                    default_gateway: false,
                });
            }
        }
    }
    if m.blockdevices.is_empty() || !m.commissioning_scripts.iter().any(|s| s == "skip_storage") {
        m.volume_groups.clear();
        m.blockdevices = hw
            .disks
            .iter()
            .map(|d| BlockDev {
                id: id(),
                name: d.name.clone(),
                kind: "physical".into(),
                size: d.size,
                model: d.model.clone(),
                serial: d.serial.clone(),
                scsi: d.scsi.clone(),
                filesystem: None,
                partitions: vec![],
                vg: None,
                lv_of: None,
            })
            .collect();
        m.boot_disk = m.blockdevices.first().map(|b| b.id);
        // The flat layout: one partition with / on the boot disk.
        let pid = id();
        if let Some(b) = m.blockdevices.first_mut() {
            b.partitions.push(Partition {
                id: pid,
                size: align(b.size - 8 * MIB),
                bootable: false,
                filesystem: Some(Fs {
                    fstype: "ext4".into(),
                    mount_point: Some("/".into()),
                    mount_options: None,
                    label: Some("root".into()),
                    uuid: uuid(pid),
                }),
                vg: None,
            });
        }
    }
}

fn align(n: u64) -> u64 {
    n / (4 * MIB) * (4 * MIB)
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

// ---------------------------------------------------------------------------------------
// Errors as MAAS answers them.

pub enum E {
    Text(u16, String),
    Json(u16, Value),
    Unavailable(String, u64),
    /// Bad credentials: 401 with the OAuth challenge (a missing login's 401 has none).
    OAuth(String),
}

type R = Result<Response, E>;

fn text(code: u16, s: impl Into<String>) -> E {
    E::Text(code, s.into())
}

fn bad(s: impl Into<String>) -> E {
    text(400, s)
}

fn form_err(field: &str, msg: impl Into<String>) -> E {
    E::Json(400, json!({ field: [msg.into()] }))
}

fn conflict(s: impl Into<String>) -> E {
    text(409, s)
}

fn not_found(model: &str) -> E {
    text(404, format!("No {model} matches the given query."))
}

fn unrecognised(method: &Method, op: Option<&str>) -> E {
    bad(format!(
        "Unrecognised signature: method={method} op={}",
        op.unwrap_or("None")
    ))
}

fn not_allowed() -> E {
    text(405, "")
}

impl IntoResponse for E {
    fn into_response(self) -> Response {
        match self {
            E::Text(code, s) => (
                StatusCode::from_u16(code).unwrap(),
                [("content-type", "text/plain; charset=utf-8")],
                s,
            )
                .into_response(),
            E::Json(code, v) => (
                StatusCode::from_u16(code).unwrap(),
                [("content-type", "application/json; charset=utf-8")],
                v.to_string(),
            )
                .into_response(),
            E::OAuth(s) => (
                StatusCode::UNAUTHORIZED,
                [
                    ("content-type", "text/plain; charset=utf-8"),
                    ("www-authenticate", "OAuth realm=\"OAuth\""),
                ],
                s,
            )
                .into_response(),
            E::Unavailable(s, after) => (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    ("content-type", "text/plain; charset=utf-8".to_string()),
                    ("retry-after", after.to_string()),
                ],
                s,
            )
                .into_response(),
        }
    }
}

fn ok(v: Value) -> R {
    Ok((
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response())
}

fn ok_text(s: &str) -> R {
    Ok((
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        s.to_string(),
    )
        .into_response())
}

fn no_content() -> R {
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------
// Forms.

/// A form: keys in order, repeated keys kept.
#[derive(Default, Debug, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn bool(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            !v.is_empty() && v != "false" && v != "0"
        })
    }

    fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(())
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_urlencoded(s: &str) -> Form {
    Form(
        s.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect(),
    )
}

fn parse_multipart(body: &[u8], boundary: &str) -> Form {
    let text = String::from_utf8_lossy(body);
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delim.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let name = head
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name=\"").and_then(|n| n.split('"').next()));
        if let Some(n) = name {
            out.push((n.to_string(), value.to_string()));
        }
    }
    Form(out)
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Form {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("multipart/form-data") {
        let boundary = ct
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("boundary="))
            .unwrap_or("")
            .trim_matches('"');
        parse_multipart(body, boundary)
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        parse_urlencoded(&String::from_utf8_lossy(body))
    } else {
        // JSON (or anything else) is not form data: `request.POST` stays empty.
        Form::default()
    }
}

// ---------------------------------------------------------------------------------------
// OAuth.

enum Auth {
    Anonymous,
    User,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn oauth_error(msg: &str) -> E {
    // Piston's send_oauth_error: 401 with the challenge header (added in `respond`).
    E::OAuth(format!("Authorization Error: '{msg}'"))
}

fn authenticate(
    w: &mut World,
    key: &(String, String, String),
    headers: &HeaderMap,
    query: &Form,
    body: &Form,
) -> Result<Auth, E> {
    const NEEDED: [&str; 6] = [
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_nonce",
    ];
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && let Some(rest) = h.strip_prefix("OAuth")
    {
        for p in rest.split(',') {
            if let Some((k, v)) = p.trim().split_once('=') {
                params.insert(
                    k.trim().to_string(),
                    percent_decode(v.trim().trim_matches('"')),
                );
            }
        }
    }
    for f in [query, body] {
        for (k, v) in &f.0 {
            if k.starts_with("oauth_") {
                params.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if !NEEDED.iter().all(|k| params.contains_key(*k)) {
        return Ok(Auth::Anonymous);
    }
    if let Some(v) = params.get("oauth_version")
        && v != "1.0"
    {
        return Err(oauth_error(&format!("OAuth version {v} not supported.")));
    }
    let Ok(ts) = params["oauth_timestamp"].parse::<u64>() else {
        return Err(bad(
            "Bad Request: the following problems were found: oauth_timestamp: invalid literal for int()",
        ));
    };
    let (ck, tk, ts_secret) = key;
    if &params["oauth_consumer_key"] != ck {
        return Err(E::OAuth("Authorization Error: Invalid API key.".into()));
    }
    if &params["oauth_token"] != tk {
        return Err(oauth_error(&format!(
            "Invalid access token: {}",
            params["oauth_token"]
        )));
    }
    let now = unix_now();
    if now.saturating_sub(ts) > 300 {
        return Err(oauth_error(&format!(
            "Expired timestamp: given {ts} and now {now} has a greater difference than threshold 300"
        )));
    }
    let method = &params["oauth_signature_method"];
    if method != "PLAINTEXT" && method != "HMAC-SHA1" {
        return Err(oauth_error(&format!(
            "Signature method {method} not supported try one of the following: HMAC-SHA1,PLAINTEXT"
        )));
    }
    let nonce_key = format!("{ck}:{tk}:{}", params["oauth_nonce"]);
    if now.saturating_sub(w.nonces_pruned) > 30 {
        w.nonces.retain(|_, t| now.saturating_sub(*t) <= 300);
        w.nonces_pruned = now;
    }
    if w.nonces.contains_key(&nonce_key) {
        return Err(oauth_error(&format!(
            "Nonce already used: {}",
            params["oauth_nonce"]
        )));
    }
    if params["oauth_signature"] != format!("&{ts_secret}") {
        return Err(oauth_error(
            "Invalid signature. Expected signature base string: (PLAINTEXT)",
        ));
    }
    w.nonces.insert(nonce_key, ts);
    Ok(Auth::User)
}

// ---------------------------------------------------------------------------------------
// The server.

pub struct Shared {
    pub world: Mutex<World>,
    key: (String, String, String),
    clock: ClockMode,
    started: Instant,
    /// The clock's value when real time started counting (Scaled mode).
    base_ms: Mutex<u64>,
    state_dir: Option<PathBuf>,
}

/// A running fake.
pub struct Fake {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    /// Start on `listen` (port 0 for a free one).
    pub async fn start(listen: SocketAddr, opts: Options) -> std::io::Result<Fake> {
        let mut parts = opts.api_key.splitn(3, ':');
        let key = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut world = None;
        if let Some(d) = &opts.state_dir {
            std::fs::create_dir_all(d)?;
            if let Ok(t) = std::fs::read_to_string(d.join("maas.json")) {
                world = serde_json::from_str::<World>(&t).ok();
            }
        }
        let world = world.unwrap_or_else(|| seeded_world(opts.timings.clone()));
        let base = world.now_ms;
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            key,
            clock: opts.clock,
            started: Instant::now(),
            base_ms: Mutex::new(base),
            state_dir: opts.state_dir,
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Fake { addr, shared, task })
    }

    /// `http://ADDR/MAAS`.
    pub fn url(&self) -> String {
        format!("http://{}/MAAS", self.addr)
    }

    /// Move the clock forward (Manual mode) and run what became due.
    pub fn advance(&self, d: Duration) {
        self.shared.advance(d)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut w = self.shared.world.lock().unwrap();
        self.shared.sync_clock(&mut w);
        f(&mut w)
    }

    pub fn set_faults(&self, key: &str, f: Faults) {
        self.with(|w| w.faults.insert(key.to_ascii_lowercase(), f));
    }

    pub fn set_hardware(&self, boot_mac: &str, h: Hardware) {
        self.with(|w| w.hardware.insert(boot_mac.to_ascii_lowercase(), h));
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.with(|w| w.log.clone())
    }

    pub fn clear_log(&self) {
        self.with(|w| w.log.clear());
    }

    pub fn status_of(&self, hostname: &str) -> Option<St> {
        self.with(|w| w.machine_by_hostname(hostname).map(|m| m.status))
    }
}

impl Shared {
    fn sync_clock(&self, w: &mut World) {
        if let ClockMode::Scaled(f) = self.clock {
            let t = *self.base_ms.lock().unwrap()
                + (self.started.elapsed().as_secs_f64() * 1000.0 * f) as u64;
            w.now_ms = w.now_ms.max(t);
        }
        w.tick();
    }

    pub fn advance(&self, d: Duration) {
        let mut w = self.world.lock().unwrap();
        w.now_ms += d.as_millis() as u64;
        *self.base_ms.lock().unwrap() += d.as_millis() as u64;
        self.sync_clock(&mut w);
        self.persist(&w);
    }

    fn persist(&self, w: &World) {
        if let Some(d) = &self.state_dir {
            let tmp = d.join("maas.json.tmp");
            if std::fs::write(&tmp, serde_json::to_vec(w).unwrap_or_default()).is_ok() {
                let _ = std::fs::rename(&tmp, d.join("maas.json"));
            }
        }
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = parse_urlencoded(uri.query().unwrap_or(""));
    let form = parse_body(&headers, &body);
    let mut w = s.world.lock().unwrap();
    s.sync_clock(&mut w);
    let result = route(&mut w, &s, &method, &path, &query, &form, &headers);
    let resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let status = resp.status().as_u16();
    let auth_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    w.log.push(Logged {
        method: method.to_string(),
        path,
        query: uri.query().unwrap_or("").to_string(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        authorization: auth_header,
        status,
        at_ms: s.started.elapsed().as_millis() as u64,
        keys: form.0.iter().map(|(k, _)| k.clone()).collect(),
    });
    if method != Method::GET {
        s.persist(&w);
    }
    resp
}

fn route(
    w: &mut World,
    s: &Shared,
    method: &Method,
    path: &str,
    query: &Form,
    form: &Form,
    headers: &HeaderMap,
) -> R {
    // The fake's own controls, for the demo program.
    if let Some(ctl) = path.strip_prefix("/_fake/") {
        return control(w, s, ctl, query, form);
    }
    if path == "/MAAS/api/version/" {
        return ok_text("2.0");
    }
    if path.starts_with("/MAAS/api/1.0/") {
        return Err(text(
            410,
            "The 1.0 API is no longer available. Please use API version 2.0.",
        ));
    }
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Err(text(404, format!("Unknown API endpoint: {path}.")));
    };
    let unknown = || text(404, format!("Unknown API endpoint: {path}."));
    // A region-wide fault (`*`): every request answers 503 while it lasts.
    if let Some(f) = w.faults.get_mut("*")
        && f.unavailable > 0
    {
        f.unavailable -= 1;
        return Err(E::Unavailable(
            "No rack controllers are connected".into(),
            f.retry_after_secs,
        ));
    }
    // op: the query string, then the body, then a `/op-NAME` suffix.
    let mut rest = rest.to_string();
    let mut op = query
        .get("op")
        .or_else(|| form.get("op"))
        .map(str::to_string);
    if op.is_none()
        && let Some(i) = rest.rfind("op-")
        && (i == 0 || rest.as_bytes()[i - 1] == b'/')
    {
        let name = rest[i + 3..].trim_end_matches('/').to_string();
        rest.truncate(i);
        op = Some(name);
    }
    let op = op.as_deref();
    if rest == "version/" {
        return ok(
            json!({"capabilities": ["networks-management", "static-ipaddresses",
            "ipv6-deployment-ubuntu", "devices-management", "storage-deployment-ubuntu",
            "network-deployment-ubuntu", "bridging-interface-ubuntu", "bridging-automatic-ubuntu",
            "authenticate-api"], "version": "3.5.0", "subversion": ""}),
        );
    }
    // The partition detail URL is the one without a trailing slash.
    let segs: Vec<&str> = rest.split('/').collect();
    let is_partition_detail = segs.len() == 6
        && segs[0] == "nodes"
        && segs[2] == "blockdevices"
        && (segs[4] == "partition" || segs[4] == "partitions")
        && !segs[5].is_empty();
    if !is_partition_detail && !rest.ends_with('/') {
        return Err(unknown());
    }
    let segs: Vec<&str> = segs.into_iter().filter(|s| !s.is_empty()).collect();
    // Faults that answer 503 for one machine.
    if segs.len() >= 2
        && (segs[0] == "machines" || segs[0] == "nodes")
        && let Some(m) = w.machine(segs[1])
    {
        let key = w
            .faults
            .keys()
            .find(|k| *k == &m.hostname || m.macs.iter().any(|mac| mac == *k));
        if let Some(k) = key.cloned()
            && let Some(f) = w.faults.get_mut(&k)
            && f.unavailable > 0
        {
            f.unavailable -= 1;
            return Err(E::Unavailable(
                "No rack controllers can access the BMC of this machine".into(),
                f.retry_after_secs,
            ));
        }
    }
    let auth = authenticate(w, &s.key, headers, query, form)?;
    if let Auth::Anonymous = auth {
        // Only /machines/ has an anonymous handler: enlistment and is_registered.
        if segs == ["machines"] {
            return match (method.as_str(), op) {
                ("POST", None) => create_machine(w, form, true),
                ("GET", Some("is_registered")) => is_registered(w, query),
                _ => Err(unrecognised(method, op)),
            };
        }
        return Err(text(401, "Forbidden"));
    }
    let params = if *method == Method::GET || *method == Method::DELETE {
        query
    } else {
        form
    };
    match segs.as_slice() {
        ["users"] => match (method.as_str(), op) {
            ("GET", Some("whoami")) => ok(json!({"username": "admin", "is_superuser": true,
                "email": "admin@example.com", "is_local": true})),
            ("GET", None) => ok(json!([{"username": "admin", "is_superuser": true}])),
            _ => Err(unrecognised(method, op)),
        },
        ["machines"] => machines(w, method, op, params),
        ["machines", sid] => machine(w, method, op, sid, params),
        ["nodes", sid, "interfaces"] => interfaces(w, method, op, sid, params),
        ["nodes", sid, "interfaces", id] => interface(w, method, op, sid, id, params),
        ["nodes", sid, "blockdevices"] => blockdevices(w, method, op, sid),
        ["nodes", sid, "blockdevices", id] => blockdevice(w, method, op, sid, id, params),
        ["nodes", sid, "blockdevices", id, "partitions"] => {
            partitions(w, method, op, sid, id, params)
        }
        [
            "nodes",
            sid,
            "blockdevices",
            id,
            "partition" | "partitions",
            pid,
        ] if !rest.ends_with('/') => partition(w, method, op, sid, id, pid, params),
        ["nodes", sid, "volume-groups"] => volume_groups(w, method, op, sid, params),
        ["nodes", sid, "volume-group" | "volume-groups", id] => {
            volume_group(w, method, op, sid, id, params)
        }
        ["nodes", sid, "results"] => results(w, method, op, sid),
        ["fabrics"] => fabrics(w, method, op, params),
        ["fabrics", id] => fabric(w, method, op, id, params),
        ["fabrics", fid, "vlans"] => vlans(w, method, op, fid, params),
        ["fabrics", fid, "vlans", vid] => vlan(w, method, op, fid, vid, params),
        ["subnets"] => subnets(w, method, op, params),
        ["subnets", id] => subnet(w, method, op, id, params),
        ["ipranges"] => ipranges(w, method, op, params),
        ["ipranges", id] => iprange(w, method, op, id, params),
        ["static-routes"] => static_routes(w, method, op, params),
        ["static-routes", id] => static_route(w, method, op, id, params),
        ["boot-resources"] => boot_resources(w, method, op, params),
        ["tags"] => tags(w, method, op, params),
        ["tags", name] => tag(w, method, op, name, params),
        ["account", "prefs", "sshkeys"] => sshkeys(w, method, op, params),
        ["account", "prefs", "sshkeys", id] => sshkey(w, method, op, id),
        ["package-repositories"] => repos(w, method, op, params),
        ["package-repositories", id] => repo(w, method, op, id, params),
        ["rackcontrollers"] => match (method.as_str(), op) {
            ("GET", None) => ok(json!([{"system_id": w.rack, "hostname": "region-rack",
                "node_type": 2, "resource_uri": format!("/MAAS/api/2.0/rackcontrollers/{}/", w.rack)}])),
            _ => Err(unrecognised(method, op)),
        },
        _ => Err(unknown()),
    }
}

fn control(w: &mut World, s: &Shared, ctl: &str, query: &Form, form: &Form) -> R {
    let get = |k: &str| query.get(k).or_else(|| form.get(k)).map(str::to_string);
    match ctl.trim_end_matches('/') {
        "advance" => {
            let secs: u64 = get("seconds").and_then(|v| v.parse().ok()).unwrap_or(60);
            w.now_ms += secs * 1000;
            *s.base_ms.lock().unwrap() += secs * 1000;
            w.tick();
            ok(json!({"now_ms": w.now_ms}))
        }
        "fault" => {
            let key = get("machine").unwrap_or_default().to_ascii_lowercase();
            let f = Faults {
                bmc_unreachable: get("bmc_unreachable").is_some(),
                deploy_no_signal: get("deploy_no_signal").is_some(),
                commission_fail: get("commission_fail").is_some(),
                unavailable: get("unavailable").and_then(|v| v.parse().ok()).unwrap_or(0),
                retry_after_secs: get("retry_after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10),
            };
            w.faults.insert(key, f);
            ok(json!({"ok": true}))
        }
        "world" => ok(serde_json::to_value(&*w).unwrap_or(Value::Null)),
        // Request counts: in all, machine-list GETs, and per `bucket_ms` of real time.
        "stats" => {
            let bucket: u64 = get("bucket_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000)
                .max(1);
            // The machine list (not a lookup by MAC).
            let is_list = |l: &Logged| {
                l.method == "GET"
                    && l.path == "/MAAS/api/2.0/machines/"
                    && !l.query.contains("mac_address")
            };
            let mut buckets: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            for l in &w.log {
                let b = buckets.entry(l.at_ms / bucket).or_default();
                b.0 += 1;
                b.1 += u64::from(is_list(l));
            }
            let deployed = w
                .machines
                .iter()
                .filter(|m| m.status == St::DEPLOYED)
                .count();
            let deploying = |l: &Logged| l.method == "POST" && l.query.contains("op=deploy");
            ok(json!({
                "requests": w.log.len(),
                "writes": w.log.iter().filter(|l| l.method != "GET").count(),
                "lists": w.log.iter().filter(|l| is_list(l)).count(),
                "deploys": w.log.iter().filter(|l| deploying(l)).count(),
                "machines": w.machines.len(),
                "deployed": deployed,
                "buckets": buckets.iter().map(|(t, (a, l))| json!([t * bucket, a, l])).collect::<Vec<_>>(),
            }))
        }
        _ => Err(text(404, "unknown control")),
    }
}

// ---------------------------------------------------------------------------------------
// JSON renderers.

fn vlan_json(w: &World, v: &Vlan) -> Value {
    json!({
        "id": v.id, "name": v.name, "vid": v.vid, "fabric": w.fabric_name(v.fabric),
        "fabric_id": v.fabric, "mtu": v.mtu, "primary_rack": v.primary_rack,
        "secondary_rack": null, "dhcp_on": v.dhcp_on, "external_dhcp": null,
        "relay_vlan": null, "space": "undefined", "description": v.description,
        "resource_uri": format!("/MAAS/api/2.0/vlans/{}/", v.id),
    })
}

fn subnet_json(w: &World, s: &Subnet) -> Value {
    json!({
        "id": s.id, "name": s.name, "description": s.description,
        "vlan": w.vlan(s.vlan).map(|v| vlan_json(w, v)), "space": "undefined",
        "cidr": s.cidr, "gateway_ip": s.gateway_ip, "dns_servers": s.dns_servers,
        "rdns_mode": 2, "active_discovery": false, "allow_dns": true, "allow_proxy": true,
        "managed": s.managed, "disabled_boot_architectures": [],
        "resource_uri": format!("/MAAS/api/2.0/subnets/{}/", s.id),
    })
}

fn fabric_json(w: &World, f: &Fabric) -> Value {
    let vlans: Vec<Value> = w
        .vlans
        .iter()
        .filter(|v| v.fabric == f.id)
        .map(|v| vlan_json(w, v))
        .collect();
    json!({"id": f.id, "name": f.name, "class_type": f.class_type, "description": f.description,
        "vlans": vlans, "resource_uri": format!("/MAAS/api/2.0/fabrics/{}/", f.id)})
}

fn iface_json(w: &World, m: &Machine, i: &Iface) -> Value {
    let name_of = |id: &u64| {
        m.interfaces
            .iter()
            .find(|x| x.id == *id)
            .map(|x| x.name.clone())
    };
    let children: Vec<String> = m
        .interfaces
        .iter()
        .filter(|c| c.parents.contains(&i.id))
        .map(|c| c.name.clone())
        .collect();
    let vlan = i.vlan.and_then(|v| w.vlan(v));
    let links: Vec<Value> = i
        .links
        .iter()
        .map(|l| {
            let mut o = json!({"id": l.id, "mode": l.mode});
            if let Some(sid) = l.subnet
                && let Some(s) = w.subnets.iter().find(|s| s.id == sid)
            {
                o["subnet"] = subnet_json(w, s);
            }
            if let Some(ip) = &l.ip {
                o["ip_address"] = json!(ip);
            }
            o
        })
        .collect();
    let mut params = json!(i.params);
    if let Some(mtu) = i.mtu {
        params["mtu"] = json!(mtu);
    }
    json!({
        "id": i.id, "name": i.name, "type": i.kind, "mac_address": i.mac,
        "vlan": vlan.map(|v| vlan_json(w, v)),
        "parents": i.parents.iter().filter_map(name_of).collect::<Vec<_>>(),
        "children": children, "links": links, "params": params, "tags": [],
        "enabled": true, "effective_mtu": i.mtu.or(vlan.map(|v| v.mtu)).unwrap_or(1500),
        "discovered": null, "link_connected": true, "interface_speed": 25000,
        "link_speed": 25000, "numa_node": 0, "sriov_max_vf": 0, "vendor": null,
        "product": null, "firmware_version": null, "system_id": m.system_id,
        "resource_uri": format!("/MAAS/api/2.0/nodes/{}/interfaces/{}/", m.system_id, i.id),
    })
}

fn fs_json(f: &Option<Fs>) -> Value {
    match f {
        None => Value::Null,
        Some(f) => json!({"fstype": f.fstype, "label": f.label, "uuid": f.uuid,
            "mount_point": f.mount_point, "mount_options": f.mount_options}),
    }
}

fn partition_json(m: &Machine, b: &BlockDev, i: usize, p: &Partition) -> Value {
    let used_for = match (&p.filesystem, p.vg) {
        (Some(f), _) => format!("{} formatted filesystem", f.fstype),
        (None, Some(vg)) => format!(
            "LVM volume for {}",
            m.volume_groups
                .iter()
                .find(|v| v.id == vg)
                .map_or("", |v| v.name.as_str())
        ),
        _ => "Unused".into(),
    };
    json!({
        "id": p.id, "uuid": uuid(p.id), "path": format!("/dev/disk/by-dname/{}-part{}", b.name, i + 1),
        "type": "partition", "size": p.size, "bootable": p.bootable,
        "filesystem": fs_json(&p.filesystem), "used_for": used_for, "tags": [],
        "system_id": m.system_id, "device_id": b.id,
        "resource_uri": format!("/MAAS/api/2.0/nodes/{}/blockdevices/{}/partition/{}", m.system_id, b.id, p.id),
    })
}

fn used(b: &BlockDev) -> u64 {
    if b.filesystem.is_some() || b.vg.is_some() {
        return b.size;
    }
    if b.partitions.is_empty() {
        0
    } else {
        b.partitions.iter().map(|p| p.size).sum::<u64>() + 8 * MIB
    }
}

fn bd_json(m: &Machine, b: &BlockDev) -> Value {
    let parts: Vec<Value> = b
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| partition_json(m, b, i, p))
        .collect();
    json!({
        "id": b.id, "name": b.name, "uuid": uuid(b.id), "type": b.kind,
        "path": format!("/dev/disk/by-dname/{}", b.name), "model": b.model, "serial": b.serial,
        "id_path": if b.kind == "physical" { json!(format!("/dev/disk/by-path/pci-0000:18:00.0-scsi-{}", b.scsi)) } else { Value::Null },
        "size": b.size, "block_size": if b.kind == "physical" { 512 } else { 4096 },
        "available_size": b.size.saturating_sub(used(b)), "used_size": used(b),
        "used_for": if b.partitions.is_empty() && b.filesystem.is_none() && b.vg.is_none() { "Unused".to_string() } else { "in use".to_string() },
        "tags": [], "filesystem": fs_json(&b.filesystem),
        "partition_table_type": if b.partitions.is_empty() { Value::Null } else { json!("GPT") },
        "partitions": parts, "storage_pool": null, "numa_node": 0, "system_id": m.system_id,
        "resource_uri": format!("/MAAS/api/2.0/nodes/{}/blockdevices/{}/", m.system_id, b.id),
    })
}

fn vg_size(m: &Machine, vg: &Vg) -> u64 {
    let mut total = 0;
    for b in &m.blockdevices {
        if vg.block_devices.contains(&b.id) {
            total += b.size - 4 * MIB;
        }
        for p in &b.partitions {
            if vg.partitions.contains(&p.id) {
                total += p.size - 4 * MIB;
            }
        }
    }
    total
}

fn vg_used(m: &Machine, vg: &Vg) -> u64 {
    m.blockdevices
        .iter()
        .filter(|b| b.lv_of == Some(vg.id))
        .map(|b| b.size)
        .sum()
}

fn vg_json(m: &Machine, vg: &Vg) -> Value {
    let lvs: Vec<Value> = m
        .blockdevices
        .iter()
        .filter(|b| b.lv_of == Some(vg.id))
        .map(|b| bd_json(m, b))
        .collect();
    let size = vg_size(m, vg);
    json!({
        "id": vg.id, "uuid": vg.uuid, "name": vg.name, "size": size,
        "human_size": format!("{:.1} GB", size as f64 / 1e9),
        "available_size": size - vg_used(m, vg), "used_size": vg_used(m, vg),
        "devices": vg.block_devices.iter().chain(vg.partitions.iter()).map(|id| json!({"id": id})).collect::<Vec<_>>(),
        "logical_volumes": lvs, "system_id": m.system_id,
        "resource_uri": format!("/MAAS/api/2.0/nodes/{}/volume-group/{}/", m.system_id, vg.id),
    })
}

fn machine_json(w: &World, m: &Machine) -> Value {
    let ifaces: Vec<Value> = m.interfaces.iter().map(|i| iface_json(w, m, i)).collect();
    let bds: Vec<Value> = m.blockdevices.iter().map(|b| bd_json(m, b)).collect();
    let phys: Vec<Value> = m
        .blockdevices
        .iter()
        .filter(|b| b.kind == "physical")
        .map(|b| bd_json(m, b))
        .collect();
    let boot_iface = m
        .boot_interface
        .and_then(|id| m.interfaces.iter().find(|i| i.id == id))
        .map(|i| iface_json(w, m, i));
    let boot_disk = m
        .boot_disk
        .and_then(|id| m.blockdevices.iter().find(|b| b.id == id))
        .map(|b| bd_json(m, b));
    let ips: Vec<String> = m
        .interfaces
        .iter()
        .flat_map(|i| i.links.iter().filter_map(|l| l.ip.clone()))
        .collect();
    let tags: Vec<&str> = w
        .tags
        .iter()
        .filter(|t| t.machines.contains(&m.system_id))
        .map(|t| t.name.as_str())
        .collect();
    let storage: u64 = m
        .blockdevices
        .iter()
        .filter(|b| b.kind == "physical")
        .map(|b| b.size)
        .sum();
    json!({
        "system_id": m.system_id, "hostname": m.hostname,
        "fqdn": format!("{}.{}", m.hostname, m.domain),
        "domain": {"id": 0, "name": m.domain},
        "status": m.status.0, "status_name": m.status.name(),
        "status_message": m.status_message, "status_action": "",
        "error_description": m.error_description,
        "power_type": m.power_type, "power_state": m.power_state,
        "owner": m.owner, "owner_data": m.owner_data,
        "osystem": m.osystem, "distro_series": m.distro_series, "hwe_kernel": m.hwe_kernel,
        "min_hwe_kernel": "", "architecture": m.architecture, "netboot": true, "locked": false,
        "tag_names": tags, "zone": {"name": "default"}, "pool": {"name": "default"},
        "interface_set": ifaces, "boot_interface": boot_iface,
        "blockdevice_set": bds, "physicalblockdevice_set": phys,
        "virtualblockdevice_set": m.blockdevices.iter().filter(|b| b.kind == "virtual").map(|b| bd_json(m, b)).collect::<Vec<_>>(),
        "boot_disk": boot_disk,
        "volume_groups": m.volume_groups.iter().map(|v| vg_json(m, v)).collect::<Vec<_>>(),
        "ip_addresses": ips, "cpu_count": 96, "memory": 393216, "storage": storage / 1_000_000,
        "commissioning_status": m.commissioning_status,
        "commissioning_status_name": match m.commissioning_status { 2 => "Passed", 3 => "Failed", 1 => "Running", _ => "Pending" },
        "hardware_info": {"system_vendor": "Dell Inc.", "system_product": "PowerEdge R740"},
        "resource_uri": format!("/MAAS/api/2.0/machines/{}/", m.system_id),
    })
}

// ---------------------------------------------------------------------------------------
// Machines.

fn norm_mac(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase().replace('-', ":");
    let parts: Vec<&str> = s.split(':').collect();
    (parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())))
    .then_some(s)
}

fn is_registered(w: &World, q: &Form) -> R {
    let mac = q.get("mac_address").and_then(norm_mac);
    let Some(mac) = mac else {
        return Err(bad("Invalid parameter: invalid MAC address format"));
    };
    ok(json!(w.machines.iter().any(|m| m.macs.contains(&mac))))
}

fn usable_arches(w: &World) -> Vec<String> {
    let mut a: Vec<String> = w
        .boot_resources
        .iter()
        .filter(|r| r.complete)
        .map(|r| format!("{}/generic", r.architecture.split('/').next().unwrap_or("")))
        .collect();
    a.sort();
    a.dedup();
    a
}

fn power_params(f: &Form) -> Result<BTreeMap<String, String>, E> {
    let mut p = BTreeMap::new();
    if let Some(j) = f.get("power_parameters") {
        let v: Value = serde_json::from_str(j)
            .map_err(|_| form_err("power_parameters", "Enter valid JSON."))?;
        if let Some(o) = v.as_object() {
            for (k, v) in o {
                p.insert(k.clone(), v.as_str().map_or(v.to_string(), str::to_string));
            }
        }
    }
    for (k, v) in &f.0 {
        if let Some(name) = k.strip_prefix("power_parameters_")
            && name != "skip_check"
        {
            p.insert(name.to_string(), v.clone());
        }
    }
    Ok(p)
}

fn check_power(ptype: &str, p: &BTreeMap<String, String>) -> Result<(), E> {
    let required: &[&str] = match ptype {
        "ipmi" => &["power_address"],
        "redfish" => &["power_address", "power_user", "power_pass"],
        "virsh" => &["power_address", "power_id"],
        "manual" | "" => &[],
        other => {
            return Err(form_err(
                "power_type",
                format!("Select a valid choice. {other} is not one of the available choices."),
            ));
        }
    };
    for r in required {
        if p.get(*r).is_none_or(|v| v.is_empty()) {
            return Err(form_err(
                "power_parameters",
                format!("{r}: This field is required."),
            ));
        }
    }
    Ok(())
}

fn create_machine(w: &mut World, f: &Form, anonymous: bool) -> R {
    let arches = usable_arches(w);
    let mut arch = f.get("architecture").unwrap_or("").to_string();
    let ptype = f.get("power_type").unwrap_or("").to_string();
    if arch.is_empty() && ptype != "ipmi" {
        return Err(form_err("architecture", "This field is required."));
    }
    if !arch.is_empty() {
        if !arch.contains('/') {
            arch.push_str("/generic");
        }
        if arch.contains("/hwe-") || arch.contains("/ga-") {
            return Err(bad(
                "hwe kernel must be specified using the min_hwe_kernel argument.",
            ));
        }
        if arches.is_empty() {
            return Err(form_err(
                "architecture",
                "No architectures are available to use for this node; boot images may not have been imported on the selected rack controller, or it may be unavailable.",
            ));
        }
        if !arches.contains(&arch) {
            return Err(form_err(
                "architecture",
                format!(
                    "'{arch}' is not a valid architecture.  It should be one of: {}.",
                    arches.join(", ")
                ),
            ));
        }
    }
    let mut macs = Vec::new();
    for m in f.all("mac_addresses") {
        match norm_mac(m) {
            Some(m) => macs.push(m),
            None => {
                return Err(form_err(
                    "mac_addresses",
                    format!("'{m}' is not a valid MAC address."),
                ));
            }
        }
    }
    if ptype == "ipmi" && f.get("architecture").is_none() {
        macs.clear();
    } else if macs.is_empty() {
        return Err(form_err("mac_addresses", "This field is required."));
    }
    for mac in &macs {
        if let Some(other) = w.machines.iter().find(|m| m.macs.contains(mac)) {
            let msg = if macs.len() == 1 {
                format!("MAC address {mac} already in use on {}.", other.hostname)
            } else {
                format!(
                    "One or more MAC addresses is invalid. MAC address {mac} already in use on {}.",
                    other.hostname
                )
            };
            return Err(form_err("mac_addresses", msg));
        }
    }
    let params = power_params(f)?;
    check_power(&ptype, &params)?;
    let n = w.id();
    let system_id = format!("{:06}", n)
        .chars()
        .map(|c| (b'a' + (c as u8 - b'0') * 2) as char)
        .collect::<String>();
    let hostname = f
        .get("hostname")
        .map(str::to_string)
        .unwrap_or_else(|| format!("machine-{n}"));
    if w.machines.iter().any(|m| m.hostname == hostname) {
        return Err(form_err(
            "hostname",
            format!("Node with hostname \"{hostname}\" already exists."),
        ));
    }
    let hardware = macs
        .first()
        .and_then(|m| w.hardware.get(m).cloned())
        .unwrap_or_else(|| Hardware::default_for(macs.first().map_or("00:00:00:00:00:00", |m| m)));
    let mut m = Machine {
        system_id,
        hostname,
        domain: f.get("domain").unwrap_or("maas").to_string(),
        status: St::NEW,
        status_message: String::new(),
        error_description: String::new(),
        status_expires: None,
        pending: None,
        power_type: ptype,
        power_parameters: params,
        power_state: "unknown".into(),
        architecture: arch,
        owner: None,
        owner_data: BTreeMap::new(),
        osystem: String::new(),
        distro_series: String::new(),
        hwe_kernel: None,
        user_data: None,
        macs: macs.clone(),
        hardware,
        commissioning_status: 0,
        commissioning_scripts: vec![],
        interfaces: vec![],
        boot_interface: None,
        blockdevices: vec![],
        boot_disk: None,
        volume_groups: vec![],
        events: vec![],
    };
    // Enlisted with its MACs as physical interfaces (the boot one first).
    for mac in &macs {
        let id = w.id();
        m.interfaces.push(Iface {
            id,
            name: format!("eth{}", m.interfaces.len()),
            kind: "physical".into(),
            mac: mac.clone(),
            parents: vec![],
            vlan: Some(5001),
            mtu: None,
            params: BTreeMap::new(),
            links: vec![],
        });
    }
    m.boot_interface = m.interfaces.first().map(|i| i.id);
    let commission = !anonymous
        && f.get("commission").is_none_or(|v| {
            let v = v.to_ascii_lowercase();
            v != "false" && v != "0"
        });
    if commission {
        let _ = start_commission(w, &mut m, &Form::default());
    }
    let v = machine_json(w, &m);
    w.machines.push(m);
    ok(v)
}

fn start_commission(w: &World, m: &mut Machine, f: &Form) -> Result<(), E> {
    if ![St::NEW, St::FAILED_COMMISSIONING, St::READY, St::BROKEN].contains(&m.status) {
        return Err(E::Json(
            400,
            json!({"__all__": ["Commission is not available because of the current state of the node."]}),
        ));
    }
    if m.power_type.is_empty() {
        return Err(text(
            500,
            "Unconfigured power type. Please configure the power type and try again.",
        ));
    }
    let known = [
        "update_firmware",
        "configure-hba",
        "smartctl-validate",
        "memtester",
        "internet-connectivity",
        "fio",
        "badblocks",
        "none",
    ];
    let mut scripts = Vec::new();
    for key in ["commissioning_scripts", "testing_scripts"] {
        if let Some(v) = f.get(key) {
            for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !known.contains(&s) {
                    return Err(form_err(key, format!("Unknown {key}: {s}")));
                }
            }
        }
    }
    for flag in [
        "skip_networking",
        "skip_storage",
        "skip_bmc_config",
        "enable_ssh",
    ] {
        if f.bool(flag) {
            scripts.push(flag.to_string());
        }
    }
    if w.boot_resources
        .iter()
        .all(|r| r.name != format!("ubuntu/{}", w.commissioning_series) || !r.complete)
    {
        return Err(bad(format!(
            "Ephemeral operating system ubuntu/{} for amd64/generic is unavailable.",
            w.commissioning_series
        )));
    }
    let testing = f.get("testing_scripts") != Some("none");
    let back = m.status;
    m.commissioning_scripts = scripts;
    m.status = St::COMMISSIONING;
    m.status_message = "Commissioning".into();
    m.error_description.clear();
    m.commissioning_status = 1;
    m.owner = Some("admin".into());
    m.status_expires = Some(w.now_ms + NODE_TIMEOUT_MS);
    m.power_state = "on".into();
    let faults = w.faults_of(m);
    m.pending = Some(if faults.bmc_unreachable {
        Pending::Revert {
            at: w.now_ms + w.timings.bmc_fail_ms,
            back,
            event: format!(
                "Aborting COMMISSIONING and reverting to {}. Unable to power control the node. Please check power credentials.",
                back.name().to_ascii_uppercase()
            ),
        }
    } else {
        Pending::Commission {
            at: w.now_ms + w.timings.commission_ms,
            testing,
        }
    });
    Ok(())
}

fn machines(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => {
            let mut macs = Vec::new();
            for m in p.all("mac_address") {
                macs.push(
                    norm_mac(m)
                        .ok_or_else(|| bad("Invalid parameter: invalid MAC address format"))?,
                );
            }
            let hostnames = p.all("hostname");
            let ids = p.all("id");
            let statuses = p.all("status");
            let out: Vec<Value> = w
                .machines
                .iter()
                .filter(|m| hostnames.is_empty() || hostnames.contains(&m.hostname.as_str()))
                .filter(|m| ids.is_empty() || ids.contains(&m.system_id.as_str()))
                .filter(|m| {
                    macs.is_empty()
                        || m.interfaces.iter().any(|i| macs.contains(&i.mac))
                        || m.macs.iter().any(|x| macs.contains(x))
                })
                .filter(|m| statuses.is_empty() || statuses.contains(&m.status.short()))
                .map(|m| machine_json(w, m))
                .collect();
            ok(json!(out))
        }
        ("POST", None) => create_machine(w, p, false),
        ("GET", Some("is_registered")) => is_registered(w, p),
        ("POST", Some("allocate")) => {
            if p.bool("install_kvm") {
                return Err(bad(
                    "Support for install_kvm allocation parameter has been removed.",
                ));
            }
            let found = match p.get("system_id") {
                Some(sid) => {
                    let i = w.machines.iter().position(|m| {
                        m.system_id == sid && m.status == St::READY && m.owner.is_none()
                    });
                    i.ok_or_else(|| {
                        conflict(format!("No machine with system ID {sid} available."))
                    })?
                }
                None => {
                    let name = p.get("name");
                    w.machines
                        .iter()
                        .position(|m| m.status == St::READY && name.is_none_or(|n| n == m.hostname))
                        .ok_or_else(|| conflict("No machine available."))?
                }
            };
            if p.bool("dry_run") {
                return ok(machine_json(w, &w.machines[found]));
            }
            let m = &mut w.machines[found];
            m.status = St::ALLOCATED;
            m.owner = Some("admin".into());
            m.status_message = "Allocated".into();
            let mut v = machine_json(w, &w.machines[found]);
            v["constraints_by_type"] = json!({});
            ok(v)
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

/// The machine under `nodes/{sid}/…` (404 names a Node there).
fn node_idx(w: &World, sid: &str) -> Result<usize, E> {
    w.machines
        .iter()
        .position(|m| m.system_id == sid)
        .ok_or_else(|| not_found("Node"))
}

/// A block device of a machine, by the id in its URL.
fn bd_idx(m: &Machine, id: &str) -> Result<(u64, usize), E> {
    let id: u64 = id.parse().map_err(|_| not_found("BlockDevice"))?;
    let i = m
        .blockdevices
        .iter()
        .position(|b| b.id == id)
        .ok_or_else(|| not_found("BlockDevice"))?;
    Ok((id, i))
}

fn idx(w: &World, sid: &str) -> Result<usize, E> {
    w.machines
        .iter()
        .position(|m| m.system_id == sid)
        .ok_or_else(|| not_found("Machine"))
}

fn set_status(m: &mut Machine, to: St) -> Result<(), E> {
    if m.status != to && !m.status.may_become(to) {
        return Err(conflict(format!(
            "Invalid transition: {} -> {}.",
            m.status.name(),
            to.name()
        )));
    }
    m.status = to;
    Ok(())
}

/// Series and kernels the boot resources offer: `(series, [kernels])`.
fn offered(w: &World) -> Vec<(String, Vec<String>)> {
    w.boot_resources
        .iter()
        .filter(|r| r.complete)
        .map(|r| {
            let series = r.name.split('/').nth(1).unwrap_or("").to_string();
            let mut k: Vec<String> = r
                .subarches
                .split(',')
                .map(str::to_string)
                .filter(|s| s != "generic")
                .collect();
            if let Some(a) = r.architecture.split('/').nth(1) {
                k.push(a.to_string());
            }
            (series, k)
        })
        .collect()
}

fn storage_issues(m: &Machine) -> Vec<String> {
    let mut out = Vec::new();
    if m.boot_disk.is_none() && m.blockdevices.iter().all(|b| b.kind != "physical") {
        out.push("Specify a storage device to be able to deploy this node.".to_string());
    }
    let root = m.blockdevices.iter().any(|b| {
        b.filesystem
            .as_ref()
            .is_some_and(|f| f.mount_point.as_deref() == Some("/"))
            || b.partitions.iter().any(|p| {
                p.filesystem
                    .as_ref()
                    .is_some_and(|f| f.mount_point.as_deref() == Some("/"))
            })
    });
    if !root {
        out.push("Mount the root '/' filesystem to be able to deploy this node.".to_string());
    }
    out
}

fn machine(w: &mut World, method: &Method, op: Option<&str>, sid: &str, p: &Form) -> R {
    let i = idx(w, sid)?;
    match (method.as_str(), op) {
        ("GET", None) => ok(machine_json(w, &w.machines[i])),
        ("GET", Some("query_power_state")) => {
            let f = w.faults_of(&w.machines[i]);
            if f.bmc_unreachable {
                return Err(E::Unavailable(
                    format!("No rack controllers can access the BMC of node {sid}"),
                    0,
                )
                .map_plain());
            }
            ok(json!({"state": w.machines[i].power_state}))
        }
        ("PUT", None) => {
            let m = &w.machines[i];
            if let Some(h) = p.get("hostname")
                && w.machines
                    .iter()
                    .any(|o| o.hostname == h && o.system_id != m.system_id)
            {
                return Err(form_err(
                    "hostname",
                    format!("Node with hostname \"{h}\" already exists."),
                ));
            }
            let mut params = m.power_parameters.clone();
            params.extend(power_params(p)?);
            let ptype = p.get("power_type").unwrap_or(&m.power_type).to_string();
            check_power(&ptype, &params)?;
            let m = &mut w.machines[i];
            if let Some(h) = p.get("hostname") {
                m.hostname = h.to_string();
            }
            if let Some(d) = p.get("domain") {
                m.domain = d.to_string();
            }
            m.power_type = ptype;
            m.power_parameters = params;
            ok(machine_json(w, &w.machines[i]))
        }
        ("DELETE", None) => {
            let m = w.machines.remove(i);
            for t in &mut w.tags {
                t.machines.retain(|s| *s != m.system_id);
            }
            no_content()
        }
        ("POST", Some("commission")) => {
            let mut m = w.machines[i].clone();
            start_commission(w, &mut m, p)?;
            w.machines[i] = m;
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("deploy")) => deploy(w, i, p),
        ("POST", Some("release")) => {
            let m = &mut w.machines[i];
            if m.status == St::READY || m.status == St::RELEASING {
                return ok(machine_json(w, &w.machines[i]));
            }
            let releasable = [
                St::ALLOCATED,
                St(5),
                St::BROKEN,
                St::DEPLOYING,
                St::DEPLOYED,
                St::FAILED_DEPLOYMENT,
                St::FAILED_DISK_ERASING,
                St::FAILED_RELEASING,
            ];
            if !releasable.contains(&m.status) {
                return Err(conflict(format!(
                    "Machine cannot be released in its current state ('{}').",
                    m.status.name()
                )));
            }
            let erase = p.bool("erase") || p.bool("secure_erase") || p.bool("quick_erase");
            let now = w.now_ms;
            let t = w.timings.clone();
            if m.power_state == "off" && !erase {
                set_status(m, St::READY)?;
                m.owner = None;
                m.owner_data.clear();
                m.osystem.clear();
                m.distro_series.clear();
                m.hwe_kernel = None;
                m.pending = None;
            } else {
                set_status(
                    m,
                    if erase {
                        St::DISK_ERASING
                    } else {
                        St::RELEASING
                    },
                )?;
                m.status_message = if erase { "Disk erasing" } else { "Releasing" }.into();
                m.status_expires = Some(now + RELEASE_TIMEOUT_MS);
                m.pending = Some(Pending::Release {
                    at: now + if erase { t.erase_ms } else { t.release_ms },
                });
            }
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("abort")) => {
            let m = &mut w.machines[i];
            let to = match m.status {
                St::COMMISSIONING => St::NEW,
                St::DEPLOYING => St::ALLOCATED,
                St::DISK_ERASING => St::FAILED_DISK_ERASING,
                St::TESTING => St::READY,
                s => {
                    return Err(conflict(format!(
                        "Cannot abort in current state: node {sid} is in state {}.",
                        s.name()
                    )));
                }
            };
            let v = machine_json(w, &w.machines[i]);
            let m = &mut w.machines[i];
            m.status = to;
            m.pending = None;
            m.status_expires = None;
            ok(v)
        }
        ("POST", Some("mark_broken")) => {
            let m = &mut w.machines[i];
            if m.owner.as_deref() != Some("admin") {
                return Err(text(403, ""));
            }
            m.status = St::BROKEN;
            m.owner = None;
            m.error_description = p
                .get("comment")
                .or(p.get("error_description"))
                .unwrap_or("")
                .to_string();
            m.pending = None;
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("mark_fixed")) => {
            let m = &mut w.machines[i];
            if m.status != St::BROKEN {
                return Err(conflict("Can't mark a non-broken node as 'Ready'."));
            }
            m.status = St::READY;
            m.osystem.clear();
            m.distro_series.clear();
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("set_storage_layout")) => {
            let m = &mut w.machines[i];
            if m.status != St::READY {
                return Err(conflict(
                    "Cannot change the storage layout on a machine that is not Ready.",
                ));
            }
            let layouts = ["flat", "lvm", "bcache", "vmfs6", "vmfs7", "custom", "blank"];
            let l = p
                .get("storage_layout")
                .ok_or_else(|| form_err("storage_layout", "This field is required."))?;
            if !layouts.contains(&l) {
                return Err(form_err(
                    "storage_layout",
                    format!(
                        "'{l}' is not a valid storage_layout.  It should be one of: {}.",
                        layouts.join(", ")
                    ),
                ));
            }
            if m.boot_disk.is_none() && m.blockdevices.is_empty() {
                return Err(bad(
                    "Machine is missing a boot disk; no storage layout can be applied.",
                ));
            }
            m.volume_groups.clear();
            m.blockdevices.retain(|b| b.kind == "physical");
            for b in &mut m.blockdevices {
                b.partitions.clear();
                b.filesystem = None;
                b.vg = None;
            }
            if l == "flat" {
                let mut n = w.next_id;
                let m = &mut w.machines[i];
                n += 1;
                if let Some(b) = m.blockdevices.first_mut() {
                    b.partitions.push(Partition {
                        id: n,
                        size: align(b.size - 8 * MIB),
                        bootable: false,
                        filesystem: Some(Fs {
                            fstype: "ext4".into(),
                            mount_point: Some("/".into()),
                            mount_options: None,
                            label: Some("root".into()),
                            uuid: uuid(n),
                        }),
                        vg: None,
                    });
                }
                w.next_id = n;
            }
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("set_owner_data")) => {
            let m = &mut w.machines[i];
            for (k, v) in &p.0 {
                if k == "op" {
                    continue;
                }
                if v.is_empty() {
                    m.owner_data.remove(k);
                } else {
                    m.owner_data.insert(k.clone(), v.clone());
                }
            }
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("power_on")) => {
            let m = &mut w.machines[i];
            if m.owner.is_none() {
                return Err(conflict("Can't start node: it hasn't been allocated."));
            }
            m.power_state = "on".into();
            ok(machine_json(w, &w.machines[i]))
        }
        ("POST", Some("power_off")) => {
            w.machines[i].power_state = "off".into();
            ok(machine_json(w, &w.machines[i]))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

impl E {
    fn map_plain(self) -> E {
        match self {
            E::Unavailable(s, 0) => E::Text(503, s),
            e => e,
        }
    }
}

fn deploy(w: &mut World, i: usize, p: &Form) -> R {
    let now = w.now_ms;
    let t = w.timings.clone();
    let offered = offered(w);
    let faults = w.faults_of(&w.machines[i]);
    let m = &w.machines[i];
    if !m.status.may_become(St::DEPLOYING) && m.status != St::READY {
        return Err(conflict(format!(
            "Can't deploy a machine that is in the '{}' state",
            m.status.name()
        )));
    }
    if m.status == St::READY && m.owner.as_deref().is_some_and(|o| o != "admin") {
        return Err(conflict(
            "Can't allocate a machine belonging to another user.",
        ));
    }
    if p.bool("install_kvm") || p.bool("register_vmhost") {
        return Err(bad(
            "Support for install_kvm allocation parameter has been removed.",
        ));
    }
    let raw = p.get("distro_series").unwrap_or("jammy");
    let series_in = raw.strip_prefix("ubuntu/").unwrap_or(raw);
    let series = offered
        .iter()
        .find(|(s, k)| s == series_in || k.iter().any(|k| k == &format!("ga-{series_in}")))
        .map(|(s, _)| s.clone());
    let Some(series) = series else {
        let all: Vec<String> = offered.iter().map(|(s, _)| format!("ubuntu/{s}")).collect();
        return Err(form_err(
            "distro_series",
            format!(
                "'{raw}' is not a valid distro_series.  It should be one of: {}.",
                all.join(", ")
            ),
        ));
    };
    let kernels = &offered.iter().find(|(s, _)| *s == series).unwrap().1;
    let hwe = p
        .get("hwe_kernel")
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    if let Some(k) = &hwe
        && !kernels.contains(k)
    {
        return Err(form_err(
            "hwe_kernel",
            format!(
                "{k} is not available for ubuntu/{series} on {}.",
                m.architecture
            ),
        ));
    }
    let on_network = m.interfaces.iter().any(|i| {
        i.links
            .iter()
            .any(|l| l.mode != "link_up" && l.subnet.is_some())
    });
    if !on_network {
        return Err(form_err(
            "network",
            "Node must be configured to use a network",
        ));
    }
    let issues = storage_issues(m);
    if !issues.is_empty() {
        return Err(E::Json(400, json!({"storage": issues})));
    }
    let m = &mut w.machines[i];
    let back = if m.status == St::READY {
        St::ALLOCATED
    } else {
        m.status
    };
    if m.status == St::READY {
        m.status = St::ALLOCATED;
        m.owner = Some("admin".into());
    }
    set_status(m, St::DEPLOYING)?;
    m.osystem = "ubuntu".into();
    m.distro_series = series;
    m.hwe_kernel = hwe.or_else(|| kernels.iter().find(|k| k.starts_with("ga-")).cloned());
    m.user_data = p.get("user_data").map(str::to_string);
    m.status_message = "Deploying".into();
    m.error_description.clear();
    m.status_expires = Some(now + NODE_TIMEOUT_MS);
    m.power_state = "on".into();
    // AUTO links get their address at deploy.
    m.pending = if faults.bmc_unreachable {
        Some(Pending::Revert { at: now + t.bmc_fail_ms, back, event: "Aborting DEPLOYMENT and reverting to ALLOCATED. Unable to power control the node. Please check power credentials.".into() })
    } else if faults.deploy_no_signal {
        None
    } else {
        Some(Pending::Deploy {
            at: now + t.deploy_ms,
        })
    };
    ok(machine_json(w, &w.machines[i]))
}

// ---------------------------------------------------------------------------------------
// Interfaces.

fn iface_gate(m: &Machine, op: &str, put: bool) -> Result<(), E> {
    let mut allowed = vec![
        St::NEW,
        St::READY,
        St::FAILED_TESTING,
        St::ALLOCATED,
        St::BROKEN,
    ];
    if put {
        allowed.push(St::DEPLOYED);
    }
    if allowed.contains(&m.status) {
        Ok(())
    } else {
        Err(conflict(format!(
            "Cannot {op} interface because the machine is not New, Ready, Allocated, or Broken."
        )))
    }
}

fn vlan_param(w: &World, p: &Form) -> Result<Option<u64>, E> {
    match p.get("vlan") {
        None | Some("") => Ok(None),
        Some(v) => {
            let id: u64 = v.parse().map_err(|_| {
                form_err(
                    "vlan",
                    "Select a valid choice. That choice is not one of the available choices.",
                )
            })?;
            w.vlan(id).ok_or_else(|| {
                form_err(
                    "vlan",
                    "Select a valid choice. That choice is not one of the available choices.",
                )
            })?;
            Ok(Some(id))
        }
    }
}

fn mtu_param(p: &Form) -> Result<Option<u64>, E> {
    match p.get("mtu") {
        None | Some("") => Ok(None),
        Some(v) => {
            let n: u64 = v
                .parse()
                .map_err(|_| form_err("mtu", "Enter a whole number."))?;
            if !(552..=65535).contains(&n) {
                return Err(form_err(
                    "mtu",
                    "Ensure this value is greater than or equal to 552.",
                ));
            }
            Ok(Some(n))
        }
    }
}

fn interfaces(w: &mut World, method: &Method, op: Option<&str>, sid: &str, p: &Form) -> R {
    let i = w
        .machines
        .iter()
        .position(|m| m.system_id == sid)
        .ok_or_else(|| not_found("Node"))?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[i];
            ok(json!(
                m.interfaces
                    .iter()
                    .map(|x| iface_json(w, m, x))
                    .collect::<Vec<_>>()
            ))
        }
        ("POST", Some("create_physical")) => {
            iface_gate(&w.machines[i], "create", false)?;
            let mac = p
                .get("mac_address")
                .and_then(norm_mac)
                .ok_or_else(|| form_err("mac_address", "This field is required."))?;
            let vlan = vlan_param(w, p)?;
            let mtu = mtu_param(p)?;
            let id = w.id();
            let m = &mut w.machines[i];
            if m.interfaces.iter().any(|x| x.mac == mac) {
                return Err(form_err(
                    "mac_address",
                    format!("This MAC address is already in use by {}.", m.hostname),
                ));
            }
            let name = p
                .get("name")
                .map(str::to_string)
                .unwrap_or_else(|| format!("eth{}", m.interfaces.len()));
            m.interfaces.push(Iface {
                id,
                name,
                kind: "physical".into(),
                mac,
                parents: vec![],
                vlan,
                mtu,
                params: BTreeMap::new(),
                links: vec![],
            });
            let m = &w.machines[i];
            ok(iface_json(w, m, m.interfaces.last().unwrap()))
        }
        ("POST", Some("create_bond")) => {
            iface_gate(&w.machines[i], "create bond", false)?;
            let name = p
                .get("name")
                .ok_or_else(|| form_err("name", "This field is required."))?
                .to_string();
            let parents: Vec<u64> = p
                .all("parents")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            if parents.is_empty() {
                return Err(form_err(
                    "parents",
                    "A bond interface must have one or more parents.",
                ));
            }
            let m = &w.machines[i];
            let mut pv = None;
            for pid in &parents {
                let Some(x) = m.interfaces.iter().find(|x| x.id == *pid) else {
                    return Err(form_err(
                        "parents",
                        format!(
                            "Select a valid choice. {pid} is not one of the available choices."
                        ),
                    ));
                };
                if m.interfaces.iter().any(|c| c.parents.contains(pid)) {
                    return Err(form_err(
                        "parents",
                        format!("Interfaces already in-use: {}.", x.name),
                    ));
                }
                if pv.is_some() && pv != Some(x.vlan) {
                    return Err(form_err(
                        "parents",
                        "All parents must belong to the same VLAN.",
                    ));
                }
                pv = Some(x.vlan);
            }
            if m.interfaces.iter().any(|x| x.name == name) {
                return Err(form_err(
                    "name",
                    "Interface with this Node and Name already exists.".to_string(),
                ));
            }
            let modes = [
                "balance-rr",
                "active-backup",
                "balance-xor",
                "broadcast",
                "802.3ad",
                "balance-tlb",
                "balance-alb",
            ];
            let mode = p.get("bond_mode").unwrap_or("balance-rr");
            if !modes.contains(&mode) {
                return Err(form_err(
                    "bond_mode",
                    format!("Select a valid choice. {mode} is not one of the available choices."),
                ));
            }
            let hashes = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"];
            let hash = p.get("bond_xmit_hash_policy").unwrap_or("layer2");
            if !hashes.contains(&hash) {
                return Err(form_err(
                    "bond_xmit_hash_policy",
                    format!("Select a valid choice. {hash} is not one of the available choices."),
                ));
            }
            let rate = p.get("bond_lacp_rate").unwrap_or("fast");
            if rate != "fast" && rate != "slow" {
                return Err(form_err(
                    "bond_lacp_rate",
                    format!("Select a valid choice. {rate} is not one of the available choices."),
                ));
            }
            let num = |k: &str, d: i64| -> Result<i64, E> {
                p.get(k).map_or(Ok(d), |v| {
                    v.parse().map_err(|_| form_err(k, "Enter a whole number."))
                })
            };
            let mut params = BTreeMap::new();
            params.insert("bond_mode".into(), json!(mode));
            params.insert("bond_miimon".into(), json!(num("bond_miimon", 100)?));
            params.insert("bond_updelay".into(), json!(num("bond_updelay", 0)?));
            params.insert("bond_downdelay".into(), json!(num("bond_downdelay", 0)?));
            params.insert("bond_lacp_rate".into(), json!(rate));
            params.insert("bond_xmit_hash_policy".into(), json!(hash));
            params.insert(
                "bond_num_grat_arp".into(),
                json!(num("bond_num_grat_arp", 1)?),
            );
            let vlan = vlan_param(w, p)?.or(pv.flatten());
            let mtu = mtu_param(p)?;
            let first_mac = w.machines[i]
                .interfaces
                .iter()
                .find(|x| x.id == parents[0])
                .unwrap()
                .mac
                .clone();
            let mac = p.get("mac_address").and_then(norm_mac).unwrap_or(first_mac);
            let id = w.id();
            let m = &mut w.machines[i];
            // Parents of a bond lose their links and follow its VLAN.
            for x in &mut m.interfaces {
                if parents.contains(&x.id) {
                    x.links.clear();
                    x.vlan = vlan;
                }
            }
            m.interfaces.push(Iface {
                id,
                name,
                kind: "bond".into(),
                mac,
                parents,
                vlan,
                mtu,
                params,
                links: vec![],
            });
            let m = &w.machines[i];
            ok(iface_json(w, m, m.interfaces.last().unwrap()))
        }
        ("POST", Some("create_vlan")) => {
            iface_gate(&w.machines[i], "create VLAN", false)?;
            let vlan_id: u64 = p
                .get("vlan")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| form_err("vlan", "This field is required."))?;
            let parent: u64 = p
                .get("parent")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| form_err("parent", "This field is required."))?;
            let vlan = w.vlan(vlan_id).cloned().ok_or_else(|| {
                form_err(
                    "vlan",
                    "Select a valid choice. That choice is not one of the available choices.",
                )
            })?;
            let m = &w.machines[i];
            let par = m
                .interfaces
                .iter()
                .find(|x| x.id == parent)
                .cloned()
                .ok_or_else(|| form_err("parent", "Select a valid choice."))?;
            if vlan.vid == 0 {
                return Err(form_err(
                    "vlan",
                    "A VLAN interface must be connected to a tagged VLAN.",
                ));
            }
            if m.interfaces
                .iter()
                .any(|c| c.kind == "bond" && c.parents.contains(&parent))
            {
                return Err(form_err(
                    "parent",
                    "A VLAN interface can't have a parent that is already in a bond.",
                ));
            }
            let pfabric = par.vlan.and_then(|v| w.vlan(v)).map(|v| v.fabric);
            if pfabric != Some(vlan.fabric) {
                return Err(form_err(
                    "vlan",
                    "A VLAN interface can only belong to a tagged VLAN on the same fabric as its parent interface.",
                ));
            }
            let name = format!("{}.{}", par.name, vlan.vid);
            if m.interfaces.iter().any(|x| x.name == name) {
                return Err(form_err(
                    "__all__",
                    "Interface with this Node and Name already exists.".to_string(),
                ));
            }
            let mtu = mtu_param(p)?;
            let id = w.id();
            let m = &mut w.machines[i];
            m.interfaces.push(Iface {
                id,
                name,
                kind: "vlan".into(),
                mac: par.mac,
                parents: vec![parent],
                vlan: Some(vlan_id),
                mtu,
                params: BTreeMap::new(),
                links: vec![],
            });
            let m = &w.machines[i];
            ok(iface_json(w, m, m.interfaces.last().unwrap()))
        }
        _ => Err(unrecognised(method, op)),
    }
}

fn in_dynamic_range(w: &World, subnet: u64, ip: IpAddr) -> Option<(String, String)> {
    w.ipranges
        .iter()
        .filter(|r| r.subnet == subnet && r.kind == "dynamic")
        .find_map(|r| {
            let (a, b): (IpAddr, IpAddr) = (r.start.parse().ok()?, r.end.parse().ok()?);
            (a <= ip && ip <= b).then(|| (r.start.clone(), r.end.clone()))
        })
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn interface(w: &mut World, method: &Method, op: Option<&str>, sid: &str, id: &str, p: &Form) -> R {
    let mi = node_idx(w, sid)?;
    let id: u64 = id.parse().map_err(|_| not_found("Interface"))?;
    let ii = w.machines[mi]
        .interfaces
        .iter()
        .position(|x| x.id == id)
        .ok_or_else(|| not_found("Interface"))?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        ("PUT", None) => {
            iface_gate(&w.machines[mi], "update interface", true)?;
            let deployed = w.machines[mi].status == St::DEPLOYED;
            let vlan = vlan_param(w, p)?;
            let mtu = mtu_param(p)?;
            if deployed && (p.has("vlan") || p.has("parents") || p.has("name")) {
                return Err(form_err(
                    "__all__",
                    "Only name, mac_address, link_connected, interface_speed and link_speed can be changed on a deployed machine.",
                ));
            }
            let m = &mut w.machines[mi];
            if let Some(n) = p.get("name") {
                if m.interfaces.iter().any(|x| x.name == n && x.id != id) {
                    return Err(form_err(
                        "name",
                        "Interface with this Node and Name already exists.",
                    ));
                }
                m.interfaces[ii].name = n.to_string();
            }
            let x = &mut m.interfaces[ii];
            if p.has("vlan") {
                if x.vlan != vlan {
                    x.links.clear();
                }
                x.vlan = vlan;
            }
            if p.has("mtu") {
                x.mtu = mtu;
            }
            for (k, v) in &p.0 {
                if k.starts_with("bond_") && x.kind == "bond" {
                    let val = v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v));
                    x.params.insert(k.clone(), val);
                }
            }
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        ("DELETE", None) => {
            iface_gate(&w.machines[mi], "delete interface", false)?;
            let m = &mut w.machines[mi];
            m.interfaces.remove(ii);
            for x in &mut m.interfaces {
                x.parents.retain(|p| *p != id);
            }
            no_content()
        }
        ("POST", Some("link_subnet")) => {
            iface_gate(&w.machines[mi], "link subnet", false)?;
            let mode = p
                .get("mode")
                .ok_or_else(|| form_err("mode", "This field is required."))?
                .to_ascii_lowercase();
            if !["auto", "dhcp", "static", "link_up"].contains(&mode.as_str()) {
                return Err(form_err(
                    "mode",
                    format!("Select a valid choice. {mode} is not one of the available choices."),
                ));
            }
            let m = &w.machines[mi];
            let x = &m.interfaces[ii];
            if m.interfaces
                .iter()
                .any(|b| b.kind == "bond" && b.parents.contains(&id))
            {
                return Err(form_err(
                    "bond",
                    format!(
                        "Cannot link interface({}) when interface is in a bond({}).",
                        x.name, "bond"
                    ),
                ));
            }
            let subnet = match p.get("subnet") {
                None | Some("") => None,
                Some(s) => Some(w.subnets.iter().find(|n| n.id.to_string() == s || n.cidr == s).cloned().ok_or_else(|| form_err("subnet", "Select a valid choice. That choice is not one of the available choices."))?),
            };
            if (mode == "auto" || mode == "static") && subnet.is_none() {
                return Err(form_err("subnet", "This field is required."));
            }
            if let Some(s) = &subnet
                && Some(s.vlan) != x.vlan
                && !p.bool("force")
            {
                return Err(form_err(
                    "subnet",
                    "Select a valid choice. That choice is not one of the available choices.",
                ));
            }
            if mode == "link_up" && !x.links.is_empty() && !p.bool("force") {
                return Err(form_err(
                    "mode",
                    "Cannot configure interface to link up (with no IP address) while other links are already configured. Specify force=True to override this behavior and delete all links.",
                ));
            }
            let gw = p.bool("default_gateway");
            if gw {
                if mode == "dhcp" || mode == "link_up" {
                    return Err(form_err(
                        "default_gateway",
                        format!("Cannot use in mode '{mode}'."),
                    ));
                }
                if subnet.as_ref().is_none_or(|s| s.gateway_ip.is_none()) {
                    return Err(form_err(
                        "default_gateway",
                        format!(
                            "Cannot set as default gateway because subnet {} doesn't provide a gateway IP address.",
                            subnet.as_ref().map_or("", |s| s.cidr.as_str())
                        ),
                    ));
                }
            }
            if mode == "dhcp"
                && x.links
                    .iter()
                    .any(|l| l.mode == "dhcp" && l.subnet.is_some())
            {
                return Err(form_err("mode", "Interface is already set to DHCP."));
            }
            let mut ip = None;
            if mode == "static" {
                let s = subnet.as_ref().unwrap();
                let addr: IpAddr = match p.get("ip_address") {
                    Some(a) => a.parse().map_err(|_| {
                        form_err("ip_address", "Enter a valid IPv4 or IPv6 address.")
                    })?,
                    None => return Err(form_err("ip_address", "This field is required.")),
                };
                if !cidr_contains(&s.cidr, addr) {
                    return Err(form_err(
                        "ip_address",
                        format!("IP address is not in the given subnet '{}'.", s.cidr),
                    ));
                }
                if let Some((a, b)) = in_dynamic_range(w, s.id, addr) {
                    return Err(form_err(
                        "ip_address",
                        format!("IP address is inside a dynamic range {a} to {b}."),
                    ));
                }
                let taken = w.machines.iter().any(|o| {
                    o.interfaces.iter().any(|i| {
                        i.links
                            .iter()
                            .any(|l| l.ip.as_deref() == Some(&addr.to_string()))
                    })
                });
                if taken {
                    return Err(text(
                        404,
                        format!("The IP address {addr} is already in use."),
                    ));
                }
                ip = Some(addr.to_string());
            }
            let lid = w.id();
            let m = &mut w.machines[mi];
            if gw {
                for o in &mut m.interfaces {
                    for l in &mut o.links {
                        l.default_gateway = false;
                    }
                }
            }
            let x = &mut m.interfaces[ii];
            if p.bool("force") {
                x.links.clear();
                if let Some(s) = &subnet {
                    x.vlan = Some(s.vlan);
                }
            }
            x.links
                .retain(|l| !((l.mode == "link_up" || l.mode == "dhcp") && l.subnet.is_none()));
            x.links.push(Link {
                id: lid,
                mode,
                subnet: subnet.map(|s| s.id),
                ip,
                default_gateway: gw,
            });
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        ("POST", Some("unlink_subnet")) => {
            iface_gate(&w.machines[mi], "unlink subnet", false)?;
            let lid: u64 = p
                .get("id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| form_err("id", "This field is required."))?;
            let x = &mut w.machines[mi].interfaces[ii];
            let before = x.links.len();
            x.links.retain(|l| l.id != lid);
            if x.links.len() == before {
                return Err(form_err(
                    "id",
                    format!("Select a valid choice. {lid} is not one of the available choices."),
                ));
            }
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        ("POST", Some("disconnect")) => {
            iface_gate(&w.machines[mi], "disconnect", false)?;
            let x = &mut w.machines[mi].interfaces[ii];
            x.links.clear();
            x.vlan = None;
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        ("POST", Some("set_default_gateway")) => {
            iface_gate(&w.machines[mi], "set default gateway", false)?;
            let lid: Option<u64> = p.get("link_id").and_then(|v| v.parse().ok());
            let m = &mut w.machines[mi];
            for o in &mut m.interfaces {
                for l in &mut o.links {
                    l.default_gateway = false;
                }
            }
            let x = &mut m.interfaces[ii];
            for l in &mut x.links {
                if lid.is_none_or(|id| id == l.id) && (l.mode == "static" || l.mode == "auto") {
                    l.default_gateway = true;
                }
            }
            let m = &w.machines[mi];
            ok(iface_json(w, m, &m.interfaces[ii]))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

// ---------------------------------------------------------------------------------------
// Storage.

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let m = match s[i..].to_ascii_uppercase().trim_end_matches('B') {
                "K" => 1000u64,
                "M" => 1_000_000,
                "G" => 1_000_000_000,
                "T" => 1_000_000_000_000,
                "P" => 1_000_000_000_000_000,
                _ => return None,
            };
            (&s[..i], m)
        }
        None => (s, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    Some((n * mult as f64) as u64)
}

fn storage_gate(m: &Machine, what: &str, ready_or_allocated: bool, noun: &str) -> Result<(), E> {
    let ok = m.status == St::READY || (ready_or_allocated && m.status == St::ALLOCATED);
    if ok {
        return Ok(());
    }
    Err(conflict(if ready_or_allocated {
        format!("Cannot {what} because the {noun} is not Ready or Allocated.")
    } else {
        format!("Cannot {what} because the {noun} is not Ready.")
    }))
}

fn fs_from(p: &Form, id: u64) -> Result<Fs, E> {
    let fstypes = [
        "ext2", "ext4", "xfs", "fat32", "vfat", "swap", "ramfs", "tmpfs", "btrfs", "zfsroot",
    ];
    let t = p
        .get("fstype")
        .ok_or_else(|| form_err("fstype", "This field is required."))?;
    if !fstypes.contains(&t) {
        return Err(form_err(
            "fstype",
            format!("Select a valid choice. {t} is not one of the available choices."),
        ));
    }
    Ok(Fs {
        fstype: t.into(),
        mount_point: None,
        mount_options: None,
        label: p.get("label").map(str::to_string),
        uuid: p.get("uuid").map_or(uuid(id), str::to_string),
    })
}

fn blockdevices(w: &mut World, method: &Method, op: Option<&str>, sid: &str) -> R {
    let mi = node_idx(w, sid)?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[mi];
            ok(json!(
                m.blockdevices
                    .iter()
                    .map(|b| bd_json(m, b))
                    .collect::<Vec<_>>()
            ))
        }
        _ => Err(unrecognised(method, op)),
    }
}

fn blockdevice(
    w: &mut World,
    method: &Method,
    op: Option<&str>,
    sid: &str,
    id: &str,
    p: &Form,
) -> R {
    let mi = node_idx(w, sid)?;
    let (id, bi) = bd_idx(&w.machines[mi], id)?;
    let m = &mut w.machines[mi];
    match (method.as_str(), op) {
        ("GET", None) => ok(bd_json(m, &m.blockdevices[bi])),
        ("DELETE", None) => {
            storage_gate(m, "delete block device", false, "machine")?;
            m.blockdevices.remove(bi);
            no_content()
        }
        ("POST", Some("format")) => {
            storage_gate(m, "format block device", true, "machine")?;
            let fs = fs_from(p, id)?;
            let b = &mut m.blockdevices[bi];
            if !b.partitions.is_empty() || b.vg.is_some() {
                return Err(form_err(
                    "__all__",
                    "Cannot format a block device that has partitions or is in use.",
                ));
            }
            b.filesystem = Some(fs);
            ok(bd_json(m, &m.blockdevices[bi]))
        }
        ("POST", Some("unformat")) => {
            storage_gate(m, "unformat block device", true, "machine")?;
            m.blockdevices[bi].filesystem = None;
            ok(bd_json(m, &m.blockdevices[bi]))
        }
        ("POST", Some("mount")) => {
            storage_gate(m, "mount block device", true, "machine")?;
            let mp = p
                .get("mount_point")
                .ok_or_else(|| form_err("mount_point", "This field is required."))?;
            let b = &mut m.blockdevices[bi];
            let Some(f) = &mut b.filesystem else {
                return Err(bad("Cannot mount an unformatted block device."));
            };
            f.mount_point = Some(mp.into());
            f.mount_options = p.get("mount_options").map(str::to_string);
            ok(bd_json(m, &m.blockdevices[bi]))
        }
        ("POST", Some("unmount")) => {
            storage_gate(m, "unmount block device", true, "machine")?;
            if let Some(f) = &mut m.blockdevices[bi].filesystem {
                f.mount_point = None;
            }
            ok(bd_json(m, &m.blockdevices[bi]))
        }
        ("POST", Some("set_boot_disk")) => {
            if m.status != St::READY {
                return Err(conflict(
                    "Cannot set as boot disk because the machine is not Ready.",
                ));
            }
            if m.blockdevices[bi].kind != "physical" {
                return Err(bad("Cannot set a virtual block device as the boot disk."));
            }
            m.boot_disk = Some(id);
            ok_text("OK")
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn partitions(
    w: &mut World,
    method: &Method,
    op: Option<&str>,
    sid: &str,
    id: &str,
    p: &Form,
) -> R {
    let mi = node_idx(w, sid)?;
    let (_, bi) = bd_idx(&w.machines[mi], id)?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[mi];
            let b = &m.blockdevices[bi];
            ok(json!(
                b.partitions
                    .iter()
                    .enumerate()
                    .map(|(i, x)| partition_json(m, b, i, x))
                    .collect::<Vec<_>>()
            ))
        }
        ("POST", None) => {
            storage_gate(&w.machines[mi], "create partition", false, "node")?;
            let pid = w.id();
            let m = &mut w.machines[mi];
            let b = &mut m.blockdevices[bi];
            if b.filesystem.is_some() || b.vg.is_some() {
                return Err(form_err(
                    "__all__",
                    "Cannot create a partition on a block device that is formatted or in use.",
                ));
            }
            let free = b.size.saturating_sub(used(b).max(8 * MIB));
            let size = match p.get("size") {
                Some(s) => {
                    align(parse_size(s).ok_or_else(|| form_err("size", "Enter a whole number."))?)
                }
                None => align(free),
            };
            if size < 4 * MIB {
                return Err(form_err(
                    "size",
                    "Ensure this value is greater than or equal to 4194304.",
                ));
            }
            if size > free {
                return Err(form_err(
                    "size",
                    format!("Ensure this value is less than or equal to {free}."),
                ));
            }
            b.partitions.push(Partition {
                id: pid,
                size,
                bootable: p.bool("bootable"),
                filesystem: None,
                vg: None,
            });
            let m = &w.machines[mi];
            let b = &m.blockdevices[bi];
            ok(partition_json(
                m,
                b,
                b.partitions.len() - 1,
                b.partitions.last().unwrap(),
            ))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn partition(
    w: &mut World,
    method: &Method,
    op: Option<&str>,
    sid: &str,
    id: &str,
    pid: &str,
    p: &Form,
) -> R {
    let mi = node_idx(w, sid)?;
    let id: u64 = id.parse().map_err(|_| not_found("BlockDevice"))?;
    let pid: u64 = pid.parse().map_err(|_| not_found("Partition"))?;
    let m = &mut w.machines[mi];
    let bi = m
        .blockdevices
        .iter()
        .position(|b| b.id == id)
        .ok_or_else(|| not_found("BlockDevice"))?;
    let pi = m.blockdevices[bi]
        .partitions
        .iter()
        .position(|x| x.id == pid)
        .ok_or_else(|| not_found("Partition"))?;
    let render = |m: &Machine| {
        let b = &m.blockdevices[bi];
        partition_json(m, b, pi, &b.partitions[pi])
    };
    match (method.as_str(), op) {
        ("GET", None) => ok(render(m)),
        ("DELETE", None) => {
            storage_gate(m, "delete partition", false, "node")?;
            m.blockdevices[bi].partitions.remove(pi);
            no_content()
        }
        ("POST", Some("format")) => {
            storage_gate(m, "format partition", true, "node")?;
            let fs = fs_from(p, pid)?;
            let x = &mut m.blockdevices[bi].partitions[pi];
            if x.vg.is_some() {
                return Err(form_err(
                    "__all__",
                    "Cannot format a partition that is in a volume group.",
                ));
            }
            x.filesystem = Some(fs);
            ok(render(m))
        }
        ("POST", Some("unformat")) => {
            storage_gate(m, "unformat partition", true, "node")?;
            m.blockdevices[bi].partitions[pi].filesystem = None;
            ok(render(m))
        }
        ("POST", Some("mount")) => {
            storage_gate(m, "mount partition", true, "node")?;
            let mp = p
                .get("mount_point")
                .ok_or_else(|| form_err("mount_point", "This field is required."))?;
            let Some(f) = &mut m.blockdevices[bi].partitions[pi].filesystem else {
                return Err(bad("Cannot mount an unformatted partition."));
            };
            f.mount_point = Some(mp.into());
            f.mount_options = p.get("mount_options").map(str::to_string);
            ok(render(m))
        }
        ("POST", Some("unmount")) => {
            storage_gate(m, "unmount partition", true, "node")?;
            if let Some(f) = &mut m.blockdevices[bi].partitions[pi].filesystem {
                f.mount_point = None;
            }
            ok(render(m))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn volume_groups(w: &mut World, method: &Method, op: Option<&str>, sid: &str, p: &Form) -> R {
    let mi = node_idx(w, sid)?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[mi];
            ok(json!(
                m.volume_groups
                    .iter()
                    .map(|v| vg_json(m, v))
                    .collect::<Vec<_>>()
            ))
        }
        ("POST", None) => {
            storage_gate(&w.machines[mi], "create volume group", false, "machine")?;
            let name = p
                .get("name")
                .ok_or_else(|| form_err("name", "This field is required."))?
                .to_string();
            let bds: Vec<u64> = p
                .all("block_devices")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            let parts: Vec<u64> = p
                .all("partitions")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            if bds.is_empty() && parts.is_empty() {
                return Err(form_err(
                    "__all__",
                    "At least one valid block device or partition is required.",
                ));
            }
            let vid = w.id();
            let m = &mut w.machines[mi];
            if m.volume_groups.iter().any(|v| v.name == name) {
                return Err(form_err(
                    "name",
                    "Volume group with this name already exists.",
                ));
            }
            for b in &mut m.blockdevices {
                if bds.contains(&b.id) {
                    if b.filesystem.is_some() || !b.partitions.is_empty() || b.vg.is_some() {
                        return Err(form_err("block_devices", format!("{} is in use.", b.name)));
                    }
                    b.vg = Some(vid);
                }
                for x in &mut b.partitions {
                    if parts.contains(&x.id) {
                        if x.filesystem.is_some() || x.vg.is_some() {
                            return Err(form_err("partitions", "Partition is in use."));
                        }
                        x.vg = Some(vid);
                    }
                }
            }
            m.volume_groups.push(Vg {
                id: vid,
                name,
                uuid: uuid(vid),
                block_devices: bds,
                partitions: parts,
            });
            let m = &w.machines[mi];
            ok(vg_json(m, m.volume_groups.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn volume_group(
    w: &mut World,
    method: &Method,
    op: Option<&str>,
    sid: &str,
    id: &str,
    p: &Form,
) -> R {
    let mi = node_idx(w, sid)?;
    let id: u64 = id.parse().map_err(|_| not_found("VolumeGroup"))?;
    let vi = w.machines[mi]
        .volume_groups
        .iter()
        .position(|v| v.id == id)
        .ok_or_else(|| not_found("VolumeGroup"))?;
    match (method.as_str(), op) {
        ("GET", None) => {
            let m = &w.machines[mi];
            ok(vg_json(m, &m.volume_groups[vi]))
        }
        ("DELETE", None) => {
            let m = &mut w.machines[mi];
            storage_gate(m, "delete volume group", false, "machine")?;
            m.volume_groups.remove(vi);
            m.blockdevices.retain(|b| b.lv_of != Some(id));
            for b in &mut m.blockdevices {
                if b.vg == Some(id) {
                    b.vg = None;
                }
                for x in &mut b.partitions {
                    if x.vg == Some(id) {
                        x.vg = None;
                    }
                }
            }
            no_content()
        }
        ("POST", Some("create_logical_volume")) => {
            storage_gate(&w.machines[mi], "create logical volume", false, "machine")?;
            let name = p
                .get("name")
                .ok_or_else(|| form_err("name", "This field is required."))?
                .to_string();
            let lid = w.id();
            let m = &mut w.machines[mi];
            let vg = m.volume_groups[vi].clone();
            let free = vg_size(m, &vg) - vg_used(m, &vg);
            let size = match p.get("size") {
                Some(s) => {
                    align(parse_size(s).ok_or_else(|| form_err("size", "Enter a whole number."))?)
                }
                None => align(free),
            };
            if size > free {
                return Err(form_err(
                    "size",
                    format!("Ensure this value is less than or equal to {free}."),
                ));
            }
            if size == 0 {
                return Err(form_err(
                    "size",
                    "Ensure this value is greater than or equal to 4194304.",
                ));
            }
            let lvname = format!("{}-{name}", vg.name);
            if m.blockdevices.iter().any(|b| b.name == lvname) {
                return Err(form_err(
                    "name",
                    "Logical volume with this name already exists.",
                ));
            }
            m.blockdevices.push(BlockDev {
                id: lid,
                name: lvname,
                kind: "virtual".into(),
                size,
                model: String::new(),
                serial: String::new(),
                scsi: String::new(),
                filesystem: None,
                partitions: vec![],
                vg: None,
                lv_of: Some(id),
            });
            let m = &w.machines[mi];
            ok(bd_json(m, m.blockdevices.last().unwrap()))
        }
        ("POST", Some("delete_logical_volume")) => {
            let m = &mut w.machines[mi];
            storage_gate(m, "delete logical volume", false, "machine")?;
            let lid: u64 = p
                .get("id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| form_err("id", "This field is required."))?;
            m.blockdevices
                .retain(|b| !(b.id == lid && b.lv_of == Some(id)));
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

/// `GET /nodes/{id}/results/`: the commissioning scripts' results; `50-maas-01-commissioning`
/// carries LXD's resources (network cards with PCI addresses, disks with device paths).
fn results(w: &mut World, method: &Method, op: Option<&str>, sid: &str) -> R {
    let mi = node_idx(w, sid)?;
    if !(method == Method::GET && op.is_none()) {
        return Err(unrecognised(method, op));
    }
    let m = &w.machines[mi];
    if m.commissioning_status == 0 {
        return ok(json!([]));
    }
    let cards: Vec<Value> = m
        .hardware
        .nics
        .iter()
        .map(|n| {
            json!({"driver": "i40e", "pci_address": n.pci_address,
        "ports": [{"id": n.name, "address": n.mac, "port": 0}]})
        })
        .collect();
    let disks: Vec<Value> = m
        .hardware
        .disks
        .iter()
        .map(|d| {
            json!({"id": d.name, "model": d.model, "serial": d.serial,
        "size": d.size, "device_path": format!("pci-0000:18:00.0-scsi-{}", d.scsi), "type": "scsi"})
        })
        .collect();
    let resources =
        json!({"resources": {"network": {"cards": cards}, "storage": {"disks": disks}}});
    let output = b64(resources.to_string().as_bytes());
    ok(
        json!([{"id": 1, "type": 0, "type_name": "Commissioning", "status": m.commissioning_status,
        "results": [{"name": "50-maas-01-commissioning", "status": m.commissioning_status, "exit_status": if m.commissioning_status == 3 { 1 } else { 0 },
            "output": output}]}]),
    )
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Networks.

fn fabrics(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(
            w.fabrics
                .iter()
                .map(|f| fabric_json(w, f))
                .collect::<Vec<_>>()
        )),
        ("POST", None) => {
            let id = w.fabrics.iter().map(|f| f.id).max().unwrap_or(0) + 1;
            let name = p
                .get("name")
                .map(str::to_string)
                .unwrap_or_else(|| format!("fabric-{id}"));
            if w.fabrics.iter().any(|f| f.name == name) {
                return Err(form_err("name", "Fabric with this Name already exists."));
            }
            w.fabrics.push(Fabric {
                id,
                name,
                class_type: p.get("class_type").map(str::to_string),
                description: p.get("description").unwrap_or("").into(),
            });
            let vid = w.id();
            w.vlans.push(Vlan {
                id: vid,
                fabric: id,
                vid: 0,
                name: "untagged".into(),
                mtu: 1500,
                dhcp_on: false,
                primary_rack: None,
                description: String::new(),
            });
            ok(fabric_json(w, w.fabrics.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn fabric(w: &mut World, method: &Method, op: Option<&str>, id: &str, p: &Form) -> R {
    let fi = w
        .fabrics
        .iter()
        .position(|f| f.id.to_string() == id || f.name == id)
        .ok_or_else(|| not_found("Fabric"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(fabric_json(w, &w.fabrics[fi])),
        ("PUT", None) => {
            if let Some(n) = p.get("name") {
                w.fabrics[fi].name = n.into();
            }
            if let Some(d) = p.get("description") {
                w.fabrics[fi].description = d.into();
            }
            if let Some(c) = p.get("class_type") {
                w.fabrics[fi].class_type = Some(c.into());
            }
            ok(fabric_json(w, &w.fabrics[fi]))
        }
        ("DELETE", None) => {
            let f = w.fabrics[fi].id;
            if f == 0 {
                return Err(bad(
                    "This fabric is the default fabric, it cannot be deleted.",
                ));
            }
            w.fabrics.remove(fi);
            w.vlans.retain(|v| v.fabric != f);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn vlans(w: &mut World, method: &Method, op: Option<&str>, fid: &str, p: &Form) -> R {
    let f = w
        .fabrics
        .iter()
        .find(|f| f.id.to_string() == fid)
        .map(|f| f.id)
        .ok_or_else(|| not_found("Fabric"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(
            w.vlans
                .iter()
                .filter(|v| v.fabric == f)
                .map(|v| vlan_json(w, v))
                .collect::<Vec<_>>()
        )),
        ("POST", None) => {
            let vid: u16 = p
                .get("vid")
                .ok_or_else(|| form_err("vid", "This field is required."))?
                .parse()
                .map_err(|_| form_err("vid", "Enter a whole number."))?;
            if vid == 0 || vid > 4094 {
                return Err(form_err("vid", "VID must be between 1 and 4094."));
            }
            if w.vlans.iter().any(|v| v.fabric == f && v.vid == vid) {
                return Err(form_err(
                    "__all__",
                    "VLAN with this Vid and Fabric already exists.",
                ));
            }
            let mtu = p
                .get("mtu")
                .map(|m| {
                    m.parse()
                        .map_err(|_| form_err("mtu", "Enter a whole number."))
                })
                .transpose()?
                .unwrap_or(1500);
            let id = w.id();
            w.vlans.push(Vlan {
                id,
                fabric: f,
                vid,
                name: p.get("name").map_or(format!("vlan{vid}"), str::to_string),
                mtu,
                dhcp_on: false,
                primary_rack: None,
                description: p.get("description").unwrap_or("").into(),
            });
            ok(vlan_json(w, w.vlans.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn vlan(w: &mut World, method: &Method, op: Option<&str>, fid: &str, vid: &str, p: &Form) -> R {
    let f: u64 = fid.parse().map_err(|_| not_found("Fabric"))?;
    let vi = w
        .vlans
        .iter()
        .position(|v| v.fabric == f && v.vid.to_string() == vid)
        .ok_or_else(|| not_found("VLAN"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(vlan_json(w, &w.vlans[vi])),
        ("PUT", None) => {
            let id = w.vlans[vi].id;
            let mut v = w.vlans[vi].clone();
            if let Some(n) = p.get("name") {
                v.name = n.into();
            }
            if let Some(m) = p.get("mtu") {
                v.mtu = m
                    .parse()
                    .map_err(|_| form_err("mtu", "Enter a whole number."))?;
            }
            if let Some(r) = p.get("primary_rack") {
                if !r.is_empty() && r != w.rack {
                    return Err(form_err(
                        "primary_rack",
                        format!("Select a valid choice. {r} is not one of the available choices."),
                    ));
                }
                v.primary_rack = (!r.is_empty()).then(|| r.to_string());
            }
            if p.has("dhcp_on") {
                let on = p.bool("dhcp_on");
                if on && v.primary_rack.is_none() {
                    return Err(form_err(
                        "__all__",
                        "dhcp can only be turned on when a primary rack controller is set.",
                    ));
                }
                let dynamic = w.subnets.iter().filter(|s| s.vlan == id).any(|s| {
                    w.ipranges
                        .iter()
                        .any(|r| r.subnet == s.id && r.kind == "dynamic")
                });
                if on && !dynamic {
                    return Err(form_err(
                        "dhcp_on",
                        "dhcp can only be turned on when a dynamic IP range is defined.",
                    ));
                }
                v.dhcp_on = on;
            }
            if let Some(d) = p.get("description") {
                v.description = d.into();
            }
            w.vlans[vi] = v;
            ok(vlan_json(w, &w.vlans[vi]))
        }
        ("DELETE", None) => {
            if w.vlans[vi].vid == 0 {
                return Err(bad("The default VLAN of a fabric cannot be deleted."));
            }
            w.vlans.remove(vi);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn check_cidr(c: &str) -> Result<(), E> {
    let Some((net, len)) = c.split_once('/') else {
        return Err(form_err("cidr", "Required format: <network>/<prefixlen>."));
    };
    if net.parse::<IpAddr>().is_err() || len.parse::<u8>().is_err() {
        return Err(form_err("cidr", "Required format: <network>/<prefixlen>."));
    }
    if len == "0" {
        return Err(form_err("cidr", "Prefix length must be greater than 0."));
    }
    Ok(())
}

fn dns_list(p: &Form) -> Vec<String> {
    p.all("dns_servers")
        .iter()
        .flat_map(|s| s.split([',', ' ']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn subnets(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(
            w.subnets
                .iter()
                .map(|s| subnet_json(w, s))
                .collect::<Vec<_>>()
        )),
        ("POST", None) => {
            if p.has("space") {
                return Err(bad(
                    "Spaces may no longer be set on subnets. Set the space on the underlying VLAN.",
                ));
            }
            let cidr = p
                .get("cidr")
                .ok_or_else(|| form_err("cidr", "This field is required."))?
                .to_string();
            check_cidr(&cidr)?;
            if w.subnets.iter().any(|s| s.cidr == cidr) {
                return Err(form_err("cidr", "Subnet with this Cidr already exists."));
            }
            let vlan = match (p.get("vlan"), p.get("fabric"), p.get("vid")) {
                (Some(v), _, _) => w.vlans.iter().find(|x| x.id.to_string() == v).map(|x| x.id).ok_or_else(|| form_err("vlan", "Select a valid choice. That choice is not one of the available choices."))?,
                (None, Some(f), vid) => {
                    let vid = vid.unwrap_or("0");
                    w.vlans.iter().find(|x| x.fabric.to_string() == f && x.vid.to_string() == vid).map(|x| x.id).ok_or_else(|| form_err("vid", "No VLAN with the specified VID on the fabric."))?
                }
                _ => 5001,
            };
            let id = w.id();
            let gw = p.get("gateway_ip").filter(|g| !g.is_empty());
            if let Some(g) = gw {
                let ip: IpAddr = g
                    .parse()
                    .map_err(|_| form_err("gateway_ip", "Enter a valid IPv4 or IPv6 address."))?;
                if !cidr_contains(&cidr, ip) {
                    return Err(form_err(
                        "gateway_ip",
                        "Gateway IP must be within CIDR range.",
                    ));
                }
            }
            w.subnets.push(Subnet {
                id,
                name: p.get("name").unwrap_or(&cidr).to_string(),
                cidr,
                vlan,
                gateway_ip: gw.map(str::to_string),
                dns_servers: dns_list(p),
                managed: p.get("managed").is_none_or(|_| p.bool("managed")),
                description: p.get("description").unwrap_or("").into(),
            });
            ok(subnet_json(w, w.subnets.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn subnet(w: &mut World, method: &Method, op: Option<&str>, id: &str, p: &Form) -> R {
    let si = w
        .subnets
        .iter()
        .position(|s| s.id.to_string() == id || s.cidr == id || s.name == id)
        .ok_or_else(|| not_found("Subnet"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(subnet_json(w, &w.subnets[si])),
        ("GET", Some("reserved_ip_ranges")) => {
            let sid = w.subnets[si].id;
            ok(json!(
                w.ipranges
                    .iter()
                    .filter(|r| r.subnet == sid)
                    .map(|r| json!({"start": r.start, "end": r.end, "purpose": [r.kind]}))
                    .collect::<Vec<_>>()
            ))
        }
        ("PUT", None) => {
            if p.has("space") {
                return Err(bad(
                    "Spaces may no longer be set on subnets. Set the space on the underlying VLAN.",
                ));
            }
            let mut s = w.subnets[si].clone();
            if let Some(n) = p.get("name") {
                s.name = n.into();
            }
            if let Some(g) = p.get("gateway_ip") {
                s.gateway_ip = (!g.is_empty()).then(|| g.to_string());
            }
            if p.has("dns_servers") {
                s.dns_servers = dns_list(p);
            }
            if let Some(v) = p.get("vlan") {
                s.vlan = w.vlans.iter().find(|x| x.id.to_string() == v).map(|x| x.id).ok_or_else(|| form_err("vlan", "Select a valid choice. That choice is not one of the available choices."))?;
            }
            if let Some(d) = p.get("description") {
                s.description = d.into();
            }
            w.subnets[si] = s;
            ok(subnet_json(w, &w.subnets[si]))
        }
        ("DELETE", None) => {
            let id = w.subnets[si].id;
            w.subnets.remove(si);
            w.ipranges.retain(|r| r.subnet != id);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn iprange_json(w: &World, r: &IpRange) -> Value {
    json!({"id": r.id, "type": r.kind, "start_ip": r.start, "end_ip": r.end, "comment": r.comment,
        "user": {"username": "admin"}, "subnet": w.subnets.iter().find(|s| s.id == r.subnet).map(|s| subnet_json(w, s)),
        "resource_uri": format!("/MAAS/api/2.0/ipranges/{}/", r.id)})
}

fn check_range(
    w: &World,
    kind: &str,
    start: &str,
    end: &str,
    subnet: Option<&str>,
    except: Option<u64>,
) -> Result<(u64, IpAddr, IpAddr), E> {
    if kind != "dynamic" && kind != "reserved" {
        return Err(form_err(
            "type",
            format!("Select a valid choice. {kind} is not one of the available choices."),
        ));
    }
    let a: IpAddr = start
        .parse()
        .map_err(|_| form_err("start_ip", "Enter a valid IPv4 or IPv6 address."))?;
    let b: IpAddr = end
        .parse()
        .map_err(|_| form_err("end_ip", "Enter a valid IPv4 or IPv6 address."))?;
    let s = match subnet {
        Some(id) => w
            .subnets
            .iter()
            .find(|s| s.id.to_string() == id || s.cidr == id)
            .ok_or_else(|| {
                form_err(
                    "subnet",
                    "Select a valid choice. That choice is not one of the available choices.",
                )
            })?,
        None => w
            .subnets
            .iter()
            .find(|s| cidr_contains(&s.cidr, a))
            .ok_or_else(|| form_err("start_ip", "Could not find appropriate subnet."))?,
    };
    if b < a {
        return Err(form_err(
            "end_ip",
            "End IP address must not be less than Start IP address.",
        ));
    }
    if !cidr_contains(&s.cidr, a) {
        return Err(form_err(
            "start_ip",
            format!("Start IP address must be within subnet: {}.", s.cidr),
        ));
    }
    if !cidr_contains(&s.cidr, b) {
        return Err(form_err(
            "end_ip",
            format!("End IP address must be within subnet: {}.", s.cidr),
        ));
    }
    for r in w
        .ipranges
        .iter()
        .filter(|r| r.subnet == s.id && Some(r.id) != except)
    {
        let (ra, rb): (IpAddr, IpAddr) = (r.start.parse().unwrap(), r.end.parse().unwrap());
        if a <= rb && ra <= b {
            return Err(form_err(
                "__all__",
                format!(
                    "Requested {kind} range conflicts with an existing {} range.",
                    r.kind
                ),
            ));
        }
    }
    Ok((s.id, a, b))
}

fn ipranges(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(
            w.ipranges
                .iter()
                .map(|r| iprange_json(w, r))
                .collect::<Vec<_>>()
        )),
        ("POST", None) => {
            let kind = p
                .get("type")
                .ok_or_else(|| form_err("type", "This field is required."))?;
            let start = p
                .get("start_ip")
                .ok_or_else(|| form_err("start_ip", "This field is required."))?;
            let end = p
                .get("end_ip")
                .ok_or_else(|| form_err("end_ip", "This field is required."))?;
            let (subnet, _, _) = check_range(w, kind, start, end, p.get("subnet"), None)?;
            let id = w.id();
            w.ipranges.push(IpRange {
                id,
                kind: kind.into(),
                start: start.into(),
                end: end.into(),
                subnet,
                comment: p.get("comment").unwrap_or("").into(),
            });
            ok(iprange_json(w, w.ipranges.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn iprange(w: &mut World, method: &Method, op: Option<&str>, id: &str, p: &Form) -> R {
    let ri = w
        .ipranges
        .iter()
        .position(|r| r.id.to_string() == id)
        .ok_or_else(|| not_found("IPRange"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(iprange_json(w, &w.ipranges[ri])),
        ("PUT", None) => {
            let r = w.ipranges[ri].clone();
            let kind = p.get("type").unwrap_or(&r.kind).to_string();
            let start = p.get("start_ip").unwrap_or(&r.start).to_string();
            let end = p.get("end_ip").unwrap_or(&r.end).to_string();
            let sid = r.subnet.to_string();
            let (subnet, _, _) = check_range(w, &kind, &start, &end, Some(&sid), Some(r.id))?;
            let x = &mut w.ipranges[ri];
            x.kind = kind;
            x.start = start;
            x.end = end;
            x.subnet = subnet;
            if let Some(c) = p.get("comment") {
                x.comment = c.into();
            }
            ok(iprange_json(w, &w.ipranges[ri]))
        }
        ("DELETE", None) => {
            w.ipranges.remove(ri);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn route_json(w: &World, r: &StaticRoute) -> Value {
    let s = |id: u64| {
        w.subnets
            .iter()
            .find(|s| s.id == id)
            .map(|s| subnet_json(w, s))
    };
    json!({"id": r.id, "source": s(r.source), "destination": s(r.destination), "gateway_ip": r.gateway_ip,
        "metric": r.metric, "resource_uri": format!("/MAAS/api/2.0/static-routes/{}/", r.id)})
}

fn static_routes(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(
            w.static_routes
                .iter()
                .map(|r| route_json(w, r))
                .collect::<Vec<_>>()
        )),
        ("POST", None) => {
            let find = |k: &str| -> Result<u64, E> {
                let v = p
                    .get(k)
                    .ok_or_else(|| form_err(k, "This field is required."))?;
                w.subnets.iter().find(|s| s.id.to_string() == v || s.cidr == v).map(|s| s.id).ok_or_else(|| form_err(k, "Select a valid choice. That choice is not one of the available choices."))
            };
            let (source, destination) = (find("source")?, find("destination")?);
            let gw = p
                .get("gateway_ip")
                .ok_or_else(|| form_err("gateway_ip", "This field is required."))?
                .to_string();
            let src = w.subnets.iter().find(|s| s.id == source).unwrap();
            if !gw.parse().is_ok_and(|ip| cidr_contains(&src.cidr, ip)) {
                return Err(form_err(
                    "gateway_ip",
                    "Enter a valid IP address in the source subnet.",
                ));
            }
            if w.static_routes
                .iter()
                .any(|r| r.source == source && r.destination == destination && r.gateway_ip == gw)
            {
                return Err(form_err(
                    "__all__",
                    "Static route with this Source, Destination and Gateway ip already exists.",
                ));
            }
            let id = w.id();
            w.static_routes.push(StaticRoute {
                id,
                source,
                destination,
                gateway_ip: gw,
                metric: p.get("metric").and_then(|m| m.parse().ok()).unwrap_or(0),
            });
            ok(route_json(w, w.static_routes.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn static_route(w: &mut World, method: &Method, op: Option<&str>, id: &str, p: &Form) -> R {
    let ri = w
        .static_routes
        .iter()
        .position(|r| r.id.to_string() == id)
        .ok_or_else(|| not_found("StaticRoute"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(route_json(w, &w.static_routes[ri])),
        ("PUT", None) => {
            if let Some(g) = p.get("gateway_ip") {
                w.static_routes[ri].gateway_ip = g.into();
            }
            if let Some(m) = p.get("metric") {
                w.static_routes[ri].metric = m
                    .parse()
                    .map_err(|_| form_err("metric", "Enter a whole number."))?;
            }
            ok(route_json(w, &w.static_routes[ri]))
        }
        ("DELETE", None) => {
            w.static_routes.remove(ri);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn boot_resources(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => {
            let t = p.get("type").unwrap_or("all");
            if !["synced", "uploaded", "all"].contains(&t) {
                return Err(bad(format!(
                    "'{t}' is not a valid boot resource type. Available types: ['synced', 'uploaded']"
                )));
            }
            let out: Vec<Value> = w.boot_resources.iter().filter(|_| t != "uploaded").map(|r| json!({"id": r.id, "type": "Synced",
                "name": r.name, "architecture": r.architecture, "subarches": r.subarches, "title": r.name,
                "resource_uri": format!("/MAAS/api/2.0/boot-resources/{}/", r.id), "complete": r.complete})).collect();
            ok(json!(out))
        }
        ("GET", Some("is_importing")) => ok(json!(false)),
        ("POST", Some("import")) => ok_text("Import of boot resources started"),
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn tag_json(t: &Tag) -> Value {
    json!({"name": t.name, "comment": t.comment, "definition": t.definition, "kernel_opts": t.kernel_opts,
        "resource_uri": format!("/MAAS/api/2.0/tags/{}/", t.name)})
}

fn tags(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(w.tags.iter().map(tag_json).collect::<Vec<_>>())),
        ("POST", None) => {
            let name = p
                .get("name")
                .ok_or_else(|| form_err("name", "This field is required."))?;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(form_err("name", "Invalid character in tag name."));
            }
            if w.tags.iter().any(|t| t.name == name) {
                return Err(form_err("name", "Tag with this Name already exists."));
            }
            w.tags.push(Tag {
                name: name.into(),
                comment: p.get("comment").unwrap_or("").into(),
                definition: p.get("definition").unwrap_or("").into(),
                kernel_opts: p.get("kernel_opts").unwrap_or("").into(),
                machines: vec![],
            });
            ok(tag_json(w.tags.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn tag(w: &mut World, method: &Method, op: Option<&str>, name: &str, p: &Form) -> R {
    let ti = w
        .tags
        .iter()
        .position(|t| t.name == name)
        .ok_or_else(|| not_found("Tag"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(tag_json(&w.tags[ti])),
        ("GET", Some("machines")) => {
            let t = &w.tags[ti];
            ok(json!(
                w.machines
                    .iter()
                    .filter(|m| t.machines.contains(&m.system_id))
                    .map(|m| machine_json(w, m))
                    .collect::<Vec<_>>()
            ))
        }
        ("PUT", None) => {
            let t = &mut w.tags[ti];
            if let Some(c) = p.get("comment") {
                t.comment = c.into();
            }
            if let Some(k) = p.get("kernel_opts") {
                t.kernel_opts = k.into();
            }
            if let Some(d) = p.get("definition") {
                t.definition = d.into();
            }
            ok(tag_json(&w.tags[ti]))
        }
        ("DELETE", None) => {
            w.tags.remove(ti);
            no_content()
        }
        ("POST", Some("update_nodes")) => {
            if let Some(d) = p.get("definition")
                && d != w.tags[ti].definition
            {
                return Err(conflict(format!(
                    "Definition supplied '{d}' doesn't match current definition '{}'",
                    w.tags[ti].definition
                )));
            }
            let (mut added, mut removed) = (0, 0);
            let known: HashSet<String> = w.machines.iter().map(|m| m.system_id.clone()).collect();
            let t = &mut w.tags[ti];
            for a in p.all("add") {
                if known.contains(a) && !t.machines.iter().any(|m| m == a) {
                    t.machines.push(a.into());
                    added += 1;
                }
            }
            for r in p.all("remove") {
                let before = t.machines.len();
                t.machines.retain(|m| m != r);
                removed += before - t.machines.len();
            }
            ok(json!({"added": added, "removed": removed}))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn sshkeys(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    let render = |(id, k): &(u64, String)| json!({"id": id, "key": k, "keysource": null, "resource_uri": format!("/MAAS/api/2.0/account/prefs/sshkeys/{id}/")});
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(w.sshkeys.iter().map(render).collect::<Vec<_>>())),
        ("POST", None) => {
            let key = p
                .get("key")
                .ok_or_else(|| form_err("key", "This field is required."))?
                .trim()
                .to_string();
            let kinds = [
                "ssh-rsa",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "ssh-dss",
            ];
            if !kinds.iter().any(|k| key.starts_with(k)) || key.split_whitespace().count() < 2 {
                return Err(form_err(
                    "key",
                    "Invalid SSH public key: Key should contain 2 or more space separated parts (key type, base64-encoded key, optional comments), not 1)",
                ));
            }
            if w.sshkeys.iter().any(|(_, k)| *k == key) {
                return Err(form_err(
                    "__all__",
                    "This key has already been added for this user.",
                ));
            }
            let id = w.id();
            w.sshkeys.push((id, key));
            ok(render(w.sshkeys.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn sshkey(w: &mut World, method: &Method, op: Option<&str>, id: &str) -> R {
    let i = w
        .sshkeys
        .iter()
        .position(|(k, _)| k.to_string() == id)
        .ok_or_else(|| not_found("SSHKey"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(json!({"id": w.sshkeys[i].0, "key": w.sshkeys[i].1})),
        ("DELETE", None) => {
            w.sshkeys.remove(i);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn repo_json(r: &Repo) -> Value {
    json!({"id": r.id, "name": r.name, "url": r.url, "distributions": r.distributions, "components": r.components,
        "arches": r.arches, "key": r.key, "enabled": r.enabled, "disabled_pockets": [], "disabled_components": [],
        "disable_sources": true, "resource_uri": format!("/MAAS/api/2.0/package-repositories/{}/", r.id)})
}

fn list_param(p: &Form, k: &str) -> Vec<String> {
    p.all(k)
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn repos(w: &mut World, method: &Method, op: Option<&str>, p: &Form) -> R {
    match (method.as_str(), op) {
        ("GET", None) => ok(json!(w.repos.iter().map(repo_json).collect::<Vec<_>>())),
        ("POST", None) => {
            let name = p
                .get("name")
                .ok_or_else(|| form_err("name", "This field is required."))?;
            let url = p
                .get("url")
                .ok_or_else(|| form_err("url", "This field is required."))?;
            if !(url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("ppa:"))
            {
                return Err(form_err("url", "Enter a valid URL."));
            }
            if w.repos.iter().any(|r| r.name == name) {
                return Err(form_err(
                    "name",
                    "Package repository with this Name already exists.",
                ));
            }
            let id = w.id();
            let arches = list_param(p, "arches");
            w.repos.push(Repo {
                id,
                name: name.into(),
                url: url.into(),
                distributions: list_param(p, "distributions"),
                components: list_param(p, "components"),
                arches: if arches.is_empty() {
                    vec!["amd64".into()]
                } else {
                    arches
                },
                key: p.get("key").unwrap_or("").into(),
                enabled: p.get("enabled").is_none_or(|_| p.bool("enabled")),
            });
            ok(repo_json(w.repos.last().unwrap()))
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}

fn repo(w: &mut World, method: &Method, op: Option<&str>, id: &str, p: &Form) -> R {
    let i = w
        .repos
        .iter()
        .position(|r| r.id.to_string() == id || r.name == id)
        .ok_or_else(|| not_found("PackageRepository"))?;
    match (method.as_str(), op) {
        ("GET", None) => ok(repo_json(&w.repos[i])),
        ("PUT", None) => {
            let r = &mut w.repos[i];
            if let Some(u) = p.get("url") {
                r.url = u.into();
            }
            if p.has("distributions") {
                r.distributions = list_param(p, "distributions");
            }
            if p.has("components") {
                r.components = list_param(p, "components");
            }
            if p.has("arches") {
                r.arches = list_param(p, "arches");
            }
            if let Some(k) = p.get("key") {
                r.key = k.into();
            }
            if p.has("enabled") {
                r.enabled = p.bool("enabled");
            }
            ok(repo_json(&w.repos[i]))
        }
        ("DELETE", None) => {
            w.repos.remove(i);
            no_content()
        }
        (_, None) => Err(not_allowed()),
        _ => Err(unrecognised(method, op)),
    }
}
