//! The HTTP side of the boot service (axum), plain HTTP because iPXE has no HTTPS here:
//!
//! | path | who | what |
//! |---|---|---|
//! | `GET /boot.ipxe` | iPXE (from DHCP) | chain to the script of the booting MAC |
//! | `GET /boot/mac/{mac}` | iPXE | the node's script: deploy agent (with its token), installer, local disk, or nothing |
//! | `GET /boot/agent/vmlinuz`, `/boot/agent/initramfs.gz` | iPXE | the deploy agent (`X-Checksum-Sha256`) |
//! | `GET /boot/images/{name}`, `/boot/images/{name}/kernel`, `.../initrd` | agent, iPXE | images |
//! | `GET /boot/SHA256SUMS` | anyone | the checksums of every artifact |
//! | `POST /api/v1/agent/{node}/hello` | agent | its inventory |
//! | `GET /api/v1/agent/{node}/deploy` | agent | `wait`, or its deploy script |
//! | `POST /api/v1/agent/{node}/phase`, `.../done` | agent, installer | progress and result |
//! | `GET /api/v1/agent/{node}/seed/{user-data,meta-data,network-config}` | agent | its seed |
//! | `GET /api/v1/installer/{node}/{token}/{user-data,meta-data}` | installer | autoinstall |
//! | `GET /api/v1.0/bootactions/nodes/{hostname}/units`, `/files` | node | the old API's tarballs |
//! | `POST /api/v1.0/bootactions/{action_id}` | node | the old API's boot-action signal |
//!
//! Every request that returns or changes node data carries the node's one-time token
//! (`X-Drydock-Token`, or the old `X-Bootaction-Key`) and gets only that node's data; a wrong
//! or missing token, an unknown MAC or node is refused (403/404) and logged. Tokens and seed
//! contents are never logged.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::boot::records::{ActionStatus, Inventory, Stage};
use crate::boot::{BootState, cloudinit, ipxe, script};
use crate::model::observed::Status;
use crate::spec::NodeSpec;
use crate::vocab::now_ms;

type S = State<Arc<BootState>>;

pub fn router(state: Arc<BootState>) -> axum::Router {
    if state.signals_only() {
        return signal_router(state);
    }
    axum::Router::new()
        .route("/boot.ipxe", get(chain))
        .route("/boot/mac/{mac}", get(by_mac))
        .route("/boot/agent/{file}", get(agent_file))
        .route("/boot/images/{name}", get(image_file))
        .route("/boot/images/{name}/{part}", get(installer_file))
        .route("/boot/SHA256SUMS", get(sums))
        .route("/api/v1/agent/{node}/hello", post(hello))
        .route("/api/v1/agent/{node}/deploy", get(deploy_script))
        .route("/api/v1/agent/{node}/phase", post(phase))
        .route("/api/v1/agent/{node}/done", post(done))
        .route("/api/v1/agent/{node}/seed/{file}", get(seed))
        .route(
            "/api/v1/installer/{node}/{token}/{file}",
            get(installer_seed),
        )
        .route(
            "/api/v1.0/bootactions/nodes/{node}/{kind}",
            get(action_assets),
        )
        .route("/api/v1.0/bootactions/{id}", post(action_signal))
        .with_state(state)
}

/// The boot-action API alone, for a provisioner that boots machines itself (MAAS): nothing
/// here netboots a machine or hands out a deploy agent.
pub fn signal_router(state: Arc<BootState>) -> axum::Router {
    axum::Router::new()
        .route(
            "/api/v1.0/bootactions/nodes/{node}/{kind}",
            get(action_assets),
        )
        .route("/api/v1.0/bootactions/{id}", post(action_signal))
        .with_state(state)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn forbidden() -> Response {
    text(
        StatusCode::FORBIDDEN,
        "forbidden: missing or wrong token for this node\n",
    )
}

fn token<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn chain(State(s): S) -> Response {
    text(StatusCode::OK, ipxe::chain(&s.config.url()))
}

async fn by_mac(State(s): S, Path(mac): Path<String>) -> Response {
    let Some(node) = s.node_by_mac(&mac) else {
        tracing::warn!(mac = %crate::source::printable(&mac), "boot script asked for by a MAC that is not in the design; refused");
        return text(
            StatusCode::NOT_FOUND,
            "#!ipxe\necho drydock: this MAC is not in the design\nexit\n",
        );
    };
    let uefi = node.hardware.boot_mode.as_deref() == Some("uefi");
    let rec = s.records.get(&node.name).unwrap_or_default();
    // Written and booting its disk, the deploy still open for its boot-action signals: a
    // machine that netboots now (a disk its firmware cannot boot) must not get the agent
    // again, which would write the disk a second time.
    let on_disk = rec.status == Status::Deployed && rec.stage == Stage::Idle;
    if let Some((tok, spec)) = s.deploy_token(&node.name).filter(|_| !on_disk) {
        let url = s.config.url();
        let image = spec
            .platform
            .image
            .as_deref()
            .and_then(|i| s.config.images.get(i).map(|c| (i, c)));
        if let Some((name, c)) = image
            && c.mode == crate::boot::config::DeployMode::Installer
        {
            let seed = format!("{url}/api/v1/installer/{}/{tok}/", node.name);
            tracing::info!(node = %node.name, image = name, "handing out the installer's boot script");
            return text(
                StatusCode::OK,
                ipxe::installer(&url, &node.name, name, &seed, &c.installer_args),
            );
        }
        let Some((k, i)) = s.agent_artifacts() else {
            return text(StatusCode::NOT_FOUND, "no deploy agent here\n");
        };
        let mac = crate::boot::normal_mac(node.boot_mac.as_deref().unwrap_or(&mac));
        tracing::info!(node = %node.name, "handing out the deploy agent's boot script");
        let _ = s
            .records
            .update(&node.name, |r| {
                r.push_phase(
                    now_ms(),
                    "netboot: iPXE fetched the deploy agent's script".into(),
                )
            })
            .await;
        return text(
            StatusCode::OK,
            ipxe::agent(
                &url,
                &node.name,
                &tok,
                &mac,
                &s.config.agent.kernel_args,
                (&k.sha256, &i.sha256),
            ),
        );
    }
    if rec.status == Status::Deployed {
        return text(StatusCode::OK, ipxe::local(&node.name, uefi));
    }
    text(StatusCode::OK, ipxe::idle(&node.name))
}

fn artifact(a: &crate::boot::Artifact) -> Response {
    let body = match &a.data {
        Some(b) => Body::from(b.clone()),
        None => return stream_file(a),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static("x-checksum-sha256"),
                a.sha256.clone(),
            ),
        ],
        body,
    )
        .into_response()
}

/// A big file (an image), streamed in 1 MiB pieces.
fn stream_file(a: &crate::boot::Artifact) -> Response {
    let path = a.path.clone();
    let stream = futures_util::stream::unfold(None::<tokio::fs::File>, move |f| {
        let path = path.clone();
        async move {
            use tokio::io::AsyncReadExt;
            let mut f = match f {
                Some(f) => f,
                None => match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) => return Some((Err(e), None)),
                },
            };
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(f)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, a.bytes.to_string()),
            (
                header::HeaderName::from_static("x-checksum-sha256"),
                a.sha256.clone(),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn agent_file(State(s): S, Path(file): Path<String>) -> Response {
    let Some((k, i)) = s.agent_artifacts() else {
        return text(StatusCode::NOT_FOUND, "no deploy agent here\n");
    };
    match file.as_str() {
        "vmlinuz" => artifact(k),
        "initramfs.gz" => artifact(i),
        _ => text(StatusCode::NOT_FOUND, "no such file\n"),
    }
}

async fn image_file(State(s): S, Path(name): Path<String>) -> Response {
    let Some(path) = s.config.images.get(&name).and_then(|c| c.file.clone()) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("no image `{}`\n", crate::source::printable(&name)),
        );
    };
    match s.image_artifact(&path) {
        Ok(a) => artifact(&a),
        Err(e) => {
            tracing::error!(image = %name, error = %e, "cannot serve the image");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the image cannot be read\n",
            )
        }
    }
}

async fn installer_file(State(s): S, Path((name, part)): Path<(String, String)>) -> Response {
    let c = s.config.images.get(&name);
    let path = match part.as_str() {
        "kernel" => c.and_then(|c| c.kernel.clone()),
        "initrd" => c.and_then(|c| c.initrd.clone()),
        _ => None,
    };
    let Some(path) = path else {
        return text(StatusCode::NOT_FOUND, "no such file\n");
    };
    match s.image_artifact(&path) {
        Ok(a) => artifact(&a),
        Err(e) => {
            tracing::error!(image = %name, error = %e, "cannot serve the installer");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file cannot be read\n",
            )
        }
    }
}

async fn sums(State(s): S) -> Response {
    let Some((k, i)) = s.agent_artifacts() else {
        return text(StatusCode::NOT_FOUND, "no deploy agent here\n");
    };
    let mut out = format!(
        "{}  agent/vmlinuz\n{}  agent/initramfs.gz\n",
        k.sha256, i.sha256
    );
    for (name, c) in &s.config.images {
        for (suffix, p) in [
            ("", &c.file),
            ("/kernel", &c.kernel),
            ("/initrd", &c.initrd),
        ] {
            if let Some(p) = p
                && let Ok(a) = s.image_artifact(p)
            {
                out.push_str(&format!("{}  images/{name}{suffix}\n", a.sha256));
            }
        }
    }
    text(StatusCode::OK, out)
}

/// The node of an agent request, when its token is right.
fn agent_node(s: &BootState, node: &str, h: &HeaderMap, what: &str) -> Option<Arc<NodeSpec>> {
    if !s.authorize(node, token(h, "x-drydock-token"), what) {
        return None;
    }
    s.node(node)
}

async fn hello(State(s): S, Path(node): Path<String>, h: HeaderMap, body: String) -> Response {
    let Some(n) = agent_node(&s, &node, &h, "hello") else {
        return forbidden();
    };
    let inv = match Inventory::parse(&body) {
        Ok(i) => i,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    // The machine must be the designed one: its boot MAC among its NICs.
    if let Some(mac) = &n.boot_mac
        && !inv
            .nics
            .iter()
            .any(|x| x.mac == crate::boot::normal_mac(mac))
    {
        tracing::warn!(node = %node, "the deploy agent's machine does not have the node's boot MAC");
    }
    let r = s
        .records
        .update(&node, |r| {
            r.inventory = Some(inv);
            if r.stage == Stage::Armed {
                r.stage = Stage::Inventoried;
            }
            r.push_phase(now_ms(), "agent: hardware reported".into());
        })
        .await;
    match r {
        Ok(()) => text(StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "cannot record the hello");
            text(StatusCode::SERVICE_UNAVAILABLE, "try again\n")
        }
    }
}

async fn deploy_script(State(s): S, Path(node): Path<String>, h: HeaderMap) -> Response {
    let Some(n) = agent_node(&s, &node, &h, "deploy script") else {
        return forbidden();
    };
    if !s.released(&node) {
        return text(StatusCode::OK, "wait\n");
    }
    let rec = s.records.get(&node).unwrap_or_default();
    let Some(inv) = &rec.inventory else {
        return text(StatusCode::CONFLICT, "report the hardware first\n");
    };
    let built = image_ref(&s, &n).and_then(|img| script::deploy(&n, inv, &img));
    match built {
        Ok(text_) => {
            let _ = s
                .records
                .update(&node, |r| {
                    r.stage = Stage::Deploying;
                    r.push_phase(now_ms(), "agent: deploy script fetched".into());
                })
                .await;
            text(StatusCode::OK, text_)
        }
        Err(e) => {
            tracing::error!(node = %node, error = %e, "cannot make the deploy script");
            let _ = s
                .records
                .update(&node, |r| {
                    r.stage = Stage::Failed;
                    r.failure = Some(e.clone());
                })
                .await;
            text(StatusCode::CONFLICT, format!("{e}\n"))
        }
    }
}

/// The node's image, with its checksum.
pub fn image_ref(s: &BootState, n: &NodeSpec) -> Result<script::ImageRef, String> {
    let name = n
        .platform
        .image
        .as_deref()
        .ok_or_else(|| format!("node {} has no platform.image", n.name))?;
    let c = s.config.images.get(name).ok_or_else(|| {
        format!(
            "image `{name}` of node {} is not in the boot service's image catalogue (--boot-config images)",
            n.name
        )
    })?;
    let path = c
        .file
        .as_ref()
        .ok_or_else(|| format!("image `{name}` has no file"))?;
    let a = s.image_artifact(path)?;
    Ok(script::ImageRef {
        name: name.to_string(),
        path: format!("boot/images/{name}"),
        sha256: a.sha256,
        bytes: a.bytes,
        format: c.format,
    })
}

async fn phase(State(s): S, Path(node): Path<String>, h: HeaderMap, body: String) -> Response {
    if agent_node(&s, &node, &h, "phase").is_none() {
        return forbidden();
    }
    let p: String = crate::source::printable(body.trim())
        .chars()
        .take(200)
        .collect();
    tracing::info!(node = %node, phase = %p, "deploy phase");
    match s.records.update(&node, |r| r.push_phase(now_ms(), p)).await {
        Ok(()) => text(StatusCode::OK, "ok\n"),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "try again\n"),
    }
}

async fn done(State(s): S, Path(node): Path<String>, h: HeaderMap, body: String) -> Response {
    if agent_node(&s, &node, &h, "done").is_none() {
        return forbidden();
    }
    let b = crate::source::printable(body.trim());
    let failed = b
        .strip_prefix("failed:")
        .map(|r| r.trim().chars().take(500).collect::<String>());
    let r = s
        .records
        .update(&node, |r| match &failed {
            Some(reason) => {
                r.stage = Stage::Failed;
                r.failure = Some(format!(
                    "the deploy agent failed{}: {reason}",
                    r.last_phase()
                        .map(|p| format!(" in `{p}`"))
                        .unwrap_or_default()
                ));
            }
            None => {
                r.stage = Stage::Written;
                r.push_phase(now_ms(), "agent: disk written".into());
            }
        })
        .await;
    match r {
        Ok(()) => {
            tracing::info!(node = %node, ok = failed.is_none(), "deploy agent finished");
            text(StatusCode::OK, "ok\n")
        }
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "try again\n"),
    }
}

/// The cloud-init documents of a node (`key`: its token, for the boot actions' templates).
fn seed_file(
    s: &BootState,
    n: &NodeSpec,
    file: &str,
    key: &str,
) -> Result<String, (StatusCode, String)> {
    let rec = s.records.get(&n.name).unwrap_or_default();
    match file {
        "meta-data" => Ok(cloudinit::meta_data(n, rec.generation)),
        "network-config" => Ok(cloudinit::network_config_text(n, rec.inventory.as_ref())),
        "user-data" => {
            let cxs: Vec<_> = n
                .boot_actions
                .iter()
                .map(|a| (a.as_ref(), s.action_context(&n.name, &a.name, key)))
                .collect();
            cloudinit::user_data(n, &cxs).map_err(|e| (StatusCode::CONFLICT, e))
        }
        _ => Err((StatusCode::NOT_FOUND, "no such seed file".into())),
    }
}

async fn seed(State(s): S, Path((node, file)): Path<(String, String)>, h: HeaderMap) -> Response {
    let Some(n) = agent_node(&s, &node, &h, "seed") else {
        return forbidden();
    };
    let key = token(&h, "x-drydock-token").unwrap_or_default().to_string();
    match seed_file(&s, &n, &file, &key) {
        Ok(t) => text(StatusCode::OK, t),
        Err((c, e)) => {
            tracing::error!(node = %node, error = %e, "cannot make the seed");
            text(c, format!("{e}\n"))
        }
    }
}

async fn installer_seed(
    State(s): S,
    Path((node, tok, file)): Path<(String, String, String)>,
) -> Response {
    if !s.authorize(&node, Some(&tok), "installer seed") {
        return forbidden();
    }
    let Some(n) = s.node(&node) else {
        return forbidden();
    };
    match file.as_str() {
        "meta-data" => text(StatusCode::OK, cloudinit::meta_data(&n, 0)),
        "user-data" => {
            let cxs: Vec<_> = n
                .boot_actions
                .iter()
                .map(|a| (a.as_ref(), s.action_context(&n.name, &a.name, &tok)))
                .collect();
            let done = format!("{}/api/v1/agent/{node}/done", s.config.url());
            match cloudinit::autoinstall(&n, &cxs, &done, &tok) {
                Ok(t) => text(StatusCode::OK, t),
                Err(e) => text(StatusCode::CONFLICT, format!("{e}\n")),
            }
        }
        "vendor-data" => text(StatusCode::OK, ""),
        _ => text(StatusCode::NOT_FOUND, "no such file\n"),
    }
}

/// The old API's tarball of a node's `unit` or `file` assets.
async fn action_assets(
    State(s): S,
    Path((node, kind)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    let kind = match kind.as_str() {
        "units" => "unit",
        "files" => "file",
        _ => return text(StatusCode::NOT_FOUND, "units or files\n"),
    };
    let key = token(&h, "x-bootaction-key").or_else(|| token(&h, "x-drydock-token"));
    if !s.authorize(&node, key, "boot-action assets") {
        return forbidden();
    }
    let Some(n) = s.node(&node) else {
        return forbidden();
    };
    let key = key.unwrap_or_default();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for ba in &n.boot_actions {
        let cx = s.action_context(&node, &ba.name, key);
        for a in ba.assets.iter().filter(|a| a.kind == kind) {
            let r = match cloudinit::render_asset(a, &n, &cx) {
                Ok(r) => r,
                Err(e) => {
                    return text(
                        StatusCode::CONFLICT,
                        format!("boot action {}: {e}\n", ba.name),
                    );
                }
            };
            let mut head = tar::Header::new_gnu();
            head.set_size(r.content.len() as u64);
            head.set_mode(
                u32::from_str_radix(r.permissions.trim_start_matches('0'), 8).unwrap_or(0o644),
            );
            head.set_mtime(now_ms() / 1000);
            head.set_cksum();
            if let Err(e) = tar.append_data(
                &mut head,
                r.path.trim_start_matches('/'),
                r.content.as_slice(),
            ) {
                return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"));
            }
        }
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| e.to_string());
    match bytes {
        Ok(b) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/gzip")],
            b,
        )
            .into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

#[derive(serde::Deserialize)]
struct Signal {
    status: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(serde::Deserialize)]
struct Detail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: bool,
}

/// The old API's boot-action signal: `{"status": "Success"|"Failure"|"Running", "details":
/// [{"message": .., "error": bool}]}`; 201 when recorded, 409 once the action is final.
async fn action_signal(
    State(s): S,
    Path(id): Path<String>,
    h: HeaderMap,
    body: String,
) -> Response {
    let Some((node, action)) = s.action(&id) else {
        tracing::warn!(action_id = %crate::source::printable(&id), "signal for an unknown boot action; refused");
        return text(StatusCode::NOT_FOUND, "unknown boot action\n");
    };
    let key = token(&h, "x-bootaction-key").or_else(|| token(&h, "x-drydock-token"));
    if !s.authorize(&node, key, "boot-action signal") {
        return forbidden();
    }
    let sig: Signal = match serde_json::from_str(&body) {
        Ok(s) => s,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let Some(status) = ActionStatus::parse(&sig.status) else {
        return text(
            StatusCode::BAD_REQUEST,
            "status is Success, Failure or Running\n",
        );
    };
    let r = s
        .records
        .update(&node, |r| {
            let Some(a) = r.actions.get_mut(&action) else {
                return Err(StatusCode::NOT_FOUND);
            };
            if a.status.is_final() {
                return Err(StatusCode::CONFLICT);
            }
            a.status = status;
            for d in sig.details {
                let m: String = crate::source::printable(&d.message)
                    .chars()
                    .take(500)
                    .collect();
                a.messages
                    .push(if d.error { format!("error: {m}") } else { m });
            }
            if a.messages.len() > 20 {
                let cut = a.messages.len() - 20;
                a.messages.drain(..cut);
            }
            Ok(())
        })
        .await;
    match r {
        Ok(Ok(())) => {
            tracing::info!(node = %node, action = %action, status = ?status, "boot-action signal");
            text(StatusCode::CREATED, "recorded\n")
        }
        Ok(Err(c)) => text(c, "the boot action already has its final status\n"),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "try again\n"),
    }
}
