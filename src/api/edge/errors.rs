//! Error answers the handlers did not shape: panics, and axum's own bodiless or
//! plain-text errors (405, 415, ...), given API.md's JSON body with the code from the one
//! error table ([`ApiError`]).

use std::any::Any;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, InternalDetail};

/// A panic becomes a 500; its message is kept for the log, never shown to the client.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// Whether `response` is a 4xx/5xx without API.md's JSON body, as the ones produced by
/// axum itself (405, 415) are.
pub fn needs_json_body(response: &Response) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    !response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Gives an error answer API.md's JSON body, its text taken from the original body and
/// its code from the error table; the status stays as it was. `body_limit` is the limit
/// a 413 names; a 500's text goes to the log, not to the client.
pub async fn json_error_body(response: Response, body_limit: usize) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let error = match ApiError::from_status(status, text) {
        ApiError::PayloadTooLarge(_) => ApiError::PayloadTooLarge(body_limit),
        other => other,
    };
    let body = serde_json::json!({ "error": error.to_string(), "code": error.code() });
    if let ApiError::Internal(detail) = error {
        parts.extensions.insert(InternalDetail(detail));
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}
