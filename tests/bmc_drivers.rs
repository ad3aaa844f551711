//! The Redfish and IPMI drivers against real BMC emulators on loopback (sushy-emulator with
//! TLS and basic auth, OpenIPMI's ipmi_sim), and `drydock apply` end to end with the simulator
//! as provisioner and those BMCs as the nodes' BMCs.

mod apply_support;
mod peers_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use drydock::driver::ipmi::{Ipmi, IpmiOptions};
use drydock::driver::redfish::{Redfish, RedfishOptions};
use drydock::driver::{
    BootDevice, DriverError, NodeSpec, OobDriver, OobKind, OobSpec, PowerAction, Progress, Secret,
};
use drydock::model::observed::Power;
use drydock::spec::HardwareSpec;
use peers_support::{IpmiSim, PowerDelay, Sushy, SushySystem};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A node whose BMC is at 127.0.0.1:`port`.
fn node(name: &str, kind: OobKind, port: u16, password: &str) -> NodeSpec {
    // The password travels as a literal here (tests); apply resolves env:/file: references.
    NodeSpec {
        name: name.into(),
        fingerprint: "fp".into(),
        hardware: HardwareSpec {
            boot_mode: Some("uefi".into()),
            ..HardwareSpec::default()
        },
        oob: OobSpec {
            kind: Some(kind),
            address: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: Some(port),
            account: Some("admin".into()),
            credential: Some(Secret::new(password)),
            ..OobSpec::default()
        },
        ..NodeSpec::default()
    }
}

fn redfish_node(s: &Sushy, system: &str, password: &str) -> NodeSpec {
    let mut n = node(system, OobKind::Redfish, s.port, password);
    n.oob.system = Some(system.into());
    n.oob.ca_bundle = Some(s.ca_cert.clone());
    n
}

/// Call `set_power` until it is done, as the executor polls, within `limit`.
async fn power(
    d: &dyn OobDriver,
    n: &NodeSpec,
    a: PowerAction,
    limit: Duration,
) -> Result<u32, DriverError> {
    let start = Instant::now();
    let mut calls = 0;
    loop {
        calls += 1;
        match d.set_power(n, a).await? {
            Progress::Done => return Ok(calls),
            Progress::Pending { after, .. } => {
                assert!(
                    start.elapsed() < limit,
                    "power {a:?} did not finish in {limit:?}"
                );
                tokio::time::sleep(after).await;
            }
        }
    }
}

#[test]
fn redfish_power_cycle_and_pxe_override() {
    let s = Sushy::start_with(
        &[SushySystem::node(1), SushySystem::node(2)],
        PowerDelay::Secs(0),
    );
    let rf = Redfish::new(RedfishOptions {
        poll: Duration::from_millis(200),
        ..Default::default()
    });
    let n = redfish_node(&s, "node-01", &s.password);
    rt().block_on(async {
        assert_eq!(rf.power_state(&n).await.unwrap(), Power::Off);
        power(&rf, &n, PowerAction::Cycle, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(rf.power_state(&n).await.unwrap(), Power::On);
        // On is on: nothing to do.
        assert_eq!(
            rf.set_power(&n, PowerAction::On).await.unwrap(),
            Progress::Done
        );
        assert_eq!(
            rf.set_boot_device(&n, BootDevice::Pxe).await.unwrap(),
            Progress::Done
        );
        // Idempotent: set again, the same.
        assert_eq!(
            rf.set_boot_device(&n, BootDevice::Pxe).await.unwrap(),
            Progress::Done
        );
        power(&rf, &n, PowerAction::Off, Duration::from_secs(90))
            .await
            .unwrap();
    });
    assert_eq!(s.power_state("node-01"), "Off");
    assert_eq!(s.boot("node-01")["BootSourceOverrideTarget"], "Pxe");
    assert_eq!(s.boot("node-01")["BootSourceOverrideMode"], "UEFI");
    // The other system was not touched.
    assert_eq!(s.power_state("node-02"), "Off");
    assert_ne!(s.boot("node-02")["BootSourceOverrideTarget"], "Pxe");
}

#[test]
fn redfish_slow_power_transition_is_polled_until_it_lands() {
    // The emulator's own delay: a power change lands 1 to 11 s after the request.
    let s = Sushy::start(&[SushySystem::node(1)]);
    let rf = Redfish::new(RedfishOptions {
        poll: Duration::from_millis(500),
        ..Default::default()
    });
    let n = redfish_node(&s, "node-01", &s.password);
    let calls = rt()
        .block_on(power(&rf, &n, PowerAction::On, Duration::from_secs(30)))
        .unwrap();
    assert!(calls >= 2, "the transition was polled ({calls} calls)");
    assert_eq!(s.power_state("node-01"), "On");
}

#[test]
fn redfish_finds_the_system_by_boot_mac() {
    let s = Sushy::start_with(
        &[SushySystem::node(1), SushySystem::node(2)],
        PowerDelay::Secs(0),
    );
    let rf = Redfish::new(RedfishOptions::default());
    let mut n = redfish_node(&s, "node-02", &s.password);
    n.oob.system = None;
    n.boot_mac = Some(s.system("node-02").mac.to_uppercase());
    let inv = rt().block_on(rf.interrogate(&n)).unwrap();
    assert_eq!(inv.macs, vec![s.system("node-02").mac.to_lowercase()]);
    // Without a selector, several systems are an error that says what to set.
    n.boot_mac = None;
    let e = rt()
        .block_on(Redfish::new(RedfishOptions::default()).power_state(&n))
        .unwrap_err();
    assert!(
        !e.is_transient() && e.to_string().contains("oob.system"),
        "{e}"
    );
}

#[test]
fn redfish_wrong_password_is_permanent_and_names_no_secret() {
    let s = Sushy::start_with(&[SushySystem::node(1)], PowerDelay::Secs(0));
    let rf = Redfish::new(RedfishOptions::default());
    let n = redfish_node(&s, "node-01", "Wr0ngPassw0rd-xyz");
    let e = rt().block_on(rf.power_state(&n)).unwrap_err();
    assert!(!e.is_transient(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("rejected the credentials") && msg.contains("401"),
        "{msg}"
    );
    assert!(!msg.contains("Wr0ngPassw0rd-xyz"));
}

#[test]
fn redfish_unreachable_bmc_is_transient() {
    let port = peers_support::free_tcp_port();
    let rf = Redfish::new(RedfishOptions::default());
    let n = node("node-01", OobKind::Redfish, port, "x");
    let e = rt().block_on(rf.power_state(&n)).unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("cannot be reached"), "{e}");
}

#[test]
fn redfish_untrusted_certificate_is_permanent_with_a_hint() {
    let s = Sushy::start_with(&[SushySystem::node(1)], PowerDelay::Secs(0));
    let rf = Redfish::new(RedfishOptions::default());
    let mut n = redfish_node(&s, "node-01", &s.password);
    n.oob.ca_bundle = None;
    let e = rt().block_on(rf.power_state(&n)).unwrap_err();
    assert!(
        !e.is_transient() && e.to_string().contains("ca_bundle"),
        "{e}"
    );
    // Insecure works, with a warning.
    n.oob.insecure = true;
    assert_eq!(rt().block_on(rf.power_state(&n)).unwrap(), Power::Off);
}

#[test]
fn ipmi_power_and_boot_device() {
    let b = IpmiSim::start("bmc-01");
    let ipmi = Ipmi::new(IpmiOptions::default());
    let n = node("node-01", OobKind::Ipmi, b.port, &b.password);
    rt().block_on(async {
        assert_eq!(ipmi.power_state(&n).await.unwrap(), Power::Off);
        assert_eq!(
            ipmi.set_power(&n, PowerAction::Cycle).await.unwrap(),
            Progress::Done
        );
        assert!(b.power(), "a cycle of a machine that is off powers it on");
        assert_eq!(ipmi.power_state(&n).await.unwrap(), Power::On);
        ipmi.set_power(&n, PowerAction::On).await.unwrap();
        assert_eq!(
            ipmi.set_boot_device(&n, BootDevice::Pxe).await.unwrap(),
            Progress::Done
        );
        assert_eq!(b.boot(), "pxe");
        ipmi.set_power(&n, PowerAction::Off).await.unwrap();
        assert!(!b.power());
        ipmi.interrogate(&n).await.unwrap();
    });
}

#[test]
fn ipmi_wrong_password_is_permanent_and_unreachable_is_transient() {
    let b = IpmiSim::start("bmc-01");
    let ipmi = Ipmi::new(IpmiOptions {
        timeout_secs: 1,
        retries: 1,
        ..Default::default()
    });
    let n = node("node-01", OobKind::Ipmi, b.port, "Wr0ngPassw0rd-xyz");
    let e = rt().block_on(ipmi.power_state(&n)).unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(
        e.to_string().contains("rejected the session")
            && !e.to_string().contains("Wr0ngPassw0rd-xyz"),
        "{e}"
    );
    let n = node(
        "node-01",
        OobKind::Ipmi,
        peers_support::free_udp_port(),
        &b.password,
    );
    let e = rt().block_on(ipmi.power_state(&n)).unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[test]
fn ipmi_password_is_not_on_the_command_line() {
    // ipmitool gets the password through IPMI_PASSWORD (-E): `ps` shows no -P.
    let b = IpmiSim::start("bmc-01");
    let fake = tempfile::tempdir().unwrap();
    let log = fake.path().join("args");
    let script = fake.path().join("ipmitool");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nexec ipmitool \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ipmi = Ipmi::new(IpmiOptions {
        ipmitool: script.display().to_string(),
        ..Default::default()
    });
    let n = node("node-01", OobKind::Ipmi, b.port, &b.password);
    rt().block_on(ipmi.power_state(&n)).unwrap();
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(
        args.contains("-E") && !args.contains("-P") && !args.contains(&b.password),
        "{args}"
    );
}

/// The lab's site, networks and profiles (BMC password from `BMC_TEST_PASSWORD`).
const LAB_BASE: &str = "schema: drydock/Region/v1\nmetadata: {schema: metadata/Document/v1, name: bmclab}\ndata: {}\n---\nschema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: oob}\ndata: {cidr: 127.0.0.0/24}\n---\nschema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: pxe}\ndata: {cidr: 172.16.1.0/24}\n---\nschema: drydock/NetworkLink/v1\nmetadata: {schema: metadata/Document/v1, name: pxe-link}\ndata:\n  trunking: {mode: disabled, default_network: pxe}\n  allowed_networks: [pxe]\n---\nschema: drydock/HardwareProfile/v1\nmetadata: {schema: metadata/Document/v1, name: hw}\ndata: {boot_mode: uefi}\n---\nschema: drydock/HostProfile/v1\nmetadata: {schema: metadata/Document/v1, name: base}\ndata:\n  hardware_profile: hw\n  primary_network: pxe\n  oob: {network: oob, account: admin, credential: 'env:BMC_TEST_PASSWORD'}\n  platform: {image: focal, kernel: ga-20.04}\n  storage:\n    physical_devices:\n      sda:\n        partitions:\n          - {name: root, size: 30g, filesystem: {mountpoint: /}}\n  interfaces:\n    pxe: {device_link: pxe-link, slaves: [eno1], networks: [pxe]}\n---\nschema: drydock/BootAction/v1\nmetadata: {schema: metadata/Document/v1, name: motd}\ndata:\n  assets:\n    - {type: file, path: /etc/motd, permissions: '644', data: hi}\n";

/// A design of four nodes: two Redfish systems behind one sushy, two ipmi_sim BMCs.
fn lab_design(dir: &Path, s: &Sushy, b1: &IpmiSim, b2: &IpmiSim) {
    let node = |name: &str, oob: String, mac: &str, ip: &str| {
        format!(
            "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: {name}}}\ndata:\n  host_profile: base\n  oob: {oob}\n  metadata: {{boot_mac: '{mac}'}}\n  addressing:\n    - {{network: oob, address: 127.0.0.1}}\n    - {{network: pxe, address: {ip}}}\n"
        )
    };
    let mut text = String::from(LAB_BASE);
    let ca = s.ca_cert.display();
    for (i, sys) in ["node-01", "node-02"].iter().enumerate() {
        let oob = format!(
            "{{type: redfish, port: {}, system: {sys}, ca_bundle: '{ca}'}}",
            s.port
        );
        text.push_str(&node(
            sys,
            oob,
            &s.system(sys).mac,
            &format!("172.16.1.{}", 11 + i),
        ));
    }
    for (i, b) in [b1, b2].iter().enumerate() {
        let oob = format!("{{type: ipmi, port: {}}}", b.port);
        text.push_str(&node(
            &format!("ipmi-0{}", i + 1),
            oob,
            &format!("52:54:00:00:01:0{}", i + 1),
            &format!("172.16.1.{}", 21 + i),
        ));
    }
    std::fs::write(dir.join("site.yaml"), text).unwrap();
}

fn drydock() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drydock"));
    c.env("BMC_TEST_PASSWORD", "password");
    c
}

/// `drydock apply` of `design` with real BMC drivers and a fast simulator.
fn apply_cmd(design: &Path, state: &Path, time_scale: &str, retries: &str) -> Command {
    let mut c = drydock();
    c.args([
        "apply",
        "--auto-approve",
        "--progress",
        "plain",
        "--bmc",
        "real",
        "--color",
        "never",
    ])
    .args(["--sim-time-scale", time_scale, "--retries", retries])
    .arg(design)
    .arg("--state")
    .arg(state);
    c
}

fn apply(design: &Path, state: &Path) -> std::process::Output {
    apply_cmd(design, state, "0.001", "2").output().unwrap()
}

#[test]
fn apply_end_to_end_with_redfish_and_ipmi_bmcs() {
    let s = Sushy::start_with(
        &[SushySystem::node(1), SushySystem::node(2)],
        PowerDelay::Secs(1),
    );
    let (b1, b2) = (IpmiSim::start("bmc-01"), IpmiSim::start("bmc-02"));
    let d = tempfile::tempdir().unwrap();
    lab_design(d.path(), &s, &b1, &b2);
    let state = d.path().join("state");
    let out = apply(d.path(), &state);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Apply complete: 4/4 nodes"), "{text}");
    assert!(
        !text.contains("password\n") && !text.contains(":password"),
        "no credential in output"
    );
    // The BMCs were really driven: powered on, one-time PXE boot set.
    for sys in ["node-01", "node-02"] {
        assert_eq!(s.power_state(sys), "On", "{sys}");
        assert_eq!(s.boot(sys)["BootSourceOverrideTarget"], "Pxe", "{sys}");
    }
    for b in [&b1, &b2] {
        assert!(b.power());
        assert_eq!(b.boot(), "pxe");
    }
    // And a plan afterwards has nothing to do.
    let p = drydock()
        .args(["plan", "--detailed-exitcode", "--color", "never"])
        .arg(d.path())
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        p.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&p.stdout)
    );
}

#[test]
fn a_bmc_that_dies_mid_apply_fails_its_node_and_the_rerun_resumes() {
    let mut s = Sushy::start_with(
        &[SushySystem::node(1), SushySystem::node(2)],
        PowerDelay::Secs(1),
    );
    let (b1, b2) = (IpmiSim::start("bmc-01"), IpmiSim::start("bmc-02"));
    let d = tempfile::tempdir().unwrap();
    lab_design(d.path(), &s, &b1, &b2);
    let state = d.path().join("state");
    // Kill the Redfish BMC while the apply runs: when a Redfish node starts its power cycle
    // (the power change takes the emulator a second), as the plain progress says.
    let mut w = apply_support::Watched::spawn(apply_cmd(d.path(), &state, "0.002", "1"));
    assert!(
        w.wait_for(Duration::from_secs(120), |l| l
            .ends_with("node-01: PrepareNode/power_cycle")),
        "node-01 reached its power cycle: {:?}",
        w.lines
    );
    s.kill();
    let (status, text, lines) = w.finish();
    assert_eq!(status.code(), Some(1), "{status:?} {text}{lines:?}");
    assert!(
        text.contains("FAILED") && text.contains("cannot be reached"),
        "{text}"
    );
    // The IPMI nodes were not held back by the Redfish ones.
    assert!(
        text.contains("ipmi-01   deployed") || text.contains("ipmi-01  deployed"),
        "{text}"
    );
    // The BMC comes back; the rerun does only what is left.
    s.restart();
    let out = apply(d.path(), &state);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the two Redfish nodes had work left; what succeeded before is skipped.
    assert!(
        text.contains("Apply complete: 2/2 nodes") && text.contains("skipped (done before)"),
        "{text}"
    );
    assert!(
        !text.contains("ipmi-01 will be deployed"),
        "the IPMI nodes are not redone:\n{text}"
    );
    assert!(
        text.contains("failed in an earlier apply at PrepareNode"),
        "the plan says why: {text}"
    );
    for sys in ["node-01", "node-02"] {
        assert_eq!(s.power_state(sys), "On", "{sys}");
    }
    let p = drydock()
        .args(["plan", "--detailed-exitcode", "--color", "never"])
        .arg(d.path())
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        p.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&p.stdout)
    );
}

/// A BMC that echoes the login in its 500 error page: the password, `user:password` and the
/// Basic header's base64 appear nowhere drydock writes — standard output and error (with
/// debug logs), the journal, the simulator's world, a saved plan.
#[test]
fn a_bmc_that_echoes_the_login_leaks_nothing() {
    let bmc = peers_support::LeakyBmc::start();
    let d = tempfile::tempdir().unwrap();
    let password = "Tr0ub4dor&3-leak-canary";
    let mut text = String::from(LAB_BASE);
    text.push_str(&format!(
        "---\nschema: drydock/BaremetalNode/v1\nmetadata: {{schema: metadata/Document/v1, name: leaky-01}}\ndata:\n  host_profile: base\n  oob: {{type: redfish, port: {}, ca_bundle: '{}'}}\n  metadata: {{boot_mac: '52:54:00:00:09:01'}}\n  addressing:\n    - {{network: oob, address: 127.0.0.1}}\n    - {{network: pxe, address: 172.16.1.31}}\n",
        bmc.port,
        bmc.ca_cert.display()
    ));
    std::fs::write(d.path().join("site.yaml"), text).unwrap();
    let state = d.path().join("state");
    let planfile = d.path().join("plan.json");
    let plan = drydock()
        .env("BMC_TEST_PASSWORD", password)
        .args(["plan", "--color", "never", "--out"])
        .arg(&planfile)
        .arg(d.path().join("site.yaml"))
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0));
    let out = apply_cmd(&d.path().join("site.yaml"), &state, "0.001", "1")
        .env("BMC_TEST_PASSWORD", password)
        .args(["-vv"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // The BMC's page did come back, redacted.
    assert!(
        stdout.contains("answered 500") && stdout.contains("(redacted)"),
        "{stdout}\n{}",
        bmc.log()
    );
    let forms = [
        password.to_string(),
        format!("admin:{password}"),
        base64_of(&format!("admin:{password}")),
    ];
    let mut places = vec![
        ("stdout".to_string(), stdout.to_string()),
        ("stderr".to_string(), stderr.to_string()),
        (
            "plan file".to_string(),
            std::fs::read_to_string(&planfile).unwrap(),
        ),
    ];
    for e in std::fs::read_dir(&state).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            places.push((
                p.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
            ));
        }
    }
    for (place, text) in &places {
        for f in &forms {
            assert!(!text.contains(f.as_str()), "{place} holds `{f}`:\n{text}");
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.join("journal.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the journal is private");
}

fn base64_of(s: &str) -> String {
    let out = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}
