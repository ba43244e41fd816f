//! The resolved form of a training request ([`CheckedSpec`]): which family to
//! train and how, every default filled in. Only [`TrainSpec::validate`]
//! builds one, so a solver handed its part never re-checks or unwraps.
//!
//! [`TrainSpec::validate`]: super::TrainSpec::validate

use super::mlp::Head;
use super::objective::RegLoss;
use super::optim::OptimConfig;
use super::params::{Algorithm, Loss, Optimizer, ResolvedParams, Solver};
use crate::models::mlp::Activation;

/// A validated training request.
#[derive(Clone, Debug)]
pub struct CheckedSpec {
    /// Fraction of rows held out for validation, in [0, 0.9].
    pub validation_split: f64,
    /// Seeds the validation split (solvers carry their own copy).
    pub seed: u64,
    pub family: FamilyConfig,
    /// Classifiers accept two names for one loss; the report echoes the
    /// client's.
    pub(super) loss: Loss,
}

/// Per algorithm family, the solver and its settings. Combinations that do
/// not exist (Newton for softmax, closed form for logistic) cannot be built.
#[derive(Clone, Debug)]
pub enum FamilyConfig {
    Linear(LinearSolver),
    Logistic(LogisticSolver),
    Softmax(OptimConfig),
    Mlp(MlpConfig),
}

#[derive(Clone, Debug)]
pub enum LinearSolver {
    /// Ridge normal equations (squared error, no l1).
    ClosedForm {
        l2: f64,
    },
    Gradient {
        loss: RegLoss,
        optim: OptimConfig,
    },
}

#[derive(Clone, Debug)]
pub enum LogisticSolver {
    Newton(NewtonConfig),
    Gradient(OptimConfig),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonConfig {
    pub l2: f64,
    pub max_iter: usize,
    pub tol: f64,
}

#[derive(Clone, Debug)]
pub struct MlpConfig {
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub head: Head,
    pub optim: OptimConfig,
}

impl CheckedSpec {
    pub fn algorithm(&self) -> Algorithm {
        match &self.family {
            FamilyConfig::Linear(_) => Algorithm::LinearRegression,
            FamilyConfig::Logistic(_) => Algorithm::LogisticRegression,
            FamilyConfig::Softmax(_) => Algorithm::SoftmaxRegression,
            FamilyConfig::Mlp(m) => match m.head {
                Head::Regression(_) => Algorithm::MlpRegressor,
                Head::Classification => Algorithm::MlpClassifier,
            },
        }
    }

    /// The effective parameters in the shape clients and stored versions
    /// have always seen them.
    pub fn report(&self) -> ResolvedParams {
        let base = ResolvedParams {
            algorithm: self.algorithm(),
            solver: Solver::Gd,
            optimizer: None,
            learning_rate: None,
            epochs: None,
            batch_size: None,
            momentum: None,
            seed: self.seed,
            l1: 0.0,
            l2: 0.0,
            tol: None,
            early_stopping: None,
            validation_split: self.validation_split,
            schedule: None,
            nesterov: false,
            loss: self.loss,
            huber_delta: None,
            hidden_layers: None,
            activation: None,
        };
        match &self.family {
            FamilyConfig::Linear(LinearSolver::ClosedForm { l2 }) => ResolvedParams {
                solver: Solver::ClosedForm,
                l2: *l2,
                ..base
            },
            FamilyConfig::Linear(LinearSolver::Gradient { loss, optim }) => ResolvedParams {
                huber_delta: huber_delta(*loss),
                ..with_optim(base, optim)
            },
            FamilyConfig::Logistic(LogisticSolver::Newton(n)) => ResolvedParams {
                solver: Solver::Newton,
                epochs: Some(n.max_iter),
                tol: Some(n.tol),
                l2: n.l2,
                ..base
            },
            FamilyConfig::Logistic(LogisticSolver::Gradient(optim))
            | FamilyConfig::Softmax(optim) => with_optim(base, optim),
            FamilyConfig::Mlp(m) => ResolvedParams {
                hidden_layers: Some(m.hidden.clone()),
                activation: Some(m.activation),
                huber_delta: match m.head {
                    Head::Regression(loss) => huber_delta(loss),
                    Head::Classification => None,
                },
                ..with_optim(base, &m.optim)
            },
        }
    }
}

fn huber_delta(loss: RegLoss) -> Option<f64> {
    match loss {
        RegLoss::Huber(d) => Some(d),
        RegLoss::Mse | RegLoss::Mae => None,
    }
}

fn with_optim(base: ResolvedParams, o: &OptimConfig) -> ResolvedParams {
    ResolvedParams {
        solver: Solver::Gd,
        optimizer: Some(o.optimizer),
        learning_rate: Some(o.learning_rate),
        epochs: Some(o.epochs),
        batch_size: o.batch_size,
        momentum: (o.optimizer == Optimizer::Momentum).then_some(o.momentum),
        l1: o.l1,
        l2: o.l2,
        tol: o.tol,
        early_stopping: o.early_stopping,
        schedule: Some(o.schedule.clone()),
        nesterov: o.nesterov,
        ..base
    }
}
