//! The HTTP surface: merges every route module, serves `/openapi.json`, and wraps the
//! router in the edge layer.

pub mod compress;
pub mod dashboard;
pub mod datasets;
pub mod edge;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod health;
pub mod instances;
pub mod models;
pub mod monitoring;
pub mod onnx;
pub mod openapi;
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

/// The whole application as one tower service: the edge layer around the router, whose
/// extractors read the body limit.
pub type App = edge::Edge<<DefaultBodyLimit as Layer<Router>>::Service>;

/// The full application: routes, `/openapi.json` and the edge layer, ready for
/// `axum::serve` (through `axum::ServiceExt::into_make_service`) or
/// `tower::ServiceExt::oneshot`. Fails only if a hot route is not a route of the
/// router, a programming error caught at start-up.
pub fn router(state: AppState) -> Result<App, HotRouteError> {
    let (routes, doc) = documented_routes().split_for_parts();
    let doc = openapi::complete(doc);
    let hot = HotRoutes::new([predict::DIRECT, v2::infer::DIRECT])?;
    let routed: Vec<(Method, &str)> = doc
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
    let doc = std::sync::Arc::new(doc);
    let body_limit = DefaultBodyLimit::max(state.cfg.server.body_limit_bytes);
    let edge = edge::EdgeLayer::new(state.clone(), hot);

    let router = routes
        .route(
            OPENAPI_PATH,
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(dashboard::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(edge::metrics::label_route))
        .with_state(state);
    Ok(edge.layer(body_limit.layer(router)))
}

/// Every route with its documentation.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::router())
        .merge(models::router())
        .merge(predict::router())
        .merge(train::router())
        .merge(datasets::router())
        .merge(monitoring::router())
        .merge(tune::router())
        .merge(compress::router())
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
    let (_, doc) = documented_routes().split_for_parts();
    serde_json::to_value(openapi::complete(doc)).unwrap_or_default()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
