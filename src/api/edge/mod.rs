//! Everything a request goes through around the router, as one tower layer: the
//! request id ([`ids`]), the API key ([`auth`]), the in-flight limit ([`admission`]),
//! the deadline ([`deadline`]), panics and API.md's JSON body on every error
//! ([`errors`]), a debug-level span, and the request metrics ([`metrics`]). Hot routes
//! ([`hot`]) are answered by their handler without the router.
//!
//! One hand-written layer instead of a stack of nine: each tower-http/`from_fn` layer
//! adds its own future, and some a clone of the service below or a box, per request;
//! on a one-row predict that was a measurable share of the server's CPU
//! (bench/RESULTS.md). It wraps the whole router rather than each route; only the
//! route-label layer ([`metrics::label_route`]) sits on each route, and only requests
//! that are not hot pay for it.

pub mod admission;
pub mod auth;
pub mod deadline;
pub mod errors;
pub mod hot;
pub mod ids;
pub mod metrics;
pub mod paths;

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures_util::future::{CatchUnwind, Either};
use futures_util::FutureExt;
use tower::{Layer, Service};

use crate::api::error::{ApiError, InternalDetail};
use crate::state::AppState;
use admission::Admission;
pub use hot::{Direct, DirectFuture, DirectHandler, HotRoutes};
pub use ids::{MAX_REQUEST_ID_LEN, REQUEST_ID};
use metrics::{HotHandles, LabelSlot, Refused};

#[derive(Clone)]
pub struct EdgeLayer {
    shared: Arc<Shared>,
}

struct Shared {
    state: AppState,
    admission: Admission,
    timeout: Duration,
    hot: HotRoutes,
    hot_handles: HotHandles,
}

impl EdgeLayer {
    /// The edge of `state`'s server; `hot` are the routes it answers itself. The router
    /// it wraps must carry [`metrics::label_route`] (`Router::layer`) for its requests
    /// to be labelled by route.
    pub fn new(state: AppState, hot: HotRoutes) -> Self {
        let cfg = &state.cfg.server;
        Self {
            shared: Arc::new(Shared {
                admission: Admission::new(cfg.concurrency_limit),
                timeout: Duration::from_millis(cfg.request_timeout_ms),
                hot_handles: HotHandles::new(hot.len()),
                hot,
                state,
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

impl<S> Edge<S> {
    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.shared.admission.in_flight()
    }
}

/// Which label the request is counted under.
enum Route {
    Hot(usize),
    Routed(LabelSlot),
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
        paths::trim_v2_slash(&mut req);
        let method = metrics::method_label(req.method());
        // A length compare on the header as it came: no copy, no parse.
        let (id, id_too_long) = match req.headers().get(REQUEST_ID) {
            Some(given) if given.len() <= ids::MAX_REQUEST_ID_LEN => (given.clone(), false),
            given => {
                // A refused id is replaced, so neither the log line nor the response
                // carries it.
                let too_long = given.is_some();
                let id = ids::new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                (id, too_long)
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
        let deadline = !paths::streams_upload(req.method(), req.uri().path());
        let refused = if id_too_long {
            Some(Refused::RequestIdTooLong)
        } else if !auth::authorized(shared.state.cfg.server.api_key.as_ref(), &req) {
            Some(Refused::Unauthorized)
        } else if !shared.admission.admit() {
            Some(Refused::Overloaded)
        } else {
            None
        };
        let holds_slot = refused.is_none();
        let hot = shared
            .hot
            .find(req.method(), req.uri().path())
            .map(|(index, d, param)| (index, d.handler, param.to_string()));
        let (route, stage) = match (hot, refused) {
            (Some((index, _, _)), Some(refused)) => (
                Route::Hot(index),
                Stage::Answered {
                    response: Some(ApiError::from(refused).into_response()),
                },
            ),
            (Some((index, handler, param)), None) => {
                let state = shared.state.clone();
                let stage = handle(|| Either::Right(handler(state, param, req)));
                (Route::Hot(index), stage)
            }
            (None, refused) => {
                // Refused requests still go through the router, which answers them
                // without the handler, so they are counted under their route.
                let slot = LabelSlot::default();
                req.extensions_mut().insert(slot.clone());
                if let Some(refused) = refused {
                    req.extensions_mut().insert(refused);
                }
                let stage = handle(|| Either::Left(self.inner.call(req)));
                (Route::Routed(slot), stage)
            }
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
                refused,
                deadline,
            },
            span,
        }
    }
}

/// Starts the handler; a panic while building its future is caught like one inside it.
fn handle<F: Future>(call: impl FnOnce() -> F) -> Stage<F> {
    match std::panic::catch_unwind(AssertUnwindSafe(call)) {
        Err(panic) => Stage::Answered {
            response: Some(errors::panic_response(panic)),
        },
        Ok(future) => Stage::Handling {
            future: AssertUnwindSafe(future).catch_unwind(),
            timer: None,
        },
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
        Handling {
            #[pin]
            future: CatchUnwind<AssertUnwindSafe<F>>,
            #[pin]
            timer: Option<deadline::Timer>,
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
                StageProj::Handling { future, timer } => {
                    let outcome = match future.poll(cx) {
                        Poll::Ready(outcome) => Some(outcome),
                        Poll::Pending => {
                            let (started, timeout) = (this.done.started, this.done.shared.timeout);
                            if !this.done.deadline
                                || !deadline::expired(timer, started, timeout, cx)
                            {
                                return Poll::Pending;
                            }
                            None
                        }
                    };
                    this.done.release_slot();
                    // Drops the handler's future now (after a timeout it has not
                    // finished) rather than when the caller drops this one.
                    this.stage.set(Stage::Answered { response: None });
                    match outcome {
                        Some(Ok(Ok(response))) => response,
                        Some(Ok(Err(never))) => match never {},
                        Some(Err(panic)) => errors::panic_response(panic),
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
            if errors::needs_json_body(&response) {
                let limit = this.done.shared.state.cfg.server.body_limit_bytes;
                this.stage.set(Stage::Rewriting {
                    future: Box::pin(errors::json_error_body(response, limit)),
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
    method: &'static str,
    route: Route,
    id: Option<HeaderValue>,
    /// Set when the edge refused the request: whatever the router answered, the
    /// client gets the refusal (fail closed).
    refused: Option<Refused>,
    /// Whether `server.request_timeout_ms` applies (not to a streamed upload).
    deadline: bool,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.release_slot();
    }
}

impl Done {
    fn release_slot(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.shared.admission.release();
        }
    }

    fn finish(&mut self, mut response: Response) -> Response {
        self.release_slot();
        if let Some(refused) = self.refused {
            let refusal = ApiError::from(refused).into_response();
            if response.status() != refusal.status() {
                tracing::error!(
                    status = response.status().as_u16(),
                    "a refused request reached a route without the label layer; refused here"
                );
                response = refusal;
            }
        }
        let status = response.status();
        let elapsed = self.started.elapsed();
        let (shared, secs) = (&self.shared, elapsed.as_secs_f64());
        let registry = &shared.state.metrics;
        let route = match &self.route {
            Route::Hot(index) => {
                let route = shared.hot.template(*index).unwrap_or(metrics::UNMATCHED);
                let handles = &shared.hot_handles;
                handles.record(registry, *index, self.method, route, status, secs);
                route
            }
            Route::Routed(slot) => {
                let route = slot.label();
                metrics::record(registry, self.method, route, status, secs);
                route
            }
        };
        if let Some(InternalDetail(detail)) = response.extensions_mut().remove() {
            tracing::error!(status = status.as_u16(), route, error = %detail, "internal error");
        } else if status.is_server_error() {
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

#[cfg(test)]
mod tests;
