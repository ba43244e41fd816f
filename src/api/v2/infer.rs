//! `POST /v2/models/{name}[/versions/{version}]/infer`.
//!
//! Accepts JSON, and the binary tensor extension tritonclient uses by default (header
//! `Inference-Header-Content-Length`: the JSON header is followed by the raw
//! little-endian tensors of inputs that declare `parameters.binary_data_size`). Outputs
//! are JSON `data` unless the request asks for them as binary data (see [`super::binary`]).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::binary::{to_binary, wants_binary, InferReply, HEADER_LENGTH};
use super::tensor::{binary_size, to_matrix, InputTensor, OutputTensor, Source, TensorData};
use super::{parse_version, V2};
use crate::api::edge::{Direct, DirectFuture, MAX_REQUEST_ID_LEN, REQUEST_ID};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{read_body, AppPath};
use crate::models::tensors::{DataType, OutputSpec, Role};
use crate::models::{Model, Output};
use crate::serving::{Codec, Context, ModelRef, Prediction};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct RequestedOutput {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize, ToSchema)]
pub struct InferRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// `binary_data_output: true` asks for every output as binary data; other
    /// parameters are accepted and ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Map<String, Value>>,
    /// Exactly one tensor, named as in the model metadata.
    pub inputs: Vec<InputTensor>,
    /// Outputs to return; all of them when absent.
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Serialize, ToSchema)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
}

/// The route of [`infer`], declared once for the router, its documentation and the
/// edge's hot route.
pub const INFER_PATH: &str = "/v2/models/{name}/infer";

/// Runs inference on the default version (`production` alias, else the highest ready).
#[utoipa::path(post, path = INFER_PATH, tag = V2,
    params(("name" = String, Path, description = "Model name")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub async fn infer(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    req: Request,
) -> Result<InferReply<InferResponse>, ApiError> {
    serve(&state, &name, None, req).await
}

/// `POST /v2/models/{name}/infer` is called by the edge itself (see [`Direct`]), with
/// the body read to the same limit; the router keeps the route for everything else.
pub const DIRECT: Direct = Direct {
    template: INFER_PATH,
    method: Method::POST,
    handler: direct,
};

fn direct(state: AppState, name: String, req: Request) -> DirectFuture {
    Box::pin(async move { Ok(serve(&state, &name, None, req).await.into_response()) })
}

/// Reads the body to `server.body_limit_bytes` (413 past it) and runs inference: the
/// routed handlers and the edge's direct call share it.
async fn serve(
    state: &AppState,
    name: &str,
    version: Option<u64>,
    req: Request,
) -> Result<InferReply<InferResponse>, ApiError> {
    let (parts, body) = req.into_parts();
    // A body that cannot be read is a 400 `invalid_input`: it need not be JSON.
    let body = read_body(body, &state.cfg.server)
        .await
        .map_err(|e| match e {
            ApiError::InvalidJson(msg) => ApiError::BadRequest(msg),
            other => other,
        })?;
    run(state, name, version, &parts.headers, &body).await
}

/// Runs inference on one version.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = V2,
    params(("name" = String, Path, description = "Model name"),
        ("version" = String, Path, description = "Version number")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 500, body = ErrorBody)))]
pub async fn infer_version(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, String)>,
    req: Request,
) -> Result<InferReply<InferResponse>, ApiError> {
    let v = parse_version(&version)?;
    serve(&state, &name, Some(v), req).await
}

/// Splits the body into the JSON request and the binary tail (binary extension).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<(InferRequest, usize), ApiError> {
    let json_len = match headers.get(HEADER_LENGTH) {
        None => body.len(),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n <= body.len())
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "Inference-Header-Content-Length must be a length within the body".into(),
                )
            })?,
    };
    let req: InferRequest = serde_json::from_slice(&body[..json_len]).map_err(|e| {
        if e.is_data() {
            ApiError::BadRequest(format!("invalid infer request: {e}"))
        } else {
            ApiError::InvalidJson(format!("invalid JSON: {e}"))
        }
    })?;
    Ok((req, json_len))
}

async fn run(
    state: &AppState,
    name: &str,
    version: Option<u64>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<InferReply<InferResponse>, ApiError> {
    let (req, json_len) = parse_body(headers, body)?;
    // The body's id is logged like the header's, so it has the header's bound.
    if req
        .id
        .as_ref()
        .is_some_and(|id| id.len() > MAX_REQUEST_ID_LEN)
    {
        return Err(ApiError::BadRequest(format!(
            "id must be at most {MAX_REQUEST_ID_LEN} bytes"
        )));
    }
    // The request's own id, else the edge's `x-request-id`: either joins feedback.
    let header_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
    let id = req.id.as_deref().filter(|id| !id.is_empty()).or(header_id);
    let target = ModelRef {
        name,
        version,
        alias: None,
    };
    let ctx = Context { request_id: id };
    let codec = Tensors {
        req: &req,
        body,
        json_len,
        body_limit: state.cfg.server.body_limit_bytes,
        selected: Vec::new(),
        id,
    };
    state.serving.predict(target, codec, ctx).await
}

/// A V2 infer request in, its response out. `decode` also checks the requested
/// outputs, so a bad name is refused before the model runs.
struct Tensors<'a> {
    req: &'a InferRequest,
    body: &'a [u8],
    json_len: usize,
    /// `server.body_limit_bytes`: no tensor may declare more bytes than this.
    body_limit: usize,
    /// The outputs to answer, in order, and whether each goes as binary data.
    selected: Vec<(OutputSpec, bool)>,
    id: Option<&'a str>,
}

impl Codec for Tensors<'_> {
    type Answer = InferReply<InferResponse>;
    type Error = ApiError;

    fn decode(&mut self, model: &dyn Model) -> Result<ndarray::Array2<f64>, ApiError> {
        let sig = model.signature();
        let [input] = self.req.inputs.as_slice() else {
            return Err(ApiError::BadRequest(format!(
                "the model takes exactly one input tensor '{}', got {}",
                sig.input.name,
                self.req.inputs.len()
            )));
        };
        if input.name != sig.input.name {
            return Err(ApiError::BadRequest(format!(
                "unknown input '{}': the model takes '{}'",
                input.name, sig.input.name
            )));
        }
        let source = match binary_size(input)? {
            Some(n) => Source::Binary(
                self.json_len
                    .checked_add(n)
                    .and_then(|end| self.body.get(self.json_len..end))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "input '{}': binary_data_size {n} exceeds the body",
                            input.name
                        ))
                    })?,
            ),
            None => Source::Json {
                header_bytes: self.json_len,
            },
        };
        // Requested outputs, in request order; all outputs when none are named.
        let params = self.req.parameters.as_ref();
        self.selected = match &self.req.outputs {
            None => {
                let binary = wants_binary(params, None)?;
                sig.outputs.iter().map(|s| (s.clone(), binary)).collect()
            }
            Some(list) => list
                .iter()
                .map(|o| {
                    let binary = wants_binary(params, o.parameters.as_ref())?;
                    sig.outputs
                        .iter()
                        .find(|s| s.tensor.name == o.name)
                        .map(|s| (s.clone(), binary))
                        .ok_or_else(|| {
                            let names: Vec<&str> =
                                sig.outputs.iter().map(|s| s.tensor.name.as_str()).collect();
                            ApiError::BadRequest(format!(
                                "unknown output '{}': the model has {names:?}",
                                o.name
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        to_matrix(input, model.schema().n_features(), source, self.body_limit)
    }

    fn encode(self, p: Prediction<'_>) -> Result<InferReply<InferResponse>, ApiError> {
        let mut tail: Option<Vec<u8>> = None;
        let mut outputs = Vec::with_capacity(self.selected.len());
        for (s, binary) in &self.selected {
            let mut t = encode(
                &s.tensor.name,
                s.tensor.datatype,
                s.role,
                &s.tensor.shape,
                &p.output,
            )?;
            if *binary {
                to_binary(&mut t, tail.get_or_insert_with(Vec::new));
            }
            outputs.push(t);
        }
        let response = InferResponse {
            model_name: p.name.to_string(),
            model_version: p.version.to_string(),
            id: self.id.map(str::to_string),
            outputs,
        };
        Ok(InferReply { response, tail })
    }
}
/// One output of a prediction as a V2 tensor (REST and gRPC share it).
pub fn encode(
    name: &str,
    datatype: DataType,
    role: Role,
    declared: &[i64],
    out: &Output,
) -> Result<OutputTensor, ApiError> {
    let n = out.predictions.len();
    let floats = |v: Vec<f64>| match datatype {
        DataType::Fp32 => TensorData::F32(v.into_iter().map(|x| x as f32).collect()),
        _ => TensorData::F64(v),
    };
    let (shape, data) = match role {
        // Class indices are small non-negative integers held in f64.
        Role::Label => (
            vec![n],
            TensorData::Int(out.predictions.iter().map(|p| *p as i64).collect()),
        ),
        Role::Value => {
            let shape = if declared.len() == 2 {
                vec![n, 1]
            } else {
                vec![n]
            };
            (shape, floats(out.predictions.clone()))
        }
        Role::Probabilities => {
            let p = out
                .probabilities
                .as_ref()
                .ok_or_else(|| ApiError::Internal(format!("model gave no {name}")))?;
            (
                vec![p.nrows(), p.ncols()],
                floats(p.iter().copied().collect()),
            )
        }
    };
    Ok(OutputTensor {
        name: name.to_string(),
        datatype: datatype.as_str(),
        shape,
        parameters: None,
        data: Some(data),
    })
}
