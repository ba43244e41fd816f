//! Ground truth in (`/feedback`), online quality and drift out (`/monitoring`).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath};
use super::instances::{to_matrix, Instance};
use crate::error::{ApiError, ErrorBody};
use crate::models::Schema;
use crate::monitor::{FeedbackError, VersionReport};
use crate::state::AppState;
use crate::train::Metrics as Quality;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feedback))
        .routes(routes!(monitoring))
}

impl From<FeedbackError> for ApiError {
    fn from(e: FeedbackError) -> Self {
        match e {
            FeedbackError::UnknownRequest(_) => ApiError::NotFound(e.to_string()),
            FeedbackError::AlreadyRecorded(_) => ApiError::Conflict(e.to_string()),
            FeedbackError::Invalid(m) => ApiError::InvalidInput(m),
        }
    }
}

/// Either `request_id` (joins the logged prediction) or `instances` (predicted now with
/// the version picked by `version`/`alias`, default as for predict), plus `actual`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub request_id: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub instances: Option<Vec<Instance>>,
    /// Ground truth per row: class index (as in `predictions`) or class label (as in
    /// `classes`) for classifiers, the true value for regressors.
    #[schema(value_type = Vec<Object>)]
    pub actual: Vec<Value>,
    pub version: Option<u64>,
    pub alias: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub model: String,
    pub version: u64,
    /// Labelled rows recorded by this request.
    pub recorded: usize,
    /// Labelled rows now in the version's window.
    pub window_rows: usize,
    /// Online metrics over the window after this feedback.
    #[schema(value_type = Option<Object>)]
    pub online: Option<Quality>,
}

/// Turns `actual` into class indices or values, checking count and type.
fn parse_actual(actual: &[Value], schema: &Schema, rows: usize) -> Result<Vec<f64>, ApiError> {
    if actual.len() != rows {
        return Err(ApiError::InvalidInput(format!(
            "actual has {} values but the prediction had {rows} rows",
            actual.len()
        )));
    }
    actual
        .iter()
        .enumerate()
        .map(|(i, v)| match (&schema.classes, v) {
            (Some(classes), Value::Number(n)) => n
                .as_u64()
                .filter(|c| (*c as usize) < classes.len())
                .map(|c| c as f64)
                .ok_or_else(|| {
                    ApiError::InvalidInput(format!(
                        "actual[{i}] = {n} is not a class index (0..{})",
                        classes.len()
                    ))
                }),
            (Some(classes), Value::String(s)) => classes
                .iter()
                .position(|c| c == s)
                .map(|c| c as f64)
                .ok_or_else(|| {
                    ApiError::InvalidInput(format!(
                        "actual[{i}] = '{s}' is not one of the classes {}",
                        classes.join(", ")
                    ))
                }),
            (None, Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                ApiError::InvalidInput(format!("actual[{i}] is not a finite number"))
            }),
            (None, _) => Err(ApiError::InvalidInput(format!(
                "actual[{i}] must be a number for a regression model"
            ))),
            (Some(_), _) => Err(ApiError::InvalidInput(format!(
                "actual[{i}] must be a class index or a class label"
            ))),
        })
        .collect()
}

/// Records ground truth for earlier predictions; online metrics are computed over a
/// sliding window per version and exported as `modeld_model_*{split="online"}`.
#[utoipa::path(post, path = "/v1/models/{name}/feedback", tag = "monitoring",
    params(("name" = String, Path, description = "Model name")),
    request_body = FeedbackRequest,
    responses((status = 200, body = FeedbackResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<FeedbackRequest>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let snapshot = state.registry.snapshot();
    let (entry, predicted, request_id) = match (req.request_id, req.instances) {
        (Some(id), None) => {
            if req.version.is_some() || req.alias.is_some() {
                return Err(ApiError::InvalidInput(
                    "version/alias are implied by request_id; do not send them".into(),
                ));
            }
            let logged = state.monitor.logged(&name, &id)?;
            let (entry, _) = snapshot.resolve(&name, Some(logged.version), None)?;
            (entry, logged.predictions, Some(id))
        }
        (None, Some(instances)) => {
            if req.version.is_some() && req.alias.is_some() {
                return Err(ApiError::InvalidInput(
                    "give either version or alias, not both".into(),
                ));
            }
            let (entry, model) = snapshot.resolve(&name, req.version, req.alias.as_deref())?;
            let x = to_matrix(&instances, model.schema())?;
            let out = if x.len() <= super::predict::INLINE_CELLS {
                model.predict(x.view())?
            } else {
                super::extract::blocking(move || Ok(model.predict(x.view())?)).await?
            };
            (entry, out.predictions, None)
        }
        _ => {
            return Err(ApiError::InvalidInput(
                "send exactly one of request_id or instances, with actual".into(),
            ))
        }
    };
    let model = entry
        .model()
        .ok_or_else(|| ApiError::Internal("resolved version has no model".into()))?;
    let actual = parse_actual(&req.actual, model.schema(), predicted.len())?;
    state
        .monitor
        .record_feedback(&name, &entry, request_id.as_deref(), &predicted, &actual)?;
    state
        .metrics
        .feedback
        .with_label_values(&[name.as_str(), &entry.version.to_string()])
        .inc_by(actual.len() as u64);
    let report = state.monitor.report(&name, &entry);
    Ok(Json(FeedbackResponse {
        model: name,
        version: entry.version,
        recorded: actual.len(),
        window_rows: report.window_rows,
        online: report.online,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MonitoringResponse {
    pub model: String,
    /// Per loaded version: online metrics over the feedback window and drift per feature.
    pub versions: Vec<VersionReport>,
    pub prediction_log: LogUsage,
}

#[derive(Serialize, ToSchema)]
pub struct LogUsage {
    pub entries: usize,
    pub rows: usize,
    pub capacity_rows: usize,
}

/// Online metrics and feature drift (PSI) per version.
#[utoipa::path(get, path = "/v1/models/{name}/monitoring", tag = "monitoring",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = MonitoringResponse), (status = 404, body = ErrorBody)))]
pub async fn monitoring(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<MonitoringResponse>, ApiError> {
    let snapshot = state.registry.snapshot();
    let model = snapshot.model(&name)?;
    let versions = model
        .versions
        .values()
        .filter(|v| v.model().is_some())
        .map(|v| state.monitor.report(&name, v))
        .collect();
    let (entries, rows) = state.monitor.log_usage();
    Ok(Json(MonitoringResponse {
        model: name,
        versions,
        prediction_log: LogUsage {
            entries,
            rows,
            capacity_rows: state.monitor.config().prediction_log_rows,
        },
    }))
}
