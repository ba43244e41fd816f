//! ONNX in and out of the registry: `POST /v1/models/{name}/versions` imports a graph
//! (raw bytes, `Content-Type: application/octet-stream`) as a new version, and
//! `GET /v1/models/{name}/versions/{v}/export?format=onnx` returns a version as an ONNX
//! file any ONNX runtime can run.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{blocking, AppBody, AppPath, AppQuery};
use crate::api::error::{ApiError, ErrorBody};
use crate::models::onnx::OnnxArtifact;
use crate::registry::VersionMeta;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import))
        .routes(routes!(export))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Point this alias (e.g. `production`) at the new version.
    pub alias: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub version: u64,
}

/// Imports an ONNX graph as a new version. The graph needs one float input `[N, d]` and
/// either one float output (regressor) or an int64 label plus float probabilities
/// `[N, K]` (classifier, e.g. skl2onnx with `zipmap=False`); ai.onnx.ml `Scaler`,
/// `LinearRegressor`, `LinearClassifier`, `Normalizer` and `ArrayFeatureExtractor` are
/// supported. A file that cannot be served gets 422 saying why and nothing is stored.
#[utoipa::path(post, path = "/v1/models/{name}/versions", tag = "models",
    params(("name" = String, Path, description = "Model name"), ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The .onnx file"),
    responses((status = 201, body = Imported), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn import(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ImportQuery>,
    headers: HeaderMap,
    AppBody(body): AppBody,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let octet = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if !octet {
        return Err(ApiError::UnsupportedMediaType(
            "send the .onnx file as the body with Content-Type: application/octet-stream".into(),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::InvalidInput(
            "the body is empty: send the .onnx file".into(),
        ));
    }
    let registry = state.registry.clone();
    let version = blocking(move || {
        let n_bytes = body.len();
        let limits = *registry.limits();
        let model = crate::models::onnx::load(OnnxArtifact::new(body.to_vec()), &limits)?;
        let meta = VersionMeta {
            version: 0,
            family: model.family().as_str().to_string(),
            created_at: chrono::Utc::now(),
            schema: model.schema().clone(),
            params: serde_json::json!({"source": "upload", "bytes": n_bytes}),
            metrics: Default::default(),
            training: None,
            n_parameters: model.n_parameters(),
            profile: None,
            compressed_from: None,
            compression: None,
        };
        Ok(registry.register(&name, meta, model, q.alias.as_deref())?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Imported { version })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Only `onnx`.
    pub format: String,
}

/// A version as an ONNX file (`application/octet-stream`). Linear, logistic and softmax
/// models become default-domain graphs (standardisation included) with input `input` and
/// outputs `variable` or `label` + `probabilities`; an imported graph is returned as
/// uploaded.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/export", tag = "models",
    params(("name" = String, Path, description = "Model name"),
        ("version" = u64, Path, description = "Version number"), ExportQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, u64)>,
    AppQuery(q): AppQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    if q.format != "onnx" {
        return Err(ApiError::BadRequest(format!(
            "format '{}' is not supported; use format=onnx",
            q.format
        )));
    }
    let (_, model) = state
        .registry
        .snapshot()
        .resolve(&name, Some(version), None)?;
    let bytes = blocking(move || export_bytes(model.as_ref())).await?;
    let disposition = format!("attachment; filename=\"{name}-{version}.onnx\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(feature = "onnx")]
fn export_bytes(model: &dyn crate::models::Model) -> Result<Vec<u8>, ApiError> {
    Ok(crate::models::onnx::export::export(model)?)
}

#[cfg(not(feature = "onnx"))]
fn export_bytes(_: &dyn crate::models::Model) -> Result<Vec<u8>, ApiError> {
    Err(ApiError::InvalidInput(
        "this modeld was built without the `onnx` feature".into(),
    ))
}
