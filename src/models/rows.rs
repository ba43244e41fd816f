//! Predicting chosen rows of a matrix, as training's scoring does for its training and
//! validation rows: without a copy of the rows for a linear model, a block of them at a
//! time for any other.

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::scaler::Scaler;
use super::{Model, ModelError};

/// Rows copied and predicted at a time by [`predict_in_blocks`].
pub const BLOCK_ROWS: usize = 4096;

/// The rows of `x` at `rows` (each in range), copied row by row: ndarray's `select`
/// stacks one view per row, several times slower for a block of short rows.
pub fn gather(x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((rows.len(), x.ncols()));
    for (mut to, &r) in out.outer_iter_mut().zip(rows) {
        let from = x.row(r);
        match (to.as_slice_mut(), from.as_slice()) {
            (Some(to), Some(from)) => to.copy_from_slice(from),
            (_, _) => to.assign(&from),
        }
    }
    out
}

fn check_rows(x: ArrayView2<f64>, rows: &[usize]) -> Result<(), ModelError> {
    match rows.iter().find(|&&r| r >= x.nrows()) {
        Some(bad) => Err(ModelError::InvalidInput(format!(
            "row {bad} out of range ({} rows)",
            x.nrows()
        ))),
        None => Ok(()),
    }
}

/// [`Model::predict_rows`] for any model: a block of rows copied, then predicted.
pub fn predict_in_blocks<M: Model + ?Sized>(
    model: &M,
    x: ArrayView2<f64>,
    rows: &[usize],
) -> Result<Vec<f64>, ModelError> {
    check_rows(x, rows)?;
    let mut out = Vec::with_capacity(rows.len());
    for block in rows.chunks(BLOCK_ROWS) {
        let predicted = model
            .predict(gather(x, block).view())
            .map_err(|e| match e {
                // Named by its row in `x`, not in the block.
                ModelError::NonFinite { row, col } => ModelError::NonFinite {
                    row: block.get(row).copied().unwrap_or(row),
                    col,
                },
                other => other,
            })?;
        out.extend_from_slice(&predicted.predictions);
    }
    Ok(out)
}

/// `decide(z·w + b)` of each row of `x` at `rows`, z the row standardised by `scaler`:
/// the arithmetic of a linear model's `predict`, bit for bit, read where the rows lie.
pub fn linear_rows(
    scaler: &Scaler,
    weights: &[f64],
    intercept: f64,
    x: ArrayView2<f64>,
    rows: &[usize],
    decide: impl Fn(f64) -> f64,
) -> Result<Vec<f64>, ModelError> {
    if x.ncols() != weights.len() {
        return Err(ModelError::ShapeMismatch {
            expected: weights.len(),
            got: x.ncols(),
        });
    }
    check_rows(x, rows)?;
    let w = ArrayView1::from(weights);
    let mut z = vec![0.0; weights.len()];
    let mut out = Vec::with_capacity(rows.len());
    for &r in rows {
        let row = x.row(r);
        if let Some(col) = row.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite { row: r, col });
        }
        scaler.transform_into(row, &mut z);
        out.push(decide(ArrayView1::from(&z[..]).dot(&w) + intercept));
    }
    Ok(out)
}
