//! What the store keeps about a version beside its weights: when and how it was made and
//! how good it was. This is the experiment-tracking record (the "run" of MLflow).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::models::Schema;
use crate::train::fingerprint::DatasetFingerprint;
use crate::train::tune::CvReport;
use crate::train::{EpochRecord, Metrics};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionMeta {
    pub version: u64,
    /// Model family, e.g. `linear_regression`.
    pub family: String,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub schema: Schema,
    /// Effective hyperparameters, defaults included.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Quality per split: `train`, `validation`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metrics: BTreeMap<String, Metrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<Provenance>,
    /// Number of learned parameters.
    #[serde(default)]
    pub n_parameters: usize,
    /// Training feature distribution, the reference for drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::monitor::FeatureProfile>,
    /// The version this one was compressed from (quantize, prune, distill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_from: Option<CompressedFrom>,
    /// What the compression measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<crate::compress::Report>,
}

/// Provenance of a compressed version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CompressedFrom {
    pub model: String,
    pub version: u64,
    pub method: String,
}

/// How a version was trained.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    pub job_id: String,
    pub algorithm: String,
    pub n_train: usize,
    pub n_validation: usize,
    pub n_features: usize,
    pub epochs_run: usize,
    pub duration_seconds: f64,
    pub modeld_version: String,
    /// Where the data came from: `rows`, `csv` or the path under the data directory.
    pub data_source: String,
    /// Per-epoch learning curve (thinned to at most 1,000 points).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<EpochRecord>,
    /// SHA-256, rows and columns of the training data (versions trained by this build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetFingerprint>,
    /// The grid search's full CV table, for versions made by `/tune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvReport>,
}
