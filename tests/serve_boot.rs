//! `drydock serve` with the PXE boot service: with `--tokens` and `--boot-config` one process
//! runs the operator API and the boot service (the API plans with the boot service's images,
//! observes through its records); with `--boot-config` alone only the boot service runs
//! (SIGHUP reloads its design); with neither there is nothing to serve. On 127.0.0.1, no VM
//! (the real netboot is `tests/netboot.rs`).

mod serve_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serve_support::{Server, Tokens, client, get, root};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A design the simulator's catalogue refuses (its image `tiny` is the boot config's only)
/// and the boot config that offers it, on a free port.
struct Lab {
    dir: tempfile::TempDir,
    port: u16,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("vmlinuz"), b"kernel bytes").unwrap();
        std::fs::write(d.join("initramfs.gz"), b"initramfs bytes").unwrap();
        std::fs::write(d.join("tiny.tar.gz"), b"not really a tarball").unwrap();
        std::fs::create_dir(d.join("design")).unwrap();
        std::fs::copy(
            root().join("tests/fixtures/pxe-lab/site.yaml"),
            d.join("design/site.yaml"),
        )
        .unwrap();
        let port = free_port();
        std::fs::write(
            d.join("boot.yaml"),
            format!("listen: 127.0.0.1:{port}\nagent: {{kernel: vmlinuz, initramfs: initramfs.gz}}\nimages:\n  tiny: {{file: tiny.tar.gz}}\n"),
        )
        .unwrap();
        Lab { dir, port }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn s(&self, p: &str) -> String {
        self.path(p).to_str().unwrap().to_string()
    }
}

/// A plain HTTP GET to the boot service: status and body.
fn boot_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the boot service accepts");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

fn serve(lab: &Lab, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drydock"));
    c.current_dir(root())
        .env_remove("DRYDOCK_STATE")
        .env_remove("DRYDOCK_DATABASE")
        .env_remove("DRYDOCK_BOOT_CONFIG")
        .env("NO_COLOR", "1")
        .arg("serve")
        .arg(lab.path("design"))
        .args(["--state", &lab.s("state")])
        .args(args);
    c
}

#[test]
fn serve_runs_the_operator_api_and_the_boot_service_in_one_process() {
    let lab = Lab::new();
    let t = Tokens::write(lab.dir.path());
    let mut c = serve(&lab, &["--boot-config", &lab.s("boot.yaml")]);
    c.args(["--listen", "127.0.0.1:0", "--tokens"]).arg(&t.file);
    let mut s = Server::spawn(c);

    // The boot service answers nodes on its own listener.
    let (code, body) = boot_get(lab.port, "/boot.ipxe");
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("#!ipxe"), "{body}");
    let (code, _) = boot_get(lab.port, "/boot/mac/52:54:00:99:99:99");
    assert_eq!(code, 404, "a MAC not in the design gets no boot script");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = client();
        let (code, v) = get(&c, &s.url("/api/v1.0/health"), &t.reader).await;
        assert_eq!(code, 200, "{v}");
        // The plan is made with the boot service's images (`tiny` is not the simulator's)
        // and from what its records say (nothing deployed yet).
        let (code, plan) = get(&c, &s.url("/api/v1.0/plan"), &t.reader).await;
        assert_eq!(code, 200, "{plan}");
        let text = plan.to_string();
        assert!(text.contains("\"n1\"") && text.contains("\"n2\""), "{text}");
        let (code, v) = post_validate(&c, &s, &t.operator).await;
        assert_eq!(code, 200, "{v}");
        let (code, nodes) = get(&c, &s.url("/api/v1.0/nodes"), &t.reader).await;
        assert_eq!(code, 200, "{nodes}");
        assert!(nodes.to_string().contains("n2"), "{nodes}");
    });

    assert_eq!(s.stop(), Some(0), "{:?}", s.stderr_lines());
    // Both listeners are closed and the boot lock released: the boot service starts again.
    assert!(TcpStream::connect(("127.0.0.1", lab.port)).is_err());
    let mut again = BootOnly::start(&lab);
    assert_eq!(again.stop(), Some(0));
}

async fn post_validate(c: &reqwest::Client, s: &Server, token: &str) -> (u16, serde_json::Value) {
    serve_support::post(
        c,
        &s.url("/api/v1.0/validatedesign"),
        token,
        serde_json::json!({}),
    )
    .await
}

/// `drydock serve DESIGN --boot-config FILE` with no tokens: the boot service only.
struct BootOnly {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl BootOnly {
    fn start(lab: &Lab) -> BootOnly {
        let mut child = serve(lab, &["--boot-config", &lab.s("boot.yaml"), "--watch", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut b = BootOnly { child, lines };
        b.wait_for("drydock serve: boot service on ");
        b
    }

    /// The next line of standard error that starts with `prefix` (a deadline for a broken
    /// build only).
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no line `{prefix}…`; saw:\n{}", seen.join("\n"));
                }
            }
        }
    }

    fn signal(&self, n: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, n) };
    }

    fn stop(&mut self) -> Option<i32> {
        self.signal(libc::SIGTERM);
        self.child.wait().unwrap().code()
    }
}

impl Drop for BootOnly {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_with_a_boot_config_alone_runs_the_boot_service_and_reloads_on_sighup() {
    let lab = Lab::new();
    let mut b = BootOnly::start(&lab);
    assert_eq!(boot_get(lab.port, "/boot.ipxe").0, 200);
    // A node added to the design is known after SIGHUP.
    let (code, _) = boot_get(lab.port, "/boot/mac/52:54:00:90:00:03");
    assert_eq!(code, 404);
    let site = std::fs::read_to_string(lab.path("design/site.yaml")).unwrap();
    let n3 = "---\nschema: drydock/BaremetalNode/v1\nmetadata: {schema: metadata/Document/v1, name: n3}\ndata:\n  host_profile: base\n  metadata: {boot_mac: '52:54:00:90:00:03'}\n  oob: {port: 6232}\n  addressing:\n    - {network: pxe, address: 10.90.0.13}\n    - {network: oob, address: 127.0.0.1}\n";
    std::fs::write(lab.path("design/site.yaml"), format!("{site}{n3}")).unwrap();
    b.signal(libc::SIGHUP);
    let l = b.wait_for("drydock serve: boot service design reloaded");
    assert!(l.contains("3 nodes"), "{l}");
    let (code, body) = boot_get(lab.port, "/boot/mac/52:54:00:90:00:03");
    assert_ne!(code, 404, "{body}");
    assert_eq!(b.stop(), Some(0));
}

fn run(lab: &Lab, args: &[&str]) -> (Option<i32>, String) {
    let out = serve(lab, args)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_refuses_nothing_to_serve_and_a_simulated_bmc_with_a_boot_config() {
    let lab = Lab::new();
    let (code, err) = run(&lab, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("nothing to serve")
            && err.contains("--boot-config")
            && err.contains("drydock token"),
        "{err}"
    );
    let (code, err) = run(
        &lab,
        &["--boot-config", &lab.s("boot.yaml"), "--bmc", "simulated"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--bmc simulated"), "{err}");
    // Without the boot config the design's image is unknown: the error says so.
    let t = Tokens::write(lab.dir.path());
    let (code, err) = run(&lab, &["--tokens", t.file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("tiny"), "{err}");
}
