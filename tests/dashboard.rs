//! The dashboard in a real headless browser: Debian's chromium driven over WebDriver
//! (chromedriver, on a free loopback port) against `drydock serve` on the demo site. The page
//! signs in with a token, shows the nodes by rack, updates live while an apply runs (from the
//! event stream), and cancelling from the page cancels the task. A screenshot is saved as a
//! test artifact (`target/tmp/dashboard.png`). `scripts/install-peers.sh` installs chromium
//! and chromium-driver; a missing one fails the test rather than skipping it.

mod serve_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64_decode::decode;
use serde_json::{Value, json};
use serve_support::*;

/// Base64 (standard alphabet, padded), for the screenshot: a few lines, not a dependency.
mod base64_decode {
    pub fn decode(s: &str) -> Vec<u8> {
        let val = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            } as u32)
        };
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes().filter_map(val) {
            acc = (acc << 6) | c;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }
}

fn find(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"] {
        let p = std::path::Path::new(dir).join(name);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!(
        "{name} was not found: run ./scripts/install-peers.sh, which installs Debian's chromium and chromium-driver"
    );
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(find("chromedriver"))
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = client();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": find("chromium"),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1400,1100",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut r = self.http.request(method.clone(), &url);
        if method != reqwest::Method::GET {
            r = r.json(&body);
        }
        let v: Value = r.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Run JavaScript in the page; its return value.
    async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    }

    async fn type_in(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    /// Wait until `script` returns something `ok` accepts; that value.
    async fn until(&self, what: &str, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.js(script).await;
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {what}: last {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self) -> Vec<u8> {
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        decode(v.as_str().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_nodes_updates_live_and_cancels_from_the_page() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let st = d.path().join("state").display().to_string();
    let s = Server::start(
        &demo(),
        &t.file,
        &["--state", &st, "--sim-time-scale", "0.03"],
    );
    let c = client();
    let b = Driver::start().await;
    b.go(&s.url("/dashboard")).await;
    // Before signing in, no data.
    let hidden = b.js("return document.getElementById('main').hidden").await;
    assert_eq!(hidden, true);
    b.type_in("#token", &t.operator).await;
    b.click("#login-button").await;
    // The nodes, by rack.
    let racks = b
        .until(
            "eight nodes in three racks",
            "return [...document.querySelectorAll('#racks .rack')].map(r => [r.dataset.rack, r.querySelectorAll('tr[data-node]').length])",
            |v| v.as_array().is_some_and(|a| a.len() == 3),
        )
        .await;
    assert_eq!(racks, json!([["rack-a", 3], ["rack-b", 3], ["rack-c", 2]]));
    let plan = b
        .until(
            "the plan",
            "return (document.getElementById('plan-summary') || {}).textContent || ''",
            |v| v.as_str().is_some_and(|s| s.contains("8 deploy")),
        )
        .await;
    assert!(plan.as_str().unwrap().contains("tasks"), "{plan}");
    // Start a deploy from the page; it shows live while it runs.
    b.click("#deploy").await;
    let first = b
        .until(
            "the running task",
            "return document.getElementById('running').dataset.task || ''",
            |v| v.as_str().is_some_and(|s| !s.is_empty()),
        )
        .await;
    let id = first.as_str().unwrap().to_string();
    let (_, task) = get(&c, &s.url(&format!("/api/v1.0/tasks/{id}")), &t.reader).await;
    assert_eq!(task["action"], "deploy_nodes");
    // Progress moves without reloading the page, and node rows change state.
    let progress = "return (document.getElementById('running-progress') || {}).textContent || ''";
    let p1 = b
        .until("progress", progress, |v| {
            v.as_str().is_some_and(|s| s.contains("subtasks done"))
        })
        .await;
    let p1 = p1.as_str().unwrap().to_string();
    b.until("progress moving", progress, |v| {
        v.as_str()
            .is_some_and(|s| s != p1 && s.contains("subtasks done"))
    })
    .await;
    b.until(
        "a node deploying or deployed",
        "return [...document.querySelectorAll('#racks tr[data-node]')].map(r => r.dataset.status)",
        |v| v.as_array().is_some_and(|a| a.iter().any(|s| s != "New")),
    )
    .await;
    b.until(
        "live events",
        "return document.querySelectorAll('#live li').length",
        |v| v.as_u64().is_some_and(|n| n > 0),
    )
    .await;
    let shot = b.screenshot().await;
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&artifact, &shot).unwrap();
    eprintln!("screenshot: {}", artifact.display());
    // Cancel from the page: the task is terminated, and the page says so.
    let (_, now) = get(&c, &s.url(&format!("/api/v1.0/tasks/{id}")), &t.reader).await;
    assert_eq!(
        now["status"], "running",
        "still running when cancelled: {now:#}"
    );
    b.click("#cancel").await;
    let done = wait_finished(&s, &c, &t.reader, &id).await;
    assert_eq!(done["status"], "terminated", "{done:#}");
    assert_eq!(done["terminated_by"], "ops");
    b.until(
        "the task terminated in the history",
        &format!("return (document.querySelector('#tasks tr[data-task=\"{id}\"]') || {{dataset: {{}}}}).dataset.status || ''"),
        |v| v == "terminated",
    )
    .await;
    b.until(
        "no running task",
        "return document.getElementById('running').dataset.task || ''",
        |v| v == "",
    )
    .await;
    // The task history shows per-node results when a task is chosen.
    b.click(&format!("#tasks tr[data-task=\"{id}\"]")).await;
    b.until(
        "per-node results",
        "return document.querySelectorAll('#task-detail tr[data-node]').length",
        |v| v.as_u64().is_some_and(|n| n > 0),
    )
    .await;
    let shot = b.screenshot().await;
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-cancelled.png"),
        shot,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_page_holds_no_data_and_a_wrong_token_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let st = d.path().join("state").display().to_string();
    let s = Server::start(&demo(), &t.file, &["--state", &st]);
    let c = client();
    // The page and its script are served without a token and hold no site data.
    let page = c.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("node-a01"));
    let r = c.get(s.url("/")).send().await.unwrap();
    assert!(r.url().path().ends_with("/dashboard"));
    let b = Driver::start().await;
    b.go(&s.url("/dashboard")).await;
    b.type_in("#token", "ddt_wrong").await;
    b.click("#login-button").await;
    let err = b
        .until(
            "an error",
            "return document.getElementById('error').textContent",
            |v| v.as_str().is_some_and(|s| !s.is_empty()),
        )
        .await;
    assert!(err.as_str().unwrap().contains("bearer token"), "{err}");
    assert_eq!(
        b.js("return document.getElementById('main').hidden").await,
        true
    );
}
