//! The HTTP metrics' `route` label: a hot route's template (see [`super::hot`]), or the
//! template axum matched (`MatchedPath`), which [`label_route`] records inside the
//! router for the edge to read once the request is done, even when it timed out or
//! panicked; a path that matches no route is `unmatched`. No second route table.

use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Histogram, IntCounter};

use crate::api::error::ApiError;
use crate::metrics::Metrics;

/// The `route` label of requests that match no route template.
pub const UNMATCHED: &str = "unmatched";

/// Where the router's [`label_route`] layer leaves the matched template for the edge.
#[derive(Clone, Default)]
pub struct LabelSlot(Arc<OnceLock<MatchedPath>>);

impl LabelSlot {
    pub fn label(&self) -> &str {
        self.0.get().map_or(UNMATCHED, MatchedPath::as_str)
    }
}

/// A request the edge refused (request id, key, in-flight limit) but still routes, so
/// that the refusal is counted under its route; [`label_route`] answers it without the
/// handler.
#[derive(Clone, Copy, Debug)]
pub enum Refused {
    RequestIdTooLong,
    Unauthorized,
    Overloaded,
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::RequestIdTooLong => ApiError::BadRequest(format!(
                "x-request-id must be at most {} bytes",
                super::ids::MAX_REQUEST_ID_LEN
            )),
            Refused::Unauthorized => ApiError::Unauthorized,
            Refused::Overloaded => ApiError::Overloaded,
        }
    }
}

/// Records the matched template in the request's [`LabelSlot`] and answers a
/// [`Refused`] request. Applied with `Router::layer`, so it sees every route and the
/// fallback.
pub async fn label_route(mut req: Request, next: Next) -> Response {
    if let (Some(slot), Some(path)) = (
        req.extensions().get::<LabelSlot>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(path.clone());
    }
    if let Some(refused) = req.extensions_mut().remove::<Refused>() {
        return ApiError::from(refused).into_response();
    }
    next.run(req).await
}

/// The `method` label values. Methods are client-chosen tokens; unknown ones share a
/// label to bound cardinality.
pub fn method_label(method: &Method) -> &'static str {
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

/// Metric handles of each hot route (whose method is fixed), resolved once, so the
/// common request skips the label hashing and map lookups of `with_label_values`.
pub struct HotHandles {
    handles: Vec<OnceLock<RouteHandles>>,
}

impl HotHandles {
    pub fn new(routes: usize) -> Self {
        Self {
            handles: (0..routes).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn record(
        &self,
        m: &Metrics,
        index: usize,
        method: &'static str,
        route: &str,
        status: StatusCode,
        secs: f64,
    ) {
        match self.handles.get(index) {
            Some(cell) => cell
                .get_or_init(|| RouteHandles::new(m, method, route))
                .record(m, method, route, status, secs),
            None => record(m, method, route, status, secs),
        }
    }
}

/// Counts a request of a route without cached handles.
pub fn record(m: &Metrics, method: &str, route: &str, status: StatusCode, secs: f64) {
    m.http_duration
        .with_label_values(&[method, route])
        .observe(secs);
    m.http_requests
        .with_label_values(&[method, route, status.as_str()])
        .inc();
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
