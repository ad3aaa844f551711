//! The PXE provisioner and its boot service in one process, on 127.0.0.1, without a VM: the
//! test plays the machine (it fetches the iPXE script, says hello as the deploy agent, fetches
//! its deploy script and seed, reports phases and completion, signals its boot action) and the
//! simulator plays the BMC. What it proves: each step waits for the node's own callbacks; a
//! wrong token, another node's token, an unknown MAC or boot action are refused; the old
//! node-facing boot-action API works; tokens die when the deploy ends; a failure reported by
//! the agent fails the deploy with its reason; the boot-action API alone (MAAS sites) takes
//! signals and serves no netboot. The real netboot is `tests/netboot.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use drydock::boot::{BootConfig, BootState, Service};
use drydock::driver::pxe::{Health, Pxe};
use drydock::driver::sim::{SimConfig, Simulator};
use drydock::driver::{NodeSpec, OobDriver, OobKind, PowerAction, Progress, Provisioner};
use drydock::model::observed::{Power, Status};

/// One HTTP/1.1 request (the service speaks plain HTTP to nodes): status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("the boot service accepts");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut rest = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        rest = dechunk(&rest);
    }
    (status, rest)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + n]);
        b = &b[line_end + 2 + n + 2..];
    }
}

fn text(r: (u16, Vec<u8>)) -> (u16, String) {
    (r.0, String::from_utf8_lossy(&r.1).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const DESIGN: &str = include_str!("fixtures/pxe-lab/site.yaml");

struct Lab {
    _dir: tempfile::TempDir,
    service: Option<Service>,
    pxe: Pxe,
    sim: Arc<Simulator>,
    nodes: Vec<Arc<NodeSpec>>,
    addr: SocketAddr,
}

impl Lab {
    fn node(&self, name: &str) -> &NodeSpec {
        self.nodes.iter().find(|n| n.name == name).unwrap()
    }
}

fn lab(rt: &tokio::runtime::Runtime) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("vmlinuz"), b"kernel bytes").unwrap();
    std::fs::write(d.join("initramfs.gz"), b"initramfs bytes").unwrap();
    std::fs::write(d.join("tiny.tar.gz"), b"not really a tarball").unwrap();
    std::fs::create_dir(d.join("design")).unwrap();
    std::fs::write(d.join("design/site.yaml"), DESIGN).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("boot.yaml"),
        format!("listen: 127.0.0.1:{port}\nagent: {{kernel: vmlinuz, initramfs: initramfs.gz}}\nimages:\n  tiny: {{file: tiny.tar.gz}}\nboot_timeout_secs: 600\n"),
    )
    .unwrap();
    let config = BootConfig::load(&d.join("boot.yaml")).unwrap();
    let loaded = drydock::cli::session::load_for(
        &[d.join("design")],
        &Default::default(),
        drydock::cli::ColorChoice::Never,
        config.catalog(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let (site, nodes) = drydock::cli::boot_service::specs(&loaded.site);
    let state = Arc::new(BootState::open(&d.join("state"), config).unwrap());
    let service = rt
        .block_on(Service::start(state.clone(), &site, &nodes))
        .unwrap();
    let addr = service.addr;
    std::fs::create_dir(d.join("sim")).unwrap();
    let sim = Arc::new(
        Simulator::open(
            &d.join("sim"),
            SimConfig {
                time_scale: 0.0,
                ..SimConfig::default()
            },
        )
        .unwrap(),
    );
    let oob: std::collections::HashMap<OobKind, Arc<dyn OobDriver>> =
        [(OobKind::Ipmi, sim.clone() as Arc<dyn OobDriver>)].into();
    let pxe = Pxe::new(
        state,
        oob,
        sim.clone(),
        Health {
            addr,
            dnsmasq: None,
        },
    );
    Lab {
        _dir: dir,
        service: Some(service),
        pxe,
        sim,
        nodes,
        addr,
    }
}

fn pending(p: Progress) -> String {
    match p {
        Progress::Pending { what, .. } => what,
        Progress::Done => panic!("expected the step to wait"),
    }
}

/// The token the iPXE script hands the machine.
fn token_from_script(script: &str) -> String {
    let t = script
        .split("drydock.token=")
        .nth(1)
        .expect("a token on the kernel command line");
    t.split_whitespace().next().unwrap().to_string()
}

const INVENTORY_N1: &str = "nic eth0 52:54:00:90:00:01 0000:00:03.0\ndisk vda 32000000000 0000:00:05.0\nmemory 268435456\ncpus 1\n";

#[test]
fn a_deploy_waits_for_its_node_and_refuses_everyone_else() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lab = lab(&rt);
    let (n1, n2) = (lab.node("n1").clone(), lab.node("n2").clone());
    let a = lab.addr;

    // An unknown MAC gets no script; a known one with nothing to do gets "nothing to do".
    let (code, _) = text(http(a, "GET", "/boot/mac/52-54-00-99-99-99", &[], b""));
    assert_eq!(code, 404);
    let (code, body) = text(http(a, "GET", "/boot/mac/52-54-00-90-00-01", &[], b""));
    assert_eq!(code, 200);
    assert!(body.contains("no deploy in progress"), "{body}");
    let (_, chain) = text(http(a, "GET", "/boot.ipxe", &[], b""));
    assert!(
        chain.contains(&format!("chain http://{a}/boot/mac/${{netX/mac:hexhyp}}")),
        "{chain}"
    );

    // identify arms both deploys: the script now boots the agent with a token. Then what
    // PrepareNode does through the BMC: PXE boot, power cycle.
    for n in [&n1, &n2] {
        assert_eq!(rt.block_on(lab.pxe.identify(n)).unwrap(), Progress::Done);
        rt.block_on(lab.sim.set_boot_device(n, drydock::driver::BootDevice::Pxe))
            .unwrap();
        rt.block_on(lab.sim.set_power(n, PowerAction::Cycle))
            .unwrap();
    }
    let (_, s1) = text(http(a, "GET", "/boot/mac/52-54-00-90-00-01", &[], b""));
    assert!(
        s1.contains("/boot/agent/vmlinuz") && s1.contains("drydock.node=n1"),
        "{s1}"
    );
    let t1 = token_from_script(&s1);
    let t2 = token_from_script(&text(http(a, "GET", "/boot/mac/52-54-00-90-00-02", &[], b"")).1);
    assert_ne!(t1, t2);
    // The artifacts carry their checksums.
    let (code, sums) = text(http(a, "GET", "/boot/SHA256SUMS", &[], b""));
    assert_eq!(code, 200);
    assert!(
        sums.contains("agent/vmlinuz") && sums.contains("images/tiny"),
        "{sums}"
    );

    // configure_hardware waits for the agent's hello.
    assert!(
        pending(rt.block_on(lab.pxe.configure_hardware(&n1)).unwrap())
            .contains("waiting for the deploy agent")
    );
    let hello = "/api/v1/agent/n1/hello";
    assert_eq!(
        http(a, "POST", hello, &[], INVENTORY_N1.as_bytes()).0,
        403,
        "no token"
    );
    assert_eq!(
        http(
            a,
            "POST",
            hello,
            &[("X-Drydock-Token", "0000")],
            INVENTORY_N1.as_bytes()
        )
        .0,
        403,
        "a wrong token"
    );
    assert_eq!(
        http(
            a,
            "POST",
            hello,
            &[("X-Drydock-Token", &t2)],
            INVENTORY_N1.as_bytes()
        )
        .0,
        403,
        "another node's token"
    );
    assert_eq!(
        http(
            a,
            "POST",
            hello,
            &[("X-Drydock-Token", &t1)],
            INVENTORY_N1.as_bytes()
        )
        .0,
        200
    );
    assert_eq!(
        rt.block_on(lab.pxe.configure_hardware(&n1)).unwrap(),
        Progress::Done
    );
    for step in [
        lab.pxe.apply_networking(&n1),
        lab.pxe.apply_storage(&n1),
        lab.pxe.apply_platform(&n1),
    ] {
        assert_eq!(rt.block_on(step).unwrap(), Progress::Done);
    }

    // The agent waits until deploy releases the script.
    let auth1 = [("X-Drydock-Token", t1.as_str())];
    assert_eq!(
        text(http(a, "GET", "/api/v1/agent/n1/deploy", &auth1, b"")).1,
        "wait\n"
    );
    assert!(pending(rt.block_on(lab.pxe.deploy(&n1)).unwrap()).contains("released"));
    let (code, script) = text(http(a, "GET", "/api/v1/agent/n1/deploy", &auth1, b""));
    assert_eq!(code, 200);
    assert!(
        script.contains("/sbin/sfdisk") && script.contains("check_sha256"),
        "{script}"
    );

    // The seed: only with the node's own token.
    let (code, ud) = text(http(
        a,
        "GET",
        "/api/v1/agent/n1/seed/user-data",
        &auth1,
        b"",
    ));
    assert_eq!(code, 200);
    assert!(
        ud.starts_with("#cloud-config\n") && ud.contains("ssh-ed25519 AAAAtest"),
        "{ud}"
    );
    assert_eq!(
        http(
            a,
            "GET",
            "/api/v1/agent/n1/seed/user-data",
            &[("X-Drydock-Token", &t2)],
            b""
        )
        .0,
        403
    );
    let (_, nc) = text(http(
        a,
        "GET",
        "/api/v1/agent/n1/seed/network-config",
        &auth1,
        b"",
    ));
    assert!(
        nc.contains("\"macaddress\": \"52:54:00:90:00:01\"") && nc.contains("10.90.0.11/24"),
        "{nc}"
    );
    // The boot action's file, templated for this deploy: its report URL and key.
    let v: serde_json::Value =
        serde_json::from_str(ud.trim_start_matches("#cloud-config\n")).unwrap();
    let content = v["write_files"][0]["content"].as_str().unwrap();
    let signal =
        String::from_utf8(drydock::boot::cloudinit::base64_decode(content).unwrap()).unwrap();
    assert!(
        signal.contains(&format!("key={t1}")) && signal.contains("host=n1"),
        "{signal}"
    );
    let report_url = signal
        .split("url=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let report_path = report_url.split_once(&a.to_string()).unwrap().1.to_string();

    // Phases, then the disk is written; deploy waits for the agent's power-off, then boots
    // the disk.
    assert_eq!(
        http(
            a,
            "POST",
            "/api/v1/agent/n1/phase",
            &auth1,
            b"storage: partitioning vda"
        )
        .0,
        200
    );
    assert!(pending(rt.block_on(lab.pxe.deploy(&n1)).unwrap()).contains("partitioning"));
    assert_eq!(
        http(a, "POST", "/api/v1/agent/n1/done", &auth1, b"ok").0,
        200
    );
    assert!(pending(rt.block_on(lab.pxe.deploy(&n1)).unwrap()).contains("power off"));
    rt.block_on(lab.sim.set_power(&n1, PowerAction::Off))
        .unwrap();
    assert_eq!(rt.block_on(lab.pxe.deploy(&n1)).unwrap(), Progress::Done);
    assert_eq!(rt.block_on(lab.sim.power_state(&n1)).unwrap(), Power::On);
    assert_eq!(
        lab.sim.machine("n1").unwrap().boot,
        drydock::driver::sim::world::BootDevice::Disk
    );

    // Booting its disk while the deploy waits for the signal, the machine gets no agent.
    let (_, local) = text(http(a, "GET", "/boot/mac/52-54-00-90-00-01", &[], b""));
    assert!(
        local.contains("is deployed") && !local.contains("/boot/agent/"),
        "{local}"
    );

    // The boot action signals through the old API; the report waits for it.
    assert!(pending(rt.block_on(lab.pxe.boot_action_report(&n1)).unwrap()).contains("signal-me"));
    let key1 = [("X-Bootaction-Key", t1.as_str())];
    let (code, tgz) = http(a, "GET", "/api/v1.0/bootactions/nodes/n1/files", &key1, b"");
    assert_eq!(code, 200);
    let mut files = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    let names: Vec<String> = files
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["usr/local/bin/signal"]);
    assert_eq!(
        http(
            a,
            "GET",
            "/api/v1.0/bootactions/nodes/n1/units",
            &[("X-Bootaction-Key", &t2)],
            b""
        )
        .0,
        403
    );
    let ok = br#"{"status": "Success", "details": [{"message": "hello from n1", "error": false}]}"#;
    assert_eq!(
        http(a, "POST", &report_path, &[("X-Bootaction-Key", &t2)], ok).0,
        403,
        "another node's key"
    );
    assert_eq!(
        http(
            a,
            "POST",
            "/api/v1.0/bootactions/0123456789abcdef0123456789",
            &key1,
            ok
        )
        .0,
        404
    );
    assert_eq!(
        http(a, "POST", &report_path, &key1, b"{\"status\": \"Maybe\"}").0,
        400
    );
    assert_eq!(http(a, "POST", &report_path, &key1, ok).0, 201);
    assert_eq!(
        http(a, "POST", &report_path, &key1, ok).0,
        409,
        "a final status is final"
    );
    assert_eq!(
        rt.block_on(lab.pxe.boot_action_report(&n1)).unwrap(),
        Progress::Done
    );

    // The deploy ended: the token is dead, the node boots its disk, the provisioner reports it
    // deployed with its fingerprint.
    assert_eq!(
        http(a, "GET", "/api/v1/agent/n1/seed/user-data", &auth1, b"").0,
        403
    );
    let (_, local) = text(http(a, "GET", "/boot/mac/52-54-00-90-00-01", &[], b""));
    assert!(
        local.contains("is deployed") && local.contains("exit"),
        "{local}"
    );
    let seen = rt.block_on(lab.pxe.observe(&[])).unwrap();
    assert_eq!(seen["n1"].status, Status::Deployed);
    assert_eq!(
        seen["n1"].deployed_fingerprint.as_deref(),
        Some(n1.fingerprint.as_str())
    );
    assert_eq!(
        rt.block_on(lab.pxe.deploy(&n1)).unwrap(),
        Progress::Done,
        "idempotent"
    );

    // n2's agent fails: the deploy fails with the agent's reason and its token dies.
    let auth2 = [("X-Drydock-Token", t2.as_str())];
    let inv2 = INVENTORY_N1.replace("90:00:01", "90:00:02");
    assert_eq!(
        http(a, "POST", "/api/v1/agent/n2/hello", &auth2, inv2.as_bytes()).0,
        200
    );
    assert_eq!(
        rt.block_on(lab.pxe.configure_hardware(&n2)).unwrap(),
        Progress::Done
    );
    pending(rt.block_on(lab.pxe.deploy(&n2)).unwrap());
    assert_eq!(
        http(
            a,
            "POST",
            "/api/v1/agent/n2/phase",
            &auth2,
            b"image: unpacking tiny"
        )
        .0,
        200
    );
    assert_eq!(
        http(
            a,
            "POST",
            "/api/v1/agent/n2/done",
            &auth2,
            b"failed: exit 2: tar: short read"
        )
        .0,
        200
    );
    let e = rt.block_on(lab.pxe.deploy(&n2)).unwrap_err();
    assert!(!e.is_transient());
    assert!(
        e.to_string().contains("image: unpacking tiny")
            && e.to_string().contains("tar: short read"),
        "{e}"
    );
    assert_eq!(
        http(a, "GET", "/api/v1/agent/n2/seed/meta-data", &auth2, b"").0,
        403
    );
    assert_eq!(
        rt.block_on(lab.pxe.observe(&[])).unwrap()["n2"].status,
        Status::FailedDeployment
    );

    // The records are durable: a new process sees the same machines.
    let mut lab = lab;
    rt.block_on(lab.service.take().unwrap().shutdown());
    let again = Pxe::observer(&lab._dir.path().join("state")).unwrap();
    assert_eq!(
        rt.block_on(again.observe(&[])).unwrap()["n1"].status,
        Status::Deployed
    );
}

#[test]
fn a_hardware_report_without_the_boot_mac_fails_commissioning() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lab = lab(&rt);
    let n1 = lab.node("n1").clone();
    rt.block_on(lab.pxe.identify(&n1)).unwrap();
    let t1 = token_from_script(
        &text(http(
            lab.addr,
            "GET",
            "/boot/mac/52:54:00:90:00:01",
            &[],
            b"",
        ))
        .1,
    );
    let other = "nic eth0 52:54:00:aa:bb:cc -\ndisk vda 32000000000 -\n";
    assert_eq!(
        http(
            lab.addr,
            "POST",
            "/api/v1/agent/n1/hello",
            &[("X-Drydock-Token", &t1)],
            other.as_bytes()
        )
        .0,
        200
    );
    let e = rt.block_on(lab.pxe.configure_hardware(&n1)).unwrap_err();
    assert!(
        e.to_string()
            .contains("no NIC with its boot MAC 52:54:00:90:00:01")
            && e.to_string().contains("52:54:00:aa:bb:cc"),
        "{e}"
    );
    // A malformed report is refused, not recorded.
    assert_eq!(
        http(
            lab.addr,
            "POST",
            "/api/v1/agent/n1/hello",
            &[("X-Drydock-Token", &t1)],
            b"disk vda lots"
        )
        .0,
        400
    );
    let _ = Path::new("");
}

/// The boot-action API alone (`apply --provisioner maas --signal-listen`): no netboot, no
/// deploy agent; a deploy is armed, its node signals with the deploy's key, a wrong key is
/// refused, and the key dies when the report is complete.
#[test]
fn the_boot_action_api_alone_takes_signals_and_serves_no_netboot() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("design")).unwrap();
    std::fs::write(d.join("design/site.yaml"), DESIGN).unwrap();
    // The fixture's image is the one a boot config would offer.
    let loaded = drydock::cli::session::load_for(
        &[d.join("design")],
        &Default::default(),
        drydock::cli::ColorChoice::Never,
        drydock::vocab::Catalog {
            source: "test".into(),
            images: vec!["tiny".into()],
            kernels: drydock::vocab::Catalog::simulator().kernels,
        },
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let (site, nodes) = drydock::cli::boot_service::specs(&loaded.site);
    let port = free_port();
    let state = Arc::new(
        BootState::open_signals(
            &d.join("state"),
            format!("127.0.0.1:{port}").parse().unwrap(),
            None,
        )
        .unwrap(),
    );
    assert!(state.signals_only());
    let service = rt
        .block_on(Service::start(state.clone(), &site, &nodes))
        .unwrap();
    let addr = service.addr;
    for path in [
        "/boot.ipxe",
        "/boot/mac/52:54:00:90:00:01",
        "/boot/agent/vmlinuz",
    ] {
        assert_eq!(http(addr, "GET", path, &[], b"").0, 404, "{path}");
    }
    let n1 = nodes.iter().find(|n| n.name == "n1").unwrap().clone();
    rt.block_on(state.arm(n1.clone())).unwrap();
    let (key, _) = state.deploy_token("n1").unwrap();
    let cx = state.action_context("n1", "signal-me", &key);
    assert_eq!(
        cx.report_url,
        format!(
            "http://127.0.0.1:{port}/api/v1.0/bootactions/{}",
            cx.action_id
        )
    );
    assert!(matches!(
        rt.block_on(state.action_report(&n1)).unwrap(),
        drydock::boot::ActionReport::Waiting(_)
    ));
    let path = format!("/api/v1.0/bootactions/{}", cx.action_id);
    let ok = br#"{"status": "Success", "details": [{"message": "done", "error": false}]}"#;
    assert_eq!(
        http(addr, "POST", &path, &[("X-Bootaction-Key", "wrong")], ok).0,
        403
    );
    assert_eq!(
        http(addr, "POST", &path, &[("X-Bootaction-Key", &key)], ok).0,
        201
    );
    assert_eq!(
        rt.block_on(state.action_report(&n1)).unwrap(),
        drydock::boot::ActionReport::Done
    );
    // The deploy ended: its key is dead.
    assert!(!state.armed("n1"));
    assert_eq!(
        http(addr, "POST", &path, &[("X-Bootaction-Key", &key)], ok).0,
        403
    );
    rt.block_on(service.shutdown());
}
