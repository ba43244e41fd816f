//! MLP training objective over a flat parameter vector
//! θ = [W_1 (row-major), b_1, W_2, b_2, …], so the generic optimiser
//! ([`super::optim::minimize`]) trains it like any other model. Forward and
//! backward passes are matrix products over a block of rows at a time (a mini-batch, or
//! 2,048 rows of a full pass: see [`Features::for_blocks`]), `general_mat_mul` adding
//! straight into the gradient vector; no per-element loops on the hot path.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::objective::{onehot_correct, r2_from_sums, share, Features, RegLoss};
use super::optim::Objective;
use super::TrainError;
use crate::models::mlp::{forward, Activation, LayerView};
use crate::models::stable::log_sum_exp_rows;

/// What the output layer is trained for.
#[derive(Clone, Copy, Debug)]
pub enum Head {
    /// One linear output on a standardised target with this loss.
    Regression(RegLoss),
    /// Softmax cross-entropy over one-hot targets.
    Classification,
}

pub struct MlpObjective<'a> {
    pub x: Features<'a>,
    /// Regression: n × 1 targets; classification: n × K one-hot.
    pub y: Array2<f64>,
    /// `[d, h1, .., out]`.
    pub sizes: Vec<usize>,
    pub activation: Activation,
    pub head: Head,
}

/// (offset of W, offset of b) of each layer in θ.
pub fn offsets(sizes: &[usize]) -> Vec<(usize, usize)> {
    let mut at = 0;
    sizes
        .windows(2)
        .map(|s| {
            let w = at;
            at += s[0] * s[1];
            let b = at;
            at += s[1];
            (w, b)
        })
        .collect()
}

/// Number of parameters of an MLP with these layer sizes.
pub fn n_params(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|s| (s[0] + 1) * s[1]).sum()
}

/// Glorot/Xavier uniform init U(±√(6/(fan_in+fan_out))) for tanh and
/// sigmoid, He uniform U(±√(6/fan_in)) for ReLU; biases 0. Seeded.
pub fn init(sizes: &[usize], act: Activation, seed: u64) -> Array1<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d6c_705f_696e_6974);
    let mut theta = Array1::zeros(n_params(sizes));
    for (s, (w, _)) in sizes.windows(2).zip(offsets(sizes)) {
        let (fan_in, fan_out) = (s[0] as f64, s[1] as f64);
        let limit = match act {
            Activation::Relu => (6.0 / fan_in).sqrt(),
            Activation::Tanh | Activation::Sigmoid => (6.0 / (fan_in + fan_out)).sqrt(),
        };
        for v in theta.slice_mut(s![w..w + s[0] * s[1]]).iter_mut() {
            *v = rng.random_range(-limit..limit);
        }
    }
    theta
}

/// Views of each layer's (W, b) inside θ.
pub fn layer_views<'a>(
    theta: &'a [f64],
    sizes: &[usize],
) -> Result<Vec<LayerView<'a>>, TrainError> {
    let bad = || TrainError::internal("MLP parameter vector has the wrong length".into());
    if theta.len() != n_params(sizes) {
        return Err(bad());
    }
    sizes
        .windows(2)
        .zip(offsets(sizes))
        .map(|(s, (w, b))| {
            let wv = ArrayView2::from_shape((s[0], s[1]), &theta[w..b]).map_err(|_| bad())?;
            Ok((wv, ArrayView1::from(&theta[b..b + s[1]])))
        })
        .collect()
}

impl MlpObjective<'_> {
    /// Mean loss and ∂loss/∂output (already divided by n) of the output layer.
    fn head(&self, out: &Array2<f64>, y: ArrayView2<f64>) -> (f64, Array2<f64>) {
        let n = out.nrows().max(1) as f64;
        match self.head {
            Head::Regression(loss) => {
                let r = (out - &y).column(0).to_owned();
                let (l, dr) = loss.loss_and_deriv(&r);
                (l, (dr / n).insert_axis(Axis(1)))
            }
            Head::Classification => {
                let lse = log_sum_exp_rows(out.view());
                let loss = (lse.sum() - (out * &y).sum()) / n;
                let mut g = out - &lse.insert_axis(Axis(1));
                g.mapv_inplace(f64::exp);
                g -= &y;
                g /= n;
                (loss, g)
            }
        }
    }
}

fn contiguous<'a>(theta: &'a ArrayView1<'_, f64>) -> Result<&'a [f64], TrainError> {
    theta
        .as_slice()
        .ok_or_else(|| TrainError::internal("parameter vector is not contiguous".into()))
}

impl Objective for MlpObjective<'_> {
    fn n_rows(&self) -> usize {
        self.x.n_rows()
    }
    fn n_params(&self) -> usize {
        n_params(&self.sizes)
    }
    fn penalty_mask(&self) -> Array1<f64> {
        let mut m = Array1::zeros(self.n_params());
        for (s, (w, _)) in self.sizes.windows(2).zip(offsets(&self.sizes)) {
            m.slice_mut(s![w..w + s[0] * s[1]]).fill(1.0);
        }
        m
    }

    /// Backpropagation: δ_L = ∂loss/∂Z_L; for each layer l from the top,
    /// ∂W_l = A_{l−1}ᵀ·δ_l, ∂b_l = Σ_rows δ_l, δ_{l−1} = (δ_l·W_lᵀ) ⊙ act'(Z_{l−1}).
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        if grad.len() != self.n_params() {
            return Err(TrainError::internal(
                "gradient buffer has the wrong length".into(),
            ));
        }
        let slice = contiguous(&theta)?;
        let layers = layer_views(slice, &self.sizes)?;
        let offs = offsets(&self.sizes);
        let n = rows.map_or(self.n_rows(), <[usize]>::len);
        grad.fill(0.0);
        let mut loss = 0.0;
        self.x.for_blocks(rows, |x, at| {
            let y = at.rows_of(&self.y)?;
            let acts = forward(x, &layers, self.activation);
            let out = acts
                .last()
                .ok_or_else(|| TrainError::internal("MLP has no layers".into()))?;
            // The block's mean loss and ∂/∂output, weighted by the block's share of the rows.
            let (mean, mut delta) = self.head(out, y.view());
            let part = share(x.nrows(), n);
            loss += mean * part;
            delta *= part;
            for l in (0..layers.len()).rev() {
                let input = if l == 0 { x.view() } else { acts[l - 1].view() };
                let (w_off, b_off) = offs[l];
                let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
                {
                    let gw_flat = grad
                        .as_slice_mut()
                        .ok_or_else(|| TrainError::internal("gradient not contiguous".into()))?;
                    let mut gw =
                        ArrayViewMut2::from_shape((n_in, n_out), &mut gw_flat[w_off..b_off])
                            .map_err(|e| TrainError::internal(e.to_string()))?;
                    general_mat_mul(1.0, &input.t(), &delta, 1.0, &mut gw);
                }
                let mut gb = grad.slice_mut(s![b_off..b_off + n_out]);
                gb += &delta.sum_axis(Axis(0));
                if l > 0 {
                    let mut prev = Array2::zeros((delta.nrows(), n_in));
                    general_mat_mul(1.0, &delta, &layers[l].0.t(), 0.0, &mut prev);
                    self.activation.backprop(&mut prev, &acts[l - 1]);
                    delta = prev;
                }
            }
            Ok(())
        })?;
        Ok(loss)
    }

    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        Ok(self.evaluate(theta)?.0)
    }

    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        let slice = contiguous(&theta)?;
        let layers = layer_views(slice, &self.sizes)?;
        let n = self.n_rows();
        // The loss, and Σr² (regression) or the rows classified right.
        let (mut loss, mut squares, mut correct) = (0.0, 0.0, 0);
        self.x.for_blocks(None, |x, at| {
            let y = at.rows_of(&self.y)?;
            let out = forward(x, &layers, self.activation)
                .pop()
                .ok_or_else(|| TrainError::internal("MLP has no layers".into()))?;
            loss += self.head(&out, y.view()).0 * share(x.nrows(), n);
            match self.head {
                Head::Regression(_) => {
                    let r = (&out - &y).column(0).to_owned();
                    squares += r.dot(&r);
                }
                Head::Classification => correct += onehot_correct(out.view(), y.view()),
            }
            Ok(())
        })?;
        let metric = match self.head {
            Head::Regression(_) => r2_from_sums(squares, self.y.column(0)),
            Head::Classification => correct as f64 / n.max(1) as f64,
        };
        Ok((loss, Some(metric)))
    }
}
