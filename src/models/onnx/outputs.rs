//! A tract output tensor read back as flat values or an f64 matrix.

use ndarray::Array2;
use tract_onnx::prelude::*;

use crate::models::ModelError;

fn invalid(m: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidArtifact(m.to_string())
}

/// A tensor's values converted to `D`, flat in row-major order.
pub fn values<D: Datum + Copy>(t: &TValue, what: &str) -> Result<Vec<D>, ModelError> {
    let t = t
        .cast_to::<D>()
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    let view = t
        .try_as_plain_ram()
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    let slice = view
        .as_slice::<D>()
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    Ok(slice.to_vec())
}

pub fn as_f64(t: &TValue, rows: usize, what: &str) -> Result<Array2<f64>, ModelError> {
    let v = values::<f64>(t, what)?;
    let len = v.len();
    let cols = len.checked_div(rows).unwrap_or(0);
    if rows == 0 || cols * rows != len {
        return Err(invalid(format!("{what} has {len} values for {rows} rows")));
    }
    Array2::from_shape_vec((rows, cols), v).map_err(|e| invalid(format!("{what}: {e}")))
}
