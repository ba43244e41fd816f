//! Production monitoring: the prediction log (for joining ground truth later), online
//! quality windows per version, and live feature drift against the training profile.
//! State is keyed by (model, version), so it survives a reload of the registry. The
//! monitor knows nothing of the registry: callers hand it a version's name, number,
//! class count and training profile, and keep the [`Tracked`] handle it gives back.

pub mod drift;
pub mod log;
pub mod online;
mod profile;
pub mod sharded_log;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ndarray::ArrayView2;

use crate::config::MonitoringConfig;
use crate::train::Metrics as Quality;
pub use drift::{FeatureProfile, LiveDrift};
pub use log::LoggedPrediction;
use online::OnlineWindow;
use sharded_log::{Consumed, ShardedLog};

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

/// The prediction log's size, as the monitoring endpoint shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogUsage {
    /// Requests held.
    pub entries: usize,
    /// Predicted rows held.
    pub rows: usize,
    pub capacity_rows: usize,
    /// Bytes the log's rings have allocated (at most `capacity_bytes`).
    pub bytes: usize,
    pub capacity_bytes: usize,
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

/// One version's monitoring state, shared by every request to it and kept by the caller
/// (the serving layer caches it per loaded version) so the hot path skips the map.
pub type Tracked = Arc<TrackedVersion>;

#[derive(Debug)]
pub struct TrackedVersion {
    name: Arc<str>,
    version: u64,
    state: Mutex<VersionMonitor>,
}

impl TrackedVersion {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

/// What the monitor needs to know of a version to start tracking it.
pub struct VersionInfo<'a> {
    pub name: &'a str,
    pub version: u64,
    /// `Some(k)` for a classifier of k classes.
    pub n_classes: Option<usize>,
    pub profile: Option<&'a FeatureProfile>,
}

pub struct Monitor {
    cfg: MonitoringConfig,
    log: ShardedLog,
    versions: Mutex<HashMap<VersionKey, Tracked>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Monitor {
    pub fn new(cfg: MonitoringConfig) -> Self {
        Self {
            log: ShardedLog::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                cfg.prediction_log_rows,
                cfg.prediction_log_bytes,
            ),
            cfg,
            versions: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &MonitoringConfig {
        &self.cfg
    }

    /// The version's state, created on first use and found again after a reload.
    pub fn track(&self, info: VersionInfo<'_>) -> Tracked {
        let mut map = lock(&self.versions);
        map.entry((info.name.to_string(), info.version))
            .or_insert_with(|| {
                let drift = info.profile.map(|p| {
                    let live = LiveDrift::new(p, self.cfg.drift_window);
                    (Arc::new(p.clone()), live)
                });
                Arc::new(TrackedVersion {
                    name: info.name.into(),
                    version: info.version,
                    state: Mutex::new(VersionMonitor {
                        online: OnlineWindow::new(self.cfg.feedback_window, info.n_classes),
                        drift,
                    }),
                })
            })
            .clone()
    }

    /// Every version tracked so far, loaded or not.
    pub fn tracked(&self) -> Vec<Tracked> {
        lock(&self.versions).values().cloned().collect()
    }

    /// Called after each successful prediction: logs it by request id and feeds the
    /// drift window.
    pub fn record_prediction(
        &self,
        tracked: &TrackedVersion,
        request_id: &str,
        x: ArrayView2<f64>,
        predictions: &[f64],
    ) {
        if self.cfg.prediction_log_rows > 0 && self.cfg.prediction_log_bytes > 0 {
            self.log
                .insert(request_id, &tracked.name, tracked.version, predictions);
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
        match self.log.latest(request_id).map(|found| found.entry) {
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
        tracked: &TrackedVersion,
        request_id: Option<&str>,
        predicted: &[f64],
        actual: &[f64],
    ) -> Result<(), FeedbackError> {
        if let Some(id) = request_id {
            let Some(found) = self.log.latest(id) else {
                return Err(FeedbackError::UnknownRequest(id.to_string()));
            };
            match self.log.consume(id, &found) {
                Consumed::Now => {}
                Consumed::Already => return Err(FeedbackError::AlreadyRecorded(id.to_string())),
                Consumed::Gone => return Err(FeedbackError::UnknownRequest(id.to_string())),
            }
        }
        lock(&tracked.state).online.push(predicted, actual);
        Ok(())
    }

    pub fn report(&self, tracked: &TrackedVersion) -> VersionReport {
        let vm = lock(&tracked.state);
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
            version: tracked.version,
            window_rows: vm.online.len(),
            feedback_rows: vm.online.total(),
            online: vm.online.metrics(),
            drift,
        }
    }

    /// What the prediction log holds now.
    pub fn log_usage(&self) -> LogUsage {
        let (entries, rows, bytes) = self.log.usage();
        LogUsage {
            entries,
            rows,
            capacity_rows: self.log.capacity_rows(),
            bytes,
            capacity_bytes: self.log.capacity_bytes(),
        }
    }
}
