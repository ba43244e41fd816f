//! Loss functions of the linear-family models as [`Objective`]s over
//! standardised [`Features`]. Parameter layout: `[w (d); b]` for least squares and
//! logistic, `[W (d×K row-major); b (K)]` for softmax ([`CrossEntropy`]).
//!
//! Every loss and gradient is a sum over blocks of rows (one block for a standardised
//! matrix, so its sums are those of the whole matrix), each block's mean weighted by its
//! share of the rows.

use ndarray::{s, Array1, ArrayView1};

mod cross_entropy;
mod features;
mod rows;

pub use cross_entropy::{one_hot, onehot_accuracy, onehot_correct, CrossEntropy};
pub use features::Features;
pub(crate) use rows::share;
use rows::{check_len, for_rows_in_blocks, linear_grad_add, row_grad_into};

use super::optim::Objective;
use super::TrainError;
use crate::models::stable::{mean_log_loss, sigmoid};

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
    r2_from_sums(r.dot(r), y)
}

/// [`r2_from_residuals`] from Σr², the residuals' sum of squares.
pub fn r2_from_sums(ss_res: f64, y: ArrayView1<f64>) -> f64 {
    let mean = y.mean().unwrap_or(0.0);
    let ss_tot: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
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
pub struct LeastSquares<'a> {
    pub x: Features<'a>,
    pub y: Array1<f64>,
    pub loss: RegLoss,
}

impl LeastSquares<'_> {
    /// The mean loss over every row, and Σr².
    fn loss_and_squares(&self, theta: ArrayView1<f64>) -> Result<(f64, f64), TrainError> {
        let (w, b) = split_wb(theta, self.x.n_cols())?;
        let n = self.n_rows();
        let (mut loss, mut squares) = (0.0, 0.0);
        self.x.for_blocks(None, |x, at| {
            let r = x.dot(&w) + b - &at.of(&self.y)?;
            loss += self.loss.mean_loss(&r) * share(x.nrows(), n);
            squares += r.dot(&r);
            Ok(())
        })?;
        Ok((loss, squares))
    }
}

impl Objective for LeastSquares<'_> {
    fn n_rows(&self) -> usize {
        self.x.n_rows()
    }
    fn n_params(&self) -> usize {
        self.x.n_cols() + 1
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.n_cols(), 1)
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.n_cols())?;
        check_len(grad, self.n_params())?;
        grad.fill(0.0);
        let n = rows.map_or(self.n_rows(), <[usize]>::len);
        let mut loss = 0.0;
        self.x.for_blocks(rows, |x, at| {
            let r = x.dot(&w) + b - &at.of(&self.y)?;
            let (mean, dr) = self.loss.loss_and_deriv(&r);
            loss += mean * share(x.nrows(), n);
            linear_grad_add(x, &dr, n, grad)
        })?;
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
        Ok(self.loss_and_squares(theta)?.0)
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (loss, squares) = self.loss_and_squares(theta)?;
        Ok((loss, Some(r2_from_sums(squares, self.y.view()))))
    }
}

/// One SGD pass of a linear model (θ = [w, b]) over `rows`: the gradient of each row is
/// `deriv(z, y)·[x, 1]` with z = x·w + b.
fn linear_per_row_pass(
    x: &Features,
    y: &Array1<f64>,
    theta: &mut Array1<f64>,
    rows: &[usize],
    grad: &mut Array1<f64>,
    update: &mut dyn FnMut(&mut Array1<f64>, &mut Array1<f64>),
    deriv: impl Fn(f64, f64) -> f64,
) -> Result<(), TrainError> {
    let d = x.n_cols();
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
pub struct BinaryLogLoss<'a> {
    pub x: Features<'a>,
    pub y: Array1<f64>,
}

impl BinaryLogLoss<'_> {
    /// The mean loss over every row, and the rows whose class z > 0 gives.
    fn loss_and_correct(&self, theta: ArrayView1<f64>) -> Result<(f64, usize), TrainError> {
        let (w, b) = split_wb(theta, self.x.n_cols())?;
        let n = self.n_rows();
        let (mut loss, mut correct) = (0.0, 0);
        self.x.for_blocks(None, |x, at| {
            let z = x.dot(&w) + b;
            let y = at.of(&self.y)?;
            loss += mean_log_loss(z.view(), y.view()) * share(x.nrows(), n);
            correct += z
                .iter()
                .zip(&y)
                .filter(|(&z, &y)| (z > 0.0) == (y > 0.5))
                .count();
            Ok(())
        })?;
        Ok((loss, correct))
    }
}

impl Objective for BinaryLogLoss<'_> {
    fn n_rows(&self) -> usize {
        self.x.n_rows()
    }
    fn n_params(&self) -> usize {
        self.x.n_cols() + 1
    }
    fn penalty_mask(&self) -> Array1<f64> {
        weight_mask(self.x.n_cols(), 1)
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        let (w, b) = split_wb(theta, self.x.n_cols())?;
        check_len(grad, self.n_params())?;
        grad.fill(0.0);
        let n = rows.map_or(self.n_rows(), <[usize]>::len);
        let mut loss = 0.0;
        self.x.for_blocks(rows, |x, at| {
            let z = x.dot(&w) + b;
            let y = at.of(&self.y)?;
            loss += mean_log_loss(z.view(), y.view()) * share(x.nrows(), n);
            let r = z.mapv(sigmoid) - &y;
            linear_grad_add(x, &r, n, grad)
        })?;
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
        Ok(self.loss_and_correct(theta)?.0)
    }
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let (loss, correct) = self.loss_and_correct(theta)?;
        let acc = correct as f64 / self.n_rows().max(1) as f64;
        Ok((loss, Some(acc)))
    }
}
