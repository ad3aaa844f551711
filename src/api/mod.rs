//! The operator API and the dashboard of `drydock serve` (axum): thin, like `cli` — parse and
//! check a request (against the OpenAPI document, `openapi`), call the service, render
//! (`render`). Authentication and roles are `auth`'s; every write is audit-logged (`audit`);
//! a follower forwards writes to the leader (`forward`); `dashboard` is the HTML page. This
//! module and `cli` are the only ones that know HTTP. The node-facing boot service is not
//! here.
//!
//! Routes (under `/api/v1.0`): `GET /health`, `GET /openapi.json`, `GET|POST /tasks`,
//! `GET|DELETE /tasks/{task_id}`, `GET /events` (server-sent events), `POST /validatedesign`,
//! `GET /nodes`, `GET /plan`; the dashboard at `/dashboard` (and `/`).

pub mod audit;
pub mod auth;
mod dashboard;
mod forward;
pub mod openapi;
pub mod render;
mod serve;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::watch;

pub use serve::{serve, tls_config};

use crate::service::{Action, Params, RequestError, Role, Service, Update};
use auth::{Caller, Tokens};

/// The largest body of `POST /validatedesign` (documents inline): a design file's limit.
pub const DOCUMENTS_LIMIT: usize = 64 << 20;

/// The API's settings.
pub struct Settings {
    pub tokens: Tokens,
    /// Largest request body accepted (bytes).
    pub body_limit: usize,
    pub audit: audit::Audit,
    /// CA bundle (PEM) to trust when forwarding writes to a leader over HTTPS.
    pub peer_ca: Option<std::path::PathBuf>,
}

struct App {
    service: Service,
    tokens: Tokens,
    audit: audit::Audit,
    validators: openapi::Validators,
    forward: forward::Forwarder,
    shutdown: watch::Receiver<bool>,
    /// Finished tasks' documents as last rendered, each with the view's record count then, so
    /// that the pollers of a task that just finished do not each render its successes and
    /// per-node details again: the same document while the journal has not moved on.
    finished: std::sync::Mutex<std::collections::HashMap<String, (u64, Bytes)>>,
}

/// How many finished tasks' documents are kept (then they are all dropped and rendered anew).
const FINISHED_KEPT: usize = 64;

#[derive(Clone)]
struct AppState(Arc<App>);

/// An error response: the old implementation's `Status` document.
pub struct ApiError {
    pub code: StatusCode,
    pub message: String,
    pub reason: &'static str,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            reason,
            details: json!({}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.code,
            axum::Json(render::status_doc(
                self.code.as_u16(),
                &self.message,
                self.reason,
                self.details,
            )),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn json_response(code: StatusCode, v: Value) -> Response {
    (code, axum::Json(v)).into_response()
}

/// The router of the API and the dashboard.
pub fn router(
    service: Service,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) -> Result<Router, String> {
    let app = AppState(Arc::new(App {
        forward: forward::Forwarder::new(settings.peer_ca.as_deref(), &service.config().instance)?,
        service,
        tokens: settings.tokens,
        audit: settings.audit,
        validators: openapi::Validators::new()?,
        shutdown,
        finished: Default::default(),
    }));
    Ok(Router::new()
        .route("/api/v1.0/health", get(health))
        .route("/api/v1.0/openapi.json", get(openapi_doc))
        .route("/api/v1.0/tasks", get(list_tasks).post(create_task))
        .route(
            "/api/v1.0/tasks/{task_id}",
            get(get_task).delete(cancel_task),
        )
        .route("/api/v1.0/events", get(events))
        // Documents to validate may be as large as a design file may be.
        .route(
            "/api/v1.0/validatedesign",
            post(validate_design).layer(DefaultBodyLimit::max(DOCUMENTS_LIMIT)),
        )
        .route("/api/v1.0/nodes", get(nodes))
        .route("/api/v1.0/plan", get(plan))
        .route("/", get(dashboard::redirect))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/app.js", get(dashboard::script))
        .route("/dashboard/app.css", get(dashboard::style))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .with_state(app))
}

/// Paths anyone may read: the health check (for load balancers), the API reference and the
/// dashboard's page and script (they hold no data; the page asks for a token).
fn open(path: &str) -> bool {
    matches!(
        path,
        "/api/v1.0/health" | "/api/v1.0/openapi.json" | "/" | "/dashboard"
    ) || path.starts_with("/dashboard/")
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let remote = req
        .extensions()
        .get::<SocketAddr>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let forwarded_by = req
        .headers()
        .get(forward::FORWARDED_BY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if open(&path) && !write {
        return next.run(req).await;
    }
    let caller = bearer(req.headers()).and_then(|t| app.0.tokens.check(t));
    let refused = match &caller {
        None => Some(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid bearer token is needed (Authorization: Bearer TOKEN)",
        )),
        Some(c) if write && c.role < auth::Role::Operator => Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "`{}` has the reader role, which may only read; writing needs an operator token",
                c.name
            ),
        )),
        Some(_) => None,
    };
    if let Some(e) = refused {
        if write {
            app.0.audit.write(&audit::Entry {
                who: caller.as_ref().map(|c| c.name.as_str()),
                role: caller.as_ref().map(|c| c.role.as_str()),
                method: method.as_str(),
                path: &path,
                status: e.code.as_u16(),
                task: None,
                remote: &remote,
                forwarded_by: forwarded_by.as_deref(),
            });
        }
        let mut r = e.into_response();
        if r.status() == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        return r;
    }
    let caller = caller.expect("checked above");
    req.extensions_mut().insert(caller.clone());
    let resp = next.run(req).await;
    if write {
        let task = resp
            .headers()
            .get(audit::TASK_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        app.0.audit.write(&audit::Entry {
            who: Some(&caller.name),
            role: Some(caller.role.as_str()),
            method: method.as_str(),
            path: &path,
            status: resp.status().as_u16(),
            task: task.as_deref(),
            remote: &remote,
            forwarded_by: forwarded_by.as_deref(),
        });
    }
    resp
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "no such resource: {} {} (the API reference is /api/v1.0/openapi.json)",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn health(State(app): State<AppState>) -> Response {
    let (role, leader) = match app.0.service.role() {
        Role::Starting => ("starting", None),
        Role::Leader { .. } => ("leader", Some(app.0.service.config().advertise.clone())),
        Role::Follower { leader } => ("follower", leader),
    };
    json_response(
        StatusCode::OK,
        json!({
            "status": "ok",
            "instance": app.0.service.config().instance,
            "role": role,
            "leader": leader,
            "version": env!("CARGO_PKG_VERSION"),
        }),
    )
}

async fn openapi_doc() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::DOCUMENT,
    )
        .into_response()
}

/// Parse a JSON body checked against the OpenAPI schema `schema`.
fn body_json(
    app: &App,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    schema: &str,
) -> Result<Value, ApiError> {
    let body = body.map_err(|r| {
        let code = r.status();
        ApiError::new(
            code,
            if code == StatusCode::PAYLOAD_TOO_LARGE {
                "TooLarge"
            } else {
                "BadRequest"
            },
            if code == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than this service accepts (see `api.body_limit`)"
                    .to_string()
            } else {
                format!("cannot read the request body: {}", r.body_text())
            },
        )
    })?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body must be JSON (Content-Type: application/json), not `{}`",
                if ct.is_empty() { "nothing" } else { ct }
            ),
        ));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    app.validators.check(schema, &v).map_err(|problems| {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "the body does not match the API's {schema} schema: {}",
                problems.join("; ")
            ),
        );
        e.details = json!({"errors": problems});
        e
    })?;
    Ok(v)
}

fn task_header(resp: &mut Response, id: &str) {
    if let Ok(v) = header::HeaderValue::from_str(id) {
        resp.headers_mut().insert(audit::TASK_HEADER, v);
    }
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::NotFound(id) => ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no task {id}; GET /api/v1.0/tasks lists them"),
        ),
        RequestError::Finished(id) => ApiError::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("task {id} already finished; there is nothing to cancel"),
        ),
        RequestError::NotLeader => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "no instance leads just now (an election is under way); retry in a few seconds",
        ),
        RequestError::Store(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            format!("the journal could not be written: {e}; retry"),
        ),
    }
}

async fn create_task(
    State(app): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    req_uri: axum::http::Uri,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult {
    let v = body_json(&app.0, &headers, body, "TaskRequest")?;
    if let Some(r) = app
        .0
        .forward
        .maybe(&app.0.service, Method::POST, &req_uri, &headers, Some(&v))
        .await?
    {
        return Ok(r);
    }
    let action = v["action"]
        .as_str()
        .and_then(Action::parse)
        .expect("the schema allows only known actions");
    let params = Params {
        node_filter: match v.get("node_filter") {
            Some(f) => Some(serde_json::from_value(f.clone()).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("node_filter: {e}"),
                )
            })?),
            None => None,
        },
    };
    if let Some(f) = &params.node_filter {
        f.to_filter().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("node_filter: {e}"),
            )
        })?;
    }
    let r = app
        .0
        .service
        .submit(action, params, &caller.name)
        .await
        .map_err(request_error)?;
    let doc = render::task(&app.0.service.view().journal, &r, false);
    let mut resp = json_response(StatusCode::CREATED, doc);
    if let Ok(loc) = header::HeaderValue::from_str(&format!("/api/v1.0/tasks/{}", r.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    task_header(&mut resp, &r.id);
    Ok(resp)
}

async fn list_tasks(State(app): State<AppState>) -> Response {
    let v = app.0.service.view();
    let list: Vec<Value> = v
        .journal
        .request_order
        .iter()
        .rev()
        .filter_map(|id| v.journal.requests.get(id))
        .map(|r| render::task(&v.journal, r, false))
        .collect();
    json_response(StatusCode::OK, Value::Array(list))
}

/// The query's pairs, checked against the operation's parameters in the document.
fn checked_query(
    app: &App,
    path: &str,
    q: Option<&str>,
) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = query_pairs(q);
    app.validators
        .check_query(path, &pairs)
        .map_err(|problems| {
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "the query does not match the API's document: {}",
                    problems.join("; ")
                ),
            );
            e.details = json!({"errors": problems});
            e
        })?;
    Ok(pairs)
}

/// The query's `name=value` pairs, decoded.
fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

async fn get_task(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let mut full = false;
    for (k, v) in checked_query(&app.0, "/tasks/{task_id}", q.as_deref())? {
        if k == "subtasks" {
            full = match v.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("subtasks is `{v}`: use true or false"),
                    ));
                }
            };
        }
    }
    let v = app.0.service.view();
    let r = v
        .journal
        .requests
        .get(&id)
        .ok_or_else(|| request_error(RequestError::NotFound(id.clone())))?;
    let kept = r.state == crate::state::RequestState::Finished && !full;
    let json = |body: Bytes| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    };
    if kept
        && let Some((at, body)) = app.0.finished.lock().expect("finished lock").get(&id)
        && *at == v.records
    {
        return Ok(json(body.clone()));
    }
    let doc = render::task(&v.journal, r, full);
    let records = v.records;
    drop(v);
    if !kept {
        return Ok(json_response(StatusCode::OK, doc));
    }
    let body = Bytes::from(serde_json::to_vec(&doc).expect("a JSON value serializes"));
    let mut cache = app.0.finished.lock().expect("finished lock");
    if cache.len() >= FINISHED_KEPT && !cache.contains_key(&id) {
        cache.clear();
    }
    cache.insert(id, (records, body.clone()));
    Ok(json(body))
}

async fn cancel_task(
    State(app): State<AppState>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    req_uri: axum::http::Uri,
) -> ApiResult {
    if app.0.service.request(&id).is_none() {
        return Err(request_error(RequestError::NotFound(id)));
    }
    if let Some(r) = app
        .0
        .forward
        .maybe(&app.0.service, Method::DELETE, &req_uri, &headers, None)
        .await?
    {
        return Ok(r);
    }
    let r = app
        .0
        .service
        .cancel(&id, &caller.name)
        .await
        .map_err(request_error)?;
    let doc = render::task(&app.0.service.view().journal, &r, false);
    let mut resp = json_response(StatusCode::ACCEPTED, doc);
    task_header(&mut resp, &id);
    Ok(resp)
}

async fn validate_design(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult {
    let v = body_json(&app.0, &headers, body, "ValidateRequest")?;
    let found = match v.get("documents").and_then(Value::as_str) {
        Some(text) => app
            .0
            .service
            .validate_documents(text.to_string())
            .await
            .map(|l| (l.errors, l.warnings, l.report)),
        // The served design, as it is on disk now.
        None => app
            .0
            .service
            .reload()
            .await
            .map(|l| (l.errors, l.warnings, l.report.clone())),
    };
    let (errors, warnings, report) = found.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the design cannot be loaded: {e}"),
        )
    })?;
    let (code, doc) = render::validation(errors, warnings, &report);
    Ok(json_response(
        StatusCode::from_u16(code).expect("200 or 400"),
        doc,
    ))
}

async fn nodes(State(app): State<AppState>) -> ApiResult {
    let nodes = app
        .0
        .service
        .nodes()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", e))?;
    Ok(json_response(
        StatusCode::OK,
        Value::Array(nodes.iter().map(render::node).collect()),
    ))
}

async fn plan(State(app): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let targets: Vec<String> = checked_query(&app.0, "/plan", q.as_deref())?
        .into_iter()
        .filter(|(k, _)| k == "target")
        .map(|(_, v)| v)
        .collect();
    let filter = if targets.is_empty() {
        None
    } else {
        Some(
            crate::model::filter::from_targets(&targets, crate::model::filter::SetOp::Union)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", e))?,
        )
    };
    let p = app
        .0
        .service
        .plan_for(Action::DeployNodes, filter.as_ref())
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "Conflict", e))?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(&p).expect("plain data serializes"),
    ))
}

async fn events(State(app): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let task = checked_query(&app.0, "/events", q.as_deref())?
        .into_iter()
        .find(|(k, _)| k == "task_id")
        .map(|(_, v)| v);
    let rx = app.0.service.subscribe();
    let service = app.0.service.clone();
    let shutdown = app.0.shutdown.clone();
    let tasks: std::collections::HashSet<crate::plan::TaskId> = task
        .as_ref()
        .and_then(|id| service.request(id))
        .map(|r| r.tasks.into_iter().collect())
        .unwrap_or_default();
    struct S {
        rx: tokio::sync::broadcast::Receiver<Arc<Update>>,
        shutdown: watch::Receiver<bool>,
        task: Option<String>,
        tasks: std::collections::HashSet<crate::plan::TaskId>,
        service: Service,
    }
    let state = S {
        rx,
        shutdown,
        task,
        tasks,
        service,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            let got = tokio::select! {
                r = s.rx.recv() => r,
                _ = s.shutdown.wait_for(|b| *b) => return None,
            };
            match got {
                Ok(u) => {
                    if let Some(ev) = sse_event(&mut s.tasks, s.task.as_deref(), &s.service, &u) {
                        return Some((Ok::<_, Infallible>(ev), s));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    // The client fell behind: it should read the task again.
                    let ev = SseEvent::default()
                        .event("lagged")
                        .data(json!({"missed": n}).to_string());
                    return Some((Ok(ev), s));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The event for an update, or `None` when the stream's filter leaves it out.
fn sse_event(
    tasks: &mut std::collections::HashSet<crate::plan::TaskId>,
    filter: Option<&str>,
    service: &Service,
    u: &Update,
) -> Option<SseEvent> {
    use crate::state::Event as E;
    match u {
        Update::Record { seq, record } => {
            if let Some(want) = filter {
                let keep = match &record.event {
                    E::RequestQueued { request, .. }
                    | E::RequestCancelRequested { request, .. }
                    | E::RequestFinished { request, .. } => request == want,
                    E::RequestStarted { request, .. } => {
                        if request == want
                            && let Some(r) = service.request(want)
                        {
                            tasks.extend(r.tasks);
                        }
                        request == want
                    }
                    E::TaskQueued { task, .. }
                    | E::TaskStarted { task }
                    | E::TaskSucceeded { task, .. }
                    | E::TaskFailed { task, .. }
                    | E::TaskCancelled { task }
                    | E::StepDone { task, .. } => tasks.contains(task),
                    _ => false,
                };
                if !keep {
                    return None;
                }
            }
            Some(
                SseEvent::default()
                    .event("record")
                    .id(seq.to_string())
                    .data(serde_json::to_string(record).expect("plain data serializes")),
            )
        }
        Update::Progress(p) => {
            if filter.is_some_and(|want| want != p.request) {
                return None;
            }
            Some(
                SseEvent::default()
                    .event("progress")
                    .data(serde_json::to_string(p).expect("plain data serializes")),
            )
        }
    }
}
