//! [`TrainError`]: what can stop a training request, typed so callers can tell
//! the client's mistakes (bad parameters or data, a missing file) from the
//! server's (a file that exists but cannot be read, a broken invariant).

use crate::models::{Family, ModelError, Task};

#[derive(thiserror::Error, Debug)]
pub enum TrainError {
    /// `name` is the parameter as the client spelled it; `reason` reads on from it.
    #[error("invalid parameter: {name} {reason}")]
    InvalidParam { name: &'static str, reason: String },
    /// One combination of a tuning grid did not validate.
    #[error("grid combination {combination}: {source}")]
    GridCombination {
        combination: String,
        #[source]
        source: Box<TrainError>,
    },
    #[error("invalid data: {reason}")]
    InvalidData { reason: String },
    #[error("invalid data: {rows} rows but {targets} targets")]
    ShapeMismatch { rows: usize, targets: usize },
    #[error("invalid data: classification needs at least 2 distinct classes, found {found}")]
    TooFewClasses { found: usize },
    #[error("invalid data: {algorithm} needs exactly 2 classes, the data has {found}; use softmax_regression")]
    NotBinary { algorithm: Family, found: usize },
    #[error("invalid data: {algorithm} needs {}", needs(.expected))]
    TaskMismatch { algorithm: Family, expected: Task },
    /// Above `training_limits` (the memory a load takes, or the model's size and work).
    #[error("{0}")]
    OverBudget(String),
    #[error("invalid data path `{path}`: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("data file `{path}` not found")]
    DataNotFound { path: String },
    #[error("dataset `{name}` not found: upload it first with PUT /v1/datasets/{name}")]
    DatasetNotFound { name: String },
    /// The file is there (or should be) but the server cannot read it.
    #[error("cannot read data file `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("training cancelled")]
    Cancelled,
    #[error(
        "training diverged: loss became non-finite at epoch {epoch}; try a smaller learning_rate"
    )]
    Diverged { epoch: usize },
    /// A linear system (normal equations, Newton step) had no finite solution.
    #[error("training diverged: {system} could not be solved (non-finite values)")]
    Unsolvable { system: &'static str },
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A broken invariant inside training: a bug, never the client's input.
    #[error("internal training error: {detail}")]
    Internal { detail: String },
}

fn needs(task: &Task) -> &'static str {
    match task {
        Task::Regression => "numeric regression targets, but the data has classes",
        Task::Classification => "class labels, but the data was loaded for regression",
    }
}

impl TrainError {
    pub fn param(name: &'static str, reason: String) -> Self {
        TrainError::InvalidParam { name, reason }
    }

    pub fn data(reason: String) -> Self {
        TrainError::InvalidData { reason }
    }

    pub fn internal(detail: String) -> Self {
        TrainError::Internal { detail }
    }

    /// The server's fault rather than the request's: answered with 500, not 422.
    pub fn is_internal(&self) -> bool {
        match self {
            TrainError::Io { .. } | TrainError::Internal { .. } => true,
            TrainError::GridCombination { source, .. } => source.is_internal(),
            _ => false,
        }
    }
}
