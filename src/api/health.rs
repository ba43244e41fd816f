//! Liveness, readiness, version and the Prometheus exposition.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(version))
        .routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct StatusResponse {
    /// `ok`, `starting` or `draining`.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct VersionResponse {
    pub name: &'static str,
    pub version: &'static str,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = StatusResponse)))]
pub async fn healthz() -> Json<StatusResponse> {
    Json(StatusResponse { status: "ok" })
}

/// Readiness: 200 once the model store is loaded; 503 while starting or draining.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = StatusResponse), (status = 503, body = StatusResponse)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let lc = &state.lifecycle;
    if lc.is_ready() {
        (StatusCode::OK, Json(StatusResponse { status: "ok" }))
    } else {
        let status = if lc.is_draining() {
            "draining"
        } else {
            "starting"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(StatusResponse { status }),
        )
    }
}

/// Server name and version.
#[utoipa::path(get, path = "/version", tag = "health",
    responses((status = 200, body = VersionResponse)))]
pub async fn version() -> Json<VersionResponse> {
    Json(VersionResponse {
        name: "modeld",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Prometheus text exposition (format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let serving = state.serving.clone();
    let body = super::extract::blocking(move || Ok(serving.render_metrics()?)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}
