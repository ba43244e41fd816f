//! The HTTP surface: merges every route module, serves `/openapi.json`, and applies the
//! middleware stack once.

pub mod extract;
pub mod health;
pub mod instances;
pub mod middleware;
pub mod models;
pub mod monitoring;
pub mod onnx;
pub mod predict;
pub mod train;
pub mod tune;
pub mod v2;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "modeld", description = "Train, version, serve and monitor ML models over HTTP."),
    tags(
        (name = "health", description = "Liveness, readiness, version, metrics"),
        (name = "models", description = "Registry: models, versions, aliases, reload"),
        (name = "predict", description = "Inference"),
        (name = "training", description = "Training jobs"),
        (name = "monitoring", description = "Feedback, online metrics, drift"),
        (name = "v2", description = "Open Inference Protocol (KServe V2)"),
    ),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

/// The full application: routes, `/openapi.json` and middleware, ready for `axum::serve`
/// or `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(models::router())
        .merge(predict::router())
        .merge(train::router())
        .merge(monitoring::router())
        .merge(tune::router())
        .merge(v2::router())
        .merge(onnx::router())
        .split_for_parts();
    let openapi = std::sync::Arc::new(openapi);
    let cfg = &state.cfg.server;

    // Outermost first. Request ids are set before tracing so every log line carries
    // one; the edge layer (API key, JSON error bodies, metrics) wraps the shedding
    // layers so 503/504 answers are counted and shaped too. Load shedding sits outside
    // the global concurrency limit so that a full server answers 503 at once instead of
    // queueing without bound.
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            // Debug level: at the default `info` filter the span is never built, so a
            // request pays nothing for it; `modeld=debug` turns per-request spans on.
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                tracing::debug_span!(
                    "request",
                    method = %req.method(),
                    uri = %req.uri(),
                    request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default(),
                )
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::edge,
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(HandleErrorLayer::new(middleware::shed_or_timeout))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            cfg.concurrency_limit,
        ))
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(
            cfg.request_timeout_ms,
        )))
        .layer(DefaultBodyLimit::max(cfg.body_limit_bytes));

    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .layer(layers)
        .with_state(state)
}

/// A random UUID v4 per request without an `x-request-id`, encoded straight into the
/// header's bytes (tower-http's `MakeRequestUuid` goes through `Display` and a re-parse).
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        axum::http::HeaderValue::from_str(text)
            .ok()
            .map(RequestId::new)
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
