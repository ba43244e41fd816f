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

#[derive(Serialize, ToSchema)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    #[schema(value_type = Vec<f64>)]
    pub data: TensorData,
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

/// Checks the shape against the model's feature count and turns the tensor into rows.
/// `binary` holds the tensor's raw little-endian bytes when it came as binary data.
pub fn to_matrix(
    t: &InputTensor,
    d: usize,
    binary: Option<&[u8]>,
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
    let expected = rows
        .checked_mul(cols)
        .ok_or_else(|| bad(format!("input '{}': shape is too large", t.name)))?;
    let values = match (binary, &t.data) {
        (Some(bytes), _) => from_binary(&t.name, bytes, datatype, expected)?,
        (None, Some(data)) => {
            let mut out = Vec::with_capacity(expected);
            flatten(&t.name, data, datatype, expected, &mut out)?;
            out
        }
        (None, None) => return Err(bad(format!("input '{}' has no data", t.name))),
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
    let width = match dt {
        DataType::Fp32 | DataType::Int32 => 4,
        DataType::Fp64 | DataType::Int64 => 8,
    };
    if bytes.len() != expected * width {
        return Err(bad(format!(
            "input '{name}': {} binary bytes for {expected} {} values",
            bytes.len(),
            dt.as_str()
        )));
    }
    Ok(bytes
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            let b4 = [b[0], b[1], b[2], b[3]];
            match dt {
                DataType::Fp32 => f32::from_le_bytes(b4) as f64,
                DataType::Int32 => i32::from_le_bytes(b4) as f64,
                DataType::Fp64 => f64::from_le_bytes(b),
                DataType::Int64 => i64::from_le_bytes(b) as f64,
            }
        })
        .collect())
}
