//! The binary tensor extension for outputs: a request that asks for binary outputs gets
//! the JSON header followed by the raw little-endian values, which spares both sides
//! printing and parsing every float (tritonclient's `binary_data=True`).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

use super::tensor::OutputTensor;
use crate::api::error::ApiError;

/// The header giving the JSON part's length when binary data follows it.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

fn flag(params: Option<&Map<String, Value>>, key: &str) -> Result<Option<bool>, ApiError> {
    match params.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::BadRequest(format!(
            "parameter {key} must be true or false, got {other}"
        ))),
    }
}

/// Whether an output goes as binary data: its own `binary_data` if given, else the
/// request's `binary_data_output`, else JSON.
pub fn wants_binary(
    request: Option<&Map<String, Value>>,
    output: Option<&Map<String, Value>>,
) -> Result<bool, ApiError> {
    let default = flag(request, "binary_data_output")?.unwrap_or(false);
    Ok(flag(output, "binary_data")?.unwrap_or(default))
}

/// Moves a tensor's values to `tail` and leaves their size in its parameters.
pub fn to_binary(t: &mut OutputTensor, tail: &mut Vec<u8>) {
    let Some(data) = t.data.take() else { return };
    let bytes = data.to_le_bytes();
    let mut params = t.parameters.take().unwrap_or_default();
    params.insert("binary_data_size".into(), Value::from(bytes.len()));
    t.parameters = Some(params);
    tail.extend_from_slice(&bytes);
}

/// An infer answer (`R`: the JSON response): plain JSON, or the JSON header and the
/// binary outputs after it.
pub struct InferReply<R> {
    pub response: R,
    /// The binary outputs' bytes in output order; `None` when every output is JSON.
    pub tail: Option<Vec<u8>>,
}

impl<R: Serialize> IntoResponse for InferReply<R> {
    fn into_response(self) -> Response {
        let Some(tail) = self.tail else {
            return Json(self.response).into_response();
        };
        let mut body = match serde_json::to_vec(&self.response) {
            Ok(body) => body,
            Err(e) => {
                return ApiError::Internal(format!("encoding the answer: {e}")).into_response()
            }
        };
        let json_len = body.len();
        body.extend_from_slice(&tail);
        let mut res = body.into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(HEADER_LENGTH, HeaderValue::from(json_len));
        res
    }
}
