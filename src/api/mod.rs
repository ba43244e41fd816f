//! The HTTP surface: merges every route module, serves `/openapi.json`, and wraps the
//! router in the edge layer.

pub mod edge;
pub mod error;
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
use axum::http::Method;
use axum::{Json, Router};
use tower::Layer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api::edge::hot::{HotRouteError, HotRoutes};
use crate::api::error::ApiError;
use crate::state::AppState;

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
    components(schemas(crate::api::error::ErrorBody))
)]
struct ApiDoc;

/// The whole application as one tower service: the edge layer around the router, whose
/// extractors read the body limit.
pub type App = edge::Edge<<DefaultBodyLimit as Layer<Router>>::Service>;

/// The full application: routes, `/openapi.json` and the edge layer, ready for
/// `axum::serve` (through `axum::ServiceExt::into_make_service`) or
/// `tower::ServiceExt::oneshot`. Fails only if a hot route is not a route of the
/// router, a programming error caught at start-up.
pub fn router(state: AppState) -> Result<App, HotRouteError> {
    let (routes, openapi) = documented_routes().split_for_parts();
    let hot = HotRoutes::new([predict::DIRECT, v2::infer::DIRECT])?;
    let routed: Vec<(Method, &str)> = openapi
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            documented_methods(item)
                .into_iter()
                .map(move |m| (m, path.as_str()))
        })
        .collect();
    edge::hot::check(&hot, routed.iter().map(|(m, p)| (m.clone(), *p)))?;
    let openapi = std::sync::Arc::new(openapi);
    let body_limit = DefaultBodyLimit::max(state.cfg.server.body_limit_bytes);
    let edge = edge::EdgeLayer::new(state.clone(), hot);

    let router = routes
        .route(
            OPENAPI_PATH,
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(edge::metrics::label_route))
        .with_state(state);
    Ok(edge.layer(body_limit.layer(router)))
}

/// Every route with its documentation.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(models::router())
        .merge(predict::router())
        .merge(train::router())
        .merge(monitoring::router())
        .merge(tune::router())
        .merge(v2::router())
        .merge(onnx::router())
}

/// The methods a documented path item serves.
fn documented_methods(item: &utoipa::openapi::PathItem) -> Vec<Method> {
    let ops = [
        (&item.get, Method::GET),
        (&item.post, Method::POST),
        (&item.put, Method::PUT),
        (&item.delete, Method::DELETE),
        (&item.patch, Method::PATCH),
        (&item.head, Method::HEAD),
        (&item.options, Method::OPTIONS),
    ];
    ops.into_iter()
        .filter(|(op, _)| op.is_some())
        .map(|(_, m)| m)
        .collect()
}

const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI document as served at `/openapi.json`, as JSON.
#[cfg(test)]
pub(crate) fn openapi_document() -> serde_json::Value {
    let (_, openapi) = documented_routes().split_for_parts();
    serde_json::to_value(openapi).unwrap_or_default()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
