//! Magnitude pruning per layer, masked fine-tuning of the surviving weights, and the
//! choice between dense and CSR storage.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::method::FineTune;
use crate::models::compact::weights::{to_csr, Weights};
use crate::models::compact::{CompactModel, Head};
use crate::models::ModelError;
use crate::train::family::EpochCallback;
use crate::train::mlp::{self, MlpObjective};
use crate::train::objective::{one_hot, BinaryLogLoss, Features, RegLoss};
use crate::train::optim::{minimize, Objective, OptimConfig};
use crate::train::{Optimizer, Schedule, TrainError};

/// A layer's weights (n_in × n_out) and biases.
pub type DenseLayer = (Array2<f64>, Vec<f64>);

/// Zeroes the `sparsity` share of `w`'s weights with the smallest magnitudes.
pub fn prune(w: &mut Array2<f64>, sparsity: f64) {
    let n = w.len();
    let k = ((sparsity * n as f64).round() as usize).min(n);
    if k == 0 {
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let values: Vec<f64> = w.iter().map(|v| v.abs()).collect();
    let magnitude = |i: &usize| values.get(*i).copied().unwrap_or(0.0);
    order.select_nth_unstable_by(k - 1, |a, b| magnitude(a).total_cmp(&magnitude(b)));
    let Some(flat) = w.as_slice_mut() else {
        return;
    };
    for &i in order.iter().take(k) {
        if let Some(v) = flat.get_mut(i) {
            *v = 0.0;
        }
    }
}

/// Dense or CSR, whichever file is smaller.
pub fn store_smaller(w: &Array2<f64>) -> Result<Weights, ModelError> {
    let csr = to_csr(w.view())?;
    let dense = Weights::Dense {
        values: w.iter().copied().collect(),
    };
    let len = |w: &Weights| serde_json::to_vec_pretty(w).map_or(usize::MAX, |b| b.len());
    Ok(if len(&csr) < len(&dense) { csr } else { dense })
}

/// Gradients of masked weights are zeroed, so every optimiser leaves them at zero.
struct Masked<'a> {
    inner: &'a dyn Objective,
    keep: Array1<f64>,
}

impl Objective for Masked<'_> {
    fn n_rows(&self) -> usize {
        self.inner.n_rows()
    }
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn penalty_mask(&self) -> Array1<f64> {
        self.inner.penalty_mask()
    }
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError> {
        self.inner.loss(theta)
    }
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError> {
        let loss = self.inner.loss_grad_into(theta, rows, grad)?;
        *grad *= &self.keep;
        Ok(loss)
    }
}

/// `model` (dense) with each layer's smallest weights zeroed to `sparsity`, fine-tuned
/// on raw rows `x` with targets `y` when `fine_tune` is given, stored dense or CSR.
/// Pruning in one cut: a gradual schedule (five cuts, each followed by its share of the
/// epochs) was measured and lost more accuracy on bench/compress.sh's case.
pub fn run(
    model: &CompactModel,
    sparsity: f64,
    fine_tune: Option<&FineTune>,
    x: ArrayView2<f64>,
    y: &[f64],
    on_epoch: EpochCallback,
) -> Result<CompactModel, TrainError> {
    let mut layers: Vec<DenseLayer> = model
        .dense_layers()
        .into_iter()
        .map(|(w, b)| (w, b.to_vec()))
        .collect();
    for (w, _) in &mut layers {
        prune(w, sparsity);
    }
    if let Some(ft) = fine_tune {
        layers = fine_tune_layers(model, layers, x, y, ft, on_epoch)?;
    }
    let stored = layers
        .into_iter()
        .map(|(w, b)| Ok((store_smaller(&w)?, b)))
        .collect::<Result<Vec<_>, ModelError>>()?;
    Ok(model.rebuilt(stored)?)
}

/// Trains the non-zero weights and the biases of `layers` (dense weights, biases) of
/// `model`'s architecture on raw rows `x` with targets `y` (class indices or values)
/// for `ft.epochs` epochs; returns each layer's weights and biases.
fn fine_tune_layers(
    model: &CompactModel,
    layers: Vec<DenseLayer>,
    x: ArrayView2<f64>,
    y: &[f64],
    ft: &FineTune,
    on_epoch: EpochCallback,
) -> Result<Vec<DenseLayer>, TrainError> {
    let spec = model.spec();
    let sizes: Vec<usize> = std::iter::once(spec.schema.n_features())
        .chain(spec.layers.iter().map(|l| l.n_out))
        .collect();
    let offsets = mlp::offsets(&sizes);
    let mut theta = Array1::zeros(mlp::n_params(&sizes));
    let mut keep = Array1::ones(theta.len());
    for (((w, bias), layer), (wo, bo)) in layers.iter().zip(&spec.layers).zip(&offsets) {
        let (wo, bo) = (*wo, *bo);
        let flat = Array1::from_iter(w.iter().copied());
        if flat.len() != bo - wo || bias.len() != layer.n_out {
            return Err(TrainError::internal("pruned layer sizes disagree".into()));
        }
        theta.slice_mut(s![wo..bo]).assign(&flat);
        keep.slice_mut(s![wo..bo])
            .assign(&flat.mapv(|v| if v == 0.0 { 0.0 } else { 1.0 }));
        theta
            .slice_mut(s![bo..bo + layer.n_out])
            .assign(&ArrayView1::from(&bias[..]));
    }
    let z = spec.scaler.transform(x);
    let y = Array1::from(y.to_vec());
    let objective: Box<dyn Objective> = match spec.head {
        Head::Softmax => Box::new(MlpObjective {
            y: one_hot(y.view(), sizes.last().copied().unwrap_or(0)),
            x: Features::Standardised(z),
            sizes: sizes.clone(),
            activation: spec.activation,
            head: mlp::Head::Classification,
        }),
        // θ = [w, b] of a single layer: the logistic objective's layout.
        Head::Logistic => Box::new(BinaryLogLoss {
            x: Features::Standardised(z),
            y,
        }),
        Head::Regression {
            target_mean,
            target_scale,
        } => Box::new(MlpObjective {
            y: y.mapv(|v| (v - target_mean) / target_scale)
                .insert_axis(Axis(1)),
            x: Features::Standardised(z),
            sizes: sizes.clone(),
            activation: spec.activation,
            head: mlp::Head::Regression(RegLoss::Mse),
        }),
    };
    let masked = Masked {
        inner: objective.as_ref(),
        keep: keep.clone(),
    };
    let cfg = OptimConfig {
        optimizer: Optimizer::Adam,
        learning_rate: ft.learning_rate,
        epochs: ft.epochs,
        batch_size: Some(ft.batch_size),
        momentum: 0.9,
        nesterov: false,
        schedule: Schedule::Constant,
        l1: 0.0,
        l2: 0.0,
        tol: None,
        early_stopping: None,
        seed: ft.seed,
        loss_scale: 1.0,
    };
    let out = minimize(&masked, theta, &cfg, None, on_epoch)?;
    // Biases are kept (1) in the mask; this only re-zeroes pruned weights exactly.
    let theta = out.theta * &keep;
    sizes
        .windows(2)
        .zip(&offsets)
        .map(|(s, (w, b))| {
            let weights = Array2::from_shape_vec((s[0], s[1]), theta.slice(s![*w..*b]).to_vec())
                .map_err(|e| TrainError::internal(e.to_string()))?;
            Ok((weights, theta.slice(s![*b..*b + s[1]]).to_vec()))
        })
        .collect()
}
