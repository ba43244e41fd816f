//! Training request parameters: what a client may send ([`Params`]), their
//! validation, and the fully-defaulted values actually used ([`ResolvedParams`]).

use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::models::Family;

/// Which model to train.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
}

impl Algorithm {
    /// The model family this algorithm produces.
    pub fn family(&self) -> Family {
        match self {
            Algorithm::LinearRegression => Family::LinearRegression,
            Algorithm::LogisticRegression => Family::LogisticRegression,
            Algorithm::SoftmaxRegression => Family::SoftmaxRegression,
        }
    }
}

/// `closed_form`: normal equations (linear regression only). `gd`: iterative
/// optimisation with an [`Optimizer`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    ClosedForm,
    Gd,
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

/// Stop when the monitored loss (validation loss if there is a validation
/// split, else training loss) has not improved by more than `min_delta` for
/// `patience` consecutive epochs; the best parameters seen are restored.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    pub patience: usize,
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

/// The effective parameters after defaults; reported back with the model.
/// Optimiser-only fields are `None` for the closed-form solver.
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

impl TrainSpec {
    /// Validates the request and fills in defaults:
    /// * `solver`: linear regression → `closed_form`, unless an optimiser-only
    ///   parameter (optimizer, learning_rate, epochs, batch_size, momentum, tol,
    ///   early_stopping) is given, then `gd`; logistic/softmax → `gd` (the only one).
    /// * `optimizer`: `adam`.
    /// * `learning_rate`, `epochs`: per optimiser, see [`optimizer_defaults`].
    /// * `batch_size`: 32 for `minibatch`; full batch for gd/momentum/adam;
    ///   1 (fixed) for `sgd`.
    /// * `momentum`: 0.9 (only for the `momentum` optimiser).
    /// * `seed`: 42. `l1`, `l2`: 0. `tol`: none (run all epochs).
    /// * `early_stopping`: none.
    pub fn validate(&self) -> Result<ResolvedParams, TrainError> {
        let p = &self.params;
        let bad = |m: String| Err(TrainError::InvalidParam(m));
        let vs = self.validation_split;
        if !(vs.is_finite() && (0.0..=0.9).contains(&vs)) {
            return bad(format!("validation_split must be in [0, 0.9], got {vs}"));
        }
        let l1 = non_negative("l1", p.l1)?;
        let l2 = non_negative("l2", p.l2)?;
        let iterative_given: Vec<&str> = [
            ("optimizer", p.optimizer.is_some()),
            ("learning_rate", p.learning_rate.is_some()),
            ("epochs", p.epochs.is_some()),
            ("batch_size", p.batch_size.is_some()),
            ("momentum", p.momentum.is_some()),
            ("tol", p.tol.is_some()),
            ("early_stopping", p.early_stopping.is_some()),
        ]
        .iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| *name)
        .collect();
        let solver = match (self.algorithm, p.solver) {
            (Algorithm::LinearRegression, Some(s)) => s,
            (Algorithm::LinearRegression, None) if iterative_given.is_empty() => Solver::ClosedForm,
            (_, Some(Solver::ClosedForm)) => {
                return bad(format!(
                    "solver closed_form is only available for linear_regression, not {}",
                    self.algorithm.family()
                ))
            }
            _ => Solver::Gd,
        };
        let seed = p.seed.unwrap_or(DEFAULT_SEED);
        let base = ResolvedParams {
            algorithm: self.algorithm,
            solver,
            optimizer: None,
            learning_rate: None,
            epochs: None,
            batch_size: None,
            momentum: None,
            seed,
            l1,
            l2,
            tol: None,
            early_stopping: None,
            validation_split: vs,
        };
        if solver == Solver::ClosedForm {
            if l1 > 0.0 {
                return bad("l1 > 0 has no closed-form solution; use solver gd".into());
            }
            if let Some(name) = iterative_given.first() {
                return bad(format!(
                    "{name} is only used by the gd solver, not closed_form"
                ));
            }
            return Ok(base);
        }
        let optimizer = p.optimizer.unwrap_or(Optimizer::Adam);
        let (lr_default, epochs_default) = optimizer_defaults(optimizer);
        let learning_rate = p.learning_rate.unwrap_or(lr_default);
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be a finite number > 0, got {learning_rate}"
            ));
        }
        let epochs = p.epochs.unwrap_or(epochs_default);
        if epochs == 0 || epochs > MAX_EPOCHS {
            return bad(format!(
                "epochs must be between 1 and {MAX_EPOCHS}, got {epochs}"
            ));
        }
        let batch_size = match (optimizer, p.batch_size) {
            (_, Some(0)) => return bad("batch_size must be at least 1".into()),
            (Optimizer::Gd, Some(_)) => {
                return bad(
                    "batch_size is not used by optimizer gd (full batch); use minibatch".into(),
                )
            }
            (Optimizer::Sgd, Some(b)) if b != 1 => {
                return bad("optimizer sgd always uses batch_size 1; use minibatch".into())
            }
            (Optimizer::Sgd, _) => Some(1),
            (Optimizer::Minibatch, b) => Some(b.unwrap_or(DEFAULT_BATCH_SIZE)),
            (_, b) => b,
        };
        let momentum = match (optimizer, p.momentum) {
            (Optimizer::Momentum, m) => {
                let m = m.unwrap_or(DEFAULT_MOMENTUM);
                if !(m.is_finite() && (0.0..1.0).contains(&m)) {
                    return bad(format!("momentum must be in [0, 1), got {m}"));
                }
                Some(m)
            }
            (_, Some(_)) => return bad("momentum is only used by optimizer momentum".into()),
            (_, None) => None,
        };
        if let Some(t) = p.tol {
            if !(t.is_finite() && t >= 0.0) {
                return bad(format!("tol must be a finite number >= 0, got {t}"));
            }
        }
        if let Some(es) = p.early_stopping {
            if es.patience == 0 {
                return bad("early_stopping.patience must be at least 1".into());
            }
            if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
                return bad(format!(
                    "early_stopping.min_delta must be a finite number >= 0, got {}",
                    es.min_delta
                ));
            }
        }
        Ok(ResolvedParams {
            optimizer: Some(optimizer),
            learning_rate: Some(learning_rate),
            epochs: Some(epochs),
            batch_size,
            momentum,
            tol: p.tol,
            early_stopping: p.early_stopping,
            ..base
        })
    }
}

/// Regularisation strengths must be finite and ≥ 0; absent means 0.
fn non_negative(name: &str, v: Option<f64>) -> Result<f64, TrainError> {
    match v {
        None => Ok(0.0),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) => Err(TrainError::InvalidParam(format!(
            "{name} must be a finite number >= 0, got {x}"
        ))),
    }
}
