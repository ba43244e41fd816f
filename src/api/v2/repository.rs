//! The model-repository extension mapped onto the registry: `index` lists every model in
//! the store (loaded or not), `load` re-reads one model from the store, `unload` stops
//! serving it without deleting any file (repository polling leaves it unloaded too,
//! until the next `load` or `POST /v1/reload`).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::V2;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{blocking, AppBody, AppPath};
use crate::registry::listing::RepositoryEntry;
use crate::state::AppState;

#[derive(Deserialize, ToSchema, Default)]
pub struct IndexRequest {
    /// Only models that are ready to serve.
    #[serde(default)]
    pub ready: bool,
}

#[derive(Serialize, ToSchema)]
pub struct IndexEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `READY` or `UNAVAILABLE`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every model version in the store: loaded versions with their state, and unloaded
/// models (one entry each, no version) as `UNAVAILABLE`.
#[utoipa::path(post, path = "/v2/repository/index", tag = V2,
    request_body(content = Option<IndexRequest>),
    responses((status = 200, body = Vec<IndexEntry>)))]
pub async fn index(
    State(state): State<AppState>,
    AppBody(body): AppBody,
) -> Result<Json<Vec<IndexEntry>>, ApiError> {
    let req: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    let out = entries(&state, req.ready)
        .await?
        .into_iter()
        .map(|e| IndexEntry {
            state: e.state(),
            name: e.name,
            version: e.version.map(|v| v.to_string()),
            reason: e.reason,
        })
        .collect();
    Ok(Json(out))
}

/// Loads (re-reads) a model from the store and serves it; 404 if the store has no
/// version of it.
#[utoipa::path(post, path = "/v2/repository/models/{name}/load", tag = V2,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Loaded"), (status = 404, body = ErrorBody)))]
pub async fn load(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    load_model(&state, name).await?;
    Ok(Json(serde_json::json!({})))
}

/// Stops serving a model; its files stay in the store.
#[utoipa::path(post, path = "/v2/repository/models/{name}/unload", tag = V2,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Unloaded"), (status = 404, body = ErrorBody)))]
pub async fn unload(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    unload_model(&state, name).await?;
    Ok(Json(serde_json::json!({})))
}

/// The index, for REST and gRPC.
pub async fn entries(state: &AppState, ready: bool) -> Result<Vec<RepositoryEntry>, ApiError> {
    let registry = state.registry.clone();
    blocking(move || Ok(registry.repository_index(ready)?)).await
}

/// Load for REST and gRPC: re-reads `name` from the store; not found if it has no version.
pub async fn load_model(state: &AppState, name: String) -> Result<(), ApiError> {
    let registry = state.registry.clone();
    let n = name.clone();
    match blocking(move || Ok(registry.reload_model(&n)?)).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!(
            "model '{name}' has no version in the store"
        ))),
    }
}

/// Unload for REST and gRPC.
pub async fn unload_model(state: &AppState, name: String) -> Result<(), ApiError> {
    let registry = state.registry.clone();
    blocking(move || Ok(registry.unload(&name)?)).await
}
