//! Several `drydock serve` on one PostgreSQL database (a private cluster, `pg_support`): one
//! leads, the other follows (serves reads from the records the leader writes, forwards writes
//! to it); the leader is killed with SIGKILL mid-apply and the follower takes over within the
//! lease time and resumes the run: no task that had succeeded starts again, no machine is
//! deployed twice. Both instances share the simulator's world (the provisioner), as real
//! instances share MAAS.

#[path = "pg_support/mod.rs"]
mod pg_support;
mod serve_support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use drydock::state::Event;
use serde_json::{Value, json};
use serve_support::*;

async fn health(c: &reqwest::Client, s: &Server) -> Value {
    call(
        c,
        reqwest::Method::GET,
        &s.url("/api/v1.0/health"),
        None,
        None,
    )
    .await
    .1
}

/// Wait until `s` reports `role`.
async fn wait_role(c: &reqwest::Client, s: &Server, role: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let h = health(c, s).await;
        if h["role"] == role {
            return h;
        }
        assert!(Instant::now() < deadline, "never became {role}: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many times each node's machine went into `Deploying`, from the simulator's log.
fn deploys(state: &std::path::Path) -> HashMap<String, usize> {
    let c = drydock::durable::read(&state.join("sim"))
        .expect("the world reads")
        .expect("there is a world");
    let mut last: HashMap<String, String> = HashMap::new();
    let mut n: HashMap<String, usize> = HashMap::new();
    for raw in c.records {
        let v: Value = serde_json::from_slice(&raw).unwrap();
        if v["t"] != "machine" {
            continue;
        }
        let name = v["name"].as_str().unwrap_or_default().to_string();
        let status = v["machine"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "deploying" && last.get(&name) != Some(&status) {
            *n.entry(name.clone()).or_default() += 1;
        }
        last.insert(name, status);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_takes_over_a_killed_leader_and_resumes_without_repeating_work() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let url = pg_support::Cluster::get().database();
    let state = d.path().join("state");
    let ttl = Duration::from_secs(2);
    // Two nodes at a time, so that the kill lands with most of them still to do.
    let exec = d.path().join("executor.yaml");
    std::fs::write(&exec, "concurrency: 2\n").unwrap();
    let args = |name: &'static str| {
        vec![
            "--state".to_string(),
            state.display().to_string(),
            "--database".into(),
            url.clone(),
            "--instance".into(),
            name.to_string(),
            "--lease-ttl".into(),
            "2s".into(),
            "--sim-time-scale".into(),
            "0.01".into(),
            "--executor-config".into(),
            exec.display().to_string(),
        ]
    };
    let a_args = args("a");
    let a_refs: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let mut a = Server::start(&demo(), &t.file, &a_refs);
    let c = client();
    wait_role(&c, &a, "leader", Duration::from_secs(20)).await;
    let b_args = args("b");
    let b_refs: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let b = Server::start(&demo(), &t.file, &b_refs);
    let h = wait_role(&c, &b, "follower", Duration::from_secs(20)).await;
    assert_eq!(h["leader"], a.base.as_str(), "{h}");
    // A write sent to the follower is forwarded to the leader.
    let id = start_task(&b, &c, &t.operator, json!({"action": "deploy_nodes"})).await;
    // The follower serves reads from the records the leader wrote: wait there until some
    // nodes are mid-deploy.
    let mut ev = events(&c, &b.url("/api/v1.0/events"), &t.reader).await;
    let mut deployed = 0;
    while deployed < 2 {
        let v = next_event(&mut ev, Duration::from_secs(120), |e, v| {
            e == "record" && v["event"]["type"] == "node_deployed"
        })
        .await;
        assert_eq!(v["v"], 2);
        deployed += 1;
    }
    let (_, before) = get(
        &c,
        &b.url(&format!("/api/v1.0/tasks/{id}?subtasks=true")),
        &t.reader,
    )
    .await;
    assert_eq!(before["status"], "running", "{before:#}");
    let done_before: HashSet<String> = before["subtasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .map(|s| s["task_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!done_before.is_empty());
    // Kill the leader mid-apply.
    a.kill();
    let killed = Instant::now();
    let h = wait_role(&c, &b, "leader", Duration::from_secs(30)).await;
    let took = killed.elapsed();
    eprintln!("takeover {took:?} after the kill (lease {ttl:?})");
    assert!(
        took <= ttl + ttl / 10 + Duration::from_millis(700),
        "took over after {took:?}, with a lease of {ttl:?}: {h}"
    );
    // The new leader resumes the task and finishes it.
    let done = wait_finished(&b, &c, &t.reader, &id).await;
    assert_eq!(done["status"], "complete", "{done:#}");
    assert_eq!(done["result"]["status"], "success", "{done:#}");
    assert_eq!(done["result"]["successes"].as_array().unwrap().len(), 8);
    // Nothing finished before the kill started again.
    for s in done["subtasks"].as_array().unwrap() {
        if done_before.contains(s["task_id"].as_str().unwrap()) {
            assert_eq!(s["attempts"], 1, "{s}");
        }
    }
    // The journal: every task succeeded once, and records written under each leader's token.
    let rt_records = {
        let client = drydock::state::postgres::connect(&url).await.unwrap();
        drydock::state::postgres::read_from(&client, 0)
            .await
            .unwrap()
    };
    let mut ok = HashSet::new();
    for (_, r) in &rt_records {
        if let Event::TaskSucceeded { task, .. } = &r.event {
            assert!(ok.insert(task.clone()), "{task} succeeded twice");
        }
    }
    let tokens = pg_support::Cluster::get()
        .sql(&url, "SELECT count(DISTINCT token) FROM drydock_journal")
        .unwrap();
    assert_eq!(tokens, "2", "records of two leaders");
    // No machine was deployed twice.
    for (node, n) in deploys(&state) {
        assert_eq!(n, 1, "{node} went into Deploying {n} times");
    }
    // A new write on the new leader is taken at once; the killed leader's lease is gone.
    let id2 = start_task(&b, &c, &t.operator, json!({"action": "verify_site"})).await;
    let v = wait_finished(&b, &c, &t.reader, &id2).await;
    assert_eq!(v["result"]["status"], "success", "{v:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_leader_hands_over_at_once_and_a_lone_follower_refuses_writes_it_cannot_forward()
{
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let url = pg_support::Cluster::get().database();
    let state = d.path().join("state");
    let st = state.display().to_string();
    let mut a = Server::start(
        &demo(),
        &t.file,
        &[
            "--state",
            &st,
            "--database",
            &url,
            "--instance",
            "a",
            "--lease-ttl",
            "30s",
        ],
    );
    let c = client();
    wait_role(&c, &a, "leader", Duration::from_secs(20)).await;
    let b = Server::start(
        &demo(),
        &t.file,
        &[
            "--state",
            &st,
            "--database",
            &url,
            "--instance",
            "b",
            "--lease-ttl",
            "30s",
        ],
    );
    wait_role(&c, &b, "follower", Duration::from_secs(20)).await;
    // A forwarded request that reaches a follower is not forwarded again (two instances
    // that each think the other leads would bounce it forever).
    let r = c
        .post(b.url("/api/v1.0/tasks"))
        .bearer_auth(&t.operator)
        .header("x-drydock-forwarded-by", "x")
        .json(&json!({"action": "verify_site"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    // Reads are served by the follower itself.
    let (code, _) = get(&c, &b.url("/api/v1.0/nodes"), &t.reader).await;
    assert_eq!(code, 200);
    // A clean stop releases the lease: the follower leads long before 30 s.
    let stopped = Instant::now();
    assert_eq!(a.stop(), Some(0));
    wait_role(&c, &b, "leader", Duration::from_secs(10)).await;
    assert!(stopped.elapsed() < Duration::from_secs(10));
    let id = start_task(&b, &c, &t.operator, json!({"action": "verify_site"})).await;
    let v = wait_finished(&b, &c, &t.reader, &id).await;
    assert_eq!(v["result"]["status"], "success", "{v:#}");
}
