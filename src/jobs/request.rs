//! What a job is asked to do ([`JobRequest`], [`Work`]) and why a running job
//! can fail ([`RunError`]).

use std::sync::Arc;

use crate::registry::RegistryError;
use crate::train::tune::Plan;
use crate::train::{Algorithm, CheckedSpec, Dataset, TrainError};

/// What a caller asks the job manager to train.
pub struct JobRequest {
    pub model: String,
    pub work: Work,
    /// Shared with the parse cache and other jobs on the same data: never mutated.
    pub dataset: Arc<Dataset>,
    pub data_source: String,
    pub alias: Option<String>,
}

/// Validated before queueing, so a job never fails on its parameters.
pub enum Work {
    Fit(CheckedSpec),
    /// A grid search (`/tune`).
    Tune(Plan),
}

impl Work {
    pub(super) fn algorithm(&self) -> Algorithm {
        match self {
            Work::Fit(spec) => spec.algorithm(),
            Work::Tune(plan) => plan.algorithm,
        }
    }
}

/// Why a running job failed: training, or storing what it trained.
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("could not store the model: {0}")]
    Register(#[from] RegistryError),
}
