//! Production monitoring: the prediction log (for joining ground truth later), online
//! quality windows per version, and live feature drift against the training profile.
//! State is keyed by (model, version), so it survives a reload of the registry.

pub mod drift;
pub mod log;
pub mod online;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ndarray::ArrayView2;

use crate::config::MonitoringConfig;
use crate::metrics::Metrics;
use crate::registry::{Snapshot, VersionEntry};
use crate::train::Metrics as Quality;
pub use drift::{FeatureProfile, LiveDrift};
pub use log::LoggedPrediction;
use log::PredictionLog;
use online::OnlineWindow;

#[derive(Debug)]
pub(crate) struct VersionMonitor {
    online: OnlineWindow,
    drift: Option<(Arc<FeatureProfile>, LiveDrift)>,
}

/// Online metrics and drift of one version, as the monitoring endpoint shows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct VersionReport {
    pub version: u64,
    /// Labelled rows in the window now.
    pub window_rows: usize,
    /// Labelled rows received since start.
    pub feedback_rows: u64,
    #[schema(value_type = Option<Object>)]
    pub online: Option<Quality>,
    pub drift: Option<DriftReport>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DriftReport {
    /// Live rows in the drift window.
    pub window_rows: usize,
    /// Rows needed before `drifted` is judged and the PSI gauges are exported.
    pub min_rows: usize,
    pub threshold: f64,
    pub max_psi: f64,
    pub drifted: bool,
    pub features: Vec<FeatureDrift>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
    pub drifted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("no logged prediction with request id '{0}' for this model (it may have been evicted from the prediction log)")]
    UnknownRequest(String),
    #[error("feedback for request '{0}' was already recorded")]
    AlreadyRecorded(String),
    #[error("{0}")]
    Invalid(String),
}

/// Shared per-version state, keyed by (model, version).
type VersionKey = (String, u64);
pub(crate) type SharedVersion = Arc<TrackedVersion>;

#[derive(Debug)]
pub(crate) struct TrackedVersion {
    /// The model's name, shared by every prediction of it in the log.
    name: Arc<str>,
    state: Mutex<VersionMonitor>,
}

pub struct Monitor {
    cfg: MonitoringConfig,
    log: Mutex<PredictionLog>,
    versions: Mutex<HashMap<VersionKey, SharedVersion>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Monitor {
    pub fn new(cfg: MonitoringConfig) -> Self {
        Self {
            log: Mutex::new(PredictionLog::new(cfg.prediction_log_rows)),
            cfg,
            versions: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &MonitoringConfig {
        &self.cfg
    }

    /// The version's state, found in the map once and then kept on the entry, so the
    /// predict path does not build a key and hash it on every request.
    fn version<'e>(&self, name: &str, entry: &'e VersionEntry) -> &'e SharedVersion {
        entry
            .monitor
            .get_or_init(|| self.version_in_map(name, entry))
    }

    fn version_in_map(&self, name: &str, entry: &VersionEntry) -> SharedVersion {
        let mut map = lock(&self.versions);
        map.entry((name.to_string(), entry.version))
            .or_insert_with(|| {
                let n_classes = entry
                    .model()
                    .and_then(|m| m.schema().classes.as_ref().map(Vec::len));
                let drift = entry
                    .meta
                    .as_ref()
                    .and_then(|m| m.profile.clone())
                    .map(|p| {
                        let live = LiveDrift::new(&p, self.cfg.drift_window);
                        (Arc::new(p), live)
                    });
                Arc::new(TrackedVersion {
                    name: name.into(),
                    state: Mutex::new(VersionMonitor {
                        online: OnlineWindow::new(self.cfg.feedback_window, n_classes),
                        drift,
                    }),
                })
            })
            .clone()
    }

    /// Called after each successful prediction: logs it by request id and feeds the
    /// drift window.
    pub fn record_prediction(
        &self,
        name: &str,
        entry: &VersionEntry,
        request_id: &str,
        x: ArrayView2<f64>,
        predictions: &[f64],
    ) {
        let tracked = self.version(name, entry);
        if self.cfg.prediction_log_rows > 0 {
            lock(&self.log).insert(request_id, &tracked.name, entry.version, predictions);
        }
        let mut vm = lock(&tracked.state);
        if let Some((profile, live)) = vm.drift.as_mut() {
            if profile.features.len() == x.ncols() {
                live.observe(profile, x);
            }
        }
    }

    /// The logged prediction for `request_id`, if it belongs to `name` and has not had
    /// feedback yet.
    pub fn logged(&self, name: &str, request_id: &str) -> Result<LoggedPrediction, FeedbackError> {
        let log = lock(&self.log);
        match log.get(request_id) {
            Some(e) if e.model == name && e.consumed => {
                Err(FeedbackError::AlreadyRecorded(request_id.to_string()))
            }
            Some(e) if e.model == name => Ok(e),
            _ => Err(FeedbackError::UnknownRequest(request_id.to_string())),
        }
    }

    /// Adds labelled pairs to the version's online window; marks the request consumed.
    pub fn record_feedback(
        &self,
        name: &str,
        entry: &VersionEntry,
        request_id: Option<&str>,
        predicted: &[f64],
        actual: &[f64],
    ) -> Result<(), FeedbackError> {
        if let Some(id) = request_id {
            let mut log = lock(&self.log);
            match log.get(id) {
                Some(e) if e.consumed => {
                    return Err(FeedbackError::AlreadyRecorded(id.to_string()))
                }
                Some(_) => log.mark_consumed(id),
                None => return Err(FeedbackError::UnknownRequest(id.to_string())),
            }
        }
        let vm = self.version(name, entry);
        lock(&vm.state).online.push(predicted, actual);
        Ok(())
    }

    pub fn report(&self, name: &str, entry: &VersionEntry) -> VersionReport {
        let vm = self.version(name, entry);
        let vm = lock(&vm.state);
        let drift = vm.drift.as_ref().map(|(profile, live)| {
            let psi = live.psi(profile);
            let judged = live.rows() >= self.cfg.drift_min_rows;
            let features: Vec<FeatureDrift> = profile
                .features
                .iter()
                .zip(&psi)
                .map(|(f, p)| FeatureDrift {
                    feature: f.name.clone(),
                    psi: *p,
                    drifted: judged && *p > self.cfg.drift_threshold,
                })
                .collect();
            let max_psi = psi.iter().copied().fold(0.0, f64::max);
            DriftReport {
                window_rows: live.rows(),
                min_rows: self.cfg.drift_min_rows,
                threshold: self.cfg.drift_threshold,
                max_psi,
                drifted: judged && max_psi > self.cfg.drift_threshold,
                features,
            }
        });
        VersionReport {
            version: entry.version,
            window_rows: vm.online.len(),
            feedback_rows: vm.online.total(),
            online: vm.online.metrics(),
            drift,
        }
    }

    /// Sets the online-quality and drift gauges for every version in `snapshot` that has
    /// seen traffic; versions no longer loaded are not exported.
    pub fn export(&self, snapshot: &Snapshot, metrics: &Metrics) {
        metrics.feature_drift.reset();
        let known: Vec<(VersionKey, SharedVersion)> = lock(&self.versions)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for ((name, version), _) in known {
            let Some(entry) = snapshot
                .models
                .get(&name)
                .and_then(|m| m.versions.get(&version))
            else {
                continue;
            };
            let report = self.report(&name, entry);
            let v = version.to_string();
            if let Some(online) = &report.online {
                metrics.set_quality(&name, &v, "online", online);
            }
            if let Some(drift) = &report.drift {
                if drift.window_rows >= drift.min_rows {
                    for f in &drift.features {
                        metrics
                            .feature_drift
                            .with_label_values(&[name.as_str(), &v, &f.feature])
                            .set(f.psi);
                    }
                }
            }
        }
    }

    /// (entries, rows) currently held by the prediction log.
    pub fn log_usage(&self) -> (usize, usize) {
        let log = lock(&self.log);
        (log.len(), log.rows())
    }
}
