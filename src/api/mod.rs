//! The HTTP surface: merges every route module, serves `/openapi.json`, and applies the
//! middleware stack once.

pub mod edge;
pub mod extract;
pub mod health;
pub mod instances;
pub mod models;
pub mod monitoring;
pub mod onnx;
pub mod predict;
pub mod train;
pub mod tune;
pub mod v2;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::{Json, Router};
use tower::ServiceBuilder;
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

    // The edge layer wraps each route after routing, so it knows the route template
    // for its metrics; the body limit is the innermost, read by the extractors.
    let layers = ServiceBuilder::new()
        .layer(edge::EdgeLayer::new(state.clone()))
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

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
