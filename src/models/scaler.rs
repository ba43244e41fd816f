//! Feature standardisation (scikit-learn `StandardScaler` semantics) stored
//! inside every linear-family model so predictions take raw features.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{ModelError, Scan};

/// z = (x − mean) / scale, per column.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits on the rows of `x`: mean and population standard deviation
    /// (ddof = 0). A (numerically) constant column gets scale 1.0, as in
    /// scikit-learn, so it standardises to all zeros instead of dividing by 0.
    /// An empty `x` gives mean 0 / scale 1.
    pub fn fit(x: ArrayView2<f64>) -> Scaler {
        let (n, d) = x.dim();
        // Row by row (the order `mean_axis` sums in) without the centred and
        // squared n×d temporaries, which cost more than the arithmetic.
        let mut mean = Array1::<f64>::zeros(d);
        let mut var = Array1::<f64>::zeros(d);
        if n > 0 {
            for r in x.outer_iter() {
                mean += &r;
            }
            mean /= n as f64;
            // Two-pass variance: centre first, which is far more accurate than
            // E[x²] − E[x]² for columns with a large offset.
            for r in x.outer_iter() {
                ndarray::Zip::from(&mut var)
                    .and(&r)
                    .and(&mean)
                    .for_each(|s, &v, &m| *s += (v - m) * (v - m));
            }
            var /= n as f64;
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
        Scaler {
            mean: mean.to_vec(),
            scale,
        }
    }

    /// Standardises `x` (columns must already have been checked).
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mean = ArrayView1::from(&self.mean[..]);
        let scale = ArrayView1::from(&self.scale[..]);
        (&x - &mean.insert_axis(Axis(0))) / scale.insert_axis(Axis(0))
    }

    /// Standardises one row into `out` (same length as the row).
    pub fn transform_into(&self, row: ArrayView1<f64>, out: &mut [f64]) {
        for (((z, x), m), s) in out.iter_mut().zip(row).zip(&self.mean).zip(&self.scale) {
            *z = (x - m) / s;
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
}
