//! The dashboard: one HTML page with a little JavaScript (`dashboard/`: no build step, nothing
//! fetched from anywhere but this service). The page holds no data: it asks for a token (kept
//! in the tab's session storage), then shows the nodes by rack with their state and last
//! task, the running task's live progress (from the event stream, read with `fetch` so the
//! token goes in a header, never in a URL), the task history with per-node results and
//! errors, and the plan of the current design; an operator can start a deploy and cancel the
//! running task from it.

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

/// Security headers of every dashboard file: nothing but this origin, no framing.
fn headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-cache"),
    ]
}

pub async fn redirect() -> Redirect {
    Redirect::to("/dashboard")
}

pub async fn page() -> Response {
    (headers("text/html; charset=utf-8"), PAGE).into_response()
}

pub async fn script() -> Response {
    (headers("text/javascript; charset=utf-8"), SCRIPT).into_response()
}

pub async fn style() -> Response {
    (headers("text/css; charset=utf-8"), STYLE).into_response()
}
