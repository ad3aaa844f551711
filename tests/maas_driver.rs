//! The MAAS driver against the in-process MAAS fake (127.0.0.1 only): `drydock apply
//! designs/demo --provisioner maas` deploys every node with the designed network template,
//! interfaces, addresses, storage, OS, kernel and tags; a rerun only reads; a storage change
//! redeploys through release; `destroy` releases; PrepareSite is idempotent and leaves
//! foreign objects; MAAS's failure modes fail the node with MAAS's reason and a rerun
//! recovers; a 503 with Retry-After is retried; the key and BMC passwords never appear in
//! output; the requests follow MAAS's conventions whatever the fake accepts; signaling boot
//! actions are waited for through `--signal-listen` (the test plays the deployed OS with the
//! report URL and key from the user-data the fake received), a failure signal fails the node,
//! a wrong key is refused, and without the endpoint the apply is refused. The fake's clock
//! is the test's (driven explicitly, or scaled for the CLI runs): nothing sleeps.

mod maas_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drydock::driver::maas::{Maas, MaasOptions};
use drydock::driver::{NodeSpec, Progress, Provisioner, SiteDriver, SiteSpec};
use drydock::vocab::Secret;
use maas_support::{ClockMode, Faults, KEY, Running, SECRET, St, start};
use serde_json::Value;

const BMC_PASSWORD: &str = "bmc-Pa55word-never-shown";
const C01_PASSWORD: &str = "c01-Pa55word-never-shown";
const REDFISH_PASSWORD: &str = "redfish-Pa55word-never-shown";

/// `designs/demo` copied into `dir`, its Redfish password file moved into `dir` too, and its
/// signaling boot action made non-signaling (the signals have tests of their own:
/// `demo_signaling_in`).
fn demo_in(dir: &Path) -> std::path::PathBuf {
    let to = demo_signaling_in(dir);
    let p = to.join("bootactions.yaml");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("signaling: true", "signaling: false");
    std::fs::write(&p, t).unwrap();
    to
}

/// `designs/demo` as it is (every node has the signaling boot action `site-baseline`).
fn demo_signaling_in(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("demo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("designs/demo"),
        &to,
    );
    let pw = dir.join("redfish-password");
    std::fs::write(&pw, format!("{REDFISH_PASSWORD}\n")).unwrap();
    for f in ["nodes/rack-a.yaml", "nodes/rack-b.yaml"] {
        let p = to.join(f);
        let t = std::fs::read_to_string(&p).unwrap().replace(
            "file:/etc/drydock/secrets/redfish-password",
            &format!("file:{}", pw.display()),
        );
        std::fs::write(&p, t).unwrap();
    }
    to
}

fn drydock(f: &Running, state: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut c = assert_cmd::Command::cargo_bin("drydock").unwrap();
    c.args(args)
        .args(["--provisioner", "maas", "--maas-url", &f.url()])
        .args(["--maas-key", "env:MAAS_TEST_KEY", "--maas-poll-ms", "10"]);
    if args[0] != "validate" {
        c.arg("--state").arg(state);
    }
    c.env("MAAS_TEST_KEY", KEY)
        .env("BMC_PASSWORD", BMC_PASSWORD)
        .env("BMC_PASSWORD_C01", C01_PASSWORD)
        .env_remove("DRYDOCK_PROVISIONER")
        .timeout(Duration::from_secs(120));
    c.assert()
}

fn out(a: &assert_cmd::assert::Assert) -> String {
    let o = a.get_output();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn no_secrets(text: &str) {
    assert!(
        !text.contains(SECRET),
        "the MAAS key's secret leaked:\n{text}"
    );
    assert!(!text.contains(KEY), "the MAAS key leaked:\n{text}");
    for pw in [BMC_PASSWORD, C01_PASSWORD, REDFISH_PASSWORD] {
        assert!(!text.contains(pw), "a BMC password leaked:\n{text}");
    }
}

fn world(f: &Running) -> Value {
    f.with(|w| serde_json::to_value(&*w).unwrap())
}

#[test]
fn apply_deploys_the_demo_exactly_and_a_rerun_only_reads() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let demo = demo_in(dir.path());
    let demo = || demo.clone();
    let a = drydock(
        &f,
        &state,
        &[
            "apply",
            demo().to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
        ],
    );
    let text = out(&a);
    no_secrets(&text);
    assert!(a.get_output().status.success(), "{text}");
    let w = world(&f);
    let machines = w["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 8);
    for m in machines {
        assert_eq!(
            m["status"], 6,
            "{} is not Deployed: {}",
            m["hostname"], m["status_message"]
        );
        assert_eq!(m["osystem"], "ubuntu");
        assert_eq!(m["distro_series"], "focal");
        assert_eq!(m["hwe_kernel"], "ga-20.04");
        assert!(
            m["owner_data"]["drydock_fingerprint"]
                .as_str()
                .is_some_and(|f| !f.is_empty())
        );
        assert_eq!(m["owner_data"]["managed_by"], "drydock");
        assert!(
            m["power_type"]
                .as_str()
                .is_some_and(|p| p == "ipmi" || p == "redfish")
        );
        let pw = m["power_parameters"]["power_pass"].as_str().unwrap();
        assert!(
            [BMC_PASSWORD, C01_PASSWORD, REDFISH_PASSWORD].contains(&pw),
            "{pw}"
        );
        let ud = drydock::boot::cloudinit::base64_decode(m["user_data"].as_str().unwrap()).unwrap();
        let ud = String::from_utf8(ud).unwrap();
        assert!(ud.starts_with("#cloud-config"), "{ud}");
        assert!(ud.contains("/etc/sysctl.d/60-demo.conf"), "{ud}");
    }
    // The network template: a fabric per link, VLANs, subnets with gateway and DNS, ranges.
    let fabrics: Vec<&str> = w["fabrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for l in ["oob", "pxe", "gp"] {
        assert!(fabrics.contains(&l), "{fabrics:?}");
    }
    let gp = w["fabrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "gp")
        .unwrap()["id"]
        .clone();
    let vlan102 = w["vlans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["fabric"] == gp && v["vid"] == 102)
        .expect("VLAN 102 on gp");
    let mgmt = w["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cidr"] == "10.22.102.0/24")
        .unwrap();
    assert_eq!(mgmt["vlan"], vlan102["id"]);
    assert_eq!(mgmt["gateway_ip"], "10.22.102.1");
    assert_eq!(
        mgmt["dns_servers"],
        serde_json::json!(["10.22.102.5", "10.22.102.6"])
    );
    assert_eq!(vlan102["dhcp_on"], true);
    let ranges: Vec<(String, String)> = w["ipranges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["subnet"] == mgmt["id"])
        .map(|r| {
            (
                r["kind"].as_str().unwrap().into(),
                r["start"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        ranges.contains(&("dynamic".into(), "10.22.102.200".into())),
        "{ranges:?}"
    );
    assert!(
        ranges.contains(&("reserved".into(), "10.22.102.10".into())),
        "{ranges:?}"
    );
    assert!(
        ranges.contains(&("reserved".into(), "10.22.102.1".into())),
        "{ranges:?}"
    );
    // node-a01: a bond of the XXV710 ports with the link's settings, VLAN interfaces, static
    // addresses, the default gateway on mgmt, DHCP on pxe.
    let a01 = machines
        .iter()
        .find(|m| m["hostname"] == "node-a01")
        .unwrap();
    let ifaces = a01["interfaces"].as_array().unwrap();
    let bond = ifaces.iter().find(|i| i["name"] == "bond0").expect("bond0");
    assert_eq!(bond["kind"], "bond");
    assert_eq!(bond["params"]["bond_mode"], "802.3ad");
    assert_eq!(bond["params"]["bond_xmit_hash_policy"], "layer3+4");
    assert_eq!(bond["params"]["bond_lacp_rate"], "fast");
    assert_eq!(bond["params"]["bond_miimon"], 100);
    assert_eq!(bond["params"]["bond_updelay"], 1000);
    assert_eq!(bond["params"]["bond_downdelay"], 3000);
    assert_eq!(bond["mtu"], 9000);
    let parents: Vec<&str> = bond["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let id = p.as_u64().unwrap();
            ifaces.iter().find(|i| i["id"] == id).unwrap()["name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(parents, ["enp59s0f0", "enp59s0f1"]);
    let v102 = ifaces
        .iter()
        .find(|i| i["name"] == "bond0.102")
        .expect("bond0.102");
    let link = &v102["links"][0];
    assert_eq!(
        (
            link["mode"].as_str(),
            link["ip"].as_str(),
            link["default_gateway"].as_bool()
        ),
        (Some("static"), Some("10.22.102.11"), Some(true))
    );
    let pxe = ifaces
        .iter()
        .find(|i| i["name"] == "pxe")
        .expect("eno1 renamed pxe");
    assert_eq!(pxe["mac"], "b0:26:28:4e:1a:10");
    assert_eq!(pxe["links"][0]["mode"], "dhcp");
    // Storage: partitions, mounts, the volume group and its logical volumes.
    let mounts: Vec<String> = a01["blockdevices"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| {
            let mut v: Vec<String> = b["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["filesystem"]["mount_point"].as_str().map(str::to_string))
                .collect();
            v.extend(b["filesystem"]["mount_point"].as_str().map(str::to_string));
            v
        })
        .collect();
    for mp in ["/", "/boot", "/boot/efi", "/var/log", "/var/lib"] {
        assert!(
            mounts.iter().any(|m| m == mp),
            "{mp} not mounted: {mounts:?}"
        );
    }
    assert_eq!(a01["volume_groups"][0]["name"], "vg_local");
    let root = a01["blockdevices"][0]["partitions"][0].clone();
    // 30g is 30e9 bytes, aligned down to MAAS's 4 MiB.
    assert_eq!(root["size"], 30_000_000_000u64 / (4 << 20) * (4 << 20));
    assert!(root["bootable"].as_bool().unwrap());
    // Tags, and the kernel parameters as a tag's kernel_opts.
    let tags: Vec<&Value> = w["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["machines"]
                .as_array()
                .unwrap()
                .contains(&a01["system_id"])
        })
        .collect();
    let names: Vec<&str> = tags.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for t in ["compute", "dpdk", "gateway", "dd-kp-node-a01"] {
        assert!(names.contains(&t), "{names:?}");
    }
    let kp = tags.iter().find(|t| t["name"] == "dd-kp-node-a01").unwrap();
    assert!(
        kp["kernel_opts"]
            .as_str()
            .unwrap()
            .contains("intel_iommu=on"),
        "{}",
        kp["kernel_opts"]
    );
    // Every request followed MAAS's conventions, whatever the fake would have accepted.
    let log = f.requests();
    assert!(log.len() > 100);
    for r in &log {
        let partition_detail = r.path.contains("/partition/");
        assert!(r.path.starts_with("/MAAS/api/2.0/"), "{r:?}");
        assert!(
            r.path.ends_with('/') || partition_detail,
            "no trailing slash: {r:?}"
        );
        assert!(!r.keys.iter().any(|k| k == "op"), "op in a body: {r:?}");
        if r.method == "POST" || r.method == "PUT" {
            assert_eq!(
                r.content_type.as_deref(),
                Some("application/x-www-form-urlencoded"),
                "{r:?}"
            );
        }
        if r.path != "/MAAS/api/2.0/version/" {
            let h = r.authorization.as_deref().unwrap_or("");
            for p in [
                "OAuth realm=\"OAuth\"",
                "oauth_signature_method=\"PLAINTEXT\"",
                "oauth_nonce=",
                "oauth_timestamp=",
                "oauth_consumer_key=",
                "oauth_token=",
                "oauth_signature=\"%26",
            ] {
                assert!(h.contains(p), "{p} missing: {r:?}");
            }
        }
        assert!(r.status < 400, "a refused request: {r:?}");
    }
    let per_node = log.len() as f64 / 8.0;
    eprintln!("requests: {} in all, {per_node:.1} per node", log.len());
    // A rerun plans nothing and only reads.
    f.clear_log();
    let a = drydock(
        &f,
        &state,
        &[
            "apply",
            demo().to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
        ],
    );
    let text = out(&a);
    assert!(a.get_output().status.success(), "{text}");
    assert!(text.contains("No changes"), "{text}");
    let writes: Vec<_> = f
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    // status shows what MAAS shows.
    let a = drydock(&f, &state, &["status", demo().to_str().unwrap()]);
    let text = out(&a);
    no_secrets(&text);
    assert!(a.get_output().status.success(), "{text}");
    assert!(text.contains("Deployed"), "{text}");
}

#[test]
fn a_storage_change_redeploys_through_release_and_destroy_releases() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let design = demo_in(dir.path());
    let d = design.to_str().unwrap();
    let a = drydock(
        &f,
        &state,
        &["apply", d, "--auto-approve", "--progress", "plain"],
    );
    assert!(a.get_output().status.success(), "{}", out(&a));
    // Only the storage nodes' data-disk layout changes.
    let p = design.join("profiles.yaml");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("size: 95%", "size: 90%");
    std::fs::write(&p, t).unwrap();
    f.clear_log();
    let a = drydock(
        &f,
        &state,
        &["apply", d, "--auto-approve", "--progress", "plain"],
    );
    let text = out(&a);
    assert!(a.get_output().status.success(), "{text}");
    assert!(text.contains("-/+"), "{text}");
    let log = f.requests();
    let released: Vec<&str> = log
        .iter()
        .filter(|r| r.query.contains("op=release"))
        .map(|r| r.path.as_str())
        .collect();
    assert!(!released.is_empty(), "no release");
    let w = world(&f);
    let changed: Vec<&Value> = w["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            released
                .iter()
                .any(|p| p.contains(m["system_id"].as_str().unwrap()))
        })
        .collect();
    for m in &changed {
        assert_eq!(m["status"], 6);
        let vg = m["volume_groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "vg_ceph")
            .expect("vg_ceph");
        let _ = vg;
    }
    assert!(
        w["machines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == 6)
    );
    // An owner-data and tag change is made in place: no release, no deploy.
    let p = design.join("nodes/rack-a.yaml");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("service_tag: '4QXK2N4'", "service_tag: '4QXK2N9'")
        .replace("      - high_memory", "      - big_memory");
    std::fs::write(&p, t).unwrap();
    f.clear_log();
    let a = drydock(
        &f,
        &state,
        &["-vv", "apply", d, "--auto-approve", "--progress", "plain"],
    );
    let text = out(&a);
    no_secrets(&text);
    assert!(a.get_output().status.success(), "{text}");
    assert!(
        text.contains("~ node-a02 will be updated in place"),
        "{text}"
    );
    let log = f.requests();
    assert!(
        !log.iter()
            .any(|r| r.query.contains("op=release") || r.query.contains("op=deploy")),
        "{log:?}"
    );
    let w = world(&f);
    let a02 = w["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["hostname"] == "node-a02")
        .unwrap();
    assert_eq!(a02["owner_data"]["service_tag"], "4QXK2N9");
    let tagged = |t: &str| {
        w["tags"].as_array().unwrap().iter().any(|x| {
            x["name"] == t
                && x["machines"]
                    .as_array()
                    .unwrap()
                    .contains(&a02["system_id"])
        })
    };
    assert!(tagged("big_memory") && !tagged("high_memory"));
    assert_eq!(a02["status"], 6);
    // And the next apply plans nothing.
    let a = drydock(
        &f,
        &state,
        &["apply", d, "--auto-approve", "--progress", "plain"],
    );
    assert!(out(&a).contains("No changes"), "{}", out(&a));
    // destroy releases (with erase) and waits for Ready.
    let a = drydock(
        &f,
        &state,
        &[
            "destroy",
            d,
            "--node",
            "node-a02",
            "--auto-approve",
            "--progress",
            "plain",
        ],
    );
    assert!(a.get_output().status.success(), "{}", out(&a));
    assert_eq!(f.status_of("node-a02"), Some(St::READY));
    assert!(f.requests().iter().any(|r| r.query.contains("op=release")));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The demo's specs, for driving the driver directly.
fn specs() -> (SiteSpec, Vec<Arc<NodeSpec>>) {
    let dir = tempfile::tempdir().unwrap();
    // Leaked: the Redfish password file must outlive the specs.
    let dir = Box::leak(Box::new(dir));
    let loaded = drydock::cli::session::load_for(
        &[demo_in(dir.path())],
        &Default::default(),
        drydock::cli::ColorChoice::Never,
        drydock::vocab::Catalog::simulator(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    drydock::cli::boot_service::specs(&loaded.site)
}

fn driver(f: &Running) -> Maas {
    // SAFETY: tests in this file set the same values; no thread reads them concurrently with
    // a different value.
    unsafe {
        std::env::set_var("MAAS_DRIVER_TEST_KEY", KEY);
        std::env::set_var("BMC_PASSWORD", BMC_PASSWORD);
        std::env::set_var("BMC_PASSWORD_C01", C01_PASSWORD);
    }
    let mut o = MaasOptions::new(&f.url(), Secret::new("env:MAAS_DRIVER_TEST_KEY"));
    o.poll = Duration::from_millis(1);
    o.client.max_retry_after = Duration::from_millis(5);
    Maas::new(o).unwrap()
}

/// Call a step until it is done (the fake's clock moves `tick` per poll), or fails.
async fn until_done(
    f: &Running,
    tick: Duration,
    mut step: impl AsyncFnMut() -> drydock::driver::DriverResult<Progress>,
) -> drydock::driver::DriverResult<()> {
    for _ in 0..10_000 {
        match step().await? {
            Progress::Done => return Ok(()),
            Progress::Pending { .. } => f.advance(tick),
        }
    }
    panic!("the step never finished");
}

async fn prepare(m: &Maas, site: &SiteSpec) {
    assert_eq!(m.verify_services().await.unwrap(), Progress::Done);
    m.prepare_networks(site).await.unwrap();
    m.prepare_credentials(site).await.unwrap();
    m.prepare_images(site).await.unwrap();
}

async fn to_ready(f: &Running, m: &Maas, n: &NodeSpec) -> drydock::driver::DriverResult<()> {
    m.identify(n).await?;
    until_done(f, Duration::from_secs(10), || m.configure_hardware(n)).await
}

async fn configure(m: &Maas, n: &NodeSpec) {
    m.apply_networking(n).await.unwrap();
    m.apply_storage(n).await.unwrap();
    m.apply_platform(n).await.unwrap();
}

#[test]
fn prepare_site_is_idempotent_minimal_and_leaves_foreign_objects() {
    let f = start(ClockMode::Manual);
    let (mut site, _) = specs();
    // A route between two of the design's networks becomes a MAAS static route.
    let mgmt = site.networks.iter_mut().find(|n| n.name == "mgmt").unwrap();
    mgmt.routes.push(drydock::spec::RouteSpec {
        subnet: Some("10.22.103.0/24".into()),
        gateway: Some("10.22.102.1".parse().unwrap()),
        metric: Some(20),
        ..Default::default()
    });
    let raw = maas_support::Raw::new(f.addr);
    let a = raw.call(
        "POST",
        "/MAAS/api/2.0/fabrics/",
        &[("name", "someone-elses")],
    );
    assert_eq!(a.status, 200);
    let a = raw.call(
        "POST",
        "/MAAS/api/2.0/subnets/",
        &[("cidr", "192.168.77.0/24")],
    );
    assert_eq!(a.status, 200);
    let m = driver(&f);
    f.rt().block_on(prepare(&m, &site));
    let before = world(&f);
    f.clear_log();
    let m2 = driver(&f);
    f.rt().block_on(prepare(&m2, &site));
    let writes: Vec<_> = f
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "a second PrepareSite wrote: {writes:?}");
    let after = world(&f);
    assert_eq!(before["fabrics"], after["fabrics"]);
    // The plan lists what the design does not name (observed through the driver).
    let links: Vec<String> = site.links.iter().map(|l| l.name.clone()).collect();
    let cidrs: Vec<String> = site
        .networks
        .iter()
        .filter_map(|n| n.cidr.clone())
        .collect();
    let foreign = f
        .rt()
        .block_on(drydock::driver::Provisioner::foreign(&m2, &links, &cidrs))
        .unwrap();
    assert!(
        foreign.contains(&"MAAS fabric someone-elses".to_string())
            && foreign.contains(&"MAAS subnet 192.168.77.0/24".to_string()),
        "{foreign:?}"
    );
    assert!(
        !foreign
            .iter()
            .any(|o| links.iter().any(|l| o.ends_with(&format!(" {l}")))),
        "a designed link is not foreign: {foreign:?}"
    );
    assert!(
        after["fabrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "someone-elses")
    );
    assert!(
        after["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["cidr"] == "192.168.77.0/24")
    );
    // A subnet that differs is updated in place, not recreated.
    let id = after["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cidr"] == "10.22.102.0/24")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    raw.call(
        "PUT",
        &format!("/MAAS/api/2.0/subnets/{id}/"),
        &[("gateway_ip", "10.22.102.254")],
    );
    f.clear_log();
    f.rt().block_on(prepare(&driver(&f), &site));
    let writes: Vec<_> = f
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].path, format!("/MAAS/api/2.0/subnets/{id}/"));
    let w = world(&f);
    let routes = w["static_routes"].as_array().unwrap().clone();
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(
        (
            routes[0]["gateway_ip"].as_str(),
            routes[0]["metric"].as_u64()
        ),
        (Some("10.22.102.1"), Some(20))
    );
    // SSH keys and repositories are not duplicated either.
    assert_eq!(w["sshkeys"].as_array().unwrap().len(), site.ssh_keys.len());
    assert_eq!(
        w["repos"].as_array().unwrap().len(),
        site.repositories.iter().filter(|r| r.url.is_some()).count()
    );
}

/// A fake, the demo's specs and a driver that ran PrepareSite.
fn lab() -> (Running, Vec<Arc<NodeSpec>>, Maas) {
    let f = start(ClockMode::Manual);
    let (site, nodes) = specs();
    let m = driver(&f);
    f.rt().block_on(prepare(&m, &site));
    (f, nodes, m)
}

/// The node, commissioned and configured (networking, storage, platform).
fn configured(f: &Running, m: &Maas, nodes: &[Arc<NodeSpec>], name: &str) -> Arc<NodeSpec> {
    let n = nodes.iter().find(|n| n.name == name).unwrap().clone();
    f.rt().block_on(to_ready(f, m, &n)).unwrap();
    f.rt().block_on(configure(m, &n));
    n
}

#[test]
fn commissioning_faults_fail_with_maas_reasons_and_a_rerun_recovers() {
    let (f, nodes, m) = lab();
    let a01 = nodes.iter().find(|n| n.name == "node-a01").unwrap();
    let a02 = nodes.iter().find(|n| n.name == "node-a02").unwrap();
    f.set_faults(
        "node-a01",
        Faults {
            bmc_unreachable: true,
            ..Default::default()
        },
    );
    f.set_faults(
        "node-a02",
        Faults {
            commission_fail: true,
            ..Default::default()
        },
    );
    let e = f.rt().block_on(to_ready(&f, &m, a01)).unwrap_err();
    assert!(!e.is_transient());
    assert!(
        e.to_string()
            .contains("Unable to power control the node. Please check power credentials."),
        "{e}"
    );
    let e = f.rt().block_on(to_ready(&f, &m, a02)).unwrap_err();
    assert!(e.to_string().contains("Failed commissioning"), "{e}");
    assert!(e.to_string().contains("50-maas-01-commissioning"), "{e}");
    no_secrets(&e.to_string());
    // Fixed, a rerun (a new process) commissions them again.
    f.set_faults("node-a01", Faults::default());
    f.set_faults("node-a02", Faults::default());
    let m = driver(&f);
    f.rt().block_on(to_ready(&f, &m, a01)).unwrap();
    f.rt().block_on(to_ready(&f, &m, a02)).unwrap();
    assert_eq!(f.status_of("node-a01"), Some(St::READY));
    assert_eq!(f.status_of("node-a02"), Some(St::READY));
}

#[test]
fn a_deploy_that_never_signals_times_out_and_the_rerun_releases_and_deploys() {
    let (f, nodes, m) = lab();
    let n = &configured(&f, &m, &nodes, "node-b01");
    f.set_faults(
        "node-b01",
        Faults {
            deploy_no_signal: true,
            ..Default::default()
        },
    );
    let e = f
        .rt()
        .block_on(until_done(&f, Duration::from_secs(60), || m.deploy(n)))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Node operation 'Deploying' timed out after 30 minutes."),
        "{e}"
    );
    assert_eq!(f.status_of("node-b01"), Some(St::FAILED_DEPLOYMENT));
    // The rerun: MAAS refuses to redeploy a failed deployment, so the driver releases first.
    f.set_faults("node-b01", Faults::default());
    let m = driver(&f);
    f.clear_log();
    f.rt().block_on(async {
        until_done(&f, Duration::from_secs(10), || m.deploy(n))
            .await
            .unwrap();
    });
    assert_eq!(f.status_of("node-b01"), Some(St::DEPLOYED));
    let ops: Vec<String> = f
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.query)
        .collect();
    let release = ops
        .iter()
        .position(|q| q.contains("op=release"))
        .expect("released");
    let deploy = ops
        .iter()
        .position(|q| q.contains("op=deploy"))
        .expect("deployed");
    assert!(release < deploy, "{ops:?}");
    let obs = f
        .rt()
        .block_on(m.observe(&["node-b01".to_string()]))
        .unwrap();
    assert_eq!(
        obs["node-b01"].deployed_fingerprint.as_deref(),
        Some(n.fingerprint.as_str())
    );
}

#[test]
fn a_bmc_failure_during_deploy_fails_the_node_with_the_event() {
    let (f, nodes, m) = lab();
    let n = &configured(&f, &m, &nodes, "node-c01");
    f.set_faults(
        "node-c01",
        Faults {
            bmc_unreachable: true,
            ..Default::default()
        },
    );
    let e = f
        .rt()
        .block_on(until_done(&f, Duration::from_secs(10), || m.deploy(n)))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Aborting DEPLOYMENT and reverting to ALLOCATED"),
        "{e}"
    );
    assert_eq!(f.status_of("node-c01"), Some(St::ALLOCATED));
    // A rerun resumes DeployNode from its first step: the allocated machine is released
    // (MAAS changes storage only when Ready), configured again and deployed.
    f.set_faults("node-c01", Faults::default());
    let m = driver(&f);
    f.rt().block_on(async {
        let tick = Duration::from_secs(10);
        until_done(&f, tick, || m.apply_networking(n))
            .await
            .unwrap();
        until_done(&f, tick, || m.apply_storage(n)).await.unwrap();
        until_done(&f, tick, || m.apply_platform(n)).await.unwrap();
        until_done(&f, tick, || m.deploy(n)).await.unwrap();
    });
    assert_eq!(f.status_of("node-c01"), Some(St::DEPLOYED));
}

#[test]
fn a_503_with_retry_after_is_retried_and_the_key_is_never_shown() {
    let (f, nodes, m) = lab();
    let n = nodes.iter().find(|n| n.name == "node-a03").unwrap();
    f.rt().block_on(m.identify(n)).unwrap();
    f.set_faults(
        "node-a03",
        Faults {
            unavailable: 2,
            retry_after_secs: 10,
            ..Default::default()
        },
    );
    f.clear_log();
    f.rt().block_on(to_ready(&f, &m, n)).unwrap();
    let log = f.requests();
    let statuses: Vec<u16> = log
        .iter()
        .filter(|r| r.path.contains("/machines/") && r.query.contains("op=commission"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    // More 503s than the client retries: a transient error, without the key.
    f.set_faults(
        "node-a03",
        Faults {
            unavailable: 10,
            retry_after_secs: 10,
            ..Default::default()
        },
    );
    let e = f.rt().block_on(m.apply_storage(n)).unwrap_err();
    assert!(e.is_transient(), "{e}");
    no_secrets(&e.to_string());
    // A wrong key: permanent, named as such, without the key.
    unsafe {
        std::env::set_var(
            "MAAS_WRONG_KEY",
            "cKeY0123456789abcd:tKeY0123456789abcd:wrongwrongwrongwrongwrongwrong12",
        )
    };
    let mut o = MaasOptions::new(&f.url(), Secret::new("env:MAAS_WRONG_KEY"));
    o.poll = Duration::from_millis(1);
    let bad = Maas::new(o).unwrap();
    let e = f.rt().block_on(bad.verify_services()).unwrap_err();
    assert!(!e.is_transient());
    assert!(e.to_string().contains("MAAS refused the API key"), "{e}");
    assert!(!e.to_string().contains("wrongwrongwrong"), "{e}");
    // A literal key is refused before anything is sent.
    let lit = Maas::new(MaasOptions::new(&f.url(), Secret::new(KEY)));
    assert!(lit.is_err());
    assert!(!lit.err().unwrap().to_string().contains(SECRET));
}

#[test]
fn polls_share_one_machine_list_per_interval() {
    let (f, nodes, mut m) = lab();
    let names = ["node-a01", "node-a02", "node-b01", "node-b03", "node-c02"];
    let ns: Vec<Arc<NodeSpec>> = names
        .iter()
        .map(|n| configured(&f, &m, &nodes, n))
        .collect();
    // Polls within one interval share the list; the interval is long enough for the test.
    m = {
        let mut o = MaasOptions::new(&f.url(), Secret::new("env:MAAS_DRIVER_TEST_KEY"));
        o.poll = Duration::from_millis(50);
        Maas::new(o).unwrap()
    };
    f.rt().block_on(async {
        for n in &ns {
            assert!(matches!(
                m.deploy(n).await.unwrap(),
                Progress::Pending { .. }
            ));
        }
        f.clear_log();
        for _ in 0..4 {
            for n in &ns {
                assert!(matches!(
                    m.deploy(n).await.unwrap(),
                    Progress::Pending { .. }
                ));
            }
        }
        let lists = |f: &Running| {
            f.requests()
                .iter()
                .filter(|r| r.method == "GET" && r.path == "/MAAS/api/2.0/machines/")
                .count()
        };
        let requests = f.requests().len();
        assert!(
            requests <= 1,
            "20 polls of 5 deploying machines sent {requests} requests"
        );
        // The next interval: one list for all five.
        tokio::time::sleep(Duration::from_millis(60)).await;
        f.clear_log();
        for n in &ns {
            m.deploy(n).await.unwrap();
        }
        assert_eq!(lists(&f), 1);
        assert_eq!(f.requests().len(), 1, "{:?}", f.requests());
        // Filtered to the design's machines, by hostname.
        let q = &f.requests()[0].query;
        for n in names {
            assert!(q.contains(&format!("hostname={n}")), "{q}");
        }
    });
}

#[test]
fn validate_checks_images_against_the_maas_catalogue() {
    let f = start(ClockMode::Manual);
    let dir = tempfile::tempdir().unwrap();
    let design = demo_in(dir.path());
    let a = drydock(
        &f,
        &dir.path().join("state"),
        &["validate", design.to_str().unwrap()],
    );
    assert!(a.get_output().status.success(), "{}", out(&a));
    // Remove focal from MAAS: DD3001 names MAAS as the source.
    f.with(|w| w.boot_resources.retain(|r| r.name != "ubuntu/focal"));
    let a = drydock(
        &f,
        &dir.path().join("state"),
        &["validate", design.to_str().unwrap()],
    );
    let text = out(&a);
    assert!(!a.get_output().status.success(), "{text}");
    assert!(text.contains("DD3001"), "{text}");
    assert!(
        text.contains(&format!("not offered by the MAAS at {}", f.url())),
        "{text}"
    );
    no_secrets(&text);
}

#[test]
fn retries_0_or_forever_never_give_up_and_a_finite_budget_does() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let design = demo_in(dir.path());
    let config = dir.path().join("run.yaml");
    std::fs::write(&config, "backoff_base_ms: 1\nbackoff_cap_ms: 2\n").unwrap();
    let d = design.to_str().unwrap();
    let c = config.to_str().unwrap();
    // MAAS answers 503 to the next 40 requests about node-a01 (the client retries each call
    // 3 times: 4 answers per call).
    let busy = || Faults {
        unavailable: 40,
        retry_after_secs: 0,
        ..Default::default()
    };
    f.set_faults("node-a01", busy());
    let state = dir.path().join("state");
    let run_on = |f: &Running, state: &Path, retries: &str| {
        drydock(
            f,
            state,
            &[
                "apply",
                d,
                "--auto-approve",
                "--progress",
                "plain",
                "--config",
                c,
                "--retries",
                retries,
            ],
        )
    };
    let a = run_on(&f, &state, "1");
    let text = out(&a);
    assert!(!a.get_output().status.success(), "{text}");
    assert!(text.contains("gave up after 1 retry"), "{text}");
    assert!(
        text.contains("503 No rack controllers can access the BMC"),
        "{text}"
    );
    for forever in ["0", "forever"] {
        // A MAAS and a state of their own each time: node-a01 is still to deploy (a rerun
        // on the first would plan nothing and ask MAAS nothing about it).
        let f = start(ClockMode::Scaled(4000.0));
        let state = dir.path().join(format!("state-{forever}"));
        f.set_faults("node-a01", busy());
        let a = run_on(&f, &state, forever);
        let text = out(&a);
        assert!(a.get_output().status.success(), "{text}");
        assert_eq!(f.with(|w| w.faults["node-a01"].unavailable), 0);
        assert_eq!(f.status_of("node-a01"), Some(St::DEPLOYED));
    }
}

#[test]
fn a_machine_enlisted_under_another_name_is_found_by_its_mac_and_renamed() {
    let (f, nodes, m) = lab();
    let raw = maas_support::Raw::new(f.addr);
    let n = nodes.iter().find(|n| n.name == "node-b03").unwrap();
    let mac = n.boot_mac.clone().unwrap();
    let a = raw.call(
        "POST",
        "/MAAS/api/2.0/machines/",
        &[
            ("architecture", "amd64/generic"),
            ("mac_addresses", &mac),
            ("hostname", "enlisted-by-pxe"),
            ("power_type", "manual"),
            ("commission", "false"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    f.rt().block_on(m.identify(n)).unwrap();
    let w = world(&f);
    let names: Vec<&str> = w["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node-b03"]);
    // Identify again: nothing to do.
    f.clear_log();
    f.rt().block_on(m.identify(n)).unwrap();
    assert!(f.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_layout_without_root_is_refused_before_maas_refuses_the_deploy() {
    let (f, nodes, m) = lab();
    let mut n = (*nodes.iter().find(|n| n.name == "node-c02").unwrap().clone()).clone();
    for d in &mut n.storage.devices {
        for p in &mut d.partitions {
            if let Some(fs) = &mut p.filesystem
                && fs.mountpoint.as_deref() == Some("/")
            {
                fs.mountpoint = Some("/srv".into());
            }
        }
    }
    f.rt().block_on(to_ready(&f, &m, &n)).unwrap();
    let e = f.rt().block_on(m.apply_storage(&n)).unwrap_err();
    assert!(!e.is_transient());
    assert!(e.to_string().contains("mounts no root filesystem"), "{e}");
}

#[test]
fn the_settings_file_can_name_the_maas_and_flags_win() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let design = demo_in(dir.path());
    let config = dir.path().join("run.yaml");
    std::fs::write(
        &config,
        format!(
            "provisioner: {{type: maas, url: '{}', api_key: 'env:MAAS_TEST_KEY', poll_ms: 10}}\n",
            f.url()
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("drydock").unwrap();
        c.args([
            "apply",
            design.to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
            "--config",
        ])
        .arg(&config)
        .args(extra)
        .arg("--state")
        .arg(dir.path().join("state"))
        .env("MAAS_TEST_KEY", KEY)
        .env("BMC_PASSWORD", BMC_PASSWORD)
        .env("BMC_PASSWORD_C01", C01_PASSWORD)
        .env_remove("DRYDOCK_PROVISIONER")
        .env_remove("DRYDOCK_MAAS_URL")
        .env_remove("DRYDOCK_MAAS_KEY")
        .timeout(Duration::from_secs(120));
        c.assert()
    };
    // A wrong URL on the command line wins over the file's.
    let a = run(&["--maas-url", "http://127.0.0.1:1/MAAS"]);
    assert!(!a.get_output().status.success());
    assert!(out(&a).contains("127.0.0.1:1"), "{}", out(&a));
    assert_eq!(f.with(|w| w.machines.len()), 0);
    let a = run(&[]);
    let text = out(&a);
    assert!(a.get_output().status.success(), "{text}");
    no_secrets(&text);
    assert_eq!(
        f.with(|w| w
            .machines
            .iter()
            .filter(|m| m.status == St::DEPLOYED)
            .count()),
        8
    );
}

/// A free port on 127.0.0.1 for the boot-action API (its URL goes into the user-data, so
/// the port must be known before the apply starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the signal script of a boot action in a user-data says: (action, report URL, key).
fn signal_targets(user_data_b64: &str) -> Vec<(String, String, String)> {
    let ud = drydock::boot::cloudinit::base64_decode(user_data_b64).unwrap();
    let ud = String::from_utf8(ud).unwrap();
    let doc: Value = serde_json::from_str(ud.strip_prefix("#cloud-config\n").unwrap()).unwrap();
    let mut out = Vec::new();
    for f in doc["write_files"].as_array().into_iter().flatten() {
        let path = f["path"].as_str().unwrap();
        let Some(action) = path
            .strip_prefix("/var/lib/drydock/bootactions/")
            .and_then(|p| p.strip_suffix(".signal"))
        else {
            continue;
        };
        let script =
            drydock::boot::cloudinit::base64_decode(f["content"].as_str().unwrap()).unwrap();
        let script = String::from_utf8(script).unwrap();
        let var = |name: &str| {
            script
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}='")))
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("no {name} in {script}"))
                .to_string()
        };
        assert!(
            doc["runcmd"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!([path])),
            "the signal script is not run: {ud}"
        );
        out.push((action.to_string(), var("url"), var("key")));
    }
    out
}

/// POST a boot-action signal as the deployed node's script does; the HTTP status.
fn post_signal(url: &str, key: &str, status: &str, message: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let body = serde_json::json!({"status": status, "details": [{"message": message, "error": status == "Failure"}]}).to_string();
    let mut c = std::net::TcpStream::connect(host).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nX-Bootaction-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Play the deployed OS of every machine the fake deployed: once its user-data arrived
/// (with the deploy call), signal each signaling boot action as `answer(node)` says, after
/// checking that a wrong key is refused. User-data already there at the start is an earlier
/// apply's and left alone. Until `stop`; the keys seen are returned.
fn play_os(
    f: &Running,
    stop: &std::sync::atomic::AtomicBool,
    answer: impl Fn(&str) -> (&'static str, &'static str),
) -> Vec<String> {
    let deployed = || -> Vec<(String, String)> {
        f.with(|w| {
            w.machines
                .iter()
                .filter_map(|m| Some((m.hostname.clone(), m.user_data.clone()?)))
                .collect()
        })
    };
    // What earlier applies deployed is not this apply's.
    let mut done: std::collections::BTreeSet<(String, String)> = deployed().into_iter().collect();
    let mut keys = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let deployed = deployed();
        for (host, ud) in deployed {
            if done.contains(&(host.clone(), ud.clone())) {
                continue;
            }
            for (action, url, key) in signal_targets(&ud) {
                assert_eq!(action, "site-baseline");
                assert!(url.starts_with("http://127.0.0.1:"), "{url}");
                let last = if key.ends_with('0') { "1" } else { "0" };
                let wrong = format!("{}{last}", &key[..key.len() - 1]);
                assert_eq!(
                    post_signal(&url, &wrong, "Success", "forged"),
                    403,
                    "a wrong key"
                );
                assert_eq!(post_signal(&url, "", "Success", "forged"), 403, "no key");
                let (status, message) = answer(&host);
                assert_eq!(post_signal(&url, &key, status, message), 201);
                keys.push(key);
            }
            done.insert((host, ud));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    keys
}

fn apply_signaling(
    f: &Running,
    state: &Path,
    demo: &Path,
    port: u16,
) -> assert_cmd::assert::Assert {
    drydock(
        f,
        state,
        &[
            "apply",
            demo.to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
            "--signal-listen",
            &format!("127.0.0.1:{port}"),
        ],
    )
}

#[test]
fn signaling_boot_actions_are_waited_for_a_wrong_key_is_refused_and_a_rerun_plans_nothing() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let demo = demo_signaling_in(dir.path());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (a, keys) = std::thread::scope(|sc| {
        let os = sc.spawn(|| play_os(&f, &stop, |_| ("Success", "baseline laid down")));
        let a = apply_signaling(&f, &state, &demo, free_port());
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        (a, os.join().unwrap())
    });
    let text = out(&a);
    no_secrets(&text);
    assert!(a.get_output().status.success(), "{text}");
    assert_eq!(keys.len(), 8, "one signal per node");
    for k in &keys {
        assert!(
            !text.contains(k.as_str()),
            "a boot-action key leaked:\n{text}"
        );
    }
    assert!(
        text.contains("boot-action API listening on 127.0.0.1:"),
        "{text}"
    );
    f.with(|w| {
        assert!(w.machines.iter().all(|m| m.status == St::DEPLOYED));
    });
    // The API stopped with the apply: nothing listens any more.
    let m0 = f.with(|w| w.machines[0].user_data.clone().unwrap());
    let (_, url, _) = signal_targets(&m0).remove(0);
    assert!(std::net::TcpStream::connect(url.split('/').nth(2).unwrap()).is_err());
    // A rerun (without --signal-listen: nothing is deployed) plans nothing.
    let a = drydock(
        &f,
        &state,
        &[
            "apply",
            demo.to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
        ],
    );
    let text = out(&a);
    assert!(a.get_output().status.success(), "{text}");
    assert!(text.contains("No changes"), "{text}");
}

#[test]
fn a_failed_boot_action_fails_its_node_with_the_message() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let demo = demo_signaling_in(dir.path());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let a = std::thread::scope(|sc| {
        let os = sc.spawn(|| {
            play_os(&f, &stop, |n| match n {
                "node-a01" => ("Failure", "chrony would not start"),
                _ => ("Success", "baseline laid down"),
            })
        });
        let a = apply_signaling(&f, &state, &demo, free_port());
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        os.join().unwrap();
        a
    });
    let text = out(&a);
    no_secrets(&text);
    assert!(!a.get_output().status.success(), "{text}");
    assert!(
        text.contains(
            "boot action site-baseline on node-a01 reported failure: error: chrony would not start"
        ),
        "{text}"
    );
    // The rerun deploys node-a01 again (through release), and this time its boot action
    // succeeds.
    let before = f.with(|w| {
        w.machines
            .iter()
            .find(|m| m.hostname == "node-a01")
            .unwrap()
            .user_data
            .clone()
    });
    let stop = std::sync::atomic::AtomicBool::new(false);
    let a = std::thread::scope(|sc| {
        let os = sc.spawn(|| play_os(&f, &stop, |_| ("Success", "baseline laid down")));
        let a = apply_signaling(&f, &state, &demo, free_port());
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        os.join().unwrap();
        a
    });
    let text = out(&a);
    no_secrets(&text);
    assert!(a.get_output().status.success(), "{text}");
    f.with(|w| {
        let m = w
            .machines
            .iter()
            .find(|m| m.hostname == "node-a01")
            .unwrap();
        assert_eq!(m.status, St::DEPLOYED);
        assert_ne!(
            m.user_data, before,
            "node-a01 was deployed again, with a new key"
        );
    });
}

#[test]
fn signaling_boot_actions_without_signal_listen_are_refused_before_anything_runs() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let demo = demo_signaling_in(dir.path());
    let a = drydock(
        &f,
        &state,
        &[
            "apply",
            demo.to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
        ],
    );
    let text = out(&a);
    assert!(!a.get_output().status.success(), "{text}");
    assert!(text.contains("boot action site-baseline of"), "{text}");
    assert!(text.contains("--signal-listen"), "{text}");
    f.with(|w| assert!(w.machines.iter().all(|m| m.user_data.is_none())));
}

#[test]
fn a_signaling_deploy_without_a_boot_action_api_is_refused_before_allocation() {
    let (f, nodes, m) = lab();
    let n = configured(&f, &m, &nodes, "node-b01");
    let mut spec = (*n).clone();
    let mut ba = (*spec.boot_actions[0]).clone();
    ba.signaling = true;
    spec.boot_actions[0] = Arc::new(ba);
    let e = f.rt().block_on(m.deploy(&spec)).unwrap_err().to_string();
    assert!(
        e.contains("is signaling") && e.contains("--signal-listen"),
        "{e}"
    );
    assert_eq!(f.status_of("node-b01"), Some(St::READY));
    let e = f
        .rt()
        .block_on(m.boot_action_report(&spec))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--signal-listen"), "{e}");
}

#[test]
fn boot_action_signals_that_never_come_fail_the_nodes_at_the_step_timeout() {
    let f = start(ClockMode::Scaled(4000.0));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let demo = demo_signaling_in(dir.path());
    let a = drydock(
        &f,
        &state,
        &[
            "apply",
            demo.to_str().unwrap(),
            "--auto-approve",
            "--progress",
            "plain",
            "--signal-listen",
            &format!("127.0.0.1:{}", free_port()),
            "--timeout",
            "boot_action_report=1s",
        ],
    );
    let text = out(&a);
    no_secrets(&text);
    assert!(!a.get_output().status.success(), "{text}");
    assert!(
        text.contains("DeployNode/boot_action_report: boot_action_report timed out after 1s"),
        "{text}"
    );
}
