//! The Open Inference Protocol (KServe V2) REST surface, so tritonclient's HTTP client
//! and KServe's SDK work unchanged: server and model metadata, health, readiness, infer
//! (see [`infer`]) and the model-repository extension (see [`repository`]).
//!
//! Tensor names: native models take `input` (FP64 `[-1, d]`) and give `label` (INT64
//! class index) and `probabilities` (FP64 `[-1, K]`) for classifiers, or `variable` (FP64
//! `[-1, 1]`) for regressors; imported ONNX models keep their graph's names and types.
//! Errors use the V2 body `{"error": "..."}` (plus modeld's usual `code`).

pub mod binary;
pub mod infer;
pub mod repository;
pub mod tensor;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::AppPath;
use crate::api::error::{ApiError, ErrorBody};
use crate::models::tensors::TensorSpec;
use crate::registry::Snapshot;
use crate::state::AppState;

pub const V2: &str = "v2";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(server_metadata))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(model_metadata))
        .routes(routes!(model_version_metadata))
        .routes(routes!(model_ready))
        .routes(routes!(model_version_ready))
        .routes(routes!(infer::infer))
        .routes(routes!(infer::infer_version))
        .routes(routes!(repository::index))
        .routes(routes!(repository::load))
        .routes(routes!(repository::unload))
}

/// V2 versions are strings on the wire; modeld's are positive integers, so any other
/// string (`v10`, `0`) names a version that cannot exist: not found, as the OIP wants
/// for an unknown version, rather than a malformed request.
pub fn parse_version(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::NotFound(format!(
            "version '{v}' not found: versions are positive integers"
        ))
    })
}

#[derive(Serialize, ToSchema)]
pub struct ServerMetadata {
    pub name: &'static str,
    pub version: &'static str,
    pub extensions: Vec<&'static str>,
}

/// Server metadata: name, version and supported extensions.
#[utoipa::path(get, path = "/v2", tag = V2, responses((status = 200, body = ServerMetadata)))]
pub async fn server_metadata() -> Json<ServerMetadata> {
    Json(ServerMetadata {
        name: "modeld",
        version: env!("CARGO_PKG_VERSION"),
        extensions: vec!["model_repository", "binary_tensor_data"],
    })
}

#[derive(Serialize, ToSchema)]
pub struct Live {
    pub live: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/v2/health/live", tag = V2, responses((status = 200, body = Live)))]
pub async fn live() -> Json<Live> {
    Json(Live { live: true })
}

/// Readiness: 200 once the store is loaded, 503 while starting or draining.
#[utoipa::path(get, path = "/v2/health/ready", tag = V2,
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    if state.lifecycle.is_ready() {
        Ok(Json(Ready { ready: true }))
    } else {
        Err(ApiError::Unavailable("not ready".into()))
    }
}

#[derive(Serialize, ToSchema)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: &'static str,
    /// `-1` is the batch dimension.
    pub shape: Vec<i64>,
}

impl From<&TensorSpec> for TensorMetadata {
    fn from(t: &TensorSpec) -> Self {
        Self {
            name: t.name.clone(),
            datatype: t.datatype.as_str(),
            shape: t.shape.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ModelMetadata {
    pub name: String,
    /// Every loaded version (or just the one asked for).
    pub versions: Vec<String>,
    /// `modeld_<family>` for native models, `onnx_tract` for imported graphs.
    pub platform: String,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// The metadata of `name` (of one version, or listing all): REST and gRPC answer alike.
pub fn metadata(
    snap: &Snapshot,
    name: &str,
    version: Option<u64>,
) -> Result<ModelMetadata, ApiError> {
    let (_, model) = snap.resolve(name, version, None)?;
    let versions = match version {
        Some(v) => vec![v.to_string()],
        None => snap
            .model(name)?
            .versions
            .keys()
            .map(u64::to_string)
            .collect(),
    };
    let sig = model.signature();
    let platform = match model.family() {
        crate::models::Family::Onnx => "onnx_tract".to_string(),
        f => format!("modeld_{f}"),
    };
    Ok(ModelMetadata {
        name: name.to_string(),
        versions,
        platform,
        inputs: vec![(&sig.input).into()],
        outputs: sig.outputs.iter().map(|o| (&o.tensor).into()).collect(),
    })
}

/// Model metadata of the default version: tensor names, datatypes and shapes.
#[utoipa::path(get, path = "/v2/models/{name}", tag = V2,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn model_metadata(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<ModelMetadata>, ApiError> {
    Ok(Json(metadata(&state.registry.snapshot(), &name, None)?))
}

/// Model metadata of one version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = V2,
    params(("name" = String, Path, description = "Model name"),
        ("version" = String, Path, description = "Version number")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn model_version_metadata(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, String)>,
) -> Result<Json<ModelMetadata>, ApiError> {
    let v = parse_version(&version)?;
    Ok(Json(metadata(&state.registry.snapshot(), &name, Some(v))?))
}

#[derive(Serialize, ToSchema)]
pub struct ModelReady {
    pub name: String,
    pub ready: bool,
}

fn model_ready_status(
    state: &AppState,
    name: &str,
    v: Option<u64>,
) -> Result<Json<ModelReady>, ApiError> {
    state.registry.snapshot().resolve(name, v, None)?;
    Ok(Json(ModelReady {
        name: name.to_string(),
        ready: true,
    }))
}

/// 200 when the default version can serve; 404 unknown or unloaded, 503 failed to load.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = V2,
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn model_ready(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<ModelReady>, ApiError> {
    model_ready_status(&state, &name, None)
}

/// 200 when this version can serve.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = V2,
    params(("name" = String, Path, description = "Model name"),
        ("version" = String, Path, description = "Version number")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn model_version_ready(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, String)>,
) -> Result<Json<ModelReady>, ApiError> {
    let v = parse_version(&version)?;
    model_ready_status(&state, &name, Some(v))
}
