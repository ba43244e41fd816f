//! Decoding V2 input tensors (JSON `data`, flat or nested, or the binary tensor
//! extension) into the f64 matrix models predict on, and encoding outputs.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::models::tensors::DataType;

/// One input tensor of an infer request.
#[derive(Deserialize, ToSchema)]
pub struct InputTensor {
    pub name: String,
    /// `[N, d]`: N rows of d features.
    pub shape: Vec<i64>,
    /// `FP32`, `FP64`, `INT32` or `INT64`.
    pub datatype: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Map<String, Value>>,
    /// Row-major values, flat or nested. Absent when the tensor travels as binary data.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<Value>,
}

/// Output tensor data: integers or floats as the output's datatype says.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TensorData {
    Int(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl TensorData {
    /// The values as raw little-endian bytes (the binary tensor extension, gRPC's raw
    /// contents).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::Int(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    /// `{"binary_data_size": N}` when the values follow the JSON header as raw bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Map<String, Value>>,
    /// Absent when the values travel as binary data.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    pub data: Option<TensorData>,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::BadRequest(m.into())
}

/// The binary size the client declared for this input, if it sent it as binary data.
pub fn binary_size(t: &InputTensor) -> Result<Option<usize>, ApiError> {
    match t
        .parameters
        .as_ref()
        .and_then(|p| p.get("binary_data_size"))
    {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| bad("binary_data_size must be a non-negative integer")),
    }
}

/// Where a tensor's values come from, and how many bytes the request could spend on them.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// JSON `data`, inside a JSON header of this many bytes.
    Json { header_bytes: usize },
    /// The tensor's raw little-endian bytes (binary tensor extension).
    Binary(&'a [u8]),
    /// Values already typed by the wire format (gRPC's `InferTensorContents`).
    Values(&'a [f64]),
}

/// Checks the shape against the model's feature count and turns the tensor into rows.
/// The declared shape is checked against the bytes that carry it (and
/// `server.body_limit_bytes`) before anything sized by it is allocated.
pub fn to_matrix(
    t: &InputTensor,
    d: usize,
    source: Source<'_>,
    body_limit: usize,
) -> Result<Array2<f64>, ApiError> {
    let datatype = DataType::parse(&t.datatype).ok_or_else(|| {
        bad(format!(
            "input '{}': datatype '{}' is not supported; use FP32, FP64, INT32 or INT64",
            t.name, t.datatype
        ))
    })?;
    let (rows, cols) = match t.shape.as_slice() {
        [n, c] if *n >= 0 && *c >= 0 => (*n as usize, *c as usize),
        other => {
            return Err(bad(format!(
                "input '{}': shape must be [N, {d}] (N rows of {d} features), got {other:?}",
                t.name
            )))
        }
    };
    if cols != d {
        return Err(bad(format!(
            "input '{}': the model takes {d} features, shape says {cols}",
            t.name
        )));
    }
    if rows == 0 {
        return Err(bad(format!("input '{}': empty batch (N = 0)", t.name)));
    }
    let expected = checked_size(t, rows, cols, datatype, source, body_limit)?;
    let values = match (source, &t.data) {
        (Source::Binary(bytes), _) => from_binary(&t.name, bytes, datatype, expected)?,
        (Source::Values(v), _) => v.to_vec(),
        (Source::Json { .. }, Some(data)) => {
            let mut out = Vec::with_capacity(expected);
            flatten(&t.name, data, datatype, expected, &mut out)?;
            out
        }
        (Source::Json { .. }, None) => return Err(bad(format!("input '{}' has no data", t.name))),
    };
    if values.len() != expected {
        return Err(bad(format!(
            "input '{}': shape {:?} needs {expected} values, data has {}",
            t.name,
            t.shape,
            values.len()
        )));
    }
    Array2::from_shape_vec((rows, cols), values).map_err(|e| bad(e.to_string()))
}

/// The values `rows x cols` declares, once it is known the request can hold them: their
/// size in the datatype must fit the body limit, binary data must be exactly that size,
/// and JSON `data` has at most one value per two bytes of the header (a digit and a
/// separator).
fn checked_size(
    t: &InputTensor,
    rows: usize,
    cols: usize,
    dt: DataType,
    source: Source<'_>,
    body_limit: usize,
) -> Result<usize, ApiError> {
    let too_large = |why: String| {
        bad(format!(
            "input '{}': shape {:?} of {} {why}",
            t.name,
            t.shape,
            dt.as_str()
        ))
    };
    let values = rows.checked_mul(cols);
    let bytes = values.and_then(|v| v.checked_mul(width(dt)));
    let (Some(values), Some(bytes)) = (values, bytes) else {
        return Err(too_large("is too large to address".into()));
    };
    if bytes > body_limit {
        return Err(too_large(format!(
            "declares {bytes} bytes, above the request body limit of {body_limit} bytes"
        )));
    }
    match source {
        Source::Binary(data) if data.len() != bytes => Err(too_large(format!(
            "needs {bytes} bytes of binary data (binary_data_size, raw_input_contents), got {}",
            data.len()
        ))),
        Source::Values(v) if v.len() != values => Err(too_large(format!(
            "needs {values} values, the typed contents hold {}",
            v.len()
        ))),
        Source::Json { header_bytes } if values > header_bytes.div_ceil(2) => {
            Err(too_large(format!(
                "declares {values} values, more than a JSON body of {header_bytes} bytes can hold"
            )))
        }
        _ => Ok(values),
    }
}

/// Bytes per value of a binary tensor.
fn width(dt: DataType) -> usize {
    match dt {
        DataType::Fp32 | DataType::Int32 => 4,
        DataType::Fp64 | DataType::Int64 => 8,
    }
}

/// Depth-first walk of nested arrays in row-major order, converting each number as the
/// datatype says (FP32 values are rounded to f32 as a real FP32 tensor would be).
fn flatten(
    name: &str,
    v: &Value,
    dt: DataType,
    limit: usize,
    out: &mut Vec<f64>,
) -> Result<(), ApiError> {
    match v {
        Value::Array(items) => {
            for item in items {
                flatten(name, item, dt, limit, out)?;
            }
            Ok(())
        }
        Value::Number(n) => {
            if out.len() >= limit {
                return Err(bad(format!(
                    "input '{name}': more values than the shape holds"
                )));
            }
            let x = match dt {
                DataType::Fp64 => n.as_f64(),
                DataType::Fp32 => n.as_f64().map(|x| x as f32 as f64),
                DataType::Int64 => n.as_i64().map(|x| x as f64),
                DataType::Int32 => n
                    .as_i64()
                    .filter(|x| i32::try_from(*x).is_ok())
                    .map(|x| x as f64),
            };
            out.push(x.ok_or_else(|| {
                bad(format!(
                    "input '{name}': {n} is not a valid {}",
                    dt.as_str()
                ))
            })?);
            Ok(())
        }
        other => Err(bad(format!(
            "input '{name}': data must hold numbers, found {other}"
        ))),
    }
}

fn from_binary(
    name: &str,
    bytes: &[u8],
    dt: DataType,
    expected: usize,
) -> Result<Vec<f64>, ApiError> {
    let width = width(dt);
    if Some(bytes.len()) != expected.checked_mul(width) {
        return Err(bad(format!(
            "input '{name}': {} binary bytes for {expected} {} values",
            bytes.len(),
            dt.as_str()
        )));
    }
    // One loop per datatype: the conversion then compiles to a copy (FP64) or a
    // vector convert, where a per-value match on the type costs more than the copy.
    Ok(match dt {
        DataType::Fp32 => le_values(bytes, |b| f64::from(f32::from_le_bytes(b))),
        DataType::Int32 => le_values(bytes, |b| f64::from(i32::from_le_bytes(b))),
        DataType::Fp64 => le_values(bytes, f64::from_le_bytes),
        DataType::Int64 => le_values(bytes, |b| i64::from_le_bytes(b) as f64),
    })
}

fn le_values<const W: usize>(bytes: &[u8], value: impl Fn([u8; W]) -> f64) -> Vec<f64> {
    bytes
        .chunks_exact(W)
        .map(|c| <[u8; W]>::try_from(c).map_or(0.0, &value))
        .collect()
}
