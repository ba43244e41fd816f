//! The HTTP surface: merges every route module, serves `/openapi.json`, and wraps the
//! router in the edge layer.

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
use tower::Layer;
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

/// The whole application as one tower service: the edge layer around the router, whose
/// extractors read the body limit.
pub type App = edge::Edge<<DefaultBodyLimit as Layer<Router>>::Service>;

/// The full application: routes, `/openapi.json` and the edge layer, ready for
/// `axum::serve` (through `axum::ServiceExt::into_make_service`) or
/// `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> App {
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
    let mut templates: Vec<String> = openapi.paths.paths.keys().cloned().collect();
    templates.push(OPENAPI_PATH.to_string());
    let openapi = std::sync::Arc::new(openapi);
    let body_limit = DefaultBodyLimit::max(state.cfg.server.body_limit_bytes);
    let direct = [predict::DIRECT, v2::infer::DIRECT];
    let edge = edge::EdgeLayer::with_direct(state.clone(), templates, direct);

    let router = routes
        .route(
            OPENAPI_PATH,
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .with_state(state);
    edge.layer(body_limit.layer(router))
}

const OPENAPI_PATH: &str = "/openapi.json";

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
