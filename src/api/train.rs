//! Training over HTTP: `POST /v1/models/{name}/train` queues a job; `/v1/jobs` polls and
//! cancels. The body is checked (params, data, algorithm against the data) before the job
//! is queued, so a bad request is a 4xx now rather than a failed job later.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{blocking, AppJson, AppPath, TrainingEnabled};
use crate::api::error::{ApiError, ErrorBody};
use crate::jobs::{DataLoader, JobData, JobRequest, JobState, JobView, Work};
use crate::metrics::Metrics;
use crate::models::Task;
use crate::registry::valid_name;
use crate::state::AppState;
use crate::train::cache::{Lookup, ParsedCache};
use crate::train::dataset::{DataSpec, Dataset};
use crate::train::{check_task, Algorithm, Params, TrainSpec};
use crate::train::{preflight, source};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(train))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job, cancel_job))
}

/// [`Algorithm`]'s wire names, for the OpenAPI document only (the body parses into
/// [`Algorithm`]; a test keeps the two lists equal).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AlgorithmName {
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
    MlpRegressor,
    MlpClassifier,
}

fn default_validation_split() -> f64 {
    0.2
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    #[schema(value_type = AlgorithmName, inline)]
    pub algorithm: Algorithm,
    /// `{"rows", "targets", "feature_names"?, "class_names"?}`, `{"csv", "target"?}` or
    /// `{"path", "target"?}` (a CSV file under the data directory).
    #[schema(value_type = Object)]
    pub data: DataSpec,
    /// Hyperparameters, every one optional (defaults in docs/training.md): `solver`
    /// (`closed_form` | `gd` | `newton`), `optimizer` (`gd` | `sgd` | `minibatch` |
    /// `momentum` | `adam`, default adam), `learning_rate`, `epochs`, `batch_size`,
    /// `momentum` (0.9), `nesterov` (false), `seed` (42), `l1`, `l2` (per-row penalties,
    /// 0; both = elastic net; sklearn `Ridge(alpha)` ⇔ l2 = alpha/n,
    /// `LogisticRegression(C)` ⇔ l2 = 1/(C·n)), `tol`, `early_stopping`
    /// (`{"patience", "min_delta"?}`, min_delta 0), `schedule` (`{"kind": "constant" | "step"
    /// (step_size 10, gamma 0.5) | "exponential" (gamma 0.99) | "inverse_scaling"
    /// (power_t 0.5; default for mini-batches) | "warmup" (warmup_epochs 5, then) |
    /// "plateau" (factor 0.5, patience 5, min_lr 1e-6, threshold 1e-4)}`), `loss`
    /// (`mse` | `mae` | `huber` | `log_loss` | `cross_entropy`), `huber_delta` (1.0),
    /// `hidden_layers` (MLP, [32]), `activation` (MLP: `relu` | `tanh` | `sigmoid`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Params,
    /// Fraction of rows held out for validation metrics (seeded, stratified for
    /// classifiers). Default 0.2.
    #[serde(default = "default_validation_split")]
    pub validation_split: f64,
    /// Alias to point at the new version when the job succeeds, e.g. `production`.
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: String,
    pub status_url: String,
    pub state: JobState,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
}

/// The 202 answer to a queued job, its status URL also in `Location`.
pub(crate) fn accepted(view: JobView) -> impl IntoResponse {
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, view.status_url.clone())],
        Json(JobAccepted {
            job_id: view.job_id,
            status_url: view.status_url,
            state: view.state,
        }),
    )
}

/// Model and alias names become folder names: both must be valid before a job exists.
pub(crate) fn check_names(name: &str, alias: Option<&str>) -> Result<(), ApiError> {
    if !valid_name(name) {
        return Err(ApiError::BadRequest(format!(
            "invalid model name '{name}': use 1-128 characters from A-Z a-z 0-9 . _ -"
        )));
    }
    if let Some(alias) = alias.filter(|a| !valid_name(a)) {
        return Err(ApiError::InvalidInput(format!("invalid alias '{alias}'")));
    }
    Ok(())
}

/// Starts a training job → 202 with the job id; the finished job registers a new version.
#[utoipa::path(post, path = "/v1/models/{name}/train", tag = "training",
    params(("name" = String, Path, description = "Model name")),
    request_body = TrainRequest,
    responses((status = 202, body = JobAccepted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn train(
    State(state): State<AppState>,
    _training: TrainingEnabled,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<TrainRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check_names(&name, req.alias.as_deref())?;
    let spec = TrainSpec {
        algorithm: req.algorithm,
        params: req.params,
        validation_split: req.validation_split,
    };
    let checked = spec.validate()?;
    let data_source = req.data.source();
    let data = job_data(&state, req.data, spec.algorithm.family().task()).await?;
    if let JobData::Ready(dataset) = &data {
        check_task(spec.algorithm, dataset)?;
    }
    let view = state.jobs.submit(JobRequest {
        model: name,
        work: Work::Fit(checked),
        data,
        data_source,
        alias: req.alias,
    })?;
    Ok(accepted(view))
}

/// Data files and stored datasets larger than this are read and parsed by the job, after
/// the request is answered; smaller ones (a few milliseconds' parse) here, so their errors
/// are a 422.
pub const SYNC_PARSE_BYTES: u64 = 4 << 20;

/// A training job's data: parsed here ([`load_data`]), or, for a data file or stored
/// dataset above [`SYNC_PARSE_BYTES`] with no parsed copy cached, checked as far as its
/// header (or record) and left for the job to load.
pub(crate) async fn job_data(
    state: &AppState,
    data: DataSpec,
    task: Task,
) -> Result<JobData, ApiError> {
    let data_dir = state.cfg.data_dir.clone();
    let datasets = state.datasets.clone();
    let parsed = state.parsed.clone();
    let limit = state.cfg.training_limits.max_dataset_bytes;
    // One blocking step: the checks, then the parse unless the job is to do it.
    let (data, found) = blocking(move || {
        let large = preflight::preflight(&data, &data_dir, &datasets, limit)?
            .filter(|file| file.bytes > SYNC_PARSE_BYTES);
        let found = match large {
            Some(file) if source::cached(&data, task, &data_dir, &datasets, &parsed)?.is_none() => {
                Found::Later { bytes: file.bytes }
            }
            _ => {
                let (dataset, lookup) =
                    parse_now(&data, task, &data_dir, &datasets, &parsed, limit)?;
                Found::Now(dataset, lookup)
            }
        };
        Ok((data, found))
    })
    .await?;
    let bytes = match found {
        Found::Now(dataset, lookup) => {
            count_load(&state.metrics, &state.parsed, lookup);
            return Ok(JobData::Ready(dataset));
        }
        Found::Later { bytes } => bytes,
    };
    let data_dir = state.cfg.data_dir.clone();
    let datasets = state.datasets.clone();
    let metrics = state.metrics.clone();
    let parsed = state.parsed.clone();
    let load: DataLoader = Box::new(move |progress| {
        // Checked again: the file may have been replaced since the request.
        preflight::preflight(&data, &data_dir, &datasets, limit)?;
        let (dataset, lookup) =
            source::load_cached(&data, task, &data_dir, &datasets, &parsed, progress, limit)?;
        count_load(&metrics, &parsed, lookup);
        Ok(dataset)
    });
    Ok(JobData::Deferred { bytes, load })
}

/// What the request's own step found: the data parsed, or a file left for the job.
enum Found {
    Now(Arc<Dataset>, Lookup),
    Later { bytes: u64 },
}

/// The job's data, parsed here or shared from an earlier job on the same content
/// ([`source::load_cached`]); counted in `modeld_training_data_loads_total`.
pub(crate) async fn load_data(
    state: &AppState,
    data: DataSpec,
    task: Task,
) -> Result<Arc<Dataset>, ApiError> {
    let data_dir = state.cfg.data_dir.clone();
    let datasets = state.datasets.clone();
    let parsed = state.parsed.clone();
    let limit = state.cfg.training_limits.max_dataset_bytes;
    let (dataset, lookup) = blocking(move || {
        preflight::preflight(&data, &data_dir, &datasets, limit)?;
        Ok(parse_now(
            &data, task, &data_dir, &datasets, &parsed, limit,
        )?)
    })
    .await?;
    count_load(&state.metrics, &state.parsed, lookup);
    Ok(dataset)
}

/// The request's own load, through the parse cache, with nothing to report progress to.
fn parse_now(
    data: &DataSpec,
    task: Task,
    data_dir: &std::path::Path,
    datasets: &dyn source::DatasetSource,
    parsed: &ParsedCache,
    limit: u64,
) -> Result<(Arc<Dataset>, Lookup), crate::train::TrainError> {
    source::load_cached(data, task, data_dir, datasets, parsed, &mut |_| {}, limit)
}

fn count_load(metrics: &Metrics, parsed: &ParsedCache, lookup: Lookup) {
    metrics
        .data_cache_loads
        .with_label_values(&[lookup.as_str()])
        .inc();
    metrics.data_cache_bytes.set(parsed.usage().bytes as f64);
}

/// Every job still remembered, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "training",
    responses((status = 200, body = JobList)))]
pub async fn list_jobs(State(state): State<AppState>) -> Json<JobList> {
    Json(JobList {
        jobs: state.jobs.list(),
    })
}

/// One job: state, progress, epoch, loss, learning curve, result version or error.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.jobs.get(&id)?))
}

/// Cancels a job: a queued job at once, a running one within one epoch; nothing is
/// registered. A finished job is returned unchanged.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "training",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.jobs.cancel(&id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_algorithm_names_are_the_ones_the_body_parses() {
        let schema = serde_json::to_value(<AlgorithmName as utoipa::PartialSchema>::schema())
            .unwrap_or_default();
        let names = schema["enum"].as_array().cloned().unwrap_or_default();
        assert_eq!(names.len(), 5, "{schema}");
        for name in names {
            let parsed: Result<Algorithm, _> = serde_json::from_value(name.clone());
            assert!(parsed.is_ok(), "{name} is documented but not parsed");
        }
        assert!(serde_json::from_value::<Algorithm>(serde_json::json!("")).is_err());
    }
}
