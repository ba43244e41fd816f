//! `POST /v1/models/{name}/predict` and `POST /predict`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edge::{Direct, DirectFuture};
use super::extract::{AppJson, AppPath, AppQuery, RequestId};
use super::instances::{to_matrix, Instance};
use crate::batching::{Batched, Batcher};
use crate::error::{ApiError, ErrorBody};
use crate::models::{Model, ModelError, Output};
use crate::registry::VersionEntry;
use crate::state::AppState;

/// Above this many input values the compute moves to the blocking pool; below it the work
/// takes microseconds and the hand-off would cost more than it saves.
pub const INLINE_CELLS: usize = 16_384;

/// `POST /v1/models/{name}/predict`, the hot path, is called by the edge itself
/// (see [`super::edge::Direct`]); the router keeps the route for everything else.
pub const DIRECT: Direct = Direct {
    template: "/v1/models/{name}/predict",
    method: Method::POST,
    handler: direct,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(predict))
        .routes(routes!(predict_by_body))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Rows in schema order, or records keyed by feature name.
    #[schema(value_type = Vec<Object>)]
    pub instances: Vec<Instance>,
    /// Only for `POST /predict`: the model name.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version number to use.
    pub version: Option<u64>,
    /// Alias to use, e.g. `production`.
    pub alias: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Predictions {
    /// Class index (into `classes`) per row.
    Classes(Vec<usize>),
    /// Regression value per row.
    Values(Vec<f64>),
}

/// Borrows what the request and the registry already hold, so answering copies nothing.
#[derive(Serialize, ToSchema)]
pub struct PredictResponse<'a> {
    pub model: &'a str,
    pub version: u64,
    pub request_id: &'a str,
    pub predictions: Predictions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<&'a [String]>,
}

/// Predict with a model: `?version=N` or `?alias=A` picks a version, else `production`,
/// else the highest ready version.
#[utoipa::path(post, path = "/v1/models/{name}/predict", tag = "predict",
    params(("name" = String, Path, description = "Model name"), VersionQuery),
    request_body = PredictRequest,
    responses((status = 200, body = PredictResponse),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn predict(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    req: Request,
) -> Response {
    serve(state, name, req).await
}

fn direct(state: AppState, name: String, req: Request) -> DirectFuture {
    Box::pin(async move { Ok(serve(state, name, req).await) })
}

/// The query, request id and JSON body of [`predict`], each rejection answered as its
/// extractor answers it: the routed handler and the edge's direct call share it.
async fn serve(state: AppState, name: String, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let query = match AppQuery::from_request_parts(&mut parts, &state).await {
        Ok(AppQuery(query)) => query,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(request_id) = RequestId::from_request_parts(&mut parts, &state).await;
    let body = match AppJson::from_request(Request::from_parts(parts, body), &state).await {
        Ok(AppJson(body)) => body,
        Err(rejection) => return rejection.into_response(),
    };
    predict_named(&state, &name, query, &request_id, body)
        .await
        .into_response()
}

async fn predict_named(
    state: &AppState,
    name: &str,
    q: VersionQuery,
    request_id: &RequestId,
    req: PredictRequest,
) -> Result<Response, ApiError> {
    if req.model.as_deref().is_some_and(|m| m != name) {
        return Err(ApiError::InvalidInput(format!(
            "body names model '{}' but the path names '{name}'",
            req.model.as_deref().unwrap_or_default()
        )));
    }
    let version = pick(q.version, req.version, "version")?;
    let alias = pick(q.alias, req.alias, "alias")?;
    run(
        state,
        name,
        version,
        alias.as_deref(),
        req.instances,
        request_id.as_str(),
    )
    .await
}

/// The same as `/v1/models/{name}/predict` with `"model"` (and optionally `"version"` or
/// `"alias"`) in the body.
#[utoipa::path(post, path = "/predict", tag = "predict",
    request_body = PredictRequest,
    responses((status = 200, body = PredictResponse),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn predict_by_body(
    State(state): State<AppState>,
    request_id: RequestId,
    AppJson(req): AppJson<PredictRequest>,
) -> Result<Response, ApiError> {
    let Some(name) = req.model else {
        return Err(ApiError::InvalidInput(
            "missing field 'model': name the model to predict with".into(),
        ));
    };
    let alias = req.alias;
    run(
        &state,
        &name,
        req.version,
        alias.as_deref(),
        req.instances,
        request_id.as_str(),
    )
    .await
}

fn pick<T>(query: Option<T>, body: Option<T>, what: &str) -> Result<Option<T>, ApiError> {
    match (query, body) {
        (Some(_), Some(_)) => Err(ApiError::InvalidInput(format!(
            "{what} given both in the query and in the body"
        ))),
        (q, b) => Ok(q.or(b)),
    }
}

async fn run(
    state: &AppState,
    name: &str,
    version: Option<u64>,
    alias: Option<&str>,
    instances: Vec<Instance>,
    request_id: &str,
) -> Result<Response, ApiError> {
    if version.is_some() && alias.is_some() {
        return Err(ApiError::InvalidInput(
            "give either version or alias, not both".into(),
        ));
    }
    let snapshot = state.registry.current();
    let (entry, model) = snapshot.lookup(name, version, alias)?;
    let x = to_matrix(&instances, model.schema())?;
    drop(instances);
    let started = Instant::now();
    if let Some(output) = compute_inline(state, name, entry, model, &x) {
        return Ok(finish(
            state, name, entry, model, &x, output?, started, request_id,
        ));
    }
    let (entry, model) = (entry.clone(), model.clone());
    drop(snapshot);
    let (x, output) = compute(state, name, &entry, &model, x).await?;
    Ok(finish(
        state, name, &entry, &model, &x, output?, started, request_id,
    ))
}

/// Counts the prediction, logs it for feedback and drift, and answers.
#[allow(clippy::too_many_arguments)]
fn finish(
    state: &AppState,
    name: &str,
    entry: &Arc<VersionEntry>,
    model: &Arc<dyn Model>,
    x: &Array2<f64>,
    output: Output,
    started: Instant,
    request_id: &str,
) -> Response {
    count(state, name, entry, x.nrows(), started);
    state
        .monitor
        .record_prediction(name, entry, request_id, x.view(), &output.predictions);
    let classes = model.schema().classes.as_deref();
    let predictions = if classes.is_some() {
        // Classifier outputs are class indices held in f64; they are small non-negative
        // integers by construction.
        Predictions::Classes(output.predictions.iter().map(|p| *p as usize).collect())
    } else {
        Predictions::Values(output.predictions)
    };
    let body = PredictResponse {
        model: name,
        version: entry.version,
        request_id,
        predictions,
        probabilities: output
            .probabilities
            .map(|p| p.outer_iter().map(|r| r.to_vec()).collect()),
        classes,
    };
    Json(body).into_response()
}

/// Runs the model here and now when that is the cheapest way: its family is not batched
/// and the input is small enough that a hand-off to the blocking pool would cost more
/// than the work. `None` sends the request through [`compute`].
pub(crate) fn compute_inline(
    state: &AppState,
    name: &str,
    entry: &VersionEntry,
    model: &Arc<dyn Model>,
    x: &Array2<f64>,
) -> Option<Result<Output, ModelError>> {
    (batcher(state, name, entry, model).is_none() && x.len() <= INLINE_CELLS)
        .then(|| model.predict(x.view()))
}

fn batcher<'e>(
    state: &AppState,
    name: &str,
    entry: &'e VersionEntry,
    model: &Arc<dyn Model>,
) -> Option<&'e Batcher> {
    let cfg = &state.cfg.batching;
    entry
        .batcher
        .get_or_init(|| {
            cfg.applies_to(model.family()).then(|| {
                let v = entry.version.to_string();
                let rows = state.metrics.batch_rows.with_label_values(&[name, &v]);
                Batcher::spawn(model.clone(), cfg, rows)
            })
        })
        .as_ref()
}

/// Runs the model on `x`: through the version's batch worker when its family is
/// batched, else here for small inputs and on the blocking pool for large ones. Gives
/// `x` back for the prediction log; the outer error is the server's, the inner the
/// model's.
pub(crate) async fn compute(
    state: &AppState,
    name: &str,
    entry: &VersionEntry,
    model: &Arc<dyn Model>,
    x: Array2<f64>,
) -> Result<(Array2<f64>, Result<Output, ModelError>), ApiError> {
    let x = match batcher(state, name, entry, model) {
        Some(b) => match b.predict(x).await {
            Batched::Done(x, out) => return Ok((x, out)),
            Batched::RunAlone(x) => x,
            Batched::Lost => {
                return Err(ApiError::Internal(
                    "the batch worker stopped while predicting".into(),
                ))
            }
        },
        None => x,
    };
    if x.len() <= INLINE_CELLS {
        let out = model.predict(x.view());
        return Ok((x, out));
    }
    let m = model.clone();
    super::extract::blocking(move || {
        let out = m.predict(x.view());
        Ok((x, out))
    })
    .await
}

/// Counts a successful prediction of `rows` rows that started computing at `started`.
pub(crate) fn count(
    state: &AppState,
    name: &str,
    entry: &VersionEntry,
    rows: usize,
    started: Instant,
) {
    let (predictions, duration) = handles(state, name, entry);
    predictions.inc_by(rows as u64);
    duration.observe(started.elapsed().as_secs_f64());
}

/// Metric handles resolved once per loaded version, not per request.
fn handles<'a>(
    state: &AppState,
    name: &str,
    entry: &'a VersionEntry,
) -> &'a (prometheus::IntCounter, prometheus::Histogram) {
    entry.handles.get_or_init(|| {
        let v = entry.version.to_string();
        (
            state.metrics.predictions.with_label_values(&[name, &v]),
            state
                .metrics
                .prediction_duration
                .with_label_values(&[name, &v]),
        )
    })
}
