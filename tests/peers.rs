//! The BMC peer harness itself (`tests/peers_support`): sushy-emulator starts with TLS that a
//! client verifies against the generated CA (curl's OpenSSL and this crate's rustls), enforces
//! basic auth, and keeps state across a restart; ipmi_sim powers and sets the boot device through
//! ipmitool, rejects a wrong password, and keeps its chassis state across a restart. The drivers
//! are tested elsewhere; this only proves the peers they are tested against behave as the
//! harness says. Each test takes at most about two seconds (power changes use
//! `PowerDelay::Secs(0)`).

mod peers_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use peers_support::*;
use serde_json::json;

const ADMIN: (&str, &str) = ("admin", "password");

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[test]
fn free_ports_are_never_handed_out_twice() {
    let tcp: Vec<u16> = (0..50).map(|_| free_tcp_port()).collect();
    let udp: Vec<u16> = (0..50).map(|_| free_udp_port()).collect();
    let mut all = [tcp, udp].concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100);
}

#[test]
fn sushy_serves_redfish_over_verified_tls_with_basic_auth() {
    let mut on = SushySystem::node(2);
    on.power_on = true;
    let sushy = Sushy::start(&[SushySystem::node(1), on]);

    // The service root is open; everything else needs the credentials.
    assert_eq!(sushy.request("GET", "/redfish/v1", None, None).status, 200);
    assert_eq!(
        sushy
            .request("GET", "/redfish/v1/Systems", None, None)
            .status,
        401
    );
    let wrong = sushy.request("GET", "/redfish/v1/Systems", Some(("admin", "wrong")), None);
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(
        wrong.body.contains("Incorrect username or password"),
        "{}",
        wrong.body
    );

    let systems = sushy.get_json("/redfish/v1/Systems");
    assert_eq!(systems["Members@odata.count"], 2, "{systems:#}");

    // By name: a 307 to the UUID URL, which curl follows.
    let by_name = sushy.request("GET", "/redfish/v1/Systems/node-02", Some(ADMIN), None);
    assert_eq!(by_name.status, 200);
    let v: serde_json::Value = serde_json::from_str(&by_name.body).unwrap();
    assert_eq!(v["UUID"], sushy.system("node-02").uuid);
    assert_eq!(sushy.power_state("node-01"), "Off");
    assert_eq!(sushy.power_state("node-02"), "On");
    let nics = sushy.get_json(&format!(
        "{}/EthernetInterfaces",
        sushy.system_path("node-01")
    ));
    let nic = sushy.get_json(nics["Members"][0]["@odata.id"].as_str().unwrap());
    assert_eq!(nic["MACAddress"], "52:54:00:00:00:01", "{nic:#}");

    // Verification is real: without the generated CA the certificate is refused.
    let untrusted = Command::new("curl")
        .args(["--silent", "--show-error"])
        .arg(format!("{}/redfish/v1", sushy.url()))
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!untrusted.status.success(), "{}", stdout(&untrusted));
    assert!(
        stderr(&untrusted).contains("certificate"),
        "{}",
        stderr(&untrusted)
    );
}

/// The CA and certificate suit rustls, which refuses a self-signed CA certificate as a server's
/// own (`CaUsedAsEndEntity`); this is the client the Redfish driver builds.
#[tokio::test]
async fn sushy_certificate_verifies_with_rustls() {
    let sushy = Sushy::start(&[SushySystem::node(1)]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(&sushy.ca_cert).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/redfish/v1/Systems", sushy.url()))
        .basic_auth(&sushy.user, Some(&sushy.password))
        .send()
        .await
        .unwrap_or_else(|e| panic!("rustls refused the emulator: {e:?}"));
    assert_eq!(r.status(), 200);
}

#[test]
fn sushy_power_and_boot_override_survive_a_restart() {
    let mut sushy = Sushy::start_with(&[SushySystem::node(1)], PowerDelay::Secs(0));
    let system = sushy.system_path("node-01");
    let reset = sushy.request(
        "POST",
        &format!("{system}/Actions/ComputerSystem.Reset"),
        Some(ADMIN),
        Some(&json!({"ResetType": "On"})),
    );
    assert_eq!(reset.status, 204, "{}", reset.body);
    sushy.wait_power_state("node-01", "On", Duration::from_secs(3));
    let patch = sushy.request(
        "PATCH",
        &system,
        Some(ADMIN),
        Some(&json!({"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}})),
    );
    assert_eq!(patch.status, 204, "{}", patch.body);
    assert_eq!(sushy.boot("node-01")["BootSourceOverrideTarget"], "Pxe");

    sushy.kill();
    assert!(!sushy.is_running());
    let port = sushy.port;
    sushy.restart();
    assert_eq!(sushy.port, port);
    assert_eq!(sushy.power_state("node-01"), "On");
    assert_eq!(sushy.boot("node-01")["BootSourceOverrideTarget"], "Pxe");
}

#[test]
fn ipmi_sim_powers_on_off_and_cycles() {
    let sim = IpmiSim::start("bmc-01");
    assert!(!sim.power());
    let status = sim.ipmitool(&["chassis", "power", "status"]);
    assert_eq!(
        stdout(&status),
        "Chassis Power is off",
        "{}",
        stderr(&status)
    );

    let on = sim.ipmitool(&["chassis", "power", "on"]);
    assert!(on.status.success(), "{}", stderr(&on));
    assert_eq!(stdout(&on), "Chassis Power Control: Up/On");
    assert!(sim.power());
    assert_eq!(
        stdout(&sim.ipmitool(&["chassis", "power", "status"])),
        "Chassis Power is on"
    );

    // A cycle is off now, on again a second later.
    let cycle = sim.ipmitool(&["chassis", "power", "cycle"]);
    assert_eq!(
        stdout(&cycle),
        "Chassis Power Control: Cycle",
        "{}",
        stderr(&cycle)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !sim.chassis_calls().iter().any(|c| c == "set power 1") || !sim.power() {
        assert!(
            std::time::Instant::now() < deadline,
            "calls: {:?}",
            sim.chassis_calls()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let calls = sim.chassis_calls();
    let sets: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("set"))
        .collect();
    assert_eq!(sets, ["set power 1", "set power 0", "set power 1"]);

    let off = sim.ipmitool(&["chassis", "power", "off"]);
    assert_eq!(
        stdout(&off),
        "Chassis Power Control: Down/Off",
        "{}",
        stderr(&off)
    );
    assert!(!sim.power());
}

#[test]
fn ipmi_sim_sets_the_boot_device() {
    let sim = IpmiSim::start("bmc-01");
    assert_eq!(sim.boot(), "none");
    let pxe = sim.ipmitool(&["chassis", "bootdev", "pxe"]);
    assert_eq!(stdout(&pxe), "Set Boot Device to pxe", "{}", stderr(&pxe));
    assert_eq!(sim.boot(), "pxe");
    let disk = sim.ipmitool(&["chassis", "bootdev", "disk"]);
    assert!(disk.status.success(), "{}", stderr(&disk));
    assert_eq!(sim.boot(), "default");
    let efi = sim.ipmitool(&["chassis", "bootdev", "pxe", "options=efiboot"]);
    assert!(efi.status.success(), "{}", stderr(&efi));
    assert_eq!(sim.boot(), "pxe");
}

#[test]
fn ipmi_sim_rejects_a_wrong_password() {
    let sim = IpmiSim::start("bmc-01");
    let out = sim
        .ipmitool_cmd("admin", "wrong")
        .args(["chassis", "power", "on"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: Unable to establish IPMI v2 / RMCP+ session"
    );
    // Only -v tells it apart from a BMC that does not answer.
    let verbose = sim
        .ipmitool_cmd("admin", "wrong")
        .args(["-v", "chassis", "power", "on"])
        .output()
        .unwrap();
    assert!(
        stderr(&verbose).contains("RAKP 2 HMAC is invalid"),
        "{}",
        stderr(&verbose)
    );
    assert!(!sim.power());
}

#[test]
fn ipmi_sim_keeps_its_chassis_state_across_a_restart() {
    let mut sim = IpmiSim::start("bmc-01");
    sim.set_power(true);
    assert_eq!(
        stdout(&sim.ipmitool(&["chassis", "power", "status"])),
        "Chassis Power is on"
    );
    sim.kill();
    assert!(!sim.is_running());
    let dead = sim.ipmitool(&["-N", "1", "-R", "1", "chassis", "power", "status"]);
    assert_eq!(dead.status.code(), Some(1));
    sim.restart();
    assert!(sim.power());
    assert_eq!(
        stdout(&sim.ipmitool(&["chassis", "power", "status"])),
        "Chassis Power is on"
    );
}
