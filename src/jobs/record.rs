//! The store record ([`VersionMeta`]) of a version a job trained, with its
//! learning curve thinned to a bounded length.

use chrono::Utc;

use super::summary::DataSummary;
use crate::registry::{Provenance, VersionMeta};
use crate::train::{Algorithm, Dataset, EpochRecord, Fitted, TrainSpec};

/// Longest learning curve kept with a job or version; longer runs are thinned evenly.
pub const MAX_HISTORY_POINTS: usize = 1000;

/// The store record of a freshly trained version (its number is assigned on register).
pub fn version_meta(
    fitted: &Fitted,
    job_id: &str,
    spec: &TrainSpec,
    dataset: &Dataset,
    duration_seconds: f64,
    data_source: &str,
    profile_bins: usize,
) -> VersionMeta {
    version_meta_for(
        fitted,
        job_id,
        spec.algorithm,
        dataset,
        &DataSummary::of(dataset, profile_bins),
        duration_seconds,
        data_source,
    )
}

/// [`version_meta`] for a job that holds a checked spec or a tuning plan, with the data's
/// summary computed beforehand (alongside the fit, or remembered from an earlier job).
pub fn version_meta_for(
    fitted: &Fitted,
    job_id: &str,
    algorithm: Algorithm,
    dataset: &Dataset,
    summary: &DataSummary,
    duration_seconds: f64,
    data_source: &str,
) -> VersionMeta {
    let mut metrics = std::collections::BTreeMap::new();
    metrics.insert("train".to_string(), fitted.train_metrics.clone());
    if let Some(v) = &fitted.validation_metrics {
        metrics.insert("validation".to_string(), v.clone());
    }
    VersionMeta {
        version: 0,
        family: fitted.model.family().as_str().to_string(),
        created_at: Utc::now(),
        schema: fitted.model.schema().clone(),
        params: serde_json::to_value(&fitted.params).unwrap_or_default(),
        metrics,
        n_parameters: fitted.model.n_parameters(),
        profile: Some(summary.profile.clone()),
        training: Some(Provenance {
            job_id: job_id.to_string(),
            algorithm: algorithm.family().as_str().to_string(),
            n_train: fitted.n_train,
            n_validation: fitted.n_validation,
            n_features: dataset.feature_names.len(),
            epochs_run: fitted.epochs_run,
            duration_seconds,
            modeld_version: env!("CARGO_PKG_VERSION").to_string(),
            data_source: data_source.to_string(),
            history: thin(&fitted.history, MAX_HISTORY_POINTS),
            dataset: Some(summary.fingerprint.clone()),
            cv: None,
        }),
        compressed_from: None,
        compression: None,
    }
}

/// Keeps at most `max` points, evenly spaced, always including the last.
pub fn thin(history: &[EpochRecord], max: usize) -> Vec<EpochRecord> {
    if history.len() <= max || max < 2 {
        return history.to_vec();
    }
    let stride = history.len().div_ceil(max - 1);
    let mut out: Vec<EpochRecord> = history.iter().step_by(stride).cloned().collect();
    if let Some(last) = history.last() {
        if out.last().map(|r| r.epoch) != Some(last.epoch) {
            out.push(last.clone());
        }
    }
    out
}
