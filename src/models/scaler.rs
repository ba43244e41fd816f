//! Feature standardisation (scikit-learn `StandardScaler` semantics) stored
//! inside every linear-family model so predictions take raw features.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{ModelError, Scan};

/// z = (x − mean) / scale, per column.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

/// The row's values as a slice: itself when contiguous, else copied into `buffer`.
fn values<'a>(row: &'a ArrayView1<f64>, buffer: &'a mut [f64]) -> &'a [f64] {
    match row.as_slice() {
        Some(values) => values,
        None => {
            for (b, v) in buffer.iter_mut().zip(row.iter()) {
                *b = *v;
            }
            buffer
        }
    }
}

impl Scaler {
    /// Fits on the rows of `x`: mean and population standard deviation
    /// (ddof = 0). A (numerically) constant column gets scale 1.0, as in
    /// scikit-learn, so it standardises to all zeros instead of dividing by 0.
    /// An empty `x` gives mean 0 / scale 1.
    pub fn fit(x: ArrayView2<f64>) -> Scaler {
        Self::fit_over(x.ncols(), || x.outer_iter())
    }

    /// [`Scaler::fit`] on the rows of `x` at `rows` (each in range), without copying them.
    pub fn fit_rows(x: ArrayView2<f64>, rows: &[usize]) -> Scaler {
        Self::fit_over(x.ncols(), || {
            rows.iter().map(move |&r| x.index_axis_move(Axis(0), r))
        })
    }

    /// Mean and scale over the rows `rows()` yields, read twice.
    fn fit_over<'a, I>(d: usize, rows: impl Fn() -> I) -> Scaler
    where
        I: Iterator<Item = ArrayView1<'a, f64>>,
    {
        // Row by row (the order `mean_axis` sums in) without the centred and
        // squared n×d temporaries, which cost more than the arithmetic; over plain slices,
        // since an ndarray zip per 20-value row costs more than its additions.
        let mut mean = vec![0.0; d];
        let mut var = vec![0.0; d];
        let mut row = vec![0.0; d];
        let mut n = 0usize;
        for r in rows() {
            for (m, v) in mean.iter_mut().zip(values(&r, &mut row)) {
                *m += v;
            }
            n += 1;
        }
        if n > 0 {
            mean.iter_mut().for_each(|m| *m /= n as f64);
            // Two-pass variance: centre first, which is far more accurate than
            // E[x²] − E[x]² for columns with a large offset.
            for r in rows() {
                for ((s, m), v) in var.iter_mut().zip(&mean).zip(values(&r, &mut row)) {
                    *s += (v - m) * (v - m);
                }
            }
            var.iter_mut().for_each(|s| *s /= n as f64);
        }
        let scale = var
            .iter()
            .zip(mean.iter())
            .map(|(&v, &m)| {
                let s = v.sqrt();
                // Treat rounding noise around a constant value as zero variance.
                if !s.is_finite() || s <= 10.0 * f64::EPSILON * m.abs().max(1.0) {
                    1.0
                } else {
                    s
                }
            })
            .collect();
        Scaler { mean, scale }
    }

    /// Standardises `x` (columns must already have been checked).
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mean = ArrayView1::from(&self.mean[..]);
        let scale = ArrayView1::from(&self.scale[..]);
        (&x - &mean.insert_axis(Axis(0))) / scale.insert_axis(Axis(0))
    }

    /// The rows of `x` at `rows` (each in range), standardised: one copy, where selecting
    /// and then transforming made two.
    pub fn transform_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
        let mut out = Array2::zeros((rows.len(), x.ncols()));
        for (mut z, &r) in out.outer_iter_mut().zip(rows) {
            // A fresh array's rows are contiguous.
            if let Some(z) = z.as_slice_mut() {
                self.transform_into(x.row(r), z);
            }
        }
        out
    }

    /// Standardises one row into `out` (same length as the row).
    pub fn transform_into(&self, row: ArrayView1<f64>, out: &mut [f64]) {
        match row.as_slice() {
            Some(row) => self.transform_slice(row, out),
            None => {
                for (((z, x), m), s) in out.iter_mut().zip(row).zip(&self.mean).zip(&self.scale) {
                    *z = (x - m) / s;
                }
            }
        }
    }

    /// [`Scaler::transform_into`] of a row held as a slice.
    pub fn transform_slice(&self, row: &[f64], out: &mut [f64]) {
        // Slices cut to one length, so the loop has no bounds checks and is vectorised: a
        // chained zip stayed scalar, and its divisions were most of a Newton pass over the
        // raw rows. Same arithmetic, so the same bits.
        let n = out
            .len()
            .min(row.len())
            .min(self.mean.len())
            .min(self.scale.len());
        let (out, row) = (&mut out[..n], &row[..n]);
        let (mean, scale) = (&self.mean[..n], &self.scale[..n]);
        for i in 0..n {
            out[i] = (row[i] - mean[i]) / scale[i];
        }
    }

    /// Checks lengths and, with [`Scan::Values`], that every scale is finite and
    /// positive.
    pub(crate) fn check(&self, n_features: usize, scan: Scan) -> Result<(), ModelError> {
        super::validate_weights(format_args!("scaler.mean"), &self.mean, n_features, scan)?;
        super::validate_weights(format_args!("scaler.scale"), &self.scale, n_features, scan)?;
        if scan == Scan::Shapes {
            return Ok(());
        }
        if let Some(i) = self.scale.iter().position(|s| *s <= 0.0) {
            return Err(ModelError::InvalidArtifact(format!(
                "scaler.scale[{i}] must be positive"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn population_std_and_constant_column() {
        let x = array![[1.0, 5.0], [3.0, 5.0]];
        let s = Scaler::fit(x.view());
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.scale, vec![1.0, 1.0]);
        let z = s.transform(x.view());
        assert_eq!(z, array![[-1.0, 0.0], [1.0, 0.0]]);
        let x = array![[0.0], [4.0]];
        assert_eq!(Scaler::fit(x.view()).scale, vec![2.0]);
    }

    #[test]
    fn row_subsets_scale_exactly_as_a_selected_copy_does() {
        let x = ndarray::Array2::from_shape_fn((50, 3), |(i, j)| {
            ((i * 37 + j * 11) % 17) as f64 * 0.3 + j as f64
        });
        let rows: Vec<usize> = (0..50).rev().step_by(3).collect();
        let copy = x.select(Axis(0), &rows);
        let s = Scaler::fit_rows(x.view(), &rows);
        assert_eq!(s, Scaler::fit(copy.view()));
        assert_eq!(s.transform_rows(x.view(), &rows), s.transform(copy.view()));
    }
}
