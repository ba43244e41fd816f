//! Row access shared by the linear objectives: the blocked pass of per-row sgd, and
//! gradients added into caller buffers.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::Features;
use crate::train::TrainError;

/// Adds the gradient of `[w; b]` for a linear predictor with residual-like vector r over
/// a block of `n` rows' x to `grad`: ∂/∂w += Xᵀr / n, ∂/∂b += Σr / n. Xᵀr goes through
/// the GEMM kernel, which reads X row by row; a plain `x.t().dot(r)` walks X column by
/// column, once per feature.
pub(super) fn linear_grad_add(
    x: ArrayView2<f64>,
    r: &Array1<f64>,
    n: usize,
    grad: &mut Array1<f64>,
) -> Result<(), TrainError> {
    let d = x.ncols();
    check_len(grad, d + 1)?;
    let n = n.max(1) as f64;
    let mut gw = grad.slice_mut(s![..d]).insert_axis(Axis(1));
    general_mat_mul(
        1.0 / n,
        &x.t(),
        &r.view().insert_axis(Axis(1)),
        1.0,
        &mut gw,
    );
    if let Some(gb) = grad.get_mut(d) {
        *gb += r.sum() / n;
    }
    Ok(())
}

/// A block of `rows` rows' share of `n`: a block's mean times its share adds up to the
/// mean over all `n` (exactly the block's mean when it is every row).
pub(crate) fn share(rows: usize, n: usize) -> f64 {
    rows as f64 / n.max(1) as f64
}

/// Writes the gradient `[x·r; r]` of a linear predictor on a single row.
pub(super) fn row_grad_into(x: ArrayView1<f64>, r: f64, grad: &mut Array1<f64>) {
    let d = x.len();
    grad.slice_mut(s![..d]).zip_mut_with(&x, |g, &x| *g = x * r);
    if let Some(gb) = grad.get_mut(d) {
        *gb = r;
    }
}

/// The optimiser hands in buffers of `n_params` entries; anything else is a bug
/// reported as an error rather than a panic.
pub(super) fn check_len(grad: &Array1<f64>, n: usize) -> Result<(), TrainError> {
    if grad.len() == n {
        Ok(())
    } else {
        Err(TrainError::internal(format!(
            "gradient buffer has {} entries, expected {n}",
            grad.len()
        )))
    }
}

/// Rows copied at a time by [`for_rows_in_blocks`] (256 × 20 features = 40 KB,
/// well inside L2).
const BLOCK_ROWS: usize = 256;

/// Calls `f(xᵢ, yᵢ)` for each of `rows` in order, reading the rows through a
/// small contiguous copy made block by block (standardised there, for raw rows).
/// Shuffled rows of a matrix larger than the cache cost a cache miss each; in the per-row
/// steps every miss is waited for, while the copy loop's loads are independent and overlap
/// (measured: 5 sgd epochs on 100,000 × 20 take ~0.28 s reading rows in place,
/// ~0.2 s through the copy).
pub(super) fn for_rows_in_blocks(
    x: &Features,
    y: &Array1<f64>,
    rows: &[usize],
    mut f: impl FnMut(ArrayView1<f64>, f64) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let mut xb = Array2::<f64>::zeros((BLOCK_ROWS.min(rows.len()), x.n_cols()));
    let mut yb = Array1::<f64>::zeros(xb.nrows());
    for block in rows.chunks(BLOCK_ROWS) {
        x.gather_into(block, &mut xb)?;
        for (to, &i) in yb.iter_mut().zip(block) {
            *to = y
                .get(i)
                .copied()
                .ok_or_else(|| TrainError::internal(format!("row {i} out of range")))?;
        }
        for (xi, &yi) in xb.outer_iter().zip(yb.iter()).take(block.len()) {
            f(xi, yi)?;
        }
    }
    Ok(())
}
