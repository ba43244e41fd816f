//! Extractors that turn every rejection into API.md's JSON error body.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// `Json<T>` whose rejections are [`ApiError`]s: syntax errors are 400 `invalid_json`,
/// well-formed bodies of the wrong shape 422 `invalid_input`, oversize bodies 413.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let reject = |rejection: JsonRejection| match ApiError::from(rejection) {
            ApiError::PayloadTooLarge(_) => {
                ApiError::PayloadTooLarge(state.cfg.server.body_limit_bytes)
            }
            other => other,
        };
        if !is_json(req.headers()) {
            // axum's extractor words the rejection (415-style content-type message).
            return match axum::Json::<T>::from_request(req, state).await {
                Ok(axum::Json(v)) => Ok(AppJson(v)),
                Err(rejection) => Err(reject(rejection)),
            };
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| reject(JsonRejection::from(e)))?;
        // The plain parse is the hot path; axum's own parse (which tracks the JSON path
        // for its message) only runs to explain a body that failed.
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(AppJson(v)),
            Err(_) => match axum::Json::<T>::from_bytes(&bytes) {
                Ok(axum::Json(v)) => Ok(AppJson(v)),
                Err(rejection) => Err(reject(rejection)),
            },
        }
    }
}

/// `application/json` or any `+json` media type, as axum's `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    if value.as_bytes() == b"application/json" {
        return true;
    }
    let Some(mime) = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim)
    else {
        return false;
    };
    let Some((kind, sub)) = mime.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub
                .get(sub.len().saturating_sub(5)..)
                .is_some_and(|end| sub.len() > 5 && end.eq_ignore_ascii_case("+json")))
}

/// The request id set (or echoed) by the request-id layer.
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(request_id(&parts.headers)))
    }
}

pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(crate::api::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// `Path<T>` with [`ApiError`] rejections.
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| AppPath(v))
            .map_err(ApiError::from)
    }
}

/// `Query<T>` with [`ApiError`] rejections.
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| AppQuery(v))
            .map_err(ApiError::from)
    }
}

/// Runs CPU-bound or file-system work on the blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}
