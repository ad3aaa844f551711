//! Benchmark: the PXE provisioner's boot service under load on loopback, and the dnsmasq
//! configuration of a big site. It does not boot anything or start dnsmasq: the HTTP service
//! runs in this process (its own tokio runtime) and simulated nodes are tasks of another.
//!
//! 1. **Boot storm**: every node of a generated 1,000-node site is armed for a deploy (a
//!    one-time token each, as `apply --provisioner pxe` arms them) and released, then all of
//!    them start at once and do what a netbooting machine does, each request on its own
//!    connection (`Connection: close`, as busybox's wget): `GET /boot.ipxe`, its iPXE script
//!    `GET /boot/mac/MAC`, the deploy agent's kernel and initramfs (synthetic files of the real
//!    agent's sizes, 14 MB and 7 MB, served from memory), `POST hello` with its inventory, `GET`
//!    its deploy script and the three seed files. Latency is connect to last byte, per request;
//!    the small documents (everything but the two artifacts) and the artifacts are reported
//!    apart, with the run's throughput. Every answer must be 200 and every artifact complete.
//! 2. **Small documents only**: the same without the artifacts, the load the configuration
//!    endpoints see when 1,000 nodes ask at once; then with 10 and 100 nodes at once. Every
//!    simulated node asks again the moment it is answered, so latency is about the nodes in
//!    flight divided by the throughput (Little's law): at 1,000 it measures queueing, at 10 the
//!    cost of a request.
//! 3. **dnsmasq configuration for 10,000 nodes**: `boot::dnsmasq::render` of a generated
//!    10,000-node site (DHCP ranges, a `dhcp-host` and DNS records per node, iPXE tags), best
//!    and median of 20.
//!
//! The sites come from `examples/generate_site`: `benches/boot.sh` writes them and runs this
//! (`cargo bench --bench boot -- SITE_1000 SITE_10000`). `RUNS` (default 3) repeats 1 and 2.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drydock::boot::{BootConfig, BootState, Service};
use drydock::spec::NodeSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The deploy agent's sizes (the cloud kernel and the busybox initramfs scripts/build-agent.sh
/// makes).
const KERNEL_BYTES: usize = 14_190_528;
const INITRAMFS_BYTES: usize = 7_120_059;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Small,
    Artifact,
}

struct Sample {
    kind: Kind,
    /// The request's name (`GET /boot/mac`, `POST hello`, ...).
    what: String,
    latency: Duration,
    bytes: usize,
}

/// One request on a new connection: the status, the body's length and (for small documents)
/// the body.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    keep: bool,
) -> (u16, usize, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("X-Drydock-Token: {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; if keep { 16 * 1024 } else { 256 * 1024 }];
    let mut head: Vec<u8> = Vec::new();
    let mut kept = Vec::new();
    let mut body_len = 0usize;
    let mut in_body = false;
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        if in_body {
            body_len += n;
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            in_body = true;
            let rest = head.split_off(p + 4);
            body_len += rest.len();
            if keep {
                kept.extend_from_slice(&rest);
            }
        }
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body_len, kept)
}

/// What one netbooting node asks for, in order.
fn steps(n: &NodeSpec, with_artifacts: bool) -> Vec<(&'static str, String, Kind)> {
    let mac = n.boot_mac.clone().expect("generated nodes have a boot MAC");
    let name = &n.name;
    let mut v = vec![
        ("GET", "/boot.ipxe".to_string(), Kind::Small),
        ("GET", format!("/boot/mac/{mac}"), Kind::Small),
    ];
    if with_artifacts {
        v.push(("GET", "/boot/agent/vmlinuz".into(), Kind::Artifact));
        v.push(("GET", "/boot/agent/initramfs.gz".into(), Kind::Artifact));
    }
    v.push(("POST", format!("/api/v1/agent/{name}/hello"), Kind::Small));
    v.push(("GET", format!("/api/v1/agent/{name}/deploy"), Kind::Small));
    for f in ["user-data", "meta-data", "network-config"] {
        v.push(("GET", format!("/api/v1/agent/{name}/seed/{f}"), Kind::Small));
    }
    v
}

/// The generated hardware's inventory as the deploy agent reports it: the boot NIC, the bond's
/// two NICs at their aliases' PCI addresses, the boot disk at its SCSI address.
fn inventory(n: &NodeSpec) -> String {
    let mac = n.boot_mac.clone().unwrap();
    format!(
        "nic eno1 {mac} -\nnic ens3f0 02:00:00:00:00:01 0000:3b:00.0\nnic ens3f1 02:00:00:00:00:02 0000:3b:00.1\ndisk sda 1920383410176 0:2.0.0\ndisk sdb 1920383410176 0:2.1.0\nmemory 412316860416\ncpus 96\n"
    )
}

async fn one_node(
    addr: std::net::SocketAddr,
    n: Arc<NodeSpec>,
    token: String,
    with_artifacts: bool,
    start: Arc<tokio::sync::Barrier>,
) -> Vec<Sample> {
    let hello = inventory(&n);
    start.wait().await;
    let mut out = Vec::new();
    for (method, path, kind) in steps(&n, with_artifacts) {
        let body = if method == "POST" { hello.as_str() } else { "" };
        let t0 = Instant::now();
        let (status, bytes, kept) =
            request(addr, method, &path, Some(&token), body, kind == Kind::Small).await;
        let latency = t0.elapsed();
        assert_eq!(
            status,
            200,
            "{method} {path}: {}",
            String::from_utf8_lossy(&kept)
        );
        if path.ends_with("/deploy") {
            assert!(
                !kept.starts_with(b"wait"),
                "the deploy was released: {path}"
            );
        }
        if kind == Kind::Artifact {
            let want = if path.ends_with("vmlinuz") {
                KERNEL_BYTES
            } else {
                INITRAMFS_BYTES
            };
            assert_eq!(bytes, want, "{path}: the whole artifact");
        }
        out.push(Sample {
            kind,
            what: label(method, &path),
            latency,
            bytes,
        });
    }
    out
}

/// A request's name without the node's MAC or name.
fn label(method: &str, path: &str) -> String {
    let p = if path.starts_with("/boot/mac/") {
        "/boot/mac/MAC".to_string()
    } else if let Some(rest) = path.strip_prefix("/api/v1/agent/") {
        format!("agent/{}", rest.split_once('/').map_or(rest, |(_, r)| r))
    } else {
        path.to_string()
    };
    format!("{method} {p}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// All nodes at once; the run's summary line.
fn storm(
    client: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
    nodes: &[(Arc<NodeSpec>, String)],
    with_artifacts: bool,
) -> String {
    let barrier = Arc::new(tokio::sync::Barrier::new(nodes.len() + 1));
    let handles: Vec<_> = nodes
        .iter()
        .map(|(n, t)| {
            client.spawn(one_node(
                addr,
                n.clone(),
                t.clone(),
                with_artifacts,
                barrier.clone(),
            ))
        })
        .collect();
    let (samples, wall) = client.block_on(async {
        barrier.wait().await;
        let t0 = Instant::now();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("a simulated node panicked"));
        }
        (all, t0.elapsed())
    });
    let mut line = format!("{} nodes, {:.2} s:", nodes.len(), wall.as_secs_f64());
    for (kind, label) in [
        (Kind::Small, "small documents"),
        (Kind::Artifact, "artifacts"),
    ] {
        let mut lat: Vec<Duration> = samples
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.latency)
            .collect();
        if lat.is_empty() {
            continue;
        }
        lat.sort();
        let bytes: usize = samples
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.bytes)
            .sum();
        line.push_str(&format!(
            "\n  {label:16} {:6} requests  p50 {:8.1} ms  p99 {:8.1} ms  max {:8.1} ms  {:7.0} req/s  {:8.1} MB/s",
            lat.len(),
            ms(percentile(&lat, 0.50)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().unwrap()),
            lat.len() as f64 / wall.as_secs_f64(),
            bytes as f64 / 1e6 / wall.as_secs_f64(),
        ));
    }
    if std::env::var_os("BOOT_BENCH_DETAIL").is_some() {
        let mut names: Vec<&str> = samples.iter().map(|s| s.what.as_str()).collect();
        names.sort();
        names.dedup();
        for w in names {
            let mut lat: Vec<Duration> = samples
                .iter()
                .filter(|s| s.what == w)
                .map(|s| s.latency)
                .collect();
            lat.sort();
            line.push_str(&format!(
                "\n    {w:36} p50 {:8.1} ms  p99 {:8.1} ms",
                ms(percentile(&lat, 0.50)),
                ms(percentile(&lat, 0.99)),
            ));
        }
    }
    line
}

fn boot_config(dir: &Path, port: u16) -> BootConfig {
    std::fs::write(dir.join("vmlinuz"), vec![0x4bu8; KERNEL_BYTES]).unwrap();
    std::fs::write(dir.join("initramfs.gz"), vec![0x1fu8; INITRAMFS_BYTES]).unwrap();
    std::fs::write(dir.join("focal.tar.gz"), b"a root filesystem tree").unwrap();
    std::fs::write(
        dir.join("boot.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\n\
             dhcp: {{interface: br-pxe, ipv6_ra: 'fd77::'}}\n\
             agent: {{kernel: vmlinuz, initramfs: initramfs.gz}}\n\
             images:\n  focal: {{file: focal.tar.gz}}\n"
        ),
    )
    .unwrap();
    BootConfig::load(&dir.join("boot.yaml")).unwrap()
}

fn load(site: &Path, config: &BootConfig) -> (drydock::spec::SiteSpec, Vec<Arc<NodeSpec>>) {
    let loaded = drydock::cli::session::load_for(
        &[site.to_path_buf()],
        &Default::default(),
        drydock::cli::ColorChoice::Never,
        config.catalog(),
    )
    .unwrap_or_else(|e| panic!("{}: {}", site.display(), e.render()));
    drydock::cli::boot_service::specs(&loaded.site)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn main() {
    let sites: Vec<PathBuf> = std::env::args_os()
        .skip(1)
        .filter(|a| !a.to_string_lossy().starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let [small_site, big_site] = sites.as_slice() else {
        eprintln!(
            "usage: cargo bench --bench boot -- SITE_1000 SITE_10000 (benches/boot.sh generates them)"
        );
        std::process::exit(2);
    };
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let config = boot_config(dir.path(), free_port());

    // The dnsmasq configuration of the big site.
    {
        let (site, nodes) = load(big_site, &config);
        let paths = drydock::boot::dnsmasq::Paths::new(&dir.path().join("state/boot"));
        let mut times = Vec::new();
        let mut hosts = 0;
        let mut len = 0;
        for _ in 0..20 {
            let t0 = Instant::now();
            let r = drydock::boot::dnsmasq::render(&site, &nodes, &config, &paths);
            times.push(t0.elapsed());
            hosts = r.hosts;
            len = r.text.len();
            assert!(
                r.warnings.is_empty(),
                "{:?}",
                &r.warnings[..3.min(r.warnings.len())]
            );
        }
        times.sort();
        println!(
            "dnsmasq configuration, {} nodes ({hosts} dhcp-host lines, {:.1} MB): best {:.1} ms, median {:.1} ms",
            nodes.len(),
            len as f64 / 1e6,
            ms(times[0]),
            ms(times[times.len() / 2]),
        );
    }

    // The boot service with every node of the small site armed and released. The generated
    // site's one xfs volume becomes ext4: the deploy agent makes ext2/3/4, vfat and swap only.
    let (site, nodes) = load(small_site, &config);
    let nodes: Vec<Arc<NodeSpec>> = nodes
        .iter()
        .map(|n| {
            let mut n = NodeSpec::clone(n);
            let fss = n
                .storage
                .devices
                .iter_mut()
                .flat_map(|d| {
                    d.partitions
                        .iter_mut()
                        .filter_map(|p| p.filesystem.as_mut())
                })
                .chain(n.storage.volume_groups.iter_mut().flat_map(|v| {
                    v.logical_volumes
                        .iter_mut()
                        .filter_map(|l| l.filesystem.as_mut())
                }));
            for f in fss {
                if f.fstype == "xfs" {
                    f.fstype = "ext4".into();
                }
            }
            Arc::new(n)
        })
        .collect();
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut no_dhcp = config.clone();
    no_dhcp.dhcp = None;
    let state = Arc::new(BootState::open(&dir.path().join("state"), no_dhcp).unwrap());
    let service = server
        .block_on(Service::start(state.clone(), &site, &nodes))
        .unwrap();
    let addr = service.addr;
    let armed: Vec<(Arc<NodeSpec>, String)> = server.block_on(async {
        let mut v = Vec::new();
        for n in &nodes {
            state.arm(n.clone()).await.unwrap();
            assert!(state.release(&n.name, n.clone()));
            let (tok, _) = state.deploy_token(&n.name).unwrap();
            v.push((n.clone(), tok));
        }
        v
    });
    // BOOT_BENCH_ARTIFACTS=0 leaves the boot storm out (for profiling the small documents).
    let storms = if std::env::var("BOOT_BENCH_ARTIFACTS").as_deref() == Ok("0") {
        0
    } else {
        runs
    };
    for run in 1..=storms {
        println!(
            "boot storm {run}/{runs}: {}",
            storm(&client, addr, &armed, true)
        );
    }
    for run in 1..=runs {
        println!(
            "small documents only {run}/{runs}: {}",
            storm(&client, addr, &armed, false)
        );
    }
    // Fewer nodes at once: with every node asking again as soon as it is answered, latency is
    // about the nodes in flight over the throughput (Little's law), so these show what one
    // request costs when the service is not queueing.
    for k in [10, 100] {
        println!(
            "small documents only, {k} nodes at once: {}",
            storm(&client, addr, &armed[..k], false)
        );
    }
    server.block_on(service.shutdown());
}
