//! Training: data loading ([`dataset`]), parameter validation ([`params`])
//! into a [`CheckedSpec`] ([`checked`]), data/algorithm checks ([`task`]),
//! splitting ([`split`]), one fit function per family ([`family`]) over
//! optimisation ([`optim`], [`objective`], [`mlp`], [`newton`], [`linalg`])
//! with its worker threads ([`parallel`]), metrics ([`quality`]), the [`fit`]
//! entry points and [`TrainError`] ([`error`]).
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

mod assemble;
pub mod cache;
pub mod cancel;
pub mod checked;
pub mod curve;
mod data_file;
pub mod dataset;
pub mod error;
pub mod family;
mod fast_csv;
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
pub mod parsed_form;
mod plain_csv;
pub mod preflight;
pub mod quality;
pub mod schedule;
pub mod source;
pub mod split;
mod stream_csv;
pub mod task;
pub mod tune;

pub use checked::CheckedSpec;
pub use dataset::{DataSpec, Dataset};
pub use error::TrainError;
pub use fingerprint::DatasetFingerprint;
pub use fit::{fit, fit_checked, fit_rows, fit_rows_checked, fit_rows_with, fit_with, Fitted};
pub use optim::EpochRecord;
pub use parallel::Threads;
pub use params::{
    Algorithm, EarlyStopping, Loss, Optimizer, Params, ResolvedParams, Solver, TrainSpec,
};
pub use quality::{evaluate, Metrics};
pub use schedule::Schedule;
pub use source::load;
pub use task::check_task;

#[cfg(test)]
mod tests;
