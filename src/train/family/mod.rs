//! One fit function per algorithm family and solver ([`linear`], [`linear_rows`],
//! [`logistic`], [`softmax`], [`mlp`]), each taking its resolved solver settings and
//! either the [`Prepared`] rows standardised as they are read (first-order solvers, the
//! MLP) or the raw [`Rows`] (the closed form, Newton's method), and returning the model
//! with its learning curve.

pub mod linear;
pub mod linear_rows;
pub mod logistic;
pub mod mlp;
pub mod softmax;

use std::ops::ControlFlow;
use std::sync::Arc;

use ndarray::Array1;
use ndarray::{Array2, ArrayView2};

use super::objective::{Features, RegLoss};
use super::optim::{EpochRecord, OptimConfig};
use super::TrainError;
use crate::models::scaler::Scaler;
use crate::models::{Model, Schema};

pub type EpochCallback<'a> = &'a mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>;

/// Training inputs for the first-order solvers: the training and validation rows, read
/// standardised with the training rows' scaler (no copy is made; see [`Features`]).
pub struct Prepared<'a> {
    pub schema: Schema,
    pub scaler: Scaler,
    pub x: Features<'a>,
    /// Regression values or class indices.
    pub y: Array1<f64>,
    pub validation: Option<(Features<'a>, Array1<f64>)>,
    /// 0 for regression.
    pub n_classes: usize,
    /// Class probabilities to learn instead of the one-hot labels (distillation).
    pub soft: Option<SoftTargets>,
}

/// The rows a fit that reads the raw data reads (the closed form, Newton's method): the
/// matrix, the targets and which rows train and validate.
pub struct Rows<'a> {
    pub x: ArrayView2<'a, f64>,
    pub y: &'a [f64],
    pub train: &'a [usize],
    pub validation: &'a [usize],
}

/// Soft targets of the training and validation rows, n × K each.
pub struct SoftTargets {
    pub train: Array2<f64>,
    pub validation: Array2<f64>,
}

impl Prepared<'_> {
    pub fn n_features(&self) -> usize {
        self.x.n_cols()
    }
}

/// A trained model, its learning curve and the number of epochs run.
pub struct Trained {
    pub model: Arc<dyn Model>,
    pub history: Vec<EpochRecord>,
    pub epochs_run: usize,
    /// The model's predictions of the training and validation rows, when the fit made
    /// them anyway (the closed form's learning curve, Newton's last pass): scoring reuses
    /// them.
    pub predictions: Option<(Vec<f64>, Vec<f64>)>,
}

/// y = mean + s·y'. Regression solvers work on the standardised target y' so
/// that default learning rates suit any target scale.
#[derive(Clone, Copy, Debug)]
pub struct TargetScale {
    pub mean: f64,
    pub s: f64,
}

impl TargetScale {
    pub fn of(y: &Array1<f64>) -> Self {
        let sd = y.std(0.0);
        TargetScale {
            mean: y.mean().unwrap_or(0.0),
            s: if sd.is_finite() && sd > 0.0 { sd } else { 1.0 },
        }
    }

    pub fn apply(&self, y: &Array1<f64>) -> Array1<f64> {
        y.mapv(|v| (v - self.mean) / self.s)
    }

    /// The loss and optimiser settings of the same problem in scaled units.
    /// With r = s·r': ½r² = s²·½r'², |r| = s·|r'|, huber_δ(r) = s²·huber_{δ/s}(r');
    /// dividing F by the loss's factor gives the equivalent l1/l2, and
    /// reported losses are multiplied back by it.
    pub fn rescale(&self, loss: RegLoss, optim: &OptimConfig) -> (RegLoss, OptimConfig) {
        let s = self.s;
        let (loss, scale, l1, l2) = match loss {
            RegLoss::Mae => (RegLoss::Mae, s, optim.l1, optim.l2 * s),
            RegLoss::Huber(d) => (RegLoss::Huber(d / s), s * s, optim.l1 / s, optim.l2),
            RegLoss::Mse => (RegLoss::Mse, s * s, optim.l1 / s, optim.l2),
        };
        let cfg = OptimConfig {
            l1,
            l2,
            loss_scale: scale,
            ..optim.clone()
        };
        (loss, cfg)
    }
}

/// The targets of `rows` (each in range), in that order.
pub fn targets_of(y: &[f64], rows: &[usize]) -> Array1<f64> {
    rows.iter().filter_map(|&r| y.get(r).copied()).collect()
}

/// Refuses a training or validation row at or past `n`, the rows there are.
pub fn check_rows(n: usize, train: &[usize], validation: &[usize]) -> Result<(), TrainError> {
    match train.iter().chain(validation).find(|&&r| r >= n) {
        Some(bad) => Err(TrainError::data(format!(
            "row index {bad} out of range (dataset has {n} rows)"
        ))),
        None => Ok(()),
    }
}
