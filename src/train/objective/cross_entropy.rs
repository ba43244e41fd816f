//! Multinomial cross-entropy (softmax regression) over standardised [`Features`].

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::rows::{check_len, share};
use super::{weight_mask, Features};
use crate::models::stable::log_sum_exp_rows;
use crate::train::optim::Objective;
use crate::train::TrainError;

/// Multinomial cross-entropy: ℓ = lse(z) − z_y with z = x·W + b and
/// lse the stable log-sum-exp; gradient ∂W = Xᵀ(P − Y)/n, ∂b = Σ(P − Y)/n.
pub struct CrossEntropy<'a> {
    pub x: Features<'a>,
    /// One-hot targets (or class probabilities), rows x K.
    pub y: Array2<f64>,
}

impl CrossEntropy<'_> {
    fn k(&self) -> usize {
        self.y.ncols()
    }

    /// Unpacks θ into W (d×K) and b (K).
    fn unpack(&self, theta: ArrayView1<f64>) -> Result<(Array2<f64>, Array1<f64>), TrainError> {
        let (d, k) = (self.x.n_cols(), self.k());
        if theta.len() != (d + 1) * k {
            return Err(TrainError::internal(
                "softmax parameter vector has the wrong length".into(),
            ));
        }
        let w = theta
            .slice(s![..d * k])
            .to_owned()
            .into_shape_with_order((d, k))
            .map_err(|e| TrainError::internal(e.to_string()))?;
        Ok((w, theta.slice(s![d * k..]).to_owned()))
    }

    /// Mean loss of one block, its z and log-sum-exp.
    fn eval(
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        (w, b): (&Array2<f64>, &Array1<f64>),
    ) -> (f64, Array2<f64>, Array1<f64>) {
        let z = x.dot(w) + b;
        let lse = log_sum_exp_rows(z.view());
        let n = x.nrows().max(1) as f64;
        let loss = (lse.sum() - (&z * &y).sum()) / n;
        (loss, z, lse)
    }

    /// The mean loss over every row, and the rows whose argmax is the target's.
    fn loss_and_correct(&self, theta: ArrayView1<f64>) -> Result<(f64, usize), TrainError> {
        let (w, b) = self.unpack(theta)?;
        let n = self.n_rows();
        let (mut loss, mut correct) = (0.0, 0);
        self.x.for_blocks(None, |x, at| {
            let y = at.rows_of(&self.y)?;
            let (mean, z, _) = Self::eval(x, y.view(), (&w, &b));
            loss += mean * share(x.nrows(), n);
            correct += onehot_correct(z.view(), y.view());
            Ok(())
        })?;
        Ok((loss, correct))
    }
}

impl Objective for CrossEntropy<'_> {
    fn n_rows(&self) -> usize {
        self.x.n_rows()
    }
    fn n_params(&self) -> usize {
        (self.x.n_cols() + 1) * self.k()
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.n_cols() * self.k(), self.k())
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        check_len(grad, self.n_params())?;
        let (w, b) = self.unpack(theta)?;
        let n = rows.map_or(self.n_rows(), <[usize]>::len).max(1) as f64;
        let mut gw = Array2::<f64>::zeros(w.dim());
        let mut gb = Array1::<f64>::zeros(b.len());
        let mut loss = 0.0;
        self.x.for_blocks(rows, |x, at| {
            let y = at.rows_of(&self.y)?;
            let (mean, z, lse) = Self::eval(x, y.view(), (&w, &b));
            loss += mean * share(x.nrows(), n as usize);
            // P − Y with P = exp(z − lse).
            let g = (&z - &lse.insert_axis(Axis(1))).mapv(f64::exp) - &y;
            gw += &(x.t().dot(&g) / n);
            gb += &(g.sum_axis(Axis(0)) / n);
            Ok(())
        })?;
        for (dst, src) in grad.iter_mut().zip(gw.iter().chain(gb.iter())) {
            *dst = *src;
        }
        Ok(loss)
    }
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        Ok(self.loss_and_correct(theta)?.0)
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (loss, correct) = self.loss_and_correct(theta)?;
        Ok((loss, Some(correct as f64 / self.n_rows().max(1) as f64)))
    }
}

/// The rows whose argmax of `z` (first maximum, like numpy) is the hot column of `y`.
pub fn onehot_correct(z: ArrayView2<f64>, y: ArrayView2<f64>) -> usize {
    let argmax = |r: ArrayView1<f64>| {
        r.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            })
            .0
    };
    z.outer_iter()
        .zip(y.outer_iter())
        .filter(|(zr, yr)| argmax(zr.view()) == argmax(yr.view()))
        .count()
}

/// Share of rows whose argmax of `z` (first maximum, like numpy) is the hot
/// column of `y`.
pub fn onehot_accuracy(z: ArrayView2<f64>, y: ArrayView2<f64>) -> f64 {
    onehot_correct(z, y) as f64 / z.nrows().max(1) as f64
}

/// One-hot encoding of class indices (rows × k); indices were validated with
/// the dataset.
pub fn one_hot(y: ArrayView1<f64>, k: usize) -> Array2<f64> {
    let classes = Array1::from_iter((0..k).map(|c| c as f64));
    let yc = y.insert_axis(Axis(1));
    let cc = classes.insert_axis(Axis(0));
    ndarray::Zip::from(&mut Array2::<f64>::zeros((y.len(), k)))
        .and_broadcast(&yc)
        .and_broadcast(&cc)
        .map_collect(|_, &yi, &c| if yi == c { 1.0 } else { 0.0 })
}
