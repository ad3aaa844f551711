//! The MAAS REST API 2.0 client: OAuth 1.0 PLAINTEXT (a fresh nonce and timestamp per
//! request), `op` in the query string, parameters in the query for GET/DELETE and in an
//! urlencoded form body for POST/PUT (never JSON: MAAS's handlers read `request.POST`),
//! repeated keys for lists, a trailing slash on every path but the partition detail.
//!
//! Errors are classified here: 503/504, connection errors and timeouts are transient (a 503's
//! `Retry-After` is honoured, capped, before retrying it a few times); 400 (form errors with
//! their field messages), 401/403, 404 and 409 are permanent. Every message is scrubbed of the
//! API key and of the secrets registered with [`Client::scrub_also`] (BMC passwords sent as
//! power parameters). It does not know machines or networks: that is `mod.rs`'s business.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::driver::DriverError;
use crate::driver::credential::REDACTED;

/// What a request answered when it was not a success.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// 0 when no answer came (connection refused, timeout).
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn is(&self, status: u16) -> bool {
        self.status == status
    }
}

impl From<ApiError> for DriverError {
    fn from(e: ApiError) -> DriverError {
        if matches!(e.status, 0 | 502 | 503 | 504) {
            DriverError::Transient(e.message)
        } else {
            DriverError::Permanent(e.message)
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub request_timeout: Duration,
    /// The longest `Retry-After` waited for inside one call (longer ones are cut to this).
    pub max_retry_after: Duration,
    /// How many times a 503 is retried inside one call before it is reported as transient.
    pub retries_503: u32,
    pub ca_bundle: Option<std::path::PathBuf>,
    pub insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            request_timeout: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
            retries_503: 3,
            ca_bundle: None,
            insecure: false,
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    /// `http://HOST:5240/MAAS/api/2.0/`.
    api: String,
    consumer: String,
    token: String,
    secret: String,
    options: ClientOptions,
    needles: Mutex<Vec<String>>,
    nonce: AtomicU64,
    /// Requests sent (for the benchmark and the tests).
    pub sent: AtomicU64,
}

/// `application/x-www-form-urlencoded` escaping (RFC 3986 unreserved characters kept).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn encode_form(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    /// `url` is the MAAS URL (`http://HOST:5240/MAAS`); `key` the resolved
    /// `consumer_key:token_key:token_secret`.
    pub fn new(url: &str, key: &str, options: ClientOptions) -> Result<Client, DriverError> {
        let parts: Vec<&str> = key.trim().split(':').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(DriverError::Permanent(
                "the MAAS API key is not of the form consumer_key:token_key:token_secret (MAAS shows it under the user's API keys)".into(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &options.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| {
                DriverError::Permanent(format!(
                    "the MAAS CA bundle {} cannot be read: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                DriverError::Permanent(format!(
                    "the MAAS CA bundle {} is not PEM certificates: {e}",
                    path.display()
                ))
            })?;
            b = b.tls_certs_only(certs);
        }
        if options.insecure {
            tracing::warn!(
                url,
                "--maas-insecure: the TLS certificate of MAAS is not verified"
            );
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let http = b.build().map_err(|e| {
            DriverError::Permanent(format!("cannot build an HTTP client for MAAS: {e}"))
        })?;
        let url = url.trim_end_matches('/');
        let mut needles = vec![key.trim().to_string(), parts[2].to_string()];
        needles.push(enc(parts[2]));
        needles.push(crate::driver::credential::base64(key.trim().as_bytes()));
        Ok(Client {
            http,
            api: format!("{url}/api/2.0/"),
            consumer: parts[0].into(),
            token: parts[1].into(),
            secret: parts[2].into(),
            options,
            needles: Mutex::new(needles),
            nonce: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// Keep `secret` (and its URL-encoded form) out of every message from now on.
    pub fn scrub_also(&self, secret: &str) {
        if secret.len() < 3 {
            return;
        }
        let mut n = self.needles.lock().expect("needles lock");
        for s in [secret.to_string(), enc(secret)] {
            if !n.contains(&s) {
                n.push(s);
            }
        }
        n.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn scrub(&self, s: &str) -> String {
        let mut out = s.to_string();
        for n in self.needles.lock().expect("needles lock").iter() {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out
    }

    /// The OAuth PLAINTEXT header, as python-libmaas builds it.
    fn authorization(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let nonce = format!(
            "{:x}{:08x}",
            now.as_nanos(),
            self.nonce.fetch_add(1, Ordering::Relaxed)
        );
        format!(
            "OAuth realm=\"OAuth\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{}\", oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature=\"%26{}\"",
            now.as_secs(),
            enc(&self.consumer),
            enc(&self.token),
            enc(&self.secret)
        )
    }

    /// The API's base URL, for messages.
    pub fn api(&self) -> &str {
        &self.api
    }

    pub async fn get(
        &self,
        path: &str,
        op: Option<&str>,
        q: &[(String, String)],
    ) -> ApiResult<Value> {
        self.call(Method::GET, path, op, q).await
    }

    pub async fn post(
        &self,
        path: &str,
        op: Option<&str>,
        form: &[(String, String)],
    ) -> ApiResult<Value> {
        self.call(Method::POST, path, op, form).await
    }

    pub async fn put(&self, path: &str, form: &[(String, String)]) -> ApiResult<Value> {
        self.call(Method::PUT, path, None, form).await
    }

    pub async fn delete(&self, path: &str) -> ApiResult<Value> {
        self.call(Method::DELETE, path, None, &[]).await
    }

    /// A request without authentication (`version/`).
    pub async fn anonymous(&self, path: &str) -> ApiResult<Value> {
        let url = format!("{}{path}", self.api);
        self.sent.fetch_add(1, Ordering::Relaxed);
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.net_error(&url, e))?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if status != 200 {
            return Err(self.api_error("GET", path, status, &text));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        op: Option<&str>,
        params: &[(String, String)],
    ) -> ApiResult<Value> {
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(op) = op {
            query.push(("op".into(), op.into()));
        }
        let in_query = method == Method::GET || method == Method::DELETE;
        if in_query {
            query.extend(params.iter().cloned());
        }
        let mut url = format!("{}{path}", self.api);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_form(&query));
        }
        let what = match op {
            Some(op) => format!("{method} {path}?op={op}"),
            None => format!("{method} {path}"),
        };
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", self.authorization())
                .header("Accept", "application/json");
            if !in_query {
                req = req
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(encode_form(params));
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            let r = req.send().await.map_err(|e| self.net_error(&what, e))?;
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = r.text().await.unwrap_or_default();
            if (200..300).contains(&status) {
                if text.is_empty() {
                    return Ok(Value::Null);
                }
                return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)));
            }
            if status == 503 && attempt < self.options.retries_503 {
                attempt += 1;
                let wait =
                    Duration::from_secs(retry_after.unwrap_or(1)).min(self.options.max_retry_after);
                tracing::info!(request = %what, retry_after = ?retry_after, waiting_ms = wait.as_millis() as u64, "MAAS answered 503; retrying after its Retry-After");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(self.api_error(method.as_str(), &what, status, &text));
        }
    }

    fn net_error(&self, what: &str, e: reqwest::Error) -> ApiError {
        let mut cause = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            cause = s.to_string();
            src = s.source();
        }
        let why = if e.is_timeout() {
            "did not answer in time".to_string()
        } else {
            format!("cannot be reached ({cause})")
        };
        ApiError {
            status: 0,
            message: self.scrub(&format!("MAAS at {} {why} ({what})", self.api)),
        }
    }

    fn api_error(&self, _method: &str, what: &str, status: u16, body: &str) -> ApiError {
        let detail = describe(body);
        let message = match status {
            401 => format!(
                "MAAS refused the API key ({what}: 401 {detail}); check --maas-key: it must be a key of a MAAS admin user"
            ),
            403 => format!(
                "MAAS does not allow this ({what}: 403 {detail}); the API key's user must be a MAAS admin"
            ),
            _ => format!("MAAS refused {what}: {status} {detail}"),
        };
        ApiError {
            status,
            message: self.scrub(&message),
        }
    }
}

/// A MAAS error body in one line: form errors as `field: message; …`.
fn describe(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| {
                let msgs = match v {
                    Value::Array(a) => a
                        .iter()
                        .map(|m| m.as_str().map_or(m.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.as_str().map_or(other.to_string(), str::to_string),
                };
                if k == "__all__" {
                    msgs
                } else {
                    format!("{k}: {msgs}")
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Ok(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().map_or(m.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
        _ => {
            let t = body.trim();
            if t.is_empty() {
                "(no message)".into()
            } else {
                t.chars().take(500).collect()
            }
        }
    }
}
