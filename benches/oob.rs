//! Benchmark: `drydock apply` of 50 nodes whose BMCs are real emulators on loopback, the
//! simulator as provisioner with no latency, at concurrency 1 and 10. OOB calls to different
//! BMCs run concurrently, so concurrency 10 should take about a tenth of the time of
//! concurrency 1.
//!
//! - Redfish: one sushy-emulator serving 50 systems (50 endpoints: address, port, system),
//!   each power change landing 1–2 s after it is asked for, as real BMCs take seconds.
//! - IPMI: 50 `ipmi_sim` instances. These answer in milliseconds, so the run measures how
//!   fast ipmitool processes can be spawned on this machine's cores rather than waiting.
//!
//! Needs the peers `./scripts/test.sh` installs. `cargo bench --bench oob`.

#[path = "../tests/peers_support/mod.rs"]
mod peers_support;

use std::process::Command;
use std::time::Instant;

const NODES: usize = 50;

/// `oob` for node `i`, and the header's oob type.
fn design(dir: &std::path::Path, kind: &str, oob: impl Fn(usize) -> String) {
    let t = String::from(
        "schema: drydock/Region/v1\nmetadata: {schema: metadata/Document/v1, name: oobbench}\ndata: {}\n---\nschema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: oob}\ndata: {cidr: 127.0.0.0/24}\n---\nschema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: pxe}\ndata: {cidr: 172.16.0.0/22}\n---\nschema: drydock/NetworkLink/v1\nmetadata: {schema: metadata/Document/v1, name: pxe-link}\ndata:\n  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe]\n---\nschema: drydock/HardwareProfile/v1\nmetadata: {schema: metadata/Document/v1, name: hw}\ndata: {boot_mode: bios}\n---\nschema: drydock/HostProfile/v1\nmetadata: {schema: metadata/Document/v1, name: base}\ndata:\n  hardware_profile: hw\n  primary_network: pxe\n  oob: {type: KIND, network: oob, account: admin, credential: 'env:BMC_BENCH_PASSWORD'}\n  platform: {image: focal, kernel: ga-20.04}\n  storage:\n    physical_devices:\n      sda:\n        partitions:\n          - {name: root, size: 30g, filesystem: {mountpoint: /}}\n  interfaces:\n    pxe: {device_link: pxe-link, slaves: [eno1], networks: [pxe]}\n---\nschema: drydock/BootAction/v1\nmetadata: {schema: metadata/Document/v1, name: motd}\ndata:\n  assets:\n    - {type: file, path: /etc/motd, permissions: '644', data: hi}\n",
    );
    let mut t = t.replace("KIND", kind);
    for i in 0..NODES {
        t.push_str(&format!(
            "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: n{i:02}}}\ndata:\n  host_profile: base\n  oob: {}\n  metadata: {{boot_mac: '{}'}}\n  addressing:\n    - {{network: oob, address: 127.0.0.1}}\n    - {{network: pxe, address: 172.16.1.{}}}\n",
            oob(i),
            peers_support::SushySystem::node(i as u8 + 1).mac,
            10 + i
        ));
    }
    std::fs::write(dir.join("site.yaml"), t).unwrap();
}

fn apply(dir: &std::path::Path, concurrency: usize) -> f64 {
    let state = dir.join(format!("state-{concurrency}"));
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args([
            "apply",
            "--auto-approve",
            "--progress",
            "none",
            "--bmc",
            "real",
            "--sim-time-scale",
            "0",
            "--color",
            "never",
        ])
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--rack-concurrency",
            &concurrency.to_string(),
        ])
        .arg(dir)
        .arg("--state")
        .arg(&state)
        .env("BMC_BENCH_PASSWORD", "password")
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Apply complete: {NODES}/{NODES} nodes")),
        "{text}"
    );
    secs
}

fn main() {
    // OOB_BENCH=redfish or ipmi runs one half.
    let which = std::env::var("OOB_BENCH").unwrap_or_default();
    if which != "ipmi" {
        redfish();
    }
    if which != "redfish" {
        ipmi();
    }
}

fn redfish() {
    // The same 50 systems, powered off again between the runs (a fresh emulator).
    let systems: Vec<_> = (1..=NODES as u8)
        .map(peers_support::SushySystem::node)
        .collect();
    let mut times = Vec::new();
    for c in [1, 10] {
        let s = peers_support::Sushy::start_with(&systems, peers_support::PowerDelay::Secs(2));
        let d = tempfile::tempdir().unwrap();
        let ca = s.ca_cert.display().to_string();
        design(d.path(), "redfish", |i| {
            format!(
                "{{port: {}, system: node-{:02}, ca_bundle: '{ca}'}}",
                s.port,
                i + 1
            )
        });
        times.push(apply(d.path(), c));
    }
    println!(
        "Redfish, {NODES} systems: concurrency 1 {:.2} s, concurrency 10 {:.2} s, ratio {:.1}x",
        times[0],
        times[1],
        times[0] / times[1]
    );
}

fn ipmi() {
    let bmcs: Vec<_> = (0..NODES)
        .map(|i| peers_support::IpmiSim::start(&format!("bmc-{i:02}")))
        .collect();
    let d = tempfile::tempdir().unwrap();
    design(d.path(), "ipmi", |i| format!("{{port: {}}}", bmcs[i].port));
    let c1 = apply(d.path(), 1);
    for b in &bmcs {
        b.set_power(false);
    }
    let c10 = apply(d.path(), 10);
    println!(
        "IPMI, {NODES} ipmi_sim: concurrency 1 {c1:.2} s, concurrency 10 {c10:.2} s, ratio {:.1}x (bounded by spawning ipmitool on {} cores)",
        c1 / c10,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
