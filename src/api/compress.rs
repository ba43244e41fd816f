//! `POST /v1/models/{name}/versions/{version}/compress`: quantize, prune or distill a
//! version in a background job. The version, the method's parameters and the data are
//! checked here, so a bad request is a 404 or 422 now and never a failed job.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{blocking, AppJson, AppPath, TrainingEnabled};
use super::train::{accepted, check_names, load_data, JobAccepted};
use crate::api::error::{ApiError, ErrorBody};
use crate::compress::{align, check_rows, Method, TeacherSplit};
use crate::jobs::{CompressWork, JobRequest, Work};
use crate::models::Family;
use crate::registry::VersionMeta;
use crate::state::AppState;
use crate::train::{Algorithm, DataSpec, TrainError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(compress))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompressRequest {
    /// `quantize`, `prune` or `distill`.
    pub method: String,
    /// quantize: `{"bits": 8}`; prune: `{"sparsity": 0–0.95, "fine_tune_epochs"?: 0,
    /// "learning_rate"?: 0.001, "batch_size"?: 32, "seed"?: 42}`; distill:
    /// `{"algorithm", "params"?: {training params}, "validation_split"?: 0.2,
    /// "temperature"?: 1.0}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The evaluation rows (a held-out 20% of them) and, for distill and fine-tuning,
    /// the transfer rows: the same forms as training's `data`.
    #[schema(value_type = Object)]
    pub data: DataSpec,
    /// Refuse (register nothing, `"kept": false`) a result whose metric drops by more.
    #[serde(default)]
    pub max_metric_drop: Option<f64>,
    /// Alias to point at the new version.
    #[serde(default)]
    pub alias: Option<String>,
    /// Register the result under this model instead of the source's.
    #[serde(default)]
    pub target_model: Option<String>,
}

/// The split a version was trained with, from its record. A compressed version's record
/// holds its student's or fine-tuning's settings, not the rows it was measured on, so it
/// has none: its evaluation rows are a fresh hold-out.
fn teacher_split(meta: &VersionMeta) -> Option<TeacherSplit> {
    if meta.compressed_from.is_some() {
        return None;
    }
    let training = meta.training.as_ref()?;
    Some(TeacherSplit {
        fingerprint: training.dataset.clone()?,
        fraction: meta.params.get("validation_split")?.as_f64()?,
        seed: meta.params.get("seed")?.as_u64()?,
        n_validation: training.n_validation,
    })
}

/// Starts a compression job → 202; the finished job's `report` says what it measured and
/// its `version` is the new compressed version (absent when the gate refused it).
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/compress", tag = "training",
    params(("name" = String, Path, description = "Model name"),
        ("version" = u64, Path, description = "Version to compress")),
    request_body = CompressRequest,
    responses((status = 202, body = JobAccepted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn compress(
    State(state): State<AppState>,
    _training: TrainingEnabled,
    AppPath((name, version)): AppPath<(String, u64)>,
    AppJson(req): AppJson<CompressRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let target = req.target_model.clone().unwrap_or_else(|| name.clone());
    check_names(&target, req.alias.as_deref())?;
    let snapshot = state.registry.snapshot();
    let (entry, teacher) = snapshot.resolve(&name, Some(version), None)?;
    if teacher.family() == Family::Onnx {
        return Err(ApiError::InvalidInput(format!(
            "{name} version {version} is an imported ONNX graph, whose weights modeld cannot \
             read: only natively trained models (linear, logistic, softmax, MLP) compress"
        )));
    }
    let method = Method::parse(&req.method, &req.params, teacher.task())?;
    let n_classes = teacher.schema().classes.as_ref().map_or(0, Vec::len);
    if method.student() == Some(Algorithm::LogisticRegression) && n_classes != 2 {
        return Err(TrainError::param(
            "algorithm",
            format!("logistic_regression needs 2 classes, the teacher has {n_classes}; use softmax_regression or mlp_classifier"),
        )
        .into());
    }
    if let Some(drop) = req.max_metric_drop {
        if !(drop.is_finite() && drop >= 0.0) {
            return Err(TrainError::param(
                "max_metric_drop",
                format!("must be a number ≥ 0, got {drop}"),
            )
            .into());
        }
    }
    let data_source = req.data.source();
    let dataset = load_data(&state, req.data, teacher.task()).await?;
    // Reordering columns copies the matrix: off the async workers.
    let (checked_teacher, checked_data) = (teacher.clone(), dataset.clone());
    blocking(move || {
        let aligned = align(checked_teacher.as_ref(), &checked_data)?;
        Ok(check_rows(
            &checked_data,
            &aligned.y,
            checked_teacher.task(),
        )?)
    })
    .await?;
    let profile = entry.meta.as_ref().and_then(|m| m.profile.clone());
    let teacher_split = entry.meta.as_ref().and_then(teacher_split);
    let view = state.jobs.submit(JobRequest {
        model: target,
        work: Work::Compress(CompressWork {
            method,
            params: req.params,
            teacher,
            source_model: name,
            source_version: version,
            profile,
            max_metric_drop: req.max_metric_drop,
            teacher_split,
        }),
        data: crate::jobs::JobData::Ready(dataset),
        data_source,
        alias: req.alias,
    })?;
    Ok(accepted(view))
}
