//! `POST /v1/models/{name}/tune`: grid search with k-fold cross-validation, then the
//! best combination retrained on all rows and registered as a new version (its
//! provenance carries the whole CV table). Everything checkable — grid, folds,
//! scoring, every combination's parameters, the data — is checked before queueing.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath, TrainingEnabled};
use super::train::{accepted, JobAccepted};
use crate::api::error::{ApiError, ErrorBody};
use crate::jobs::{JobData, JobRequest, Work};
use crate::state::AppState;
use crate::train::dataset::DataSpec;
use crate::train::tune::{Scoring, TuneSpec, DEFAULT_FOLDS};
use crate::train::Algorithm;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tune_model))
}

fn default_folds() -> usize {
    DEFAULT_FOLDS
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TuneRequest {
    /// Any training algorithm.
    #[schema(value_type = super::train::AlgorithmName, inline)]
    pub algorithm: Algorithm,
    /// Training data, as for `/train`. CV runs over all of it, in the order given.
    #[schema(value_type = Object)]
    pub data: DataSpec,
    /// Base hyperparameters shared by every combination (same names as `/train`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
    /// Parameter name → list of candidate values, e.g. `{"l2": [0.001, 0.01]}`. Any
    /// `/train` parameter may be searched; at most 256 combinations.
    #[schema(value_type = Object)]
    pub param_grid: BTreeMap<String, Vec<Value>>,
    /// Number of CV folds, ≥ 2 and ≤ the rows (and, for classifiers, ≤ the rows of
    /// every class). KFold for regression, StratifiedKFold for classification, both
    /// unshuffled. Default 5.
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// `accuracy`, `f1`, `precision`, `recall` (macro) for classifiers; `r2`,
    /// `neg_mse`, `neg_mae` for regressors. Default accuracy / r2.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub scoring: Option<Scoring>,
    /// Alias to point at the refitted best version.
    #[serde(default)]
    pub alias: Option<String>,
}

/// Grid search with k-fold CV → 202 with the job id. The job shows `cv_results`
/// (`params`, `mean_score`, `std_score`, `fold_scores`, `rank` per combination) and
/// `best_params`; the best combination is refitted on all rows and registered.
#[utoipa::path(post, path = "/v1/models/{name}/tune", tag = "training",
    params(("name" = String, Path, description = "Model name")),
    request_body = TuneRequest,
    responses((status = 202, body = JobAccepted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn tune_model(
    State(state): State<AppState>,
    _training: TrainingEnabled,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<TuneRequest>,
) -> Result<impl IntoResponse, ApiError> {
    super::train::check_names(&name, req.alias.as_deref())?;
    let spec = TuneSpec {
        algorithm: req.algorithm,
        params: req.params,
        param_grid: req.param_grid,
        folds: req.folds,
        scoring: req.scoring,
    };
    let plan = spec.plan()?;
    let data_source = req.data.source();
    let data = super::train::job_data(&state, req.data, spec.algorithm.family().task()).await?;
    if let JobData::Ready(dataset) = &data {
        plan.check_data(dataset)?;
    }
    let view = state.jobs.submit(JobRequest {
        model: name,
        work: Work::Tune(plan),
        data,
        data_source,
        alias: req.alias,
    })?;
    Ok(accepted(view))
}
