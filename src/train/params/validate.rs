//! [`TrainSpec::validate`]: checks a training request once and resolves it
//! into a [`CheckedSpec`] with every default filled in.

use super::{
    optimizer_defaults, Algorithm, Loss, Optimizer, Params, Solver, TrainSpec, DEFAULT_BATCH_SIZE,
    DEFAULT_HIDDEN, DEFAULT_HUBER_DELTA, DEFAULT_MOMENTUM, DEFAULT_SEED, MAX_EPOCHS,
    MAX_HIDDEN_UNITS, MLP_DEFAULTS,
};
use crate::models::mlp::Activation;
use crate::models::Task;
use crate::train::checked::{
    CheckedSpec, FamilyConfig, LinearSolver, LogisticSolver, MlpConfig, NewtonConfig,
};
use crate::train::mlp::Head;
use crate::train::objective::RegLoss;
use crate::train::optim::OptimConfig;
use crate::train::schedule::Schedule;
use crate::train::TrainError;

fn bad<T>(name: &'static str, reason: String) -> Result<T, TrainError> {
    Err(TrainError::param(name, reason))
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
    /// * `early_stopping`: none; its `min_delta` 0.
    pub fn validate(&self) -> Result<CheckedSpec, TrainError> {
        let p = &self.params;
        let vs = self.validation_split;
        if !(vs.is_finite() && (0.0..=0.9).contains(&vs)) {
            return bad("validation_split", format!("must be in [0, 0.9], got {vs}"));
        }
        let l1 = non_negative("l1", p.l1)?;
        let l2 = non_negative("l2", p.l2)?;
        let iterative = iterative_given(p);
        let solver = self.solver(iterative.is_empty())?;
        let (loss, reg_loss) = self.resolve_loss()?;
        let net = self.resolve_mlp()?;
        let seed = p.seed.unwrap_or(DEFAULT_SEED);
        let family = match (solver, net) {
            (Solver::ClosedForm, _) => {
                if l1 > 0.0 {
                    return bad(
                        "l1",
                        "> 0 has no closed-form solution; use solver gd".into(),
                    );
                }
                if let Some(name) = iterative.first() {
                    return bad(
                        name,
                        "is only used by the gd solver, not closed_form".into(),
                    );
                }
                FamilyConfig::Linear(LinearSolver::ClosedForm { l2 })
            }
            (Solver::Newton, _) => {
                FamilyConfig::Logistic(LogisticSolver::Newton(newton(p, &iterative, l1, l2)?))
            }
            (Solver::Gd, Some((hidden, activation))) => FamilyConfig::Mlp(MlpConfig {
                hidden,
                activation,
                head: reg_loss.map_or(Head::Classification, Head::Regression),
                optim: gradient(p, true, l1, l2, seed)?,
            }),
            (Solver::Gd, None) => {
                let optim = gradient(p, false, l1, l2, seed)?;
                match (self.algorithm, reg_loss) {
                    (Algorithm::LogisticRegression, _) => {
                        FamilyConfig::Logistic(LogisticSolver::Gradient(optim))
                    }
                    (_, Some(loss)) => FamilyConfig::Linear(LinearSolver::Gradient { loss, optim }),
                    (_, None) => FamilyConfig::Softmax(optim),
                }
            }
        };
        Ok(CheckedSpec {
            validation_split: vs,
            seed,
            family,
            loss,
        })
    }

    /// The solver named or implied; `closed_form` is linear regression's
    /// default only while no optimiser setting asks for iterations.
    fn solver(&self, no_iterative_params: bool) -> Result<Solver, TrainError> {
        let family = self.algorithm.family();
        Ok(match (self.algorithm, self.params.solver) {
            (Algorithm::LogisticRegression, Some(Solver::Newton)) => Solver::Newton,
            (_, Some(Solver::Newton)) => {
                return bad(
                    "solver",
                    format!("newton is only available for logistic_regression, not {family}"),
                )
            }
            (Algorithm::LinearRegression, Some(s)) => s,
            (Algorithm::LinearRegression, None) if no_iterative_params => Solver::ClosedForm,
            (_, Some(Solver::ClosedForm)) => {
                return bad(
                    "solver",
                    format!("closed_form is only available for linear_regression, not {family}"),
                )
            }
            _ => Solver::Gd,
        })
    }

    /// `hidden_layers` (default [32]) and `activation` (default relu), for
    /// MLPs only; `None` for the other algorithms.
    fn resolve_mlp(&self) -> Result<Option<(Vec<usize>, Activation)>, TrainError> {
        let p = &self.params;
        if !self.algorithm.is_mlp() {
            let given = [
                ("hidden_layers", p.hidden_layers.is_some()),
                ("activation", p.activation.is_some()),
            ];
            if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
                return bad(
                    name,
                    format!(
                        "is only used by mlp_regressor and mlp_classifier, not {}",
                        self.algorithm.family()
                    ),
                );
            }
            return Ok(None);
        }
        let hidden = p
            .hidden_layers
            .clone()
            .unwrap_or_else(|| DEFAULT_HIDDEN.to_vec());
        if hidden.is_empty() || hidden.len() > 3 {
            return bad(
                "hidden_layers",
                format!("must list 1 to 3 layer sizes, got {}", hidden.len()),
            );
        }
        if let Some(h) = hidden.iter().find(|&&h| h == 0 || h > MAX_HIDDEN_UNITS) {
            return bad(
                "hidden_layers",
                format!("needs 1 to {MAX_HIDDEN_UNITS} units per layer, got {h}"),
            );
        }
        Ok(Some((hidden, p.activation.unwrap_or(Activation::Relu))))
    }

    /// `loss` must suit the task: mse/mae/huber for regression (default mse),
    /// log_loss/cross_entropy for classifiers (default log_loss for logistic,
    /// cross_entropy otherwise); `huber_delta` (default 1.0, > 0) only with
    /// huber. Returns the loss as named and, for regression, the loss to fit.
    fn resolve_loss(&self) -> Result<(Loss, Option<RegLoss>), TrainError> {
        let p = &self.params;
        let family = self.algorithm.family();
        let regression = family.task() == Task::Regression;
        let loss = match (p.loss, regression) {
            (None, true) => Loss::Mse,
            (None, false) if self.algorithm == Algorithm::LogisticRegression => Loss::LogLoss,
            (None, false) => Loss::CrossEntropy,
            (Some(l), r) if l.is_regression() == r => l,
            (Some(l), true) => {
                return bad(
                    "loss",
                    format!(
                        "{} is for classifiers; {family} accepts mse, mae or huber",
                        l.as_str()
                    ),
                )
            }
            (Some(l), false) => {
                return bad(
                    "loss",
                    format!(
                        "{} is for regression; {family} accepts log_loss or cross_entropy",
                        l.as_str()
                    ),
                )
            }
        };
        let reg_loss = match (loss, p.huber_delta) {
            (Loss::Huber, d) => {
                let d = d.unwrap_or(DEFAULT_HUBER_DELTA);
                if !(d.is_finite() && d > 0.0) {
                    return bad(
                        "huber_delta",
                        format!("must be a finite number > 0, got {d}"),
                    );
                }
                Some(RegLoss::Huber(d))
            }
            (_, Some(_)) => return bad("huber_delta", "is only used with loss huber".into()),
            (Loss::Mae, None) => Some(RegLoss::Mae),
            (Loss::Mse, None) => Some(RegLoss::Mse),
            (Loss::LogLoss | Loss::CrossEntropy, None) => None,
        };
        Ok((loss, reg_loss))
    }
}

/// Optimiser-only parameters the client set, in the order errors name them.
fn iterative_given(p: &Params) -> Vec<&'static str> {
    [
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
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(name, _)| name)
    .collect()
}

/// Newton takes only `epochs` (max iterations, default 100), `tol` (default
/// 1e-10) and `l2`.
fn newton(
    p: &Params,
    iterative: &[&'static str],
    l1: f64,
    l2: f64,
) -> Result<NewtonConfig, TrainError> {
    if l1 > 0.0 {
        return bad(
            "l1",
            "> 0 is not supported by solver newton; use solver gd".into(),
        );
    }
    if let Some(name) = iterative.iter().find(|n| !["epochs", "tol"].contains(n)) {
        return bad(name, "is not used by solver newton".into());
    }
    let max_iter = epochs(p.epochs.unwrap_or(100))?;
    let tol = p.tol.unwrap_or(1e-10);
    if !(tol.is_finite() && tol >= 0.0) {
        return bad("tol", format!("must be a finite number >= 0, got {tol}"));
    }
    Ok(NewtonConfig { l2, max_iter, tol })
}

fn epochs(epochs: usize) -> Result<usize, TrainError> {
    if epochs == 0 || epochs > MAX_EPOCHS {
        return bad(
            "epochs",
            format!("must be between 1 and {MAX_EPOCHS}, got {epochs}"),
        );
    }
    Ok(epochs)
}

/// The first-order optimiser's settings. MLPs default to adam at 0.01 for
/// 200 epochs in mini-batches, since full-batch steps train them slowly.
fn gradient(p: &Params, mlp: bool, l1: f64, l2: f64, seed: u64) -> Result<OptimConfig, TrainError> {
    let optimizer = p.optimizer.unwrap_or(Optimizer::Adam);
    let (lr_default, epochs_default) = if mlp && p.optimizer.is_none() {
        MLP_DEFAULTS
    } else {
        optimizer_defaults(optimizer)
    };
    let learning_rate = p.learning_rate.unwrap_or(lr_default);
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return bad(
            "learning_rate",
            format!("must be a finite number > 0, got {learning_rate}"),
        );
    }
    let epochs = epochs(p.epochs.unwrap_or(epochs_default))?;
    let batch_size = match (optimizer, p.batch_size) {
        (_, Some(0)) => return bad("batch_size", "must be at least 1".into()),
        (Optimizer::Gd, Some(_)) => {
            return bad(
                "batch_size",
                "is not used by optimizer gd (full batch); use minibatch".into(),
            )
        }
        (Optimizer::Sgd, Some(b)) if b != 1 => {
            return bad(
                "batch_size",
                "is always 1 with optimizer sgd; use minibatch".into(),
            )
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
                return bad("momentum", format!("must be in [0, 1), got {m}"));
            }
            m
        }
        (_, Some(_)) => return bad("momentum", "is only used by optimizer momentum".into()),
        (_, None) => 0.0,
    };
    if let Some(t) = p.tol {
        if !(t.is_finite() && t >= 0.0) {
            return bad("tol", format!("must be a finite number >= 0, got {t}"));
        }
    }
    if let Some(es) = p.early_stopping {
        if es.patience == 0 {
            return bad("early_stopping.patience", "must be at least 1".into());
        }
        if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
            return bad(
                "early_stopping.min_delta",
                format!("must be a finite number >= 0, got {}", es.min_delta),
            );
        }
    }
    let nesterov = match (optimizer, p.nesterov) {
        (Optimizer::Momentum, n) => n.unwrap_or(false),
        (_, Some(true)) => return bad("nesterov", "is only used by optimizer momentum".into()),
        (_, _) => false,
    };
    let schedule = p
        .schedule
        .clone()
        .unwrap_or_else(|| Schedule::default_for(batch_size.is_some()));
    schedule.validate()?;
    Ok(OptimConfig {
        optimizer,
        learning_rate,
        epochs,
        batch_size,
        momentum,
        nesterov,
        schedule,
        l1,
        l2,
        tol: p.tol,
        early_stopping: p.early_stopping,
        seed,
        loss_scale: 1.0,
    })
}

/// Regularisation strengths must be finite and ≥ 0; absent means 0.
fn non_negative(name: &'static str, v: Option<f64>) -> Result<f64, TrainError> {
    match v {
        None => Ok(0.0),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) => bad(name, format!("must be a finite number >= 0, got {x}")),
    }
}
