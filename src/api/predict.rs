//! `POST /v1/models/{name}/predict` and `POST /predict`.

use std::borrow::Cow;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edge::{Direct, DirectFuture};
use super::extract::{AppJson, AppPath, AppQuery, RequestId};
use super::instances::{to_matrix, Instances};
use crate::api::error::{ApiError, ErrorBody};
use crate::models::Model;
use crate::serving::{Codec, Context, ModelRef, Prediction};
use crate::state::AppState;

/// The route of [`predict`], declared once for the router, its documentation and the
/// edge's hot route.
pub const PREDICT_PATH: &str = "/v1/models/{name}/predict";

/// `POST /v1/models/{name}/predict`, the hot path, is called by the edge itself
/// (see [`super::edge::Direct`]); the router keeps the route for everything else.
pub const DIRECT: Direct = Direct {
    template: PREDICT_PATH,
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
    #[schema(inline)]
    pub instances: Instances,
    /// Only for `POST /predict`: the model name.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub version: Option<u64>,
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version number to use.
    pub version: Option<u64>,
    /// Alias to use, e.g. `production`.
    pub alias: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Predictions {
    /// Class index (into `classes`) per row.
    Classes(Vec<usize>),
    /// Regression value per row.
    Values(Vec<f64>),
}

/// Borrows what the request and the registry already hold, so answering copies nothing;
/// `Cow` rather than plain references so that `modelctl` can read the same type back.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PredictResponse<'a> {
    #[schema(value_type = String)]
    pub model: Cow<'a, str>,
    pub version: u64,
    #[schema(value_type = String)]
    pub request_id: Cow<'a, str>,
    pub predictions: Predictions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<Vec<f64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub classes: Option<Cow<'a, [String]>>,
}

/// Predict with a model: `?version=N` or `?alias=A` picks a version, else `production`,
/// else the highest ready version.
#[utoipa::path(post, path = PREDICT_PATH, tag = "predict",
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
    instances: Instances,
    request_id: &str,
) -> Result<Response, ApiError> {
    if version.is_some() && alias.is_some() {
        return Err(ApiError::InvalidInput(
            "give either version or alias, not both".into(),
        ));
    }
    let target = ModelRef {
        name,
        version,
        alias,
    };
    let ctx = Context {
        request_id: Some(request_id),
    };
    let codec = Native {
        instances,
        request_id,
    };
    state.serving.predict(target, codec, ctx).await
}

/// `instances` in, [`PredictResponse`] out.
pub(crate) struct Native<'a> {
    pub instances: Instances,
    pub request_id: &'a str,
}

impl Codec for Native<'_> {
    type Answer = Response;
    type Error = ApiError;

    fn decode(&mut self, model: &dyn Model) -> Result<ndarray::Array2<f64>, ApiError> {
        // The parsed rows become the matrix; nothing else needs them.
        to_matrix(std::mem::take(&mut self.instances), model.schema())
    }

    fn encode(self, p: Prediction<'_>) -> Result<Response, ApiError> {
        let classes = p.model.schema().classes.as_deref();
        let predictions = if classes.is_some() {
            // Classifier outputs are class indices held in f64; they are small
            // non-negative integers by construction.
            Predictions::Classes(p.output.predictions.iter().map(|c| *c as usize).collect())
        } else {
            Predictions::Values(p.output.predictions)
        };
        let body = PredictResponse {
            model: Cow::Borrowed(p.name),
            version: p.version,
            request_id: Cow::Borrowed(self.request_id),
            predictions,
            probabilities: p
                .output
                .probabilities
                .map(|m| m.outer_iter().map(|r| r.to_vec()).collect()),
            classes: classes.map(Cow::Borrowed),
        };
        Ok(Json(body).into_response())
    }
}
