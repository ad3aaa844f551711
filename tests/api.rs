//! The operator API of `drydock serve` over real HTTP, on the demo site and the simulator:
//! every endpoint, authentication and roles, bad bodies, cancellation (and resuming what was
//! cancelled), the event stream, the audit log, TLS, a request resumed after a restart, and
//! the OpenAPI document against the routes.

mod peers_support;
mod serve_support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use serve_support::*;

fn state(d: &tempfile::TempDir) -> String {
    d.path().join("state").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_in_the_old_shape() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let s = Server::start(
        &demo(),
        &t.file,
        &["--state", &state(&d), "--sim-time-scale", "0.001"],
    );
    let c = client();
    // Open: health and the document.
    let (code, h) = call(&c, Method::GET, &s.url("/api/v1.0/health"), None, None).await;
    assert_eq!(
        (code, h["status"].as_str(), h["role"].as_str()),
        (200, Some("ok"), Some("leader"))
    );
    let (code, doc) = call(
        &c,
        Method::GET,
        &s.url("/api/v1.0/openapi.json"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    // Nodes by rack, before anything ran.
    let (code, nodes) = get(&c, &s.url("/api/v1.0/nodes"), &t.reader).await;
    assert_eq!(code, 200, "{nodes}");
    let nodes = nodes.as_array().unwrap();
    assert_eq!(nodes.len(), 8);
    assert!(
        nodes
            .iter()
            .all(|n| n["in_design"] == true && n["hostname"] == n["name"])
    );
    assert_eq!(nodes[0]["rack"], "rack-a");
    // The plan, as `plan --json`; a target narrows it; a bad target is a 400.
    let (code, plan) = get(&c, &s.url("/api/v1.0/plan"), &t.reader).await;
    assert_eq!(code, 200);
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["nodes"].as_array().unwrap().len(), 8);
    let (code, p1) = get(&c, &s.url("/api/v1.0/plan?target=rack:rack-c"), &t.reader).await;
    assert_eq!(code, 200);
    let deploys = p1["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["action"] == "deploy")
        .count();
    assert_eq!(deploys, 2, "{p1:#}");
    let (code, e) = get(&c, &s.url("/api/v1.0/plan?target=shelf:x"), &t.reader).await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("query parameter /target"),
        "{e}"
    );
    // Validation of the served design, and of documents given in the request.
    let (code, v) = post(
        &c,
        &s.url("/api/v1.0/validatedesign"),
        &t.operator,
        json!({}),
    )
    .await;
    assert_eq!((code, v["status"].as_str()), (200, Some("Success")), "{v}");
    let invalid = root().join("designs/invalid/DD2006-cidr-validity");
    let mut text = String::new();
    for f in ["site.yaml", "profiles.yaml", "nodes.yaml"] {
        text.push_str(&std::fs::read_to_string(invalid.join(f)).unwrap());
        text.push_str("\n---\n");
    }
    let (code, v) = post(
        &c,
        &s.url("/api/v1.0/validatedesign"),
        &t.operator,
        json!({"documents": text}),
    )
    .await;
    assert_eq!((code, v["status"].as_str()), (400, Some("Failure")), "{v}");
    assert!(v["details"]["errorCount"].as_u64().unwrap() > 0);
    let list = v["details"]["messageList"].as_array().unwrap();
    assert!(
        list.iter()
            .all(|m| m["name"].as_str().unwrap().starts_with("DD")),
        "{v:#}"
    );
    assert!(
        list.iter()
            .any(|m| m["name"] == "DD2006" && m["error"] == true),
        "{v:#}"
    );
    // A task: queued, journaled, run, with per-node results and subtasks.
    let id = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes", "node_filter": {"filter_set": [{"rack_names": ["rack-c"]}]}})).await;
    let done = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(done["status"], "complete", "{done:#}");
    assert_eq!(done["result"]["status"], "success");
    assert_eq!(done["result"]["successes"], json!(["node-c01", "node-c02"]));
    let deploy = id.clone();
    assert_eq!(
        done["node_filter"]["filter_set"][0]["rack_names"],
        json!(["rack-c"])
    );
    assert_eq!(done["created_by"], "ops");
    let subtasks = done["subtasks"].as_array().unwrap();
    assert!(
        subtasks
            .iter()
            .all(|s| s["status"] == "succeeded" && s["started"].is_string())
    );
    assert_eq!(
        subtasks.len(),
        done["subtask_id_list"].as_array().unwrap().len()
    );
    let kinds: Vec<&str> = subtasks
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"VerifySite") && kinds.contains(&"DeployNode"),
        "{kinds:?}"
    );
    assert!(
        subtasks
            .iter()
            .filter(|s| s["kind"] == "DeployNode")
            .all(|s| s["steps"].as_array().unwrap().len() == 5)
    );
    assert_eq!(done["node_results"].as_array().unwrap().len(), 2);
    assert!(done["timings"]["elapsed_ms"].is_u64());
    // Without subtasks.
    let (code, brief) = get(
        &c,
        &s.url(&format!("/api/v1.0/tasks/{id}?subtasks=false")),
        &t.reader,
    )
    .await;
    assert_eq!(code, 200);
    assert!(brief.get("subtasks").is_none());
    // Without asking, a poller gets the counts only.
    let (_, plain) = get(&c, &s.url(&format!("/api/v1.0/tasks/{id}")), &t.reader).await;
    assert!(plain.get("subtasks").is_none());
    assert_eq!(
        plain["progress"]["succeeded"], plain["subtask_count"],
        "{plain:#}"
    );
    let (code, _) = get(
        &c,
        &s.url(&format!("/api/v1.0/tasks/{id}?subtasks=maybe")),
        &t.reader,
    )
    .await;
    assert_eq!(code, 400);
    // The nodes show it.
    let (_, nodes) = get(&c, &s.url("/api/v1.0/nodes"), &t.reader).await;
    let c01 = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "node-c01")
        .unwrap()
        .clone();
    assert_eq!(c01["status"], "Deployed");
    assert_eq!(c01["last_task"]["kind"], "DeployNode");
    // Every action is accepted; the list is newest first.
    for action in [
        "validate_design",
        "verify_site",
        "prepare_site",
        "verify_nodes",
        "prepare_nodes",
        "relabel_nodes",
    ] {
        let id = start_task(&s, &c, &t.operator, json!({"action": action})).await;
        let v = wait_finished(&s, &c, &t.reader, &id).await;
        assert_eq!(v["result"]["status"], "success", "{action}: {v:#}");
    }
    let (code, list) = get(&c, &s.url("/api/v1.0/tasks"), &t.reader).await;
    assert_eq!(code, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7);
    assert_eq!(list[0]["action"], "relabel_nodes");
    assert_eq!(list[6]["task_id"], id.as_str());
    // verify_site verified the site though nothing changed.
    let vs = list.iter().find(|t| t["action"] == "verify_site").unwrap();
    let (_, vs) = get(
        &c,
        &s.url(&format!(
            "/api/v1.0/tasks/{}?subtasks=true",
            vs["task_id"].as_str().unwrap()
        )),
        &t.reader,
    )
    .await;
    assert_eq!(vs["subtasks"][0]["kind"], "VerifySite", "{vs:#}");
    // destroy_nodes refuses to run without a filter.
    let id = start_task(&s, &c, &t.operator, json!({"action": "destroy_nodes"})).await;
    let v = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(v["result"]["status"], "failure");
    assert!(
        v["result"]["message"]
            .as_str()
            .unwrap()
            .contains("needs a node_filter"),
        "{v:#}"
    );
    let id = start_task(&s, &c, &t.operator, json!({"action": "destroy_nodes", "node_filter": {"filter_set": [{"node_names": ["node-c02"]}]}})).await;
    let v = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(v["result"]["status"], "success", "{v:#}");
    assert_eq!(v["result"]["successes"], json!(["node-c02"]));
    // A finished task's plain document, read again after other tasks ran (the API keeps it
    // while the journal stays as it is): the same, as JSON.
    let url = s.url(&format!("/api/v1.0/tasks/{deploy}"));
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let r = c.get(&url).bearer_auth(&t.reader).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        bodies.push(r.bytes().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    let again: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(again["status"], "complete");
    assert_eq!(
        again["result"]["successes"],
        json!(["node-c01", "node-c02"])
    );
    assert_eq!(again["result"], done["result"]);
    assert!(again.get("subtasks").is_none());
    // Unknown task, unknown path.
    let (code, e) = get(&c, &s.url("/api/v1.0/tasks/nope"), &t.reader).await;
    assert_eq!(code, 404);
    assert_eq!(e["kind"], "Status");
    let (code, _) = get(&c, &s.url("/api/v1.0/nothing"), &t.reader).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_are_enforced_and_writes_audited() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let audit = d.path().join("audit.jsonl");
    let s = Server::start(
        &demo(),
        &t.file,
        &[
            "--state",
            &state(&d),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    let c = client();
    for (path, method) in [
        ("/api/v1.0/tasks", Method::GET),
        ("/api/v1.0/nodes", Method::GET),
        ("/api/v1.0/plan", Method::GET),
        ("/api/v1.0/events", Method::GET),
        ("/api/v1.0/tasks", Method::POST),
        ("/api/v1.0/tasks/x", Method::DELETE),
        ("/api/v1.0/validatedesign", Method::POST),
    ] {
        // No token, a wrong token, a malformed header.
        for token in [None, Some("ddt_not-a-token")] {
            let (code, v) = call(
                &c,
                method.clone(),
                &s.url(path),
                token,
                Some(json!({"action": "deploy_nodes"})),
            )
            .await;
            assert_eq!(code, 401, "{method} {path} with {token:?}: {v}");
            assert_eq!(v["reason"], "Unauthorized");
        }
        let r = c
            .request(method.clone(), s.url(path))
            .header("authorization", "Basic b3BzOng=")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    }
    // A reader reads, and cannot write.
    let (code, _) = get(&c, &s.url("/api/v1.0/tasks"), &t.reader).await;
    assert_eq!(code, 200);
    let (code, v) = post(
        &c,
        &s.url("/api/v1.0/tasks"),
        &t.reader,
        json!({"action": "deploy_nodes"}),
    )
    .await;
    assert_eq!(code, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("reader role"));
    let (code, _) = call(
        &c,
        Method::DELETE,
        &s.url("/api/v1.0/tasks/x"),
        Some(&t.reader),
        None,
    )
    .await;
    assert_eq!(code, 403);
    let (code, _) = post(&c, &s.url("/api/v1.0/validatedesign"), &t.reader, json!({})).await;
    assert_eq!(code, 403);
    // The scheme is case-insensitive.
    let r = c
        .get(s.url("/api/v1.0/tasks"))
        .header("authorization", format!("bearer {}", t.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // An operator writes.
    let id = start_task(&s, &c, &t.operator, json!({"action": "validate_design"})).await;
    wait_finished(&s, &c, &t.reader, &id).await;
    // The audit log: every write, who, what, when, the answer, never a token.
    let log = std::fs::read_to_string(&audit).unwrap();
    for tok in [&t.operator, &t.reader] {
        assert!(!log.contains(tok.as_str()) && !log.contains(&tok[4..20]));
    }
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["at"].as_str().unwrap().ends_with('Z'))
    );
    assert!(
        lines
            .iter()
            .any(|l| l["who"] == "viewer" && l["status"] == 403 && l["method"] == "POST")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["who"].is_null() && l["status"] == 401)
    );
    let ok = lines
        .iter()
        .find(|l| l["status"] == 201)
        .expect("the accepted write");
    assert_eq!(
        (ok["who"].as_str(), ok["task"].as_str()),
        (Some("ops"), Some(id.as_str()))
    );
    // Reads are not audited.
    assert!(lines.iter().all(|l| l["method"] != "GET"));
    // No token in the service's own output either.
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_413_or_415_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let s = Server::start(&demo(), &t.file, &["--state", &state(&d)]);
    let c = client();
    let send = |body: Vec<u8>, ct: &'static str| {
        let c = c.clone();
        let url = s.url("/api/v1.0/tasks");
        let tok = t.operator.clone();
        async move {
            let r = c
                .post(url)
                .bearer_auth(tok)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (code, v) = send(b"{\"action\": ".to_vec(), "application/json").await;
    assert_eq!(code, 400);
    assert!(
        v["message"].as_str().unwrap().contains("not valid JSON")
            && v["message"].as_str().unwrap().contains("line 1"),
        "{v}"
    );
    let (code, v) = send(b"[1, 2]".to_vec(), "application/json").await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = send(br#"{"action": "deploy"}"#.to_vec(), "application/json").await;
    assert_eq!(code, 400);
    assert!(
        v["details"]["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("at /action:"),
        "{v}"
    );
    let (code, v) = send(
        br#"{"action": "deploy_nodes", "nodes": ["a"]}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = send(
        br#"{"action": "deploy_nodes", "node_filter": {"filter_set": [{"filter_type": "xor"}]}}"#
            .to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("/node_filter/filter_set/0/filter_type"),
        "{v}"
    );
    let (code, v) = send(br#"{"action": "deploy_nodes"}"#.to_vec(), "text/plain").await;
    assert_eq!(code, 415, "{v}");
    let (code, v) = send(
        br#"{"action": "deploy_nodes"}"#.to_vec(),
        "application/json; charset=utf-8",
    )
    .await;
    assert_eq!(code, 201, "{v}");
    // Over the limit (1 MiB by default): the service answers 413 without reading the rest
    // (sent by hand: an HTTP client that insists on writing the whole body sees the
    // connection closed before it reads the answer).
    let addr = s.base.trim_start_matches("http://").to_string();
    let tok = t.operator.clone();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
        let head = format!("POST /api/v1.0/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n");
        tcp.write_all(head.as_bytes()).unwrap();
        let mut w = tcp.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = [b' '; 65536];
            for _ in 0..20 {
                if w.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let mut buf = Vec::new();
        let _ = tcp.read_to_end(&mut buf);
        let _ = writer.join();
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"reason\":\"TooLarge\""), "{answer}");
    // Not valid UTF-8.
    let (code, _) = send(vec![0xff, 0xfe, b'{'], "application/json").await;
    assert_eq!(code, 400);
    // Nothing of those was journaled but the one good request.
    let (_, list) = get(&c, &s.url("/api/v1.0/tasks"), &t.reader).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_task_abandons_its_steps_and_a_later_task_resumes() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    // Slow enough that the deploy step is in flight when the cancel comes.
    let mut s = Server::start(
        &demo(),
        &t.file,
        &["--state", &state(&d), "--sim-time-scale", "0.02"],
    );
    let c = client();
    let mut ev = events(&c, &s.url("/api/v1.0/events"), &t.reader).await;
    let id = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes"})).await;
    // Wait for the event: some node is in its deploy step.
    let p = next_event(&mut ev, Duration::from_secs(60), |e, v| {
        e == "progress" && v["event"] == "step" && v["step"] == "deploy"
    })
    .await;
    assert_eq!(p["request"], id.as_str());
    let (code, v) = call(
        &c,
        Method::DELETE,
        &s.url(&format!("/api/v1.0/tasks/{id}")),
        Some(&t.operator),
        None,
    )
    .await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["status"], "terminating");
    assert_eq!(v["terminated_by"], "ops");
    let done = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(done["status"], "terminated", "{done:#}");
    assert_eq!(done["result"]["status"], "incomplete");
    let subs = done["subtasks"].as_array().unwrap();
    assert!(subs.iter().any(|s| s["status"] == "cancelled"), "{done:#}");
    assert!(
        subs.iter().all(|s| s["status"] != "started"),
        "no step is left in flight: {done:#}"
    );
    // Cancelling again: it already finished.
    let (code, v) = call(
        &c,
        Method::DELETE,
        &s.url(&format!("/api/v1.0/tasks/{id}")),
        Some(&t.operator),
        None,
    )
    .await;
    assert_eq!(code, 409, "{v}");
    let (code, _) = call(
        &c,
        Method::DELETE,
        &s.url("/api/v1.0/tasks/none"),
        Some(&t.operator),
        None,
    )
    .await;
    assert_eq!(code, 404);
    // A queued task that is cancelled never runs.
    let blocker = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes"})).await;
    let queued = start_task(&s, &c, &t.operator, json!({"action": "verify_site"})).await;
    let (code, v) = call(
        &c,
        Method::DELETE,
        &s.url(&format!("/api/v1.0/tasks/{queued}")),
        Some(&t.operator),
        None,
    )
    .await;
    assert_eq!(code, 202, "{v}");
    let q = wait_finished(&s, &c, &t.reader, &queued).await;
    assert_eq!(q["status"], "terminated");
    assert!(q["subtask_id_list"].as_array().unwrap().is_empty(), "{q:#}");
    // The next deploy resumed the cancelled one: nothing it finished ran again.
    let b = wait_finished(&s, &c, &t.reader, &blocker).await;
    assert_eq!(b["result"]["status"], "success", "{b:#}");
    let first: std::collections::HashSet<&str> = subs
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .map(|s| s["task_id"].as_str().unwrap())
        .collect();
    // (They are part of the resumed plan, skipped: started once, in the first task.)
    let again: Vec<&Value> = b["subtasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| first.contains(s["task_id"].as_str().unwrap()) && s["attempts"] != 1)
        .collect();
    assert!(again.is_empty(), "tasks done before ran again: {again:#?}");
    assert!(
        b["result"]["details"]["tasks_skipped"].as_u64().unwrap() >= first.len() as u64,
        "{b:#}"
    );
    assert_eq!(s.stop(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_interrupted_by_a_stop_is_resumed_at_the_next_start() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let st = state(&d);
    let args = ["--state", st.as_str(), "--sim-time-scale", "0.02"];
    let mut s = Server::start(&demo(), &t.file, &args);
    let c = client();
    let mut ev = events(&c, &s.url("/api/v1.0/events"), &t.reader).await;
    let id = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes"})).await;
    next_event(&mut ev, Duration::from_secs(60), |e, v| {
        e == "record" && v["event"]["type"] == "task_succeeded"
    })
    .await;
    assert_eq!(s.stop(), Some(0));
    let s = Server::start(&demo(), &t.file, &args);
    let done = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(done["result"]["status"], "success", "{done:#}");
    // The journal: no task succeeded twice.
    let records = drydock::state::file_store::FileStore::read(&d.path().join("state"))
        .unwrap()
        .unwrap();
    let mut ok = std::collections::HashSet::new();
    for r in &records {
        if let drydock::state::Event::TaskSucceeded { task, .. } = &r.event {
            assert!(ok.insert(task.clone()), "{task} succeeded twice");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_task_transitions_filtered_by_task() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let s = Server::start(
        &demo(),
        &t.file,
        &["--state", &state(&d), "--sim-time-scale", "0.001"],
    );
    let c = client();
    let first = start_task(&s, &c, &t.operator, json!({"action": "validate_design"})).await;
    wait_finished(&s, &c, &t.reader, &first).await;
    let id = start_task(&s, &c, &t.operator, json!({"action": "deploy_nodes", "node_filter": {"filter_set": [{"node_names": ["node-a01"]}]}})).await;
    let mut ev = events(
        &c,
        &s.url(&format!("/api/v1.0/events?task_id={id}")),
        &t.reader,
    )
    .await;
    let mut kinds = Vec::new();
    loop {
        let (e, v) = tokio::time::timeout(Duration::from_secs(60), ev.recv())
            .await
            .unwrap()
            .unwrap();
        if e == "record" {
            let ty = v["event"]["type"].as_str().unwrap().to_string();
            if let Some(r) = v["event"]["request"].as_str() {
                assert_eq!(r, id, "only this task's events");
            }
            kinds.push(ty.clone());
            if ty == "request_finished" {
                break;
            }
        } else if e == "progress" {
            assert_eq!(v["request"], id.as_str());
        }
    }
    assert!(kinds.contains(&"task_started".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"task_succeeded".to_string()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("request_finished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_operation_routed() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let s = Server::start(&demo(), &t.file, &["--state", &state(&d)]);
    let c = client();
    let ops = drydock::api::openapi::operations();
    assert_eq!(ops.len(), 10, "{ops:?}");
    for (method, path) in &ops {
        let path = path.replace("{task_id}", "no-such-task");
        let url = s.url(&format!("/api/v1.0{path}"));
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = c
            .request(m, &url)
            .bearer_auth(&t.operator)
            .header("content-type", "application/json")
            .body("{}")
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        // The event stream stays open: its headers are the answer.
        let r = r.unwrap();
        let code = r.status().as_u16();
        assert_ne!(code, 405, "{method} {path} is documented but not routed");
        if code == 404 {
            let v: Value = r.json().await.unwrap();
            assert!(
                v["message"].as_str().unwrap().starts_with("no task"),
                "{method} {path} is documented but not routed: {v}"
            );
        }
    }
    // And the source's routes are the documented ones.
    let src = std::fs::read_to_string(root().join("src/api/mod.rs")).unwrap();
    for line in src
        .lines()
        .filter(|l| l.trim_start().starts_with(".route(\"/api/v1.0"))
    {
        let path = line
            .split('"')
            .nth(1)
            .unwrap()
            .trim_start_matches("/api/v1.0");
        assert!(
            ops.iter().any(|(_, p)| p == path),
            "route {path} is not in openapi.json"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_served_over_tls_with_the_given_certificate() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    // A CA and a certificate for 127.0.0.1 signed by it (rustls refuses a CA as a server's own).
    peers_support::make_certificates(d.path());
    let (cert, key) = (d.path().join("bmc.pem"), d.path().join("bmc.key"));
    let s = Server::start(
        &demo(),
        &t.file,
        &[
            "--state",
            &state(&d),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.first_line);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(d.path().join("ca.pem")).unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let (code, v) = get(&c, &s.url("/api/v1.0/tasks"), &t.reader).await;
    assert_eq!((code, v), (200, json!([])));
    // A client that does not trust it is refused; plain HTTP gets no answer.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(s.url("/api/v1.0/health"))
            .send()
            .await
            .is_err()
    );
    let plain = s.base.replacen("https://", "http://", 1);
    assert!(
        client()
            .get(format!("{plain}/api/v1.0/health"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_err()
    );
    // The service still serves after a bad handshake.
    let (code, _) = get(&c, &s.url("/api/v1.0/health"), &t.reader).await;
    assert_eq!(code, 200);
}

#[test]
fn serve_refuses_a_missing_or_bad_tokens_file_and_a_held_state() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_drydock"))
            .current_dir(root())
            .env_remove("DRYDOCK_DATABASE")
            .arg("serve")
            .arg(demo())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let st = state(&d);
    let (code, err) = run(&["--state", &st, "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no tokens file") && err.contains("drydock token"),
        "{err}"
    );
    let bad = d.path().join("bad");
    std::fs::write(&bad, "ops operator hunter2-the-token\n").unwrap();
    let (code, err) = run(&[
        "--state",
        &st,
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains(":1:") && !err.contains("hunter2"), "{err}");
    // A second service (or an apply) on the same state directory.
    let t = Tokens::write(d.path());
    let _s = Server::start(&demo(), &t.file, &["--state", &st]);
    let (code, err) = run(&[
        "--state",
        &st,
        "--listen",
        "127.0.0.1:0",
        "--tokens",
        t.file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("holds the site lock"), "{err}");
}
