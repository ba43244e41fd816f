//! Everything a request goes through around the router, as one hand-written tower
//! layer: request id (echoed or generated), the API key, the in-flight limit (503
//! `overloaded` when full), the deadline (504 `timeout`), panics turned into 500s,
//! API.md's JSON body on every error, a debug-level span, and the request metrics.
//!
//! One layer instead of a stack of nine: each tower-http/`from_fn` layer adds its own
//! future, and some a clone of the service below or a box, per request; on a one-row
//! predict that was a measurable share of the server's CPU (bench/RESULTS.md). It wraps
//! the whole router rather than each route (`Router::layer`), which would box and clone
//! every route once more per request; the route label for the metrics comes from its
//! own lookup of the path in the route templates.
//!
//! That lookup also finds the routes the edge calls itself (see [`Direct`]): predict and
//! V2 infer, where axum's routing (URL parameters, extensions, a boxed clone of the
//! route's service per request) was the largest cost left above bare axum.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, CatchUnwind, Either};
use futures_util::FutureExt;
use tokio::task::coop::Unconstrained;
use tokio::time::Sleep;
use tower::{Layer, Service};

use super::REQUEST_ID;
use prometheus::{Histogram, IntCounter};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Routes that orchestrators and Prometheus reach without credentials.
const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The `route` label of requests that match no route template.
const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
pub struct EdgeLayer {
    shared: Arc<Shared>,
}

struct Shared {
    state: AppState,
    in_flight: AtomicUsize,
    limit: usize,
    timeout: Duration,
    routes: RouteLabels,
}

impl EdgeLayer {
    /// `templates` are the router's route paths (`/v1/models/{name}/predict`), which
    /// become the `route` label of the HTTP metrics.
    pub fn new<I, T>(state: AppState, templates: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self::with_direct(state, templates, [])
    }

    /// As [`EdgeLayer::new`], and each of `direct`'s routes is answered by its handler
    /// without going through the router (see [`Direct`]).
    pub fn with_direct<I, T, D>(state: AppState, templates: I, direct: D) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
        D: IntoIterator<Item = Direct>,
    {
        let cfg = &state.cfg.server;
        let (limit, timeout) = (
            cfg.concurrency_limit,
            Duration::from_millis(cfg.request_timeout_ms),
        );
        Self {
            shared: Arc::new(Shared {
                routes: RouteLabels::new(templates, direct),
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
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// A route with one path parameter that the edge hands to `handler` itself, for one
/// method, instead of to the router. The handler gets the parameter as the router's
/// `Path<String>` would give it; a parameter with a `%` (which the router would
/// percent-decode) goes through the router instead, as does every other method.
/// Everything the edge does (id, key, limit, deadline, panics, metrics) is the same.
#[derive(Clone)]
pub struct Direct {
    pub template: &'static str,
    pub method: Method,
    pub handler: DirectHandler,
}

/// The handler of a [`Direct`] route: state, the path parameter and the request.
pub type DirectHandler = fn(AppState, String, Request) -> DirectFuture;

/// What a [`DirectHandler`] answers with: the same as a route's future behind the router.
pub type DirectFuture = BoxFuture<'static, Result<Response, Infallible>>;

/// Where the edge sends a request.
enum Target {
    Router,
    Direct(DirectHandler, String),
}

/// Maps a request path to its route template, with the metric handles of each
/// (template, method) resolved once, so the common request skips the label hashing and
/// map lookups of `with_label_values`.
struct RouteLabels {
    lookup: matchit::Router<usize>,
    /// One per template, then one for [`UNMATCHED`].
    labels: Vec<Box<str>>,
    /// `METHODS.len()` per label, in label order.
    handles: Vec<OnceLock<RouteHandles>>,
    /// Each [`Direct`] route with its label index.
    direct: Vec<(usize, Direct)>,
}

impl RouteLabels {
    fn new<I, T, D>(templates: I, direct: D) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
        D: IntoIterator<Item = Direct>,
    {
        let mut lookup = matchit::Router::new();
        let mut labels: Vec<Box<str>> = Vec::new();
        for template in templates {
            let template: String = template.into();
            match lookup.insert(template.as_str(), labels.len()) {
                Ok(()) => labels.push(template.into()),
                // axum accepted the same templates, so this is a bug; the route is still
                // served, its requests are only counted as unmatched.
                Err(e) => tracing::error!(route = %template, error = %e, "route label skipped"),
            }
        }
        let direct = direct
            .into_iter()
            .filter_map(|d| {
                let index = labels.iter().position(|l| **l == *d.template);
                if index.is_none() {
                    tracing::error!(route = d.template, "direct route is not a route template");
                }
                index.map(|i| (i, d))
            })
            .collect();
        labels.push(UNMATCHED.into());
        let handles = (0..labels.len() * METHODS.len())
            .map(|_| OnceLock::new())
            .collect();
        Self {
            lookup,
            labels,
            handles,
            direct,
        }
    }

    /// The index of `path`'s template (or of [`UNMATCHED`]) and where to send it.
    fn find(&self, method: &Method, path: &str) -> (usize, Target) {
        let Ok(found) = self.lookup.at(path) else {
            return (self.labels.len() - 1, Target::Router);
        };
        let route = *found.value;
        let direct = self
            .direct
            .iter()
            .find(|(index, d)| *index == route && d.method == method);
        let target = match (direct, found.params.iter().next()) {
            (Some((_, d)), Some((_, value))) if !value.contains('%') => {
                Target::Direct(d.handler, value.to_string())
            }
            _ => Target::Router,
        };
        (route, target)
    }

    fn record(&self, m: &Metrics, route: usize, method: usize, status: StatusCode, secs: f64) {
        let cell = self.handles.get(route * METHODS.len() + method);
        let (Some(label), Some(cell), Some(name)) =
            (self.labels.get(route), cell, METHODS.get(method))
        else {
            return;
        };
        let label: &str = label;
        cell.get_or_init(|| RouteHandles::new(m, name, label))
            .record(m, name, label, status, secs);
    }

    #[cfg(test)]
    fn templates(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|l| &**l).filter(|l| *l != UNMATCHED)
    }

    fn label(&self, route: usize) -> &str {
        self.labels.get(route).map_or(UNMATCHED, |l| l)
    }
}

/// Metric handles of one (route, method): its duration and its count of status 200.
struct RouteHandles {
    ok: IntCounter,
    duration: Histogram,
}

impl RouteHandles {
    fn new(m: &Metrics, method: &str, route: &str) -> Self {
        Self {
            ok: m.http_requests.with_label_values(&[method, route, "200"]),
            duration: m.http_duration.with_label_values(&[method, route]),
        }
    }

    fn record(&self, m: &Metrics, method: &str, route: &str, status: StatusCode, secs: f64) {
        self.duration.observe(secs);
        if status == StatusCode::OK {
            self.ok.inc();
            return;
        }
        m.http_requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
    }
}

impl Shared {
    /// Takes one of the server-wide in-flight slots, or refuses when `limit` requests are
    /// already being handled: the request is shed at once rather than queued without
    /// bound. [`Done`] gives the slot back.
    fn admit(&self) -> bool {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before < self.limit {
            return true;
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        false
    }
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<Either<S::Future, DirectFuture>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let method = method_index(req.method());
        let (route, target) = self.shared.routes.find(req.method(), req.uri().path());
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
        let refused = if !authorized(&shared.state, &req) {
            Some(ApiError::Unauthorized)
        } else if !shared.admit() {
            Some(ApiError::Overloaded)
        } else {
            None
        };
        let holds_slot = refused.is_none();
        let stage = match refused {
            Some(refused) => Stage::Answered {
                response: Some(refused.into_response()),
            },
            // `call` builds the handler's future; a panic there is caught like one
            // inside it.
            None => match std::panic::catch_unwind(AssertUnwindSafe(|| match target {
                Target::Router => Either::Left(self.inner.call(req)),
                Target::Direct(handler, param) => {
                    Either::Right(handler(shared.state.clone(), param, req))
                }
            })) {
                Err(panic) => Stage::Answered {
                    response: Some(panic_response(panic)),
                },
                Ok(future) => Stage::Handling {
                    future: AssertUnwindSafe(future).catch_unwind(),
                    deadline: None,
                },
            },
        };
        EdgeFuture {
            stage,
            done: Done {
                shared,
                holds_slot,
                started,
                method,
                route,
                id: Some(id),
            },
            span,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Edge`]: a named type rather than a boxed `async` block,
    /// which saves an allocation and a copy of the whole handler future per request.
    pub struct EdgeFuture<F> {
        #[pin]
        stage: Stage<F>,
        done: Done,
        span: tracing::Span,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        // The deadline's timer is made only when the handler first waits: most
        // requests answer in their first poll, and making a `Sleep` costs a clock read
        // and a reference count on the runtime's handle that both workers write. It is
        // polled outside the task's coop budget, as `tokio::time::timeout` does, so a
        // handler that spends the budget on every poll still times out.
        Handling {
            #[pin]
            future: CatchUnwind<AssertUnwindSafe<F>>,
            #[pin]
            deadline: Option<Unconstrained<Sleep>>,
        },
        // Only error answers without a JSON body (from axum itself) get here.
        Rewriting {
            future: Pin<Box<dyn Future<Output = Response> + Send>>,
        },
        Answered {
            response: Option<Response>,
        },
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let response = match this.stage.as_mut().project() {
                StageProj::Handling {
                    future,
                    mut deadline,
                } => {
                    let outcome = match future.poll(cx) {
                        Poll::Ready(outcome) => Some(outcome),
                        Poll::Pending => {
                            if deadline.is_none() {
                                // A deadline past what `Instant` can hold is no deadline.
                                let Some(at) =
                                    this.done.started.checked_add(this.done.shared.timeout)
                                else {
                                    return Poll::Pending;
                                };
                                let sleep = tokio::time::sleep_until(at.into());
                                deadline.set(Some(tokio::task::coop::unconstrained(sleep)));
                            }
                            match deadline.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                                Some(Poll::Ready(())) => None,
                                _ => return Poll::Pending,
                            }
                        }
                    };
                    this.done.release_slot();
                    // Drops the handler's future now (after a timeout it has not
                    // finished) rather than when the caller drops this one.
                    this.stage.set(Stage::Answered { response: None });
                    match outcome {
                        Some(Ok(Ok(response))) => response,
                        Some(Ok(Err(never))) => match never {},
                        Some(Err(panic)) => panic_response(panic),
                        None => ApiError::Timeout.into_response(),
                    }
                }
                // axum's own error bodies are small and already complete, so this stage
                // needs neither the deadline nor the panic guard.
                StageProj::Rewriting { future } => {
                    let response = ready!(future.as_mut().poll(cx));
                    this.stage.set(Stage::Answered { response: None });
                    return Poll::Ready(Ok(this.done.finish(response)));
                }
                StageProj::Answered { response } => match response.take() {
                    Some(response) => response,
                    // Polled again after it answered, against the `Future` contract.
                    None => ApiError::Internal("response future polled after completion".into())
                        .into_response(),
                },
            };
            if needs_json_body(&response) {
                this.stage.set(Stage::Rewriting {
                    future: Box::pin(json_error_body(response)),
                });
                continue;
            }
            return Poll::Ready(Ok(this.done.finish(response)));
        }
    }
}

/// What the edge does once the answer is known: metrics, the log line, the id header;
/// and the in-flight slot, given back when the handler is done or the request dropped.
struct Done {
    shared: Arc<Shared>,
    holds_slot: bool,
    started: Instant,
    method: usize,
    route: usize,
    id: Option<HeaderValue>,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.release_slot();
    }
}

impl Done {
    fn release_slot(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn finish(&mut self, mut response: Response) -> Response {
        self.release_slot();
        let status = response.status();
        let elapsed = self.started.elapsed();
        let routes = &self.shared.routes;
        routes.record(
            &self.shared.state.metrics,
            self.route,
            self.method,
            status,
            elapsed.as_secs_f64(),
        );
        if status.is_server_error() {
            let route = routes.label(self.route);
            tracing::warn!(status = status.as_u16(), route, ?elapsed, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), ?elapsed, "request finished");
        }
        if let Some(id) = self.id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        response
    }
}

/// The `method` label values. Methods are client-chosen tokens; unknown ones share a
/// label to bound cardinality.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other",
];

/// `method`'s index in [`METHODS`].
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// A random UUID v4, encoded straight into the header's bytes (no `Display` and
/// re-parse), in a buffer whose clones for the response header share it.
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_maybe_shared(Bytes::from_owner(buf))
        .unwrap_or(HeaderValue::from_static("unknown"))
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

/// Whether `response` is a 4xx/5xx without API.md's JSON body, as the ones produced by
/// axum itself (405, 415) are.
fn needs_json_body(response: &Response) -> bool {
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

/// Gives an error answer API.md's JSON body, its text taken from the original body.
async fn json_error_body(response: Response) -> Response {
    let status = response.status();
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

    type App = Edge<Router>;

    fn app(limit: usize, router: Router<AppState>) -> (App, tempfile::TempDir) {
        let (app, _, dir) = app_and_state(limit, router);
        (app, dir)
    }

    fn app_and_state(limit: usize, router: Router<AppState>) -> (App, AppState, tempfile::TempDir) {
        app_with(|cfg| cfg.server.concurrency_limit = limit, router)
    }

    fn app_with(
        configure: impl FnOnce(&mut Config),
        router: Router<AppState>,
    ) -> (App, AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        configure(&mut cfg);
        let state = AppState::new(cfg).unwrap();
        let templates = ["/boom", "/slow", "/items/{id}"];
        let app = EdgeLayer::new(state.clone(), templates).layer(router.with_state(state.clone()));
        (app, state, dir)
    }

    /// State over a temporary data dir with the default configuration.
    fn default_state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        })
        .unwrap();
        (state, dir)
    }

    async fn call(app: App, path: &str) -> Response {
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
        let fourth = tokio::spawn(call(app.clone(), "/slow"));
        assert_eq!(third.await.unwrap().status(), StatusCode::OK);
        assert_eq!(fourth.await.unwrap().status(), StatusCode::OK);
        // The shed request gave its slot back too.
        assert_eq!(app.shared.in_flight.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_timed_out_request_answers_504_and_frees_its_slot() {
        let router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route("/boom", get(|| async { "fast" }));
        let (app, _state, _dir) = app_with(
            |cfg| {
                cfg.server.concurrency_limit = 1;
                cfg.server.request_timeout_ms = 50;
            },
            router,
        );
        let late = call(app.clone(), "/slow").await;
        assert_eq!(late.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body_json(late).await["code"], "timeout");
        assert_eq!(app.shared.in_flight.load(Ordering::Acquire), 0);
        // With one slot, a leaked one would shed this request with 503.
        assert_eq!(call(app, "/boom").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn every_route_of_the_app_has_its_template_as_a_label() {
        let (state, _dir) = default_state();
        let app = crate::api::router(state);
        let req = Request::get("/openapi.json").body(Body::empty()).unwrap();
        let doc = body_json(app.clone().oneshot(req).await.unwrap()).await;
        let mut documented: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.push("/openapi.json");
        documented.sort_unstable();
        let mut labelled: Vec<&str> = app.shared.routes.templates().collect();
        labelled.sort_unstable();
        assert!(documented.len() > 30, "{documented:?}");
        assert_eq!(labelled, documented);
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

    fn echo_param(_: AppState, param: String, _: Request) -> DirectFuture {
        Box::pin(async move {
            if param == "boom" {
                panic!("direct handler failed");
            }
            Ok(format!("direct {param}").into_response())
        })
    }

    #[tokio::test]
    async fn the_direct_route_skips_the_router_only_for_its_method_and_plain_params() {
        let router = Router::new().route(
            "/items/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    format!("router {id}")
                },
            ),
        );
        let (state, _dir) = default_state();
        let direct = Direct {
            template: "/items/{id}",
            method: Method::GET,
            handler: echo_param,
        };
        let app = EdgeLayer::with_direct(state.clone(), ["/items/{id}"], [direct])
            .layer(router.with_state(state.clone()));
        let text = |response: Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let plain = app
            .clone()
            .oneshot(Request::get("/items/7").body(Body::empty()).unwrap());
        let plain = plain.await.unwrap();
        assert!(plain.headers().contains_key(REQUEST_ID));
        assert_eq!(text(plain).await, "direct 7");
        // A parameter the router would percent-decode goes to the router, which does.
        let encoded = Request::get("/items/a%20b").body(Body::empty()).unwrap();
        assert_eq!(
            text(app.clone().oneshot(encoded).await.unwrap()).await,
            "router a b"
        );
        // Another method is the router's to answer (here 405).
        let post = Request::post("/items/7").body(Body::empty()).unwrap();
        let refused = app.clone().oneshot(post).await.unwrap();
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        // A panic in the direct handler is caught like one behind the router.
        let boom = Request::get("/items/boom").body(Body::empty()).unwrap();
        let failed = app.clone().oneshot(boom).await.unwrap();
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_json(failed).await["code"], "internal");
        assert_eq!(app.shared.in_flight.load(Ordering::Acquire), 0);
        // Both paths are counted under the template.
        let count = |method: &str, status: &str| {
            state
                .metrics
                .http_requests
                .with_label_values(&[method, "/items/{id}", status])
                .get()
        };
        assert_eq!(count("GET", "200"), 2);
        assert_eq!(count("GET", "500"), 1);
        assert_eq!(count("POST", "405"), 1);
    }

    #[tokio::test]
    async fn the_app_serves_predict_and_v2_infer_directly() {
        let (state, _dir) = default_state();
        let app = crate::api::router(state);
        let routes = &app.shared.routes;
        let mut direct: Vec<&str> = routes
            .direct
            .iter()
            .map(|(index, _)| routes.label(*index))
            .collect();
        direct.sort_unstable();
        assert_eq!(
            direct,
            ["/v1/models/{name}/predict", "/v2/models/{name}/infer"]
        );
        let post = |path: &str| matches!(routes.find(&Method::POST, path).1, Target::Direct(..));
        assert!(post("/v1/models/iris/predict"));
        assert!(post("/v2/models/iris/infer"));
        assert!(!post("/v1/models/ir%69s/predict"));
        assert!(!post("/v2/models/iris/versions/1/infer"));
        let get = routes.find(&Method::GET, "/v1/models/iris/predict").1;
        assert!(matches!(get, Target::Router));
    }

    #[tokio::test]
    async fn routes_are_labelled_by_template_and_unknown_paths_as_unmatched() {
        let router = Router::new().route("/items/{id}", get(|| async { "item" }));
        let (app, state, _dir) = app_and_state(8, router);
        let post = Request::post("/items/7").body(Body::empty()).unwrap();
        let refused = app.clone().oneshot(post).await.unwrap();
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body_json(refused).await["code"], "method_not_allowed");
        let missing = call(app.clone(), "/items/7/extra").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let m = &state.metrics;
        let count = |method: &str, route: &str, status: &str| {
            m.http_requests
                .with_label_values(&[method, route, status])
                .get()
        };
        assert_eq!(count("POST", "/items/{id}", "405"), 1);
        assert_eq!(count("GET", "unmatched", "404"), 1);
        // Raw paths never become labels.
        assert_eq!(count("GET", "/items/7/extra", "404"), 0);
    }
}
