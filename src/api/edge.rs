//! Everything a request goes through around its handler, as one hand-written tower
//! layer: request id (echoed or generated), the API key, the in-flight limit (503
//! `overloaded` when full), the deadline (504 `timeout`), panics turned into 500s,
//! API.md's JSON body on every error, a debug-level span, and the request metrics.
//!
//! One layer instead of a stack of nine: each tower-http/`from_fn` layer adds its own
//! future, and some a clone of the service below or a box, per request; on a one-row
//! predict that was a measurable share of the server's CPU (bench/RESULTS.md).

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tower::{Layer, Service};
use tracing::Instrument;

use super::REQUEST_ID;
use prometheus::{Histogram, IntCounter};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Routes that orchestrators and Prometheus reach without credentials.
const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics"];

#[derive(Clone)]
pub struct EdgeLayer {
    shared: Arc<Shared>,
}

struct Shared {
    state: AppState,
    in_flight: AtomicUsize,
    limit: usize,
    timeout: Duration,
}

impl EdgeLayer {
    pub fn new(state: AppState) -> Self {
        let cfg = &state.cfg.server;
        let (limit, timeout) = (
            cfg.concurrency_limit,
            Duration::from_millis(cfg.request_timeout_ms),
        );
        Self {
            shared: Arc::new(Shared {
                state,
                in_flight: AtomicUsize::new(0),
                limit,
                timeout,
            }),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            shared: self.shared.clone(),
            handles: Arc::default(),
        }
    }
}

/// axum applies the layer to each route's handler for each method, so an `Edge` sees one
/// route template and nearly always one method and status.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
    handles: Arc<OnceLock<RouteHandles>>,
}

/// Metric handles for the first (method, route) an `Edge` served and status 200, so the
/// common request skips the label hashing and map lookups of `with_label_values`.
struct RouteHandles {
    method: &'static str,
    route: Box<str>,
    ok: IntCounter,
    duration: Histogram,
}

impl RouteHandles {
    fn new(m: &Metrics, method: &'static str, route: &str) -> Self {
        Self {
            method,
            route: route.into(),
            ok: m.http_requests.with_label_values(&[method, route, "200"]),
            duration: m.http_duration.with_label_values(&[method, route]),
        }
    }

    fn record(
        &self,
        m: &Metrics,
        method: &'static str,
        route: &str,
        status: StatusCode,
        secs: f64,
    ) {
        if self.method == method && *self.route == *route {
            self.duration.observe(secs);
            if status == StatusCode::OK {
                self.ok.inc();
                return;
            }
        } else {
            m.http_duration
                .with_label_values(&[method, route])
                .observe(secs);
        }
        m.http_requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
    }
}

/// Holds one of the server-wide in-flight slots until the response is ready.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    /// A slot, or `None` when `limit` requests are already being handled: the request is
    /// shed at once rather than queued without bound.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.clone());
        (before < self.limit).then_some(slot)
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> BoxFuture {
        let started = Instant::now();
        let method = method_label(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        let id = match req.headers().get(REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        // Debug level: at the default `info` filter the span is disabled and costs a
        // branch; `modeld=debug` gives every log line of a request its id and URI.
        let span = tracing::debug_span!(
            "request",
            method = %req.method(),
            uri = %req.uri(),
            request_id = id.to_str().unwrap_or_default(),
        );
        let shared = self.shared.clone();
        let handles = self.handles.clone();
        let admitted = if !authorized(&shared.state, &req) {
            Err(ApiError::Unauthorized)
        } else {
            shared.admit().ok_or(ApiError::Overloaded)
        };
        let handled = admitted.map(|slot| {
            // `call` builds the handler's future; a panic there is caught like one
            // inside it.
            let call = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
            (slot, call)
        });
        Box::pin(
            async move {
                let response = match handled {
                    Err(refused) => refused.into_response(),
                    Ok((_slot, Err(panic))) => panic_response(panic),
                    Ok((_slot, Ok(future))) => {
                        let guarded = AssertUnwindSafe(future).catch_unwind();
                        match tokio::time::timeout(shared.timeout, guarded).await {
                            Ok(Ok(Ok(response))) => response,
                            Ok(Ok(Err(never))) => match never {},
                            Ok(Err(panic)) => panic_response(panic),
                            Err(_elapsed) => ApiError::Timeout.into_response(),
                        }
                    }
                };
                let mut response = json_errors(response).await;
                let status = response.status();
                let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
                let elapsed = started.elapsed();
                let m = &shared.state.metrics;
                handles
                    .get_or_init(|| RouteHandles::new(m, method, route))
                    .record(m, method, route, status, elapsed.as_secs_f64());
                if status.is_server_error() {
                    tracing::warn!(status = status.as_u16(), route, ?elapsed, "request failed");
                } else {
                    tracing::debug!(status = status.as_u16(), ?elapsed, "request finished");
                }
                response.headers_mut().insert(REQUEST_ID, id);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Methods are client-chosen tokens; unknown ones share a label to bound cardinality.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A random UUID v4, encoded straight into the header's bytes (no `Display` and
/// re-parse).
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("unknown"))
}

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

/// A panic is logged with its message; the client only learns that it failed.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;

    fn app(limit: usize, router: Router<AppState>) -> (Router, tempfile::TempDir) {
        let (app, _, dir) = app_and_state(limit, router);
        (app, dir)
    }

    fn app_and_state(
        limit: usize,
        router: Router<AppState>,
    ) -> (Router, AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.server.concurrency_limit = limit;
        let state = AppState::new(cfg).unwrap();
        let app = router
            .layer(EdgeLayer::new(state.clone()))
            .with_state(state.clone());
        (app, state, dir)
    }

    async fn call(app: Router, path: &str) -> Response {
        let req = Request::get(path).body(Body::empty()).unwrap();
        app.oneshot(req).await.unwrap()
    }

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_json_and_frees_its_slot() {
        let router = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("kaboom");
                }
                "unreachable"
            }),
        );
        let (app, _dir) = app(1, router);
        // With one slot, a slot leaked by the panic would turn the second call into 503.
        for _ in 0..3 {
            let response = call(app.clone(), "/boom").await;
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(response.headers().contains_key(REQUEST_ID));
            let body = body_json(response).await;
            assert_eq!(body["code"], "internal");
            assert_eq!(body["error"], "internal error");
        }
    }

    #[tokio::test]
    async fn the_limit_counts_requests_in_flight_and_not_requests_seen() {
        let (started, mut running) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (release, wait) = tokio::sync::watch::channel(false);
        let router = Router::new().route(
            "/slow",
            get(move || {
                let (started, mut wait) = (started.clone(), wait.clone());
                async move {
                    let _ = started.send(());
                    let _ = wait.wait_for(|go| *go).await;
                    "done"
                }
            }),
        );
        let (app, _dir) = app(2, router);
        let first = tokio::spawn(call(app.clone(), "/slow"));
        let second = tokio::spawn(call(app.clone(), "/slow"));
        running.recv().await.unwrap();
        running.recv().await.unwrap();
        let shed = call(app.clone(), "/slow").await;
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_json(shed).await["code"], "overloaded");
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().status(), StatusCode::OK);
        assert_eq!(second.await.unwrap().status(), StatusCode::OK);
        // Both slots are free again: two requests may run at once.
        let third = tokio::spawn(call(app.clone(), "/slow"));
        let fourth = tokio::spawn(call(app, "/slow"));
        assert_eq!(third.await.unwrap().status(), StatusCode::OK);
        assert_eq!(fourth.await.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn each_method_and_status_is_counted_under_its_own_labels() {
        let router = Router::new().route(
            "/items/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                    if id == 0 {
                        Err(ApiError::NotFound("no item 0".into()))
                    } else {
                        Ok("item")
                    }
                },
            ),
        );
        let (app, state, _dir) = app_and_state(8, router);
        for path in ["/items/1", "/items/2", "/items/0", "/items/3"] {
            call(app.clone(), path).await;
        }
        let head = Request::head("/items/1").body(Body::empty()).unwrap();
        assert_eq!(app.oneshot(head).await.unwrap().status(), StatusCode::OK);
        let m = &state.metrics;
        let count = |method: &str, status: &str| {
            m.http_requests
                .with_label_values(&[method, "/items/{id}", status])
                .get()
        };
        assert_eq!(count("GET", "200"), 3);
        assert_eq!(count("GET", "404"), 1);
        assert_eq!(count("HEAD", "200"), 1);
        let observed = |method: &str| {
            m.http_duration
                .with_label_values(&[method, "/items/{id}"])
                .get_sample_count()
        };
        assert_eq!((observed("GET"), observed("HEAD")), (4, 1));
    }
}
