//! Writes a valid, realistic Drydock site design of any size, for load tests and benchmarks.
//!
//! ```text
//! cargo run --release --example generate_site -- --nodes N --out DIR [--racks-size 40 | --rack-layout 5,40,200] [--seed S] [--layered]
//! ```
//!
//! The site is modelled on `designs/demo`: a Region, racks of `--racks-size` nodes (one Rack
//! document each, with ToR switches and a location), networks oob/pxe/mgmt/storage/public sized
//! to hold every node, an oob link, a pxe link and an LACP bond trunking the rest, a hardware
//! profile, host profiles `base -> compute -> {storage, gateway}` and two boot actions (one for
//! all nodes, one for the `dpdk` tag, so no node goes untargeted). Node `r001n01` is node 1 of
//! rack `r001`; each has static addresses on oob, pxe, mgmt and storage (and public for the
//! rack's gateway, its first node), a unique boot MAC and a unique BMC address; every eighth
//! node has a Redfish BMC, the rest IPMI.
//!
//! Layout: `DIR/site/*.yaml` holds everything but the nodes, `DIR/nodes/<rack>.yaml` holds one
//! rack's nodes, the way a design repository splits them. Stale `*.yaml` files in those two
//! directories are removed first, so a smaller site written over a larger one stays valid;
//! nothing else in `DIR` is touched.
//!
//! Address plan: the four private networks are equal, non-overlapping blocks at the start of
//! 10.0.0.0/8, each a power of two large enough for its ranges; public is a block at
//! 172.16.0.0. In every network the first 16 addresses are `reserved` (the gateway at offset 1,
//! DNS servers at 2 and 3), then a `static` range that holds the nodes' addresses (node `i` gets
//! offset `16 + i` in each network), then a `dhcp` range. So static addresses are unique, inside
//! their CIDR and outside every dhcp range by construction. ToR switches get addresses in
//! 10.192.0.0/12, outside every network.
//!
//! With `--layered` the same site is written as a Pegleg repository in the current layout:
//! `global/` (the LayeringPolicy, SoftwareVersions, a Script, and abstract hardware, host
//! profile and network documents), `type/foundry/` (an abstract profile that `merge .`s the
//! global one), and `site/gen/` (the site definition, CommonAddresses, a PublicKey and one
//! Passphrase per rack, and the site's documents: the base profile `merge .`s the type's and
//! `replace`s its interfaces and owner data, the hardware profile and the mgmt network merge
//! the global ones, the Region takes its keys and repositories, mgmt its DNS servers, a boot
//! action a script with the NTP server put in by pattern, and every node its BMC password by
//! substitution). `drydock validate DIR --site gen` renders and validates it.
//!
//! The output depends only on the arguments (no clock, no randomness beyond `--seed`, which
//! permutes the MACs and service tags). Standard library only.

use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The most nodes a site may have: four blocks of 2^21 addresses still fit in 10.0.0.0/8.
const MAX_NODES: u64 = 1_000_000;
/// Addresses at the start of every network kept out of the static and dhcp ranges.
const RESERVED: u32 = 16;
/// The site (Region) name, and the DNS domain of the primary network.
const SITE: &str = "gen";
const DOMAIN: &str = "gen.example.net";
/// The organisationally unique identifier of the boot NICs' MACs.
const OUI: &str = "b0:26:28";

struct Args {
    nodes: u64,
    out: PathBuf,
    rack_size: u64,
    /// Nodes per rack, in rack order (from `--rack-layout`, or `--racks-size` repeated).
    layout: Vec<u64>,
    seed: u64,
    layered: bool,
}

const USAGE: &str = "usage: generate_site --nodes N --out DIR [--racks-size 40 | --rack-layout 5,40,200] [--seed S] [--layered]";

fn parse_args() -> Result<Args, String> {
    let mut nodes = None;
    let mut out = None;
    let mut rack_size = 40;
    let mut layout: Option<Vec<u64>> = None;
    let mut seed = 0;
    let mut layered = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
        if arg == "--layered" {
            layered = true;
            continue;
        }
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String, flag: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a whole number"))
        };
        match flag.as_str() {
            "--nodes" => nodes = Some(number(value()?, &flag)?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--racks-size" | "--rack-size" => rack_size = number(value()?, &flag)?,
            "--seed" => seed = number(value()?, &flag)?,
            "--rack-layout" => {
                layout = Some(
                    value()?
                        .split(',')
                        .map(|v| number(v.trim().to_string(), &flag))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    // A layout gives the node count; --nodes, if also given, must agree.
    let nodes = match (&layout, nodes) {
        (Some(l), Some(n)) if l.iter().sum::<u64>() != n => {
            return Err(format!(
                "--rack-layout adds up to {} nodes, --nodes says {n}",
                l.iter().sum::<u64>()
            ));
        }
        (Some(l), _) => l.iter().sum(),
        (None, n) => n.ok_or("--nodes is required")?,
    };
    let out = out.ok_or("--out is required")?;
    if nodes == 0 || nodes > MAX_NODES {
        return Err(format!("--nodes must be in 1..={MAX_NODES}"));
    }
    if rack_size == 0 || rack_size > 999 {
        return Err("--racks-size must be in 1..=999".into());
    }
    if nodes.div_ceil(rack_size) > 100_000 {
        return Err("at most 100000 racks: raise --racks-size".into());
    }
    let layout = match layout {
        Some(l) if l.iter().any(|&n| n == 0 || n > 999) => {
            return Err("--rack-layout: every rack holds 1..=999 nodes".into());
        }
        Some(l) => l,
        None => (0..nodes.div_ceil(rack_size))
            .map(|r| rack_size.min(nodes - r * rack_size))
            .collect(),
    };
    Ok(Args {
        nodes,
        out,
        rack_size,
        layout,
        seed,
        layered,
    })
}

/// An IPv4 address as a number, so address plans are arithmetic.
#[derive(Clone, Copy)]
struct Ip(u32);

impl Ip {
    const fn new(a: u8, b: u8, c: u8, d: u8) -> Ip {
        Ip(u32::from_be_bytes([a, b, c, d]))
    }
    fn add(self, n: u32) -> Ip {
        Ip(self.0.checked_add(n).expect("address plan overflows IPv4"))
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// One network's address plan: `reserved`, then `static` (one address per holder), then `dhcp`.
struct Plan {
    base: Ip,
    /// Block size in addresses, a power of two.
    size: u32,
    static_len: u32,
    dhcp_len: u32,
}

impl Plan {
    /// The smallest block (at least a /24) that holds the ranges and a broadcast address.
    fn block_for(holders: u32, dhcp_len: u32) -> u32 {
        let static_len = static_len(holders);
        (RESERVED + static_len + dhcp_len + 1)
            .next_power_of_two()
            .max(256)
    }
    fn new(base: Ip, size: u32, holders: u32, dhcp_len: u32) -> Plan {
        let p = Plan {
            base,
            size,
            static_len: static_len(holders),
            dhcp_len,
        };
        assert!(
            RESERVED + p.static_len + p.dhcp_len < size,
            "block too small"
        );
        assert_eq!(base.0 % size, 0, "block not aligned");
        p
    }
    fn prefix(&self) -> u32 {
        32 - self.size.trailing_zeros()
    }
    fn gateway(&self) -> Ip {
        self.base.add(1)
    }
    /// The static address of holder `i` (0-based).
    fn host(&self, i: u32) -> Ip {
        debug_assert!(i < self.static_len);
        self.base.add(RESERVED + i)
    }
    fn ranges(&self, y: &mut String) {
        let reserved = (self.base.add(1), self.base.add(RESERVED - 1));
        let stat = (
            self.base.add(RESERVED),
            self.base.add(RESERVED + self.static_len - 1),
        );
        let dhcp_start = RESERVED + self.static_len;
        let dhcp = (
            self.base.add(dhcp_start),
            self.base.add(dhcp_start + self.dhcp_len - 1),
        );
        y.push_str("  ranges:\n");
        for (kind, (start, end)) in [("reserved", reserved), ("static", stat), ("dhcp", dhcp)] {
            let _ = write!(
                y,
                "    - type: {kind}\n      start: {start}\n      end: {end}\n"
            );
        }
    }
}

/// Static ranges leave room to grow: a multiple of 64 addresses.
fn static_len(holders: u32) -> u32 {
    holders.next_multiple_of(64)
}

/// splitmix64: a small, well-mixed, deterministic hash for MACs and service tags.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Role of node `j` (1-based) in its rack: the first is the rack's gateway, every fifth a
/// storage node, the rest compute.
fn role(j: u64) -> &'static str {
    if j == 1 {
        "gateway"
    } else if j.is_multiple_of(5) {
        "storage"
    } else {
        "compute"
    }
}

struct Site {
    args: Args,
    racks: u64,
    /// Index of each rack's first node.
    starts: Vec<u64>,
    rack_width: usize,
    node_width: usize,
    oob: Plan,
    pxe: Plan,
    mgmt: Plan,
    storage: Plan,
    public: Plan,
}

impl Site {
    fn new(args: Args) -> Site {
        let n = u32::try_from(args.nodes).expect("checked by parse_args");
        let racks = args.layout.len() as u64;
        let gateways = u32::try_from(racks).expect("checked by parse_args");
        // pxe hands out addresses to machines while they commission: a larger dhcp range.
        let pxe_dhcp = (n / 4).next_multiple_of(64).max(64);
        let block = Plan::block_for(n, pxe_dhcp).max(Plan::block_for(n, 64));
        let private = |k: u32| Ip::new(10, 0, 0, 0).add(k * block);
        let public_block = Plan::block_for(gateways, 64);
        let starts = args
            .layout
            .iter()
            .scan(0, |acc, &n| {
                let s = *acc;
                *acc += n;
                Some(s)
            })
            .collect();
        Site {
            starts,
            rack_width: racks.to_string().len().max(3),
            node_width: args
                .layout
                .iter()
                .max()
                .map_or(2, |m| m.to_string().len().max(2)),
            oob: Plan::new(private(0), block, n, 64),
            pxe: Plan::new(private(1), block, n, pxe_dhcp),
            mgmt: Plan::new(private(2), block, n, 64),
            storage: Plan::new(private(3), block, n, 64),
            public: Plan::new(Ip::new(172, 16, 0, 0), public_block, gateways, 64),
            racks,
            args,
        }
    }

    fn rack_name(&self, r: u64) -> String {
        format!("r{:0w$}", r + 1, w = self.rack_width)
    }

    fn header(&self, y: &mut String, what: &str) {
        let a = &self.args;
        let racks = if a.layout.iter().all(|&n| n == a.rack_size)
            || a.layout.len() as u64 == a.nodes.div_ceil(a.rack_size)
                && a.layout[..a.layout.len() - 1]
                    .iter()
                    .all(|&n| n == a.rack_size)
        {
            format!("--racks-size {}", a.rack_size)
        } else {
            let l: Vec<String> = a.layout.iter().map(u64::to_string).collect();
            format!("--rack-layout {}", l.join(","))
        };
        let _ = writeln!(
            y,
            "# {what}\n# Generated by `cargo run --example generate_site -- --nodes {} \
             {racks} --seed {}`: do not edit.",
            a.nodes, a.seed
        );
    }

    fn envelope(&self, y: &mut String, kind: &str, name: &str) {
        self.envelope_with(y, kind, name, &[], None, "");
    }

    /// A drydock document's head: `labels` besides `site`, a `layeringDefinition` (its lines,
    /// indented four spaces; `None`: a concrete site document when layered, none otherwise)
    /// and `substitutions` (their lines, indented four spaces), then `data:`.
    fn envelope_with(
        &self,
        y: &mut String,
        kind: &str,
        name: &str,
        labels: &[(&str, &str)],
        layering: Option<&str>,
        substitutions: &str,
    ) {
        let _ = write!(
            y,
            "---\nschema: drydock/{kind}/v1\nmetadata:\n  schema: metadata/Document/v1\n  \
             name: {name}\n  storagePolicy: cleartext\n  labels:\n    site: {SITE}\n"
        );
        for (k, v) in labels {
            let _ = writeln!(y, "    {k}: {v}");
        }
        match layering {
            Some(l) => {
                let _ = write!(y, "  layeringDefinition:\n{l}");
            }
            None if self.args.layered => {
                y.push_str("  layeringDefinition:\n    abstract: false\n    layer: site\n");
            }
            None => {}
        }
        if !substitutions.is_empty() {
            let _ = write!(y, "  substitutions:\n{substitutions}");
        }
        y.push_str("data:\n");
    }

    fn site_definition(&self) -> String {
        let mut y = String::new();
        self.header(
            &mut y,
            "Pegleg's site definition: not a drydock document, so drydock skips it.",
        );
        let _ = write!(
            y,
            "---\nschema: pegleg/SiteDefinition/v1\nmetadata:\n  schema: metadata/Document/v1\n  \
             name: {SITE}\n  storagePolicy: cleartext\n  layeringDefinition:\n    abstract: false\n    \
             layer: site\ndata:\n"
        );
        if !self.args.layered {
            // The 2018 layout's revision; a layered repository uses the current layout.
            y.push_str("  revision: v1.0\n");
        }
        y.push_str("  site_type: foundry\n");
        y
    }

    fn region(&self) -> String {
        let mut y = String::new();
        self.header(&mut y, "The Region: its name is the site's name.");
        if self.args.layered {
            // Real sites take the keys and the repositories from other documents.
            self.envelope_with(
                &mut y,
                "Region",
                SITE,
                &[],
                None,
                concat!(
                    "    - src: {schema: deckhand/PublicKey/v1, name: operator-ssh-key, path: .}\n",
                    "      dest: {path: '.authorized_keys[0]'}\n",
                    "    - src: {schema: pegleg/SoftwareVersions/v1, name: software-versions, path: .packages.repositories}\n",
                    "      dest: {path: .repositories}\n",
                ),
            );
            y.push_str(TAG_DEFINITIONS);
            return y;
        }
        self.envelope(&mut y, "Region", SITE);
        y.push_str(TAG_DEFINITIONS);
        let _ = writeln!(y, "  authorized_keys:\n    - '{OPERATOR_KEY}'");
        y.push_str(concat!(
            "  repositories:\n",
            "    remove_unlisted: true\n",
            "    ubuntu:\n",
            "      repo_type: apt\n",
            "      url: 'http://mirror.gen.example.net/ubuntu'\n",
            "      distributions:\n        - focal\n        - focal-updates\n        - focal-security\n",
            "      components:\n        - main\n        - restricted\n        - universe\n",
            "      arches:\n        - amd64\n",
        ));
        y
    }

    fn networks(&self) -> String {
        // Layered: mgmt inherits its MTU and domain from the global layer and takes its DNS
        // servers from the site's CommonAddresses.
        let layered_mgmt = self.args.layered;
        let mut y = String::new();
        self.header(
            &mut y,
            "Layer 3: reserved, static and dhcp ranges that do not overlap.",
        );
        let net = |y: &mut String, name: &str, p: &Plan, vlan: Option<&str>, mtu: u32| {
            if layered_mgmt && name == "mgmt" {
                self.envelope_with(
                    y,
                    "Network",
                    name,
                    &[],
                    Some("    abstract: false\n    layer: site\n    parentSelector:\n      network: mgmt-global\n    actions:\n      - {method: merge, path: .}\n"),
                    "    - src: {schema: pegleg/CommonAddresses/v1, name: common-addresses, path: .dns.upstream_servers_joined}\n      dest: {path: .dns.servers}\n",
                );
            } else {
                self.envelope(y, "Network", name);
            }
            let _ = writeln!(y, "  cidr: {}/{}", p.base, p.prefix());
            if let Some(v) = vlan {
                let _ = writeln!(y, "  vlan: '{v}'");
            }
            if !(layered_mgmt && name == "mgmt") {
                let _ = writeln!(y, "  mtu: {mtu}");
            }
            p.ranges(y);
        };
        let route = |y: &mut String, subnet: &str, gw: Ip, metric: u32| {
            let _ = write!(
                y,
                "  routes:\n    - subnet: {subnet}\n      gateway: {gw}\n      metric: {metric}\n"
            );
        };
        net(&mut y, "oob", &self.oob, None, 1500);
        route(&mut y, "10.250.10.0/24", self.oob.gateway(), 100);

        net(&mut y, "pxe", &self.pxe, None, 1500);
        route(&mut y, "10.250.20.0/24", self.pxe.gateway(), 100);
        let _ = write!(
            y,
            "  dhcp_relay:\n    self_ip: {}\n    upstream_target: 10.250.20.10\n",
            self.pxe.gateway()
        );

        net(&mut y, "mgmt", &self.mgmt, Some("102"), 1500);
        route(&mut y, "0.0.0.0/0", self.mgmt.gateway(), 10);
        if !layered_mgmt {
            let _ = write!(
                y,
                "  dns:\n    domain: {DOMAIN}\n    servers: '{},{}'\n",
                self.mgmt.base.add(2),
                self.mgmt.base.add(3)
            );
        }

        net(&mut y, "storage", &self.storage, Some("103"), 9000);
        let _ = write!(
            y,
            "  routedomain: storage\n  routes:\n    - routedomain: storage\n      gateway: {}\n      metric: 10\n",
            self.storage.gateway()
        );

        net(&mut y, "public", &self.public, Some("104"), 1500);
        route(&mut y, "198.51.100.0/24", self.public.gateway(), 100);
        y
    }

    fn links(&self) -> String {
        let mut y = String::new();
        self.header(&mut y, "Layer 1 and 2.");
        for (name, net) in [("oob", "oob"), ("pxe", "pxe")] {
            self.envelope(&mut y, "NetworkLink", name);
            let _ = write!(
                y,
                "  bonding:\n    mode: disabled\n  mtu: 1500\n  linkspeed: auto\n  trunking:\n    \
                 mode: disabled\n    default_network: {net}\n  allowed_networks:\n    - {net}\n"
            );
        }
        self.envelope(&mut y, "NetworkLink", "gp");
        y.push_str(concat!(
            "  bonding:\n    mode: 802.3ad\n    hash: layer3+4\n    peer_rate: fast\n",
            "    mon_rate: 100\n    up_delay: 1000\n    down_delay: 3000\n",
            "  mtu: 9000\n  linkspeed: 25000full\n  trunking:\n    mode: 802.1q\n",
            "  allowed_networks:\n    - mgmt\n    - storage\n    - public\n",
            "  labels:\n    switch_profile: lacp-fast\n",
        ));
        y
    }

    fn hardware(&self) -> String {
        let mut y = String::new();
        self.header(&mut y, "The one server model of the site.");
        if self.args.layered {
            // The model is described in the global layer; the site pins its BIOS version.
            self.envelope_with(
                &mut y,
                "HardwareProfile",
                "dell_r740",
                &[],
                Some("    abstract: false\n    layer: site\n    parentSelector:\n      hardware: dell_r740-global\n    actions:\n      - {method: merge, path: .}\n"),
                "",
            );
            y.push_str("  bios_version: '2.12.2'\n");
            return y;
        }
        self.envelope(&mut y, "HardwareProfile", "dell_r740");
        y.push_str(HARDWARE);
        y.push_str("  bios_version: '2.12.2'\n");
        y
    }

    fn profiles(&self) -> String {
        let mut y = String::new();
        self.header(
            &mut y,
            "Host profiles: base -> compute -> {storage, gateway}.",
        );
        if self.args.layered {
            // Global → type → site: the site replaces the interfaces and the owner data.
            self.envelope_with(
                &mut y,
                "HostProfile",
                "base",
                &[],
                Some("    abstract: false\n    layer: site\n    parentSelector:\n      hosttype: base-foundry\n    actions:\n      - {method: merge, path: .}\n      - {method: replace, path: .interfaces}\n      - {method: replace, path: .metadata.owner_data}\n"),
                "",
            );
            y.push_str(BASE_INTERFACES);
            y.push_str(
                "  metadata:\n    owner_data:\n      site: gen\n      managed_by: drydock\n",
            );
        } else {
            self.envelope(&mut y, "HostProfile", "base");
            y.push_str(BASE_PROFILE);
            y.push_str(BASE_INTERFACES);
        }
        self.envelope(&mut y, "HostProfile", "compute");
        y.push_str(concat!(
            "  host_profile: base\n",
            "  storage:\n    volume_groups:\n      vg_local:\n        logical_volumes:\n",
            "          - name: var_lib\n            size: 60%\n",
            "            filesystem:\n              mountpoint: '/var/lib'\n              fstype: xfs\n",
            "  platform:\n    kernel_params:\n",
            "      hugepagesz: 'hardwareprofile:hugepages.dpdk.size'\n",
            "      hugepages: 'hardwareprofile:hugepages.dpdk.count'\n",
            "      default_hugepagesz: '1G'\n",
            "      isolcpus: 'hardwareprofile:cpuset.kvm'\n",
            "      transparent_hugepage: never\n",
            "  metadata:\n    tags:\n      - compute\n      - dpdk\n    owner_data:\n      role: compute\n",
        ));
        self.envelope(&mut y, "HostProfile", "storage");
        y.push_str(concat!(
            "  host_profile: compute\n",
            "  storage:\n    physical_devices:\n      datadisk:\n        labels:\n          role: ceph\n",
            "        volume_group: vg_ceph\n",
            "    volume_groups:\n      vg_ceph:\n        logical_volumes:\n",
            "          - name: ceph_osd\n            size: 95%\n",
            "            filesystem:\n              mountpoint: '/var/lib/ceph/osd'\n              fstype: xfs\n",
            "              mount_options: 'noatime,inode64'\n",
            "  platform:\n    kernel_params:\n",
            "      '!hugepagesz': null\n      '!hugepages': null\n",
            "      '!default_hugepagesz': null\n      '!isolcpus': null\n",
            "  metadata:\n    tags:\n      - ceph-osd\n      - '!dpdk'\n    owner_data:\n      role: storage\n",
        ));
        self.envelope(&mut y, "HostProfile", "gateway");
        y.push_str(concat!(
            "  host_profile: compute\n",
            "  interfaces:\n    bond0:\n      networks:\n        - public\n",
            "  metadata:\n    tags:\n      - gateway\n    owner_data:\n      role: gateway\n",
        ));
        y
    }

    fn rack_docs(&self) -> String {
        let mut y = String::new();
        self.header(&mut y, "Racks: ToR switches and floor location.");
        // ToR management addresses: outside every network of the site (10.192.0.0/12).
        let tor_base = Ip::new(10, 192, 0, 0);
        for r in 0..self.racks {
            let name = self.rack_name(r);
            self.envelope(&mut y, "Rack", &name);
            y.push_str("  tor_switches:\n");
            for t in 0..2u32 {
                let ip = tor_base.add(r as u32 * 4 + t + 1);
                let _ = write!(
                    y,
                    "    {name}-tor{}:\n      mgmt_ip: {ip}\n      sdn_api_uri: 'https://{ip}:8443/api'\n",
                    t + 1
                );
            }
            // Rows of 20 racks: grid AA01 .. ZZ20.
            let row = r / 20;
            let (a, b) = (b'A' + (row / 26 % 26) as u8, b'A' + (row % 26) as u8);
            let _ = write!(
                y,
                "  location:\n    clli: HSTNTXMOCG0\n    grid: {}{}{:02}\n  labels:\n    power_domain: pdu-{}\n",
                a as char,
                b as char,
                r % 20 + 1,
                r / 4 + 1
            );
        }
        y
    }

    fn boot_actions(&self) -> String {
        let mut y = String::new();
        self.header(
            &mut y,
            "Boot actions: one for every node, one for the dpdk nodes.",
        );
        if self.args.layered {
            // The chrony sources come from a pegleg/Script, with the NTP server put in.
            self.envelope_with(
                &mut y,
                "BootAction",
                "site-baseline",
                &[],
                None,
                concat!(
                    "    - src: {schema: pegleg/Script/v1, name: chrony-sources, path: .}\n",
                    "      dest: {path: '.assets[3].data'}\n",
                    "    - src: {schema: pegleg/CommonAddresses/v1, name: common-addresses, path: .ntp.servers_joined, pattern: '^([^,]+)', match_group: 1}\n",
                    "      dest: {path: '.assets[3].data', pattern: NTP_SERVER}\n",
                ),
            );
        } else {
            self.envelope(&mut y, "BootAction", "site-baseline");
        }
        y.push_str(concat!(
            "  signaling: true\n  assets:\n",
            "    - type: pkg_list\n      data:\n",
            "        chrony: '3.5-6ubuntu6.2'\n        lldpd: '1.0.4-1build2'\n",
            "        ipmitool: '1.8.18-8'\n        openssh-server: '1:8.2p1-4ubuntu0.5'\n        jq: null\n",
            "    - type: file\n      path: /etc/sysctl.d/60-site.conf\n      permissions: '644'\n",
            "      data: |\n        net.core.rmem_max = 16777216\n        net.core.wmem_max = 16777216\n",
            "        vm.swappiness = 10\n",
            "    - type: file\n      path: /etc/motd\n      permissions: '444'\n",
            "      data: |\n        {{ node.hostname }}: deployed by drydock.\n",
            "      data_pipeline:\n        - utf8_decode\n        - template\n",
            "    - type: file\n      path: /etc/chrony/sources.d/site.sources\n      permissions: '644'\n",
            "      data: |\n        server ntp1.gen.example.net iburst\n",
            "    - type: unit\n      path: /etc/systemd/system/lldpd-tune.service\n      permissions: '644'\n",
            "      data: |\n        [Unit]\n        Description=Advertise the system name over LLDP\n",
            "        After=lldpd.service\n\n        [Service]\n        Type=oneshot\n",
            "        ExecStart=/usr/sbin/lldpcli configure system hostname .\n",
            "        RemainAfterExit=yes\n\n        [Install]\n        WantedBy=multi-user.target\n",
        ));
        self.envelope(&mut y, "BootAction", "dpdk-setup");
        y.push_str(concat!(
            "  signaling: false\n",
            "  node_filter:\n    filter_set_type: union\n    filter_set:\n",
            "      - filter_type: union\n        node_tags:\n          - dpdk\n",
            "  assets:\n",
            "    - type: pkg_list\n      data:\n        dpdk: '19.11.14-0ubuntu0.20.04.1'\n        driverctl: '0.108-1'\n",
            "    - type: file\n      path: /etc/modules-load.d/vfio-pci.conf\n      permissions: '644'\n",
            "      data: |\n        vfio-pci\n",
        ));
        y
    }

    /// The nodes of rack `r` (0-based), in one file.
    fn rack_nodes(&self, r: u64, y: &mut String) {
        let rack = self.rack_name(r);
        let _ = writeln!(y, "# Rack {rack}.");
        let first = self.starts[r as usize];
        let last = first + self.args.layout[r as usize];
        let seed = self.args.seed;
        for i in first..last {
            let j = i - first + 1;
            let name = format!("{rack}n{:0w$}", j, w = self.node_width);
            let role = role(j);
            if self.args.layered {
                // Each node's BMC password comes from its rack's Passphrase.
                let subs = format!(
                    "    - src: {{schema: deckhand/Passphrase/v1, name: {rack}-bmc-password, path: .}}\n      dest: {{path: .oob.credential}}\n"
                );
                self.envelope_with(y, "BaremetalNode", &name, &[], None, &subs);
            } else {
                self.envelope(y, "BaremetalNode", &name);
            }
            let _ = writeln!(y, "  host_profile: {role}");
            if i % 8 == 7 {
                y.push_str("  oob:\n    type: redfish\n    network: oob\n    account: drydock\n");
                if !self.args.layered {
                    y.push_str("    credential: 'file:/etc/drydock/secrets/redfish-password'\n");
                }
            }
            let k = i as u32;
            let _ = write!(
                y,
                "  addressing:\n    - network: oob\n      address: {}\n    - network: pxe\n      address: {}\n    \
                 - network: mgmt\n      address: {}\n    - network: storage\n      address: {}\n",
                self.oob.host(k),
                self.pxe.host(k),
                self.mgmt.host(k),
                self.storage.host(k)
            );
            if role == "gateway" {
                let _ = write!(
                    y,
                    "    - network: public\n      address: {}\n",
                    self.public.host(r as u32)
                );
            }
            // An odd multiplier is a bijection modulo 2^24: unique MACs for up to 16M nodes.
            let m = i.wrapping_mul(0x9E_3779).wrapping_add(seed ^ 0x4E_1A10) & 0xFF_FFFF;
            let tag = service_tag(mix(seed ^ (i << 20) ^ 0x5EED));
            let _ = write!(
                y,
                "  metadata:\n    rack: {rack}\n    boot_mac: '{OUI}:{:02x}:{:02x}:{:02x}'\n    \
                 owner_data:\n      service_tag: '{tag}'\n",
                m >> 16,
                (m >> 8) & 0xFF,
                m & 0xFF
            );
        }
    }
}

/// The hardware profile's data, all but its BIOS version.
const HARDWARE: &str = concat!(
    "  vendor: Dell\n  generation: '14'\n  hw_version: '3'\n",
    "  boot_mode: uefi\n  bootstrap_protocol: pxe\n  pxe_interface: 0\n",
    "  device_aliases:\n",
    "    data_nic01:\n      address: '0000:3b:00.0'\n",
    "      dev_type: 'Ethernet Controller XXV710 for 25GbE SFP28'\n      bus_type: pci\n",
    "    data_nic02:\n      address: '0000:3b:00.1'\n",
    "      dev_type: 'Ethernet Controller XXV710 for 25GbE SFP28'\n      bus_type: pci\n",
    "    bootdisk:\n      address: '0:2.0.0'\n      dev_type: 'PERC H740P'\n      bus_type: scsi\n",
    "    datadisk:\n      address: '0:2.1.0'\n      dev_type: 'PERC H740P'\n      bus_type: scsi\n",
    "  cpu_sets:\n    kvm: '4-23,28-47,52-71,76-95'\n",
    "  hugepages:\n    dpdk:\n      size: '1G'\n      count: 32\n",
);

/// The Region's tag definitions.
const TAG_DEFINITIONS: &str = concat!(
    "  tag_definitions:\n",
    "    - tag: high_memory\n",
    "      definition_type: lshw_xpath\n",
    "      definition: '//node[@id=\"memory\"]/size[@units=\"bytes\"] > 274877906944'\n",
);

/// The operator's SSH key.
const OPERATOR_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEds0+Wf+vLAeH+EvFVlQT0Q1+qKOFzHETnXfRAfsnw9 operator@demo.example.net";

/// The global base profile's data (the flat site's `base`, without its interfaces).
const BASE_PROFILE: &str = concat!(
    "  hardware_profile: dell_r740\n  primary_network: mgmt\n",
    "  oob:\n    type: ipmi\n    network: oob\n    account: root\n    credential: 'env:BMC_PASSWORD'\n",
    "  storage:\n    physical_devices:\n      bootdisk:\n        labels:\n          role: boot\n",
    "        partitions:\n",
    "          - name: root\n            size: 30g\n            bootable: true\n",
    "            filesystem:\n              mountpoint: '/'\n              fstype: ext4\n              mount_options: defaults\n",
    "          - name: boot\n            size: 1g\n",
    "            filesystem:\n              mountpoint: '/boot'\n              fstype: ext4\n              mount_options: defaults\n",
    "          - name: efi\n            size: 512m\n",
    "            filesystem:\n              mountpoint: '/boot/efi'\n              fstype: vfat\n",
    "          - name: pv_local\n            size: '>100g'\n            volume_group: vg_local\n",
    "    volume_groups:\n      vg_local:\n        logical_volumes:\n",
    "          - name: var_log\n            size: 20%\n",
    "            filesystem:\n              mountpoint: '/var/log'\n              fstype: xfs\n",
    "  platform:\n    image: focal\n    kernel: ga-20.04\n    kernel_params:\n",
    "      console: 'ttyS1,115200n8'\n      intel_iommu: 'on'\n      iommu: pt\n      quiet: true\n",
    "  metadata:\n    owner_data:\n      site: gen\n      managed_by: drydock\n",
);

/// The base profile's interfaces.
const BASE_INTERFACES: &str = concat!(
    "  interfaces:\n",
    "    pxe:\n      device_link: pxe\n      slaves:\n        - eno1\n      networks:\n        - pxe\n",
    "    bond0:\n      device_link: gp\n      slaves:\n        - data_nic01\n        - data_nic02\n",
    "      networks:\n        - mgmt\n        - storage\n",
);

/// A Dell-style 7-character service tag.
fn service_tag(mut h: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXYZ";
    (0..7)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Creates `dir` and removes the `*.yaml` files a previous run left in it.
fn fresh_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "yaml") {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

impl Site {
    /// The documents of the global and type layers and the site's other tools' documents
    /// (`--layered`): `(path under DIR, text)`.
    fn layered_extras(&self) -> Vec<(PathBuf, String)> {
        let head = |what: &str| {
            let mut y = String::new();
            self.header(&mut y, what);
            y
        };
        let doc = |y: &mut String, schema: &str, name: &str, layer: &str, extra: &str| {
            let _ = write!(
                y,
                "---\nschema: {schema}\nmetadata:\n  schema: metadata/Document/v1\n  name: {name}\n  \
                 storagePolicy: cleartext\n{extra}  layeringDefinition:\n    abstract: false\n    layer: {layer}\n"
            );
        };
        let mut out = Vec::new();

        let mut y = head("Deckhand's layer order.");
        y.push_str("---\nschema: deckhand/LayeringPolicy/v1\nmetadata:\n  schema: metadata/Control/v1\n  name: layering-policy\ndata:\n  layerOrder:\n    - global\n    - type\n    - site\n");
        out.push(("global/layering-policy.yaml".into(), y));

        let mut y = head("Software versions, substituted into the Region.");
        doc(
            &mut y,
            "pegleg/SoftwareVersions/v1",
            "software-versions",
            "global",
            "",
        );
        y.push_str(concat!(
            "data:\n  packages:\n    repositories:\n      remove_unlisted: true\n      ubuntu:\n",
            "        repo_type: apt\n        url: 'http://mirror.gen.example.net/ubuntu'\n",
            "        distributions:\n          - focal\n          - focal-updates\n          - focal-security\n",
            "        components:\n          - main\n          - restricted\n          - universe\n",
        ));
        out.push(("global/software.yaml".into(), y));

        let mut y = head("Scripts, substituted into boot actions.");
        doc(&mut y, "pegleg/Script/v1", "chrony-sources", "global", "");
        y.push_str("data: |\n  server NTP_SERVER iburst\n");
        out.push(("global/scripts.yaml".into(), y));

        let mut y = head("The server model, abstract: the site's hardware profile merges it.");
        self.envelope_with(
            &mut y,
            "HardwareProfile",
            "dell_r740-global",
            &[("hardware", "dell_r740-global")],
            Some("    abstract: true\n    layer: global\n"),
            "",
        );
        y.push_str(HARDWARE);
        out.push(("global/hardware.yaml".into(), y));

        let mut y = head("The base host profile, abstract: the type layer merges it.");
        self.envelope_with(
            &mut y,
            "HostProfile",
            "base-global",
            &[("hosttype", "base-global")],
            Some("    abstract: true\n    layer: global\n"),
            "",
        );
        y.push_str(BASE_PROFILE);
        y.push_str(BASE_INTERFACES);
        out.push(("global/profiles.yaml".into(), y));

        let mut y = head("The management network's settings shared by every site.");
        self.envelope_with(
            &mut y,
            "Network",
            "mgmt-global",
            &[("network", "mgmt-global")],
            Some("    abstract: true\n    layer: global\n"),
            "",
        );
        let _ = write!(y, "  mtu: 1500\n  dns:\n    domain: {DOMAIN}\n");
        out.push(("global/networks.yaml".into(), y));

        let mut y = head("The foundry type: the base profile with the type's kernel settings.");
        self.envelope_with(
            &mut y,
            "HostProfile",
            "base-foundry",
            &[("hosttype", "base-foundry")],
            Some("    abstract: true\n    layer: type\n    parentSelector:\n      hosttype: base-global\n    actions:\n      - {method: merge, path: .}\n"),
            "",
        );
        y.push_str("  platform:\n    kernel_params:\n      numa_balancing: disable\n");
        out.push(("type/foundry/profiles.yaml".into(), y));

        let mut y = head("Addresses every document of the site shares.");
        doc(
            &mut y,
            "pegleg/CommonAddresses/v1",
            "common-addresses",
            "site",
            "",
        );
        let _ = write!(
            y,
            "data:\n  dns:\n    upstream_servers_joined: '{},{}'\n  ntp:\n    servers_joined: 'ntp1.{DOMAIN},ntp2.{DOMAIN}'\n",
            self.mgmt.base.add(2),
            self.mgmt.base.add(3)
        );
        out.push(("site/gen/common-addresses.yaml".into(), y));

        let mut y = head("Secrets: the operator's key and one BMC password per rack.");
        doc(
            &mut y,
            "deckhand/PublicKey/v1",
            "operator-ssh-key",
            "site",
            "",
        );
        let _ = writeln!(y, "data: '{OPERATOR_KEY}'");
        for r in 0..self.racks {
            let rack = self.rack_name(r);
            let pw = service_tag(mix(self.args.seed ^ (r << 8) ^ 0xB3C));
            doc(
                &mut y,
                "deckhand/Passphrase/v1",
                &format!("{rack}-bmc-password"),
                "site",
                "",
            );
            let _ = writeln!(y, "data: {pw}-{rack}");
        }
        out.push(("site/gen/secrets.yaml".into(), y));
        out
    }
}

/// Counts what is written.
struct Writer {
    files: usize,
    bytes: u64,
}

impl Writer {
    fn put(&mut self, path: PathBuf, text: &str) -> io::Result<()> {
        fs::write(path, text)?;
        self.files += 1;
        self.bytes += text.len() as u64;
        Ok(())
    }

    /// The site's documents in `site_dir`, one file per rack's nodes in `nodes_dir`.
    fn site(&mut self, site: &Site, site_dir: &Path, nodes_dir: &Path) -> io::Result<()> {
        let docs = [
            ("site-definition.yaml", site.site_definition()),
            ("region.yaml", site.region()),
            ("networks.yaml", site.networks()),
            ("links.yaml", site.links()),
            ("hardware.yaml", site.hardware()),
            ("profiles.yaml", site.profiles()),
            ("racks.yaml", site.rack_docs()),
            ("bootactions.yaml", site.boot_actions()),
        ];
        for (name, text) in docs {
            self.put(site_dir.join(name), &text)?;
        }
        let mut y = String::with_capacity(64 * 1024);
        for r in 0..site.racks {
            y.clear();
            site.rack_nodes(r, &mut y);
            self.put(nodes_dir.join(format!("{}.yaml", site.rack_name(r))), &y)?;
        }
        Ok(())
    }
}

/// A flat site: `DIR/site/` and `DIR/nodes/`; with `--layered` a Pegleg repository:
/// `global/`, `type/foundry/`, `site/gen/` (nodes in `site/gen/baremetal/<rack>.yaml`).
fn write(site: &Site) -> io::Result<(usize, u64)> {
    let out = &site.args.out;
    let mut w = Writer { files: 0, bytes: 0 };
    if site.args.layered {
        let site_dir = out.join("site").join(SITE);
        let nodes_dir = site_dir.join("baremetal");
        for d in [
            out.join("global"),
            out.join("type").join("foundry"),
            site_dir.clone(),
            nodes_dir.clone(),
        ] {
            fresh_dir(&d)?;
        }
        for (path, text) in site.layered_extras() {
            w.put(out.join(path), &text)?;
        }
        w.site(site, &site_dir, &nodes_dir)?;
    } else {
        let (site_dir, nodes_dir) = (out.join("site"), out.join("nodes"));
        fresh_dir(&site_dir)?;
        fresh_dir(&nodes_dir)?;
        w.site(site, &site_dir, &nodes_dir)?;
    }
    Ok((w.files, w.bytes))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let site = Site::new(args);
    match write(&site) {
        Ok((files, bytes)) => {
            eprintln!(
                "wrote {} nodes in {} racks to {}: {files} files, {:.1} MB in {:.3} s",
                site.args.nodes,
                site.racks,
                site.args.out.display(),
                bytes as f64 / 1e6,
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing {}: {e}", site.args.out.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(nodes: u64, layered: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let site = Site::new(Args {
            nodes,
            out: d.path().to_path_buf(),
            rack_size: 40,
            layout: (0..nodes.div_ceil(40))
                .map(|r| 40.min(nodes - r * 40))
                .collect(),
            seed: 7,
            layered,
        });
        write(&site).unwrap();
        d
    }

    fn findings(path: &Path) -> (drydock::design::Design, Vec<drydock::diag::Finding>) {
        let design = drydock::design::load(&[path.to_path_buf()]).unwrap();
        let report = drydock::validate::validate(
            &design,
            &drydock::validate::Options {
                catalog: Some(drydock::validate::Catalog::simulator()),
                ..Default::default()
            },
        );
        (design, report.findings)
    }

    #[test]
    fn both_layouts_validate_clean_and_say_the_same() {
        let flat = generate(90, false);
        let layered = generate(90, true);
        let (fd, ff) = findings(flat.path());
        let (ld, lf) = findings(&layered.path().join("site").join(SITE));
        assert!(ff.is_empty(), "{ff:#?}");
        assert!(lf.is_empty(), "{lf:#?}");
        assert!(ld.provenance.is_some(), "the layered site was rendered");
        assert_eq!(fd.documents.len(), ld.documents.len());
        // The rendered base profile carries the type layer's kernel parameter and the global
        // layer's storage; every node's credential came from the secret store.
        let base = ld.documents.iter().find(|d| d.name.v == "base").unwrap();
        assert!(
            base.data
                .at(&["platform", "kernel_params", "numa_balancing"])
                .is_some()
        );
        assert!(
            base.data
                .at(&["storage", "physical_devices", "bootdisk"])
                .is_some()
        );
        let site = drydock::model::build(&ld);
        assert!(site.nodes.iter().all(|n| {
            n.config
                .oob
                .credential
                .as_ref()
                .is_some_and(|c| ld.from_secret_store(c.loc))
        }));
        let mgmt = site.network("mgmt").unwrap();
        assert_eq!(
            mgmt.dns_servers.as_ref().map(|s| s.v.as_str()),
            fd.documents
                .iter()
                .find(|d| d.name.v == "mgmt")
                .and_then(|d| d.data.at(&["dns", "servers"]))
                .and_then(|s| s.as_str())
        );
    }
}
