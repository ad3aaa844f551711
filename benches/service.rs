//! Benchmark of the service (`cargo bench --bench service`; `benches/service.sh` generates the
//! sites first and passes them in `BENCH_SITE_1000` and `BENCH_SITE_10000`):
//!
//! 1. A 1,000-node apply on the simulator through `drydock serve` (`deploy_nodes`), alone and
//!    with 100 concurrent API clients polling `GET /tasks/{id}` (each every 100 ms), in turns
//!    for `BENCH_ROUNDS` rounds (3): p50 and p99 of the polls, and the apply's wall time (the
//!    task's own timing; the median of the rounds) with and without the load. The clients run
//!    in this process, on the same cores as the service.
//! 2. Journal throughput: a 10,000-node zero-latency `drydock apply` with the journal in the
//!    state directory and in PostgreSQL (a private cluster on loopback): wall time and journal
//!    records per second.
//!
//! Only loopback. Every loop is bounded.

#[path = "../tests/pg_support/mod.rs"]
mod pg_support;
#[path = "../tests/serve_support/mod.rs"]
mod serve_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use serve_support::*;

const CLIENTS: usize = 100;
const POLL_EVERY: Duration = Duration::from_millis(100);
/// The simulator's speed for the 1,000-node apply: its latencies scaled so that one run
/// takes some seconds.
const SCALE: &str = "0.002";

fn site(var: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run benches/service.sh, which generates the sites")
    }))
}

/// One `deploy_nodes` through the service; the apply's own wall time, and the poll latencies
/// of `clients` pollers.
/// Each poll: (when it was sent, since the task was started; how long it took).
async fn served_apply(design: &Path, clients: usize) -> (Duration, Vec<(Duration, Duration)>) {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let st = d.path().join("state").display().to_string();
    let s = Server::start(
        design,
        &t.file,
        &["--state", &st, "--sim-time-scale", SCALE],
    );
    let c = client();
    let id = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes"})).await;
    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut pollers = Vec::new();
    for i in 0..clients {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = s.url(&format!("/api/v1.0/tasks/{id}"));
        let tok = t.reader.clone();
        let stop = stop.clone();
        pollers.push(tokio::spawn(async move {
            // Spread the pollers over the interval.
            tokio::time::sleep(POLL_EVERY * i as u32 / clients as u32).await;
            let mut lat = Vec::new();
            let mut tick = tokio::time::interval(POLL_EVERY);
            // Bounded: at most 20 minutes of polls.
            for _ in 0..12_000 {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let t0 = Instant::now();
                let r = c.get(&url).bearer_auth(&tok).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                let _ = r.bytes().await.unwrap();
                lat.push((t0 - began, t0.elapsed()));
            }
            lat
        }));
    }
    // Waiting reads the plain document too (`?subtasks=true` would render every subtask, a
    // load of its own), every 100 ms like the pollers; bounded by 20 minutes.
    let url = s.url(&format!("/api/v1.0/tasks/{id}"));
    let mut done = serde_json::Value::Null;
    for _ in 0..12_000 {
        let (code, v) = get(&c, &url, &t.reader).await;
        assert_eq!(code, 200, "{v}");
        if v["status"] == "complete" {
            done = v;
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    assert_eq!(
        done["status"], "complete",
        "the apply did not finish in 20 minutes"
    );
    stop.store(true, Ordering::Relaxed);
    assert_eq!(done["result"]["status"], "success", "{}", done["result"]);
    let mut all = Vec::new();
    for p in pollers {
        all.extend(p.await.unwrap());
    }
    let ms = done["timings"]["elapsed_ms"].as_u64().unwrap();
    (Duration::from_millis(ms), all)
}

/// The machine's load average (1, 5, 15 minutes), as /proc/loadavg says.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `drydock apply` of `design` at zero latency; (wall time, journal records).
fn cli_apply(design: &Path, database: Option<&str>) -> (Duration, usize) {
    let d = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_drydock"));
    c.arg("apply")
        .arg(design)
        .args([
            "--auto-approve",
            "--progress",
            "none",
            "--sim-time-scale",
            "0",
        ])
        .args([
            "--concurrency",
            "1000",
            "--rack-concurrency",
            "40",
            "--state",
        ])
        .arg(d.path())
        .env_remove("DRYDOCK_DATABASE")
        .stdout(std::process::Stdio::null());
    if let Some(url) = database {
        c.env("DRYDOCK_DATABASE", url);
    }
    let t0 = Instant::now();
    let out = c.output().unwrap();
    let wall = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = match database {
        Some(url) => tokio::runtime::Runtime::new().unwrap().block_on(async {
            let client = drydock::state::postgres::connect(url).await.unwrap();
            drydock::state::postgres::read_from(&client, 0)
                .await
                .unwrap()
                .len()
        }),
        None => drydock::state::file_store::FileStore::read(d.path())
            .unwrap()
            .unwrap()
            .len(),
    };
    (wall, records)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s1000 = site("BENCH_SITE_1000");
    // Alone and loaded in turns, so that a change in the machine's other load falls on both.
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!(
        "== 1,000 nodes through drydock serve (simulator, time scale {SCALE}), {rounds} rounds; load average {}",
        load_average()
    );
    let (mut alone, mut loaded, mut lat) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (a, _) = rt.block_on(served_apply(&s1000, 0));
        let (l, polls) = rt.block_on(served_apply(&s1000, CLIENTS));
        // Where the slow polls fall: the seconds of the run with polls over 50 ms.
        let mut slow = std::collections::BTreeMap::<u64, usize>::new();
        for (at, d) in &polls {
            if *d > Duration::from_millis(50) {
                *slow.entry(at.as_secs()).or_default() += 1;
            }
        }
        let mut polls: Vec<Duration> = polls.into_iter().map(|(_, d)| d).collect();
        println!(
            "round {round}: alone {:.2} s, loaded {:.2} s ({:+.1}%), {} polls; load average {}",
            a.as_secs_f64(),
            l.as_secs_f64(),
            100.0 * (l.as_secs_f64() / a.as_secs_f64() - 1.0),
            polls.len(),
            load_average()
        );
        println!(
            "  polls over 50 ms by second of the run: {}",
            if slow.is_empty() {
                "none".to_string()
            } else {
                slow.iter()
                    .map(|(s, n)| format!("{s}s:{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        );
        alone.push(a);
        loaded.push(l);
        lat.append(&mut polls);
    }
    alone.sort();
    loaded.sort();
    lat.sort();
    let (a, l) = (alone[rounds / 2], loaded[rounds / 2]);
    println!(
        "apply (median of {rounds}): alone {:.2} s; with {CLIENTS} clients polling GET /tasks/{{id}} every {} ms: {:.2} s ({:+.1}%)",
        a.as_secs_f64(),
        POLL_EVERY.as_millis(),
        l.as_secs_f64(),
        100.0 * (l.as_secs_f64() / a.as_secs_f64() - 1.0)
    );
    println!(
        "{} polls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(&lat, 0.5).as_secs_f64() * 1000.0,
        pct(&lat, 0.99).as_secs_f64() * 1000.0,
        lat.last().unwrap().as_secs_f64() * 1000.0
    );

    let s10000 = site("BENCH_SITE_10000");
    println!(
        "== journal throughput: 10,000-node zero-latency apply, concurrency 1000; load average {}",
        load_average()
    );
    let (wall, n) = cli_apply(&s10000, None);
    println!(
        "file store: {:.2} s, {n} records, {:.0} records/s",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64()
    );
    let url = pg_support::Cluster::get().database();
    let (wall, n) = cli_apply(&s10000, Some(&url));
    println!(
        "PostgreSQL: {:.2} s, {n} records, {:.0} records/s; load average {}",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        load_average()
    );
}
