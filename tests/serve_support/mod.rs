//! What the `drydock serve` tests share: a tokens file with an operator and a reader token, a
//! service started as a child process on a free loopback port (the port read from its first
//! line on standard error), an HTTP client, and waiting for what the service does — a task's
//! status, an event on the stream — with a deadline, never for a fixed time. The child is
//! stopped (SIGTERM, then SIGKILL after a deadline) when the `Server` is dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo() -> PathBuf {
    root().join("designs/demo")
}

/// An operator and a reader token, and the tokens file that admits them.
pub struct Tokens {
    pub operator: String,
    pub reader: String,
    pub file: PathBuf,
}

impl Tokens {
    pub fn write(dir: &Path) -> Tokens {
        use drydock::api::auth::{Role, new_token};
        let (operator, l1) = new_token("ops", Role::Operator).unwrap();
        let (reader, l2) = new_token("viewer", Role::Reader).unwrap();
        let file = dir.join("tokens");
        std::fs::write(&file, format!("# test tokens\n{l1}\n{l2}\n")).unwrap();
        Tokens {
            operator,
            reader,
            file,
        }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr: mpsc::Receiver<String>,
    pub first_line: String,
}

impl Server {
    /// `drydock serve DESIGN --listen 127.0.0.1:0 --tokens FILE <args>`.
    pub fn start(design: &Path, tokens: &Path, args: &[&str]) -> Server {
        let mut c = Command::new(env!("CARGO_BIN_EXE_drydock"));
        c.current_dir(root())
            .env_remove("DRYDOCK_STATE")
            .env_remove("DRYDOCK_DATABASE")
            .env("NO_COLOR", "1")
            .arg("serve")
            .arg(design)
            .args(["--listen", "127.0.0.1:0", "--tokens"])
            .arg(tokens)
            .args(args);
        Server::spawn(c)
    }

    pub fn spawn(mut c: Command) -> Server {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("drydock serve starts");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(l) = line else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let first = loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) if l.starts_with("drydock serve: operator API on ") => break l,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    panic!(
                        "drydock serve did not start ({status}):\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        let url = first
            .trim_start_matches("drydock serve: operator API on ")
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches("/api/v1.0")
            .to_string();
        Server {
            child,
            base: url,
            stderr: rx,
            first_line: first,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Stop with SIGTERM; the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Standard error so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A request's status and JSON body (`Null` when the body is not JSON).
pub async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = c.request(method, url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.expect("the service answers");
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn get(c: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    call(c, reqwest::Method::GET, url, Some(token), None).await
}

pub async fn post(c: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    call(c, reqwest::Method::POST, url, Some(token), Some(body)).await
}

/// Start a task; its id.
pub async fn start_task(s: &Server, c: &reqwest::Client, token: &str, body: Value) -> String {
    let (code, v) = post(c, &s.url("/api/v1.0/tasks"), token, body).await;
    assert_eq!(code, 201, "{v}");
    v["task_id"].as_str().unwrap().to_string()
}

/// Poll a task until `done` says so (bounded by `limit`); the last document.
pub async fn wait_task(
    s: &Server,
    c: &reqwest::Client,
    token: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (code, v) = get(
            c,
            &s.url(&format!("/api/v1.0/tasks/{id}?subtasks=true")),
            token,
        )
        .await;
        assert_eq!(code, 200, "{v}");
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "task {id} did not get there in {limit:?}: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Until the task is complete or terminated.
pub async fn wait_finished(s: &Server, c: &reqwest::Client, token: &str, id: &str) -> Value {
    wait_task(s, c, token, id, Duration::from_secs(120), |v| {
        matches!(v["status"].as_str(), Some("complete" | "terminated"))
    })
    .await
}

/// The event stream, as (event, data) pairs on a channel.
pub async fn events(
    c: &reqwest::Client,
    url: &str,
    token: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
    let resp = c.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut resp = resp;
        let mut buf = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                let mut ev = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        ev = e.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let v = serde_json::from_str(&data).unwrap_or(Value::String(data));
                if tx.send((ev, v)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event for which `want` is true, within `limit`.
pub async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
    limit: Duration,
    want: impl Fn(&str, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((e, v))) if want(&e, &v) => return v,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the event stream ended"),
            Err(_) => panic!("no such event within {limit:?}"),
        }
    }
}
