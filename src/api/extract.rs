//! Extractors that turn every rejection into API.md's JSON error body.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use http_body::{Body as _, Frame};
use serde::de::value::MapDeserializer;
use serde::de::DeserializeOwned;

use crate::api::edge::deadline::Timer;
use crate::api::error::ApiError;
use crate::config::ServerConfig;
use crate::state::AppState;

/// `Json<T>` whose rejections are [`ApiError`]s: syntax errors are 400 `invalid_json`,
/// well-formed bodies of the wrong shape 422 `invalid_input`, oversize bodies 413, and a
/// body declared as another media type (or not declared) 415 `unsupported_media_type`.
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
        let bytes = read_body(req.into_body(), &state.cfg.server).await?;
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

/// The whole body, refused with 413 past `server.body_limit_bytes` and with 408 when the
/// client stalls it for `server.body_timeout_ms`. axum's `Bytes` extractor does the same
/// through a boxed `Limited` body and a `Collect` buffer list; here a body that arrives
/// in one chunk, as every small request does, is passed on as it came.
pub(crate) async fn read_body(mut body: Body, cfg: &ServerConfig) -> Result<Bytes, ApiError> {
    let limit = cfg.body_limit_bytes;
    let too_large = || ApiError::PayloadTooLarge(limit);
    if usize::try_from(body.size_hint().lower()).map_or(true, |declared| declared > limit) {
        return Err(too_large());
    }
    let timeout = Duration::from_millis(cfg.body_timeout_ms);
    let mut timer = std::pin::pin!(None::<Timer>);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut len = 0usize;
    while let Some(frame) = next_frame(&mut body, timer.as_mut(), timeout).await? {
        let frame = frame.map_err(|e| {
            ApiError::InvalidJson(format!("Failed to buffer the request body: {e}"))
        })?;
        // Trailers carry no JSON.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(too_large());
        }
        match (&first, &mut joined) {
            (None, _) => first = Some(data),
            (Some(_), Some(all)) => all.extend_from_slice(&data),
            (Some(head), None) => {
                let mut all = Vec::with_capacity(len);
                all.extend_from_slice(head);
                all.extend_from_slice(&data);
                joined = Some(all);
            }
        }
    }
    Ok(match joined {
        Some(all) => Bytes::from(all),
        None => first.unwrap_or_default(),
    })
}

/// The body's next frame, or 408 once it has kept the reader waiting for `timeout`.
/// The timer is made at the first wait, not per request: a body that has already
/// arrived, as a small request's has, is read without a clock read or a timer.
pub(crate) async fn next_frame(
    body: &mut Body,
    mut timer: Pin<&mut Option<Timer>>,
    timeout: Duration,
) -> Result<Option<Result<Frame<Bytes>, axum::Error>>, ApiError> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
            return Poll::Ready(Ok(frame));
        }
        if timer.is_none() {
            // Outside the coop budget, as the edge's deadline is: a busy task still
            // times out.
            let sleep = tokio::time::sleep(timeout);
            timer.set(Some(tokio::task::coop::unconstrained(sleep)));
        }
        match timer.as_mut().as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(ApiError::RequestTimeout)),
            _ => Poll::Pending,
        }
    })
    .await
}

/// The raw body, read as [`read_body`] does (413 past the limit, 408 when stalled); an
/// unreadable body is a 400 `invalid_input`, as it need not be JSON.
pub struct AppBody(pub Bytes);

impl FromRequest<AppState> for AppBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match read_body(req.into_body(), &state.cfg.server).await {
            Ok(bytes) => Ok(AppBody(bytes)),
            Err(ApiError::InvalidJson(msg)) => Err(ApiError::BadRequest(msg)),
            Err(other) => Err(other),
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

/// The request id set (or echoed) by the request-id layer, shared with the header
/// rather than copied.
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Empty when a client sent an id that is not visible ASCII.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get(crate::api::edge::ids::REQUEST_ID)
            .cloned();
        Ok(RequestId(id.unwrap_or(HeaderValue::from_static(""))))
    }
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
        // Most requests have no query: an empty map gives the same value without the
        // URL-decoding parser (which still runs, for its message, if that fails).
        if parts.uri.query().is_none() {
            let empty = MapDeserializer::<_, serde::de::value::Error>::new(std::iter::empty::<(
                &str,
                &str,
            )>());
            if let Ok(v) = T::deserialize(empty) {
                return Ok(AppQuery(v));
            }
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| AppQuery(v))
            .map_err(ApiError::from)
    }
}

/// Admits a request that starts a training job only on a replica that trains
/// (`training.enabled`); elsewhere 403 `training_disabled`. Taken before the body
/// extractor, so a serving-only replica refuses without reading or parsing the body.
pub struct TrainingEnabled;

impl FromRequestParts<AppState> for TrainingEnabled {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.jobs.enabled() {
            Ok(TrainingEnabled)
        } else {
            Err(crate::jobs::JobError::Disabled.into())
        }
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
