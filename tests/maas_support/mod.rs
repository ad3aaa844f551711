//! What the MAAS tests share: the fake (`fake.rs`, also `examples/maas_fake.rs`) started
//! in-process on 127.0.0.1 with a runtime of its own (so a test can run the drydock binary
//! against it while the fake answers), the API key, and a raw signed HTTP client that checks
//! MAAS's semantics independently of drydock's client.

#![allow(dead_code)]

pub mod fake;

use std::net::SocketAddr;
use std::time::Duration;

pub use fake::{ClockMode, Fake, Faults, Options, St, Timings};

/// 18 + 18 + 32 characters, as MAAS makes them.
pub const KEY: &str = "cKeY0123456789abcd:tKeY0123456789abcd:sEcReT0123456789abcdefghijklmnop";
pub const SECRET: &str = "sEcReT0123456789abcdefghijklmnop";

pub struct Running {
    pub fake: Fake,
    rt: tokio::runtime::Runtime,
}

impl std::ops::Deref for Running {
    type Target = Fake;
    fn deref(&self) -> &Fake {
        &self.fake
    }
}

impl Running {
    pub fn rt(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }
}

pub fn start(clock: ClockMode) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt
        .block_on(Fake::start(
            "127.0.0.1:0".parse().unwrap(),
            Options {
                api_key: KEY.into(),
                clock,
                timings: Timings::default(),
                state_dir: None,
            },
        ))
        .unwrap();
    Running { fake, rt }
}

/// One answer: status, headers (names lower-case), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw MAAS client over plain HTTP/1.1: signs as python-libmaas does (or not, or wrongly)
/// and sends exactly what it is told.
pub struct Raw {
    pub addr: SocketAddr,
    n: std::sync::atomic::AtomicU64,
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + n]);
        b = &b[end + 4 + n..];
    }
}

impl Raw {
    pub fn new(addr: SocketAddr) -> Raw {
        Raw {
            addr,
            n: Default::default(),
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        auth: Option<String>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(a) = auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        let bytes = match &body {
            Some((ct, b)) => {
                req.push_str(&format!("Content-Type: {ct}\r\n"));
                b.clone()
            }
            None => Vec::new(),
        };
        req.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(&bytes).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&out[..split]).to_string();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut rest = out[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            rest = dechunk(&rest);
        }
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&rest).to_string(),
        }
    }

    pub fn header_with(&self, ck: &str, tk: &str, ts: &str, nonce: &str, time: u64) -> String {
        format!(
            "OAuth realm=\"OAuth\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{time}\", oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{ck}\", oauth_token=\"{tk}\", oauth_signature=\"%26{ts}\""
        )
    }

    pub fn header(&self) -> String {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p: Vec<&str> = KEY.split(':').collect();
        self.header_with(
            p[0],
            p[1],
            p[2],
            &format!("raw{n}-{}", now_secs()),
            now_secs(),
        )
    }

    /// An authenticated request with an urlencoded form.
    pub fn call(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let b = (!form.is_empty() || method == "POST" || method == "PUT")
            .then(|| ("application/x-www-form-urlencoded", body.into_bytes()));
        self.send(method, path, Some(self.header()), b)
    }

    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, Some(self.header()), None)
    }
}

pub use drydock::driver::maas::client::enc;
