//! What `GET /v1/jobs/{id}` shows of a job: its state and progress.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::train::tune::CvResult;
use crate::train::{EpochRecord, Metrics as Quality};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// What a running job is doing: reading and parsing its data, or training.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    Loading,
    Training,
}

/// How much of a data file a job loading it has read.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct LoadingProgress {
    pub bytes_read: u64,
    pub bytes_total: u64,
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub model: String,
    pub algorithm: String,
    pub state: JobState,
    /// 0.0 to 1.0.
    pub progress: f64,
    pub epoch: usize,
    /// Latest training loss.
    pub loss: Option<f64>,
    pub validation_loss: Option<f64>,
    /// The version registered by a succeeded job.
    pub version: Option<u64>,
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<std::collections::BTreeMap<String, Quality>>,
    /// Per-epoch learning curve so far.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<EpochRecord>,
    /// Tune jobs: every grid combination's CV scores, once the search is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv_results: Option<Vec<CvResult>>,
    /// Tune jobs: the winning combination.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub best_params: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Compress jobs: what was measured, once done (`kept: false` when the gate refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::compress::Report>,
    /// Set once the job runs: `loading` while it reads and parses a large data file (the
    /// request was answered before), then `training`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<JobPhase>,
    /// Jobs that load their own data: bytes of the file read so far, of its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loading: Option<LoadingProgress>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status_url: String,
}
