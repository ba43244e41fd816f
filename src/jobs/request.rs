//! What a job is asked to do ([`JobRequest`], [`Work`]) and why a running job
//! can fail ([`RunError`]).

use std::sync::Arc;

use crate::compress::Method;
use crate::models::{Family, Model};
use crate::monitor::FeatureProfile;
use crate::registry::RegistryError;
use crate::train::tune::Plan;
use crate::train::{CheckedSpec, Dataset, TrainError};

/// What a caller asks the job manager to train.
pub struct JobRequest {
    pub model: String,
    pub work: Work,
    pub data: JobData,
    pub data_source: String,
    pub alias: Option<String>,
}

/// Reads and parses a job's data on the job's thread, reporting the bytes read so far.
pub type DataLoader =
    Box<dyn FnOnce(&mut dyn FnMut(u64)) -> Result<Arc<Dataset>, TrainError> + Send>;

/// A job's data: parsed before it was queued, or loaded by the job itself (a large file:
/// the request is answered before it is read).
pub enum JobData {
    /// Shared with the parse cache and other jobs on the same data: never mutated.
    Ready(Arc<Dataset>),
    Deferred {
        /// The file's size, the loading phase's total.
        bytes: u64,
        load: DataLoader,
    },
}

/// A [`JobRequest`] once its data is loaded.
pub(super) struct LoadedRequest {
    pub model: String,
    pub work: Work,
    pub dataset: Arc<Dataset>,
    pub data_source: String,
    pub alias: Option<String>,
}

/// Validated before queueing, so a job never fails on its parameters.
pub enum Work {
    Fit(CheckedSpec),
    /// A grid search (`/tune`).
    Tune(Plan),
    /// Compression of a registered version (`/compress`).
    Compress(CompressWork),
}

/// What a compression job starts from.
pub struct CompressWork {
    pub method: Method,
    /// The request's `params`, kept as the new version's parameters.
    pub params: serde_json::Value,
    pub teacher: Arc<dyn Model>,
    pub source_model: String,
    pub source_version: u64,
    /// The source version's feature profile: the compressed version's drift reference.
    pub profile: Option<FeatureProfile>,
    pub max_metric_drop: Option<f64>,
    /// How the source version was split when trained, if modeld trained it.
    pub teacher_split: Option<crate::compress::TeacherSplit>,
}

impl Work {
    /// The checks of `data` against the work that a request makes once the data is
    /// parsed: a job that loads its own data makes them after loading.
    pub(super) fn check_data(&self, data: &Dataset) -> Result<(), TrainError> {
        match self {
            Work::Fit(spec) => crate::train::check_task(spec.algorithm(), data),
            Work::Tune(plan) => plan.check_data(data),
            Work::Compress(_) => Ok(()),
        }
    }

    /// The family of the model the job will register.
    pub(super) fn family(&self) -> Family {
        match self {
            Work::Fit(spec) => spec.algorithm().family(),
            Work::Tune(plan) => plan.algorithm.family(),
            Work::Compress(c) => c
                .method
                .student()
                .map_or(c.teacher.family(), |a| a.family()),
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
