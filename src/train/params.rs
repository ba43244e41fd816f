//! Training request parameters: what a client may send ([`Params`]), their
//! validation into a [`super::CheckedSpec`] ([`TrainSpec::validate`], in
//! `validate.rs`), and the report of the values actually used
//! ([`ResolvedParams`], built by [`super::CheckedSpec::report`]).

use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::models::mlp::Activation;
use crate::models::Family;

mod validate;

/// Which model to train.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
    MlpRegressor,
    MlpClassifier,
}

impl Algorithm {
    /// The model family this algorithm produces.
    pub fn family(&self) -> Family {
        match self {
            Algorithm::LinearRegression => Family::LinearRegression,
            Algorithm::LogisticRegression => Family::LogisticRegression,
            Algorithm::SoftmaxRegression => Family::SoftmaxRegression,
            Algorithm::MlpRegressor => Family::MlpRegressor,
            Algorithm::MlpClassifier => Family::MlpClassifier,
        }
    }

    pub fn is_mlp(&self) -> bool {
        matches!(self, Algorithm::MlpRegressor | Algorithm::MlpClassifier)
    }
}

/// `closed_form`: normal equations (linear regression only). `gd`: iterative
/// optimisation with an [`Optimizer`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    ClosedForm,
    Gd,
    /// Newton's method (logistic regression only; `epochs` = max iterations, default
    /// 100; `tol` default 1e-10), see [`super::newton`].
    Newton,
}

/// Iterative optimiser used by the `gd` solver.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Full-batch gradient descent.
    Gd,
    /// One row at a time, rows reshuffled every epoch.
    Sgd,
    /// Shuffled mini-batches of `batch_size` rows.
    Minibatch,
    /// Heavy-ball momentum: v ← μv + g, θ ← θ − ηv (full batch unless `batch_size`).
    Momentum,
    /// Adam (β1 0.9, β2 0.999, ε 1e-8; full batch unless `batch_size`).
    Adam,
}

/// Training loss. Regression: `mse` (½(ŷ−y)², the default), `mae` (|ŷ−y|) or
/// `huber` (½r² for |r| ≤ δ, else δ(|r| − ½δ), δ = `huber_delta` in target units).
/// Classification: `log_loss` and `cross_entropy` are accepted as the same loss
/// (binary log loss for logistic, categorical cross-entropy for softmax / MLP).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    Mse,
    Mae,
    Huber,
    LogLoss,
    CrossEntropy,
}

impl Loss {
    pub fn as_str(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Mae => "mae",
            Loss::Huber => "huber",
            Loss::LogLoss => "log_loss",
            Loss::CrossEntropy => "cross_entropy",
        }
    }
    fn is_regression(&self) -> bool {
        matches!(self, Loss::Mse | Loss::Mae | Loss::Huber)
    }
}

/// Default Huber threshold δ, in target units.
pub const DEFAULT_HUBER_DELTA: f64 = 1.0;

/// Stop when the monitored loss (validation loss if there is a validation
/// split, else training loss) has not improved by more than `min_delta` for
/// `patience` consecutive epochs; the best parameters seen are restored.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    pub patience: usize,
    /// Any improvement counts when omitted.
    #[serde(default)]
    pub min_delta: f64,
}

/// Client-supplied hyper-parameters; every field optional (see
/// [`TrainSpec::validate`] for defaults).
#[derive(Deserialize, Default, Clone, Debug, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub solver: Option<Solver>,
    pub optimizer: Option<Optimizer>,
    pub learning_rate: Option<f64>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub seed: Option<u64>,
    pub l1: Option<f64>,
    pub l2: Option<f64>,
    pub tol: Option<f64>,
    pub momentum: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub schedule: Option<Schedule>,
    pub nesterov: Option<bool>,
    pub loss: Option<Loss>,
    pub huber_delta: Option<f64>,
    /// MLP hidden layer sizes, 1 to 3 layers of 1 to 4096 units. Default [32].
    pub hidden_layers: Option<Vec<usize>>,
    /// MLP hidden activation. Default relu.
    pub activation: Option<Activation>,
}

/// A complete training request.
#[derive(Deserialize, Clone, Debug, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    pub algorithm: Algorithm,
    #[serde(default)]
    pub params: Params,
    /// Fraction of rows held out for validation, in [0, 0.9]. Default (serde) 0.2.
    #[serde(default = "default_validation_split")]
    pub validation_split: f64,
}

fn default_validation_split() -> f64 {
    0.2
}

/// The effective parameters after defaults, as reported with the model (the
/// stored versions' `params`). Optimiser-only fields are `None` for the
/// closed-form solver. Solvers never read this: they get their
/// [`super::checked::FamilyConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ResolvedParams {
    pub algorithm: Algorithm,
    pub solver: Solver,
    pub optimizer: Option<Optimizer>,
    pub learning_rate: Option<f64>,
    pub epochs: Option<usize>,
    /// `None` = full batch.
    pub batch_size: Option<usize>,
    pub momentum: Option<f64>,
    pub seed: u64,
    pub l1: f64,
    pub l2: f64,
    pub tol: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub validation_split: f64,
    /// Learning-rate schedule actually used (gd solver only).
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Nesterov look-ahead for the momentum optimiser.
    #[serde(default)]
    pub nesterov: bool,
    /// Loss actually minimised.
    #[serde(default = "default_loss")]
    pub loss: Loss,
    /// Huber threshold (only with `loss: huber`).
    #[serde(default)]
    pub huber_delta: Option<f64>,
    /// MLP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_layers: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
}

/// Default MLP hidden layers.
pub const DEFAULT_HIDDEN: [usize; 1] = [32];
/// Largest MLP hidden layer.
pub const MAX_HIDDEN_UNITS: usize = 4096;
/// MLP defaults when no optimiser is given: adam, rate 0.01, 200 epochs,
/// mini-batches of 32.
pub const MLP_DEFAULTS: (f64, usize) = (0.01, 200);

fn default_loss() -> Loss {
    Loss::Mse
}

/// Largest accepted `epochs`.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Default `seed` (used for the validation split and for shuffling).
pub const DEFAULT_SEED: u64 = 42;
/// Default mini-batch size for `minibatch`.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Default momentum coefficient μ for `momentum`.
pub const DEFAULT_MOMENTUM: f64 = 0.9;

/// Default `(learning_rate, epochs)` per optimiser, chosen to converge on
/// standardised features (and, for linear regression, a standardised target):
/// gd (0.5, 1000), sgd (0.02, 200), minibatch (0.3, 500),
/// momentum (0.05, 1000), adam (0.05, 1000). With mini-batches (sgd,
/// minibatch, or momentum/adam given a `batch_size`) the rate decays as
/// η/√epoch, see [`super::optim::minimize`].
pub fn optimizer_defaults(opt: Optimizer) -> (f64, usize) {
    match opt {
        Optimizer::Gd => (0.5, 1000),
        Optimizer::Sgd => (0.02, 200),
        Optimizer::Minibatch => (0.3, 500),
        Optimizer::Momentum => (0.05, 1000),
        Optimizer::Adam => (0.05, 1000),
    }
}
