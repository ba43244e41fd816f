//! Ground truth in (`/feedback`), online quality and drift out (`/monitoring`).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath};
use super::instances::{to_matrix, Instances};
use crate::api::error::{ApiError, ErrorBody};
use crate::models::{Model, Schema};
use crate::monitor::{LogUsage, VersionReport};
use crate::serving::{Codec, Context, ModelRef, Prediction};
use crate::state::AppState;
use crate::train::Metrics as Quality;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feedback))
        .routes(routes!(monitoring))
}

/// Either `request_id` (joins the logged prediction) or `instances` (predicted now with
/// the version picked by `version`/`alias`, default as for predict), plus `actual`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub request_id: Option<String>,
    #[schema(inline)]
    pub instances: Option<Instances>,
    /// Ground truth per row: class index (as in `predictions`) or class label (as in
    /// `classes`) for classifiers, the true value for regressors.
    #[schema(value_type = Vec<Object>)]
    pub actual: Vec<Value>,
    #[schema(minimum = 1)]
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
            (Some(classes), Value::Number(n)) => class_index(n)
                .filter(|c| *c < classes.len())
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

/// A class index sent as an integer, or as an integral float (`1.0`), as numpy-backed
/// clients send labels.
fn class_index(n: &serde_json::Number) -> Option<usize> {
    if let Some(i) = n.as_u64() {
        return usize::try_from(i).ok();
    }
    let f = n.as_f64()?;
    // Bounded well below 2^53, so the float is an exact integer and the cast exact.
    (f >= 0.0 && f.fract() == 0.0 && f < 1e15).then_some(f as usize)
}

/// Scores `instances` for a feedback call: predicted now, neither logged nor counted as
/// drift (the rows are labelled data, not traffic).
struct Score(Instances);

impl Codec for Score {
    type Answer = (u64, Vec<f64>);
    type Error = ApiError;

    fn decode(&mut self, model: &dyn Model) -> Result<ndarray::Array2<f64>, ApiError> {
        to_matrix(std::mem::take(&mut self.0), model.schema())
    }

    fn encode(self, p: Prediction<'_>) -> Result<Self::Answer, ApiError> {
        Ok((p.version, p.output.predictions))
    }
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
    let (version, predicted, request_id) = match (req.request_id, req.instances) {
        (Some(id), None) => {
            if req.version.is_some() || req.alias.is_some() {
                return Err(ApiError::InvalidInput(
                    "version/alias are implied by request_id; do not send them".into(),
                ));
            }
            let logged = state.serving.logged(&name, &id)?;
            (logged.version, logged.predictions, Some(id))
        }
        (None, Some(instances)) => {
            if req.version.is_some() && req.alias.is_some() {
                return Err(ApiError::InvalidInput(
                    "give either version or alias, not both".into(),
                ));
            }
            let target = ModelRef {
                name: &name,
                version: req.version,
                alias: req.alias.as_deref(),
            };
            let ctx = Context { request_id: None };
            let (version, predicted) = state.serving.predict(target, Score(instances), ctx).await?;
            (version, predicted, None)
        }
        _ => {
            return Err(ApiError::InvalidInput(
                "send exactly one of request_id or instances, with actual".into(),
            ))
        }
    };
    let snapshot = state.registry.snapshot();
    let (entry, model) = snapshot.resolve(&name, Some(version), None)?;
    let actual = parse_actual(&req.actual, model.schema(), predicted.len())?;
    let report =
        state
            .serving
            .record_feedback(&name, &entry, request_id.as_deref(), &predicted, &actual)?;
    Ok(Json(FeedbackResponse {
        model: name,
        version,
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
        .filter_map(|v| state.serving.report(&name, v))
        .collect();
    Ok(Json(MonitoringResponse {
        model: name,
        versions,
        prediction_log: state.serving.monitor().log_usage(),
    }))
}
