//! Forwarding writes from a follower to the leader: the request goes on as it came (method,
//! path, the caller's own Authorization header, the body), marked with the forwarding
//! instance's name; the leader authenticates and audits it again, and its answer is relayed.
//! A request that was already forwarded once is never forwarded again (two instances that
//! each think the other leads would bounce it forever): it gets 503.

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api::ApiError;
use crate::service::{Role, Service};

pub const FORWARDED_BY: &str = "x-drydock-forwarded-by";

pub struct Forwarder {
    client: reqwest::Client,
    instance: String,
}

impl Forwarder {
    pub fn new(peer_ca: Option<&std::path::Path>, instance: &str) -> Result<Forwarder, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = peer_ca {
            let pem = std::fs::read(path)
                .map_err(|e| format!("the peer CA bundle {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("the peer CA bundle {}: {e}", path.display()))?;
            b = b.tls_certs_only(certs);
        }
        Ok(Forwarder {
            client: b
                .build()
                .map_err(|e| format!("cannot build an HTTPS client: {e}"))?,
            instance: instance.to_string(),
        })
    }

    /// The leader's answer when this instance does not lead; `None` when it leads.
    pub async fn maybe(
        &self,
        service: &Service,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<&Value>,
    ) -> Result<Option<Response>, ApiError> {
        let leader = match service.role() {
            Role::Leader { .. } => return Ok(None),
            Role::Follower { leader: Some(l) } if !headers.contains_key(FORWARDED_BY) => l,
            _ => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "no instance leads just now (an election is under way); retry in a few seconds",
                ));
            }
        };
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let url = format!("{}{path}", leader.trim_end_matches('/'));
        let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("a valid method");
        let mut req = self
            .client
            .request(m, &url)
            .header(FORWARDED_BY, &self.instance);
        if let Some(a) = headers.get(header::AUTHORIZATION) {
            req = req.header(reqwest::header::AUTHORIZATION, a.as_bytes());
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "Unavailable",
                format!("cannot reach the leader at {leader}: {e}; retry"),
            )
        })?;
        let code = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let task = resp
            .headers()
            .get(crate::api::audit::TASK_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "Unavailable",
                format!("the leader at {leader} did not answer in full: {e}; retry"),
            )
        })?;
        let mut r = (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
        for (name, v) in [
            (crate::api::audit::TASK_HEADER, task),
            ("location", location),
        ] {
            if let Some(v) = v.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
                r.headers_mut().insert(name, v);
            }
        }
        Ok(Some(r))
    }
}
