//! Numerically stable element-wise maths shared by the models (prediction)
//! and the training objectives (loss and gradient), so both agree exactly.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Logistic sigmoid σ(z) = 1 / (1 + e^{-z}), evaluated as
/// `1/(1+e^{-z})` for z ≥ 0 and `e^{z}/(1+e^{z})` for z < 0 so that the
/// exponential never overflows.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// (softplus(z), σ(z)) from one exponential, the arithmetic of [`softplus`] and
/// [`sigmoid`] bit for bit (e^{−|z|} is e^{z} for z < 0): a Newton pass needs both per row.
pub fn softplus_and_sigmoid(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let p = if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (z.max(0.0) + e.ln_1p(), p)
}

/// softplus(z) = ln(1 + e^{z}) = max(z, 0) + ln(1 + e^{-|z|}); the right-hand
/// form never overflows and keeps precision for large |z|.
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Binary log loss for labels y ∈ {0,1} and logits z:
/// ℓ(z, y) = −y·ln σ(z) − (1−y)·ln(1−σ(z)) = softplus(z) − y·z,
/// averaged over rows. Written via softplus to avoid ln(0).
pub fn mean_log_loss(z: ArrayView1<f64>, y: ArrayView1<f64>) -> f64 {
    if z.is_empty() {
        return 0.0;
    }
    (z.mapv(softplus) - &z * &y).mean().unwrap_or(0.0)
}

/// Row-wise log-sum-exp: lse_i = m_i + ln Σ_j e^{z_ij − m_i}, m_i = max_j z_ij.
/// Subtracting the row max keeps every exponent ≤ 0.
pub fn log_sum_exp_rows(z: ArrayView2<f64>) -> Array1<f64> {
    let m = row_max(z);
    let shifted = &z - &m.view().insert_axis(Axis(1));
    let s = shifted.mapv(f64::exp).sum_axis(Axis(1));
    m + s.mapv(f64::ln)
}

/// Row-wise softmax p_ij = exp(z_ij − lse_i), computed from the stable
/// log-sum-exp so no exponent overflows.
pub fn softmax_rows(z: ArrayView2<f64>) -> Array2<f64> {
    let lse = log_sum_exp_rows(z);
    (&z - &lse.view().insert_axis(Axis(1))).mapv(f64::exp)
}

/// Maximum of each row (−∞ for a row with no columns).
fn row_max(z: ArrayView2<f64>) -> Array1<f64> {
    z.fold_axis(Axis(1), f64::NEG_INFINITY, |&a, &b| a.max(b))
}

/// Index of the first maximum of each row (numpy `argmax` tie rule).
pub fn argmax_rows(z: ArrayView2<f64>) -> Vec<f64> {
    z.outer_iter()
        .map(|row| {
            let mut best = 0usize;
            for (j, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = j;
                }
            }
            best as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn both_from_one_exponential_are_the_two_functions_bit_for_bit() {
        let zs = (-4000..=4000).map(|i| f64::from(i) * 0.0173);
        for z in zs.chain([0.0, -0.0, 745.0, -745.0, 1e-300, -1e-300]) {
            let (softplus_z, sigmoid_z) = softplus_and_sigmoid(z);
            assert_eq!(softplus_z.to_bits(), softplus(z).to_bits(), "{z}");
            assert_eq!(sigmoid_z.to_bits(), sigmoid(z).to_bits(), "{z}");
        }
    }

    #[test]
    fn sigmoid_and_softplus_are_stable() {
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-15);
        assert!((softplus(1000.0) - 1000.0).abs() < 1e-12);
        assert!(softplus(-1000.0) >= 0.0 && softplus(-1000.0) < 1e-300);
        let l = mean_log_loss(array![1000.0, -1000.0].view(), array![0.0, 1.0].view());
        assert!((l - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn softmax_handles_huge_logits() {
        let z = array![[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]];
        let p = softmax_rows(z.view());
        assert!((p[[0, 0]] - 0.5).abs() < 1e-12);
        assert!((p[[1, 2]] - 1.0 / 3.0).abs() < 1e-12);
        let lse = log_sum_exp_rows(z.view());
        assert!((lse[0] - (1000.0 + 2f64.ln())).abs() < 1e-9);
        assert_eq!(argmax_rows(z.view()), vec![0.0, 0.0]);
    }
}
