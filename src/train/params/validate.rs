//! [`TrainSpec::validate`]: checks a training request and resolves every
//! default into [`ResolvedParams`].

use super::{
    optimizer_defaults, Algorithm, Loss, Optimizer, ResolvedParams, Solver, TrainSpec,
    DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN, DEFAULT_HUBER_DELTA, DEFAULT_MOMENTUM, DEFAULT_SEED,
    MAX_EPOCHS, MAX_HIDDEN_UNITS, MLP_DEFAULTS,
};
use crate::models::mlp::Activation;
use crate::train::schedule::Schedule;
use crate::train::TrainError;

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
            ("schedule", p.schedule.is_some()),
            ("nesterov", p.nesterov.is_some()),
            ("loss", p.loss.is_some_and(|l| l != Loss::Mse)),
            ("huber_delta", p.huber_delta.is_some()),
        ]
        .iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| *name)
        .collect();
        let solver = match (self.algorithm, p.solver) {
            (Algorithm::LogisticRegression, Some(Solver::Newton)) => Solver::Newton,
            (_, Some(Solver::Newton)) => {
                return bad(format!(
                    "solver newton is only available for logistic_regression, not {}",
                    self.algorithm.family()
                ))
            }
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
        let (loss, huber_delta) = self.resolve_loss()?;
        let (hidden_layers, activation) = self.resolve_mlp()?;
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
            schedule: None,
            nesterov: false,
            loss,
            huber_delta,
            hidden_layers: None,
            activation: None,
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
        if solver == Solver::Newton {
            if l1 > 0.0 {
                return bad("l1 > 0 is not supported by solver newton; use solver gd".into());
            }
            if let Some(name) = iterative_given
                .iter()
                .find(|n| !["epochs", "tol"].contains(n))
            {
                return bad(format!("{name} is not used by solver newton"));
            }
            let epochs = p.epochs.unwrap_or(100);
            if epochs == 0 || epochs > MAX_EPOCHS {
                return bad(format!(
                    "epochs must be between 1 and {MAX_EPOCHS}, got {epochs}"
                ));
            }
            let tol = p.tol.unwrap_or(1e-10);
            if !(tol.is_finite() && tol >= 0.0) {
                return bad(format!("tol must be a finite number >= 0, got {tol}"));
            }
            return Ok(ResolvedParams {
                epochs: Some(epochs),
                tol: Some(tol),
                ..base
            });
        }
        let mlp = self.algorithm.is_mlp();
        let optimizer = p.optimizer.unwrap_or(Optimizer::Adam);
        let (lr_default, epochs_default) = if mlp && p.optimizer.is_none() {
            MLP_DEFAULTS
        } else {
            optimizer_defaults(optimizer)
        };
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
            (_, None) if mlp => Some(DEFAULT_BATCH_SIZE),
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
        let nesterov = match (optimizer, p.nesterov) {
            (Optimizer::Momentum, n) => n.unwrap_or(false),
            (_, Some(true)) => return bad("nesterov is only used by optimizer momentum".into()),
            (_, _) => false,
        };
        let stochastic = batch_size.is_some();
        let schedule = p
            .schedule
            .clone()
            .unwrap_or_else(|| Schedule::default_for(stochastic));
        schedule.validate()?;
        Ok(ResolvedParams {
            hidden_layers,
            activation,
            schedule: Some(schedule),
            nesterov,
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

impl TrainSpec {
    /// `hidden_layers` (default [32]) and `activation` (default relu) are MLP-only.
    #[allow(clippy::type_complexity)]
    fn resolve_mlp(&self) -> Result<(Option<Vec<usize>>, Option<Activation>), TrainError> {
        let p = &self.params;
        let bad = |m: String| Err(TrainError::InvalidParam(m));
        if !self.algorithm.is_mlp() {
            if p.hidden_layers.is_some() || p.activation.is_some() {
                return bad(format!(
                    "hidden_layers and activation are only used by mlp_regressor and mlp_classifier, not {}",
                    self.algorithm.family()
                ));
            }
            return Ok((None, None));
        }
        let hidden = p
            .hidden_layers
            .clone()
            .unwrap_or_else(|| DEFAULT_HIDDEN.to_vec());
        if hidden.is_empty() || hidden.len() > 3 {
            return bad(format!(
                "hidden_layers must list 1 to 3 layer sizes, got {}",
                hidden.len()
            ));
        }
        if let Some(h) = hidden.iter().find(|&&h| h == 0 || h > MAX_HIDDEN_UNITS) {
            return bad(format!(
                "every hidden layer needs 1 to {MAX_HIDDEN_UNITS} units, got {h}"
            ));
        }
        Ok((Some(hidden), Some(p.activation.unwrap_or(Activation::Relu))))
    }

    /// `loss` must suit the task: mse/mae/huber for regression (default mse),
    /// log_loss/cross_entropy for classifiers (default log_loss for logistic,
    /// cross_entropy otherwise); `huber_delta` (default 1.0, > 0) only with huber.
    fn resolve_loss(&self) -> Result<(Loss, Option<f64>), TrainError> {
        let p = &self.params;
        let regression = self.algorithm.family().task() == crate::models::Task::Regression;
        let loss = match (p.loss, regression) {
            (None, true) => Loss::Mse,
            (None, false) if self.algorithm == Algorithm::LogisticRegression => Loss::LogLoss,
            (None, false) => Loss::CrossEntropy,
            (Some(l), r) if l.is_regression() == r => l,
            (Some(l), true) => {
                return Err(TrainError::InvalidParam(format!(
                    "loss {} is for classifiers; {} accepts mse, mae or huber",
                    l.as_str(),
                    self.algorithm.family()
                )))
            }
            (Some(l), false) => {
                return Err(TrainError::InvalidParam(format!(
                    "loss {} is for regression; {} accepts log_loss or cross_entropy",
                    l.as_str(),
                    self.algorithm.family()
                )))
            }
        };
        let delta = match (loss, p.huber_delta) {
            (Loss::Huber, d) => {
                let d = d.unwrap_or(DEFAULT_HUBER_DELTA);
                if !(d.is_finite() && d > 0.0) {
                    return Err(TrainError::InvalidParam(format!(
                        "huber_delta must be a finite number > 0, got {d}"
                    )));
                }
                Some(d)
            }
            (_, Some(_)) => {
                return Err(TrainError::InvalidParam(
                    "huber_delta is only used with loss huber".into(),
                ))
            }
            (_, None) => None,
        };
        Ok((loss, delta))
    }
}
