//! Loss functions of the linear-family models as [`Objective`]s over
//! standardised features. Parameter layout: `[w (d); b]` for least squares and
//! logistic, `[W (d×K row-major); b (K)]` for softmax.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2};

mod rows;

use rows::{check_len, for_rows_in_blocks, linear_grad_into, row, row_grad_into, take};

use super::optim::Objective;
use super::TrainError;
use crate::models::stable::{log_sum_exp_rows, mean_log_loss, sigmoid};

/// Splits `[w; b]` (length d+1, guaranteed by the optimiser's `n_params`).
fn split_wb(theta: ArrayView1<f64>, d: usize) -> Result<(ArrayView1<f64>, f64), TrainError> {
    let b = theta
        .get(d)
        .copied()
        .ok_or_else(|| TrainError::internal(format!("parameter vector shorter than {}", d + 1)))?;
    Ok((theta.slice_move(s![..d]), b))
}

/// Mask penalising the first `n_weights` entries, not the trailing intercepts.
fn weight_mask(n_weights: usize, n_bias: usize) -> Array1<f64> {
    let mut m = Array1::ones(n_weights + n_bias);
    m.slice_mut(s![n_weights..]).fill(0.0);
    m
}

/// Per-row regression loss of the residual r = ŷ − y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RegLoss {
    /// ½r²
    Mse,
    /// |r| (subgradient sign(r), 0 at r = 0)
    Mae,
    /// ½r² for |r| ≤ δ, else δ(|r| − ½δ)
    Huber(f64),
}

impl RegLoss {
    /// Mean loss over residuals and dℓ/dr per row.
    pub fn loss_and_deriv(&self, r: &Array1<f64>) -> (f64, Array1<f64>) {
        let n = r.len().max(1) as f64;
        match *self {
            RegLoss::Mse => (0.5 * r.dot(r) / n, r.clone()),
            RegLoss::Mae => (
                r.mapv(f64::abs).sum() / n,
                r.mapv(|v| if v == 0.0 { 0.0 } else { v.signum() }),
            ),
            RegLoss::Huber(d) => (
                r.mapv(|v| huber(v, d)).sum() / n,
                r.mapv(|v| v.clamp(-d, d)),
            ),
        }
    }

    /// Loss and derivative of one residual.
    pub fn scalar(&self, r: f64) -> (f64, f64) {
        match *self {
            RegLoss::Mse => (0.5 * r * r, r),
            RegLoss::Mae => (r.abs(), if r == 0.0 { 0.0 } else { r.signum() }),
            RegLoss::Huber(d) => (huber(r, d), r.clamp(-d, d)),
        }
    }

    /// Mean loss only.
    pub fn mean_loss(&self, r: &Array1<f64>) -> f64 {
        let n = r.len().max(1) as f64;
        match *self {
            RegLoss::Mse => 0.5 * r.dot(r) / n,
            RegLoss::Mae => r.mapv(f64::abs).sum() / n,
            RegLoss::Huber(d) => r.mapv(|v| huber(v, d)).sum() / n,
        }
    }
}

fn huber(r: f64, d: f64) -> f64 {
    let a = r.abs();
    if a <= d {
        0.5 * r * r
    } else {
        d * (a - 0.5 * d)
    }
}

/// R² = 1 − Σr²/Σ(y−ȳ)² (scikit-learn's convention when y is constant).
pub fn r2_from_residuals(r: &Array1<f64>, y: ArrayView1<f64>) -> f64 {
    let mean = y.mean().unwrap_or(0.0);
    let ss_tot: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    let ss_res = r.dot(r);
    if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// Linear regression: ℓ = loss(x·w + b − y) (½r² by default); gradient
/// Xᵀℓ'(r)/n.
pub struct LeastSquares {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
    pub loss: RegLoss,
}

impl Objective for LeastSquares {
    fn n_rows(&self) -> usize {
        self.x.nrows()
    }
    fn n_params(&self) -> usize {
        self.x.ncols() + 1
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.ncols(), 1)
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        if let Some(&[i]) = rows {
            // One row: no row copies.
            check_len(grad, self.n_params())?;
            let (xi, yi) = row(&self.x, &self.y, i)?;
            let (loss, dr) = self.loss.scalar(xi.dot(&w) + b - yi);
            row_grad_into(xi, dr, grad);
            return Ok(loss);
        }
        let (x, y) = take(&self.x, &self.y, rows);
        let r = x.dot(&w) + b - &y;
        let (loss, dr) = self.loss.loss_and_deriv(&r);
        linear_grad_into(x.view(), &dr, grad)?;
        Ok(loss)
    }
    fn per_row_pass(
        &self,
        theta: &mut Array1<f64>,
        rows: &[usize],
        grad: &mut Array1<f64>,
        update: &mut dyn FnMut(&mut Array1<f64>, &mut Array1<f64>),
    ) -> Result<(), TrainError> {
        linear_per_row_pass(&self.x, &self.y, theta, rows, grad, update, |z, y| {
            self.loss.scalar(z - y).1
        })
    }
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        let r = self.x.dot(&w) + b - &self.y;
        Ok(self.loss.mean_loss(&r))
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        let r = self.x.dot(&w) + b - &self.y;
        Ok((
            self.loss.mean_loss(&r),
            Some(r2_from_residuals(&r, self.y.view())),
        ))
    }
}

/// One SGD pass of a linear model (θ = [w, b]) over `rows`: the gradient of each row is
/// `deriv(z, y)·[x, 1]` with z = x·w + b.
fn linear_per_row_pass(
    x: &Array2<f64>,
    y: &Array1<f64>,
    theta: &mut Array1<f64>,
    rows: &[usize],
    grad: &mut Array1<f64>,
    update: &mut dyn FnMut(&mut Array1<f64>, &mut Array1<f64>),
    deriv: impl Fn(f64, f64) -> f64,
) -> Result<(), TrainError> {
    let d = x.ncols();
    check_len(grad, d + 1)?;
    for_rows_in_blocks(x, y, rows, |xi, yi| {
        let (w, b) = split_wb(theta.view(), d)?;
        row_grad_into(xi, deriv(xi.dot(&w) + b, yi), grad);
        update(theta, grad);
        Ok(())
    })
}

/// Binary log loss, y ∈ {0,1}: ℓ = softplus(z) − y·z with z = x·w + b
/// (see [`mean_log_loss`]); gradient Xᵀ(σ(z) − y)/n.
pub struct BinaryLogLoss {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
}

impl Objective for BinaryLogLoss {
    fn n_rows(&self) -> usize {
        self.x.nrows()
    }
    fn n_params(&self) -> usize {
        self.x.ncols() + 1
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.ncols(), 1)
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        if let Some(&[i]) = rows {
            check_len(grad, self.n_params())?;
            let (xi, yi) = row(&self.x, &self.y, i)?;
            let z = xi.dot(&w) + b;
            let loss = crate::models::stable::softplus(z) - yi * z;
            row_grad_into(xi, sigmoid(z) - yi, grad);
            return Ok(loss);
        }
        let (x, y) = take(&self.x, &self.y, rows);
        let z = x.dot(&w) + b;
        let loss = mean_log_loss(z.view(), y.view());
        let r = z.mapv(sigmoid) - &y;
        linear_grad_into(x.view(), &r, grad)?;
        Ok(loss)
    }
    fn per_row_pass(
        &self,
        theta: &mut Array1<f64>,
        rows: &[usize],
        grad: &mut Array1<f64>,
        update: &mut dyn FnMut(&mut Array1<f64>, &mut Array1<f64>),
    ) -> Result<(), TrainError> {
        // The step needs only σ(z) − y, not the row's loss (saves a log per row).
        linear_per_row_pass(&self.x, &self.y, theta, rows, grad, update, |z, y| {
            sigmoid(z) - y
        })
    }
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        let z = self.x.dot(&w) + b;
        Ok(mean_log_loss(z.view(), self.y.view()))
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (w, b) = split_wb(theta, self.x.ncols())?;
        let z = self.x.dot(&w) + b;
        let correct = z
            .iter()
            .zip(&self.y)
            .filter(|(&z, &y)| (z > 0.0) == (y > 0.5))
            .count();
        let acc = correct as f64 / z.len().max(1) as f64;
        Ok((mean_log_loss(z.view(), self.y.view()), Some(acc)))
    }
}

/// Multinomial cross-entropy: ℓ = lse(z) − z_y with z = x·W + b and
/// lse the stable log-sum-exp; gradient ∂W = Xᵀ(P − Y)/n, ∂b = Σ(P − Y)/n.
pub struct CrossEntropy {
    pub x: Array2<f64>,
    /// One-hot targets, rows x K.
    pub y: Array2<f64>,
}

impl CrossEntropy {
    fn k(&self) -> usize {
        self.y.ncols()
    }

    /// Unpacks θ into W (d×K) and b (K).
    fn unpack(&self, theta: ArrayView1<f64>) -> Result<(Array2<f64>, Array1<f64>), TrainError> {
        let (d, k) = (self.x.ncols(), self.k());
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

    fn eval(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        theta: ArrayView1<f64>,
    ) -> Result<(f64, Array2<f64>, Array1<f64>), TrainError> {
        let (w, b) = self.unpack(theta)?;
        let z = x.dot(&w) + &b;
        let lse = log_sum_exp_rows(z.view());
        let n = x.nrows().max(1) as f64;
        let loss = (lse.sum() - (&z * &y).sum()) / n;
        Ok((loss, z, lse))
    }
}

impl Objective for CrossEntropy {
    fn n_rows(&self) -> usize {
        self.x.nrows()
    }
    fn n_params(&self) -> usize {
        (self.x.ncols() + 1) * self.k()
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.ncols() * self.k(), self.k())
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        check_len(grad, self.n_params())?;
        let (x, y): (CowArray<f64, Ix2>, CowArray<f64, Ix2>) = match rows {
            None => (self.x.view().into(), self.y.view().into()),
            Some(r) => (
                self.x.select(Axis(0), r).into(),
                self.y.select(Axis(0), r).into(),
            ),
        };
        let (loss, z, lse) = self.eval(x.view(), y.view(), theta)?;
        let n = x.nrows().max(1) as f64;
        // P − Y with P = exp(z − lse).
        let g = (&z - &lse.insert_axis(Axis(1))).mapv(f64::exp) - &y;
        let gw = x.t().dot(&g) / n;
        let gb = g.sum_axis(Axis(0)) / n;
        for (dst, src) in grad.iter_mut().zip(gw.iter().chain(gb.iter())) {
            *dst = *src;
        }
        Ok(loss)
    }
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        Ok(self.eval(self.x.view(), self.y.view(), theta)?.0)
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (loss, z, _) = self.eval(self.x.view(), self.y.view(), theta)?;
        Ok((loss, Some(onehot_accuracy(z.view(), self.y.view()))))
    }
}

/// Share of rows whose argmax of `z` (first maximum, like numpy) is the hot
/// column of `y`.
pub fn onehot_accuracy(z: ArrayView2<f64>, y: ArrayView2<f64>) -> f64 {
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
    let correct = z
        .outer_iter()
        .zip(y.outer_iter())
        .filter(|(zr, yr)| argmax(zr.view()) == argmax(yr.view()))
        .count();
    correct as f64 / z.nrows().max(1) as f64
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
