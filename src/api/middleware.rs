//! Cross-cutting middleware: API key, request metrics, JSON bodies for every error, and
//! the conversion of shed/timed-out requests into API errors.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::BoxError;

use crate::error::ApiError;
use crate::state::AppState;

/// The per-request edge work in one layer (each `from_fn` layer clones the stack below it
/// and boxes a future per request): the API key check, API.md's JSON body on every error,
/// and the request count and duration under the route template. Unknown paths share one
/// route label so a scanner cannot blow up the series count.
pub async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Methods are client-chosen tokens; unknown ones share a label to bound cardinality.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = if authorized(&state, &req) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    };
    let response = json_errors(response).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = response.status();
    let m = &state.metrics;
    m.http_requests
        .with_label_values(&[method, route, status.as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[method, route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Routes that orchestrators and Prometheus reach without credentials.
const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// With `server.api_key` set, every other route needs `Authorization: Bearer <key>`.
fn authorized(state: &AppState, req: &Request) -> bool {
    let Some(key) = state.cfg.server.api_key.as_deref() else {
        return true;
    };
    if OPEN_ROUTES.contains(&req.uri().path()) {
        return true;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(given.as_bytes(), key.as_bytes())
}

/// Compares without an early exit so response timing does not reveal the key's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ x);
    }
    diff == 0
}

/// Gives every 4xx/5xx answer API.md's JSON body, including the ones produced by axum
/// itself (405, 415) or by layers that know nothing of our format.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_json",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_client_error() => "invalid_input",
        _ => "internal",
    };
    let body = serde_json::json!({ "error": text, "code": code }).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Tower errors from the shedding layers become 503 `overloaded` or 504 `timeout`.
pub async fn shed_or_timeout(err: BoxError) -> ApiError {
    if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::Overloaded
    } else if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout
    } else {
        ApiError::Internal(err.to_string())
    }
}

/// A panic is logged with its message; the client only learns that it failed.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}
