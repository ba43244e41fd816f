//! Training: data loading ([`dataset`]), parameter validation ([`params`]),
//! splitting ([`split`]), optimisation ([`optim`], [`objective`], [`newton`],
//! [`linalg`]) with its worker threads ([`parallel`]),
//! metrics ([`quality`]) and the [`fit`] entry point.
//!
//! Objective minimised by every algorithm (w = weights, bias not penalised):
//!
//! F(w, b) = (1/n) Σᵢ ℓ(xᵢ, yᵢ; w, b) + l2·½‖w‖² + l1·‖w‖₁
//!
//! with ℓ = ½(ŷ−y)² (linear), binary log loss (logistic) or cross-entropy
//! (softmax), on features standardised with the training rows' mean and
//! population std. Mapping to scikit-learn (same standardisation):
//! `LogisticRegression(C)` ⇔ l2 = 1/(C·n_train); `Ridge(alpha)` ⇔
//! l2 = alpha/n_train; `LinearRegression()` ⇔ l2 = 0.

pub mod cancel;
pub mod dataset;
pub mod fingerprint;
pub mod fit;
pub mod labels;
pub mod linalg;
pub mod mlp;
pub mod newton;
pub mod objective;
pub mod optim;
pub mod parallel;
pub mod params;
pub mod parse;
pub mod quality;
pub mod schedule;
pub mod split;
pub mod tune;

pub use dataset::{load, DataSpec, Dataset};
pub use fit::{fit, fit_rows, fit_rows_with, fit_with, Fitted};
pub use optim::EpochRecord;
pub use parallel::Threads;
pub use params::{
    Algorithm, EarlyStopping, Loss, Optimizer, Params, ResolvedParams, Solver, TrainSpec,
};
pub use quality::{evaluate, Metrics};
pub use schedule::Schedule;

use crate::models::ModelError;

#[derive(thiserror::Error, Debug)]
pub enum TrainError {
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    #[error("invalid data: {0}")]
    InvalidData(String),
    #[error("data not found: {0}")]
    DataNotFound(String),
    #[error("training cancelled")]
    Cancelled,
    #[error("training diverged: {0}")]
    Diverged(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[cfg(test)]
mod tests;
