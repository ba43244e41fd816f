//! Background training jobs: a bounded queue in front of a semaphore of training slots.
//! Training runs on tokio's blocking pool, never on the async workers, and checks its
//! cancel flag every epoch. Finished jobs are kept up to `job_history`, oldest dropped.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use crate::config::TrainingConfig;
use crate::metrics::Metrics;
use crate::monitor::FeatureProfile;
use crate::registry::{Provenance, Registry, VersionMeta};
use crate::train::tune::{self, CvResult, Plan};
use crate::train::{
    self, Dataset, EpochRecord, Fitted, Metrics as Quality, Threads, TrainError, TrainSpec,
};

/// Longest learning curve kept with a job or version; longer runs are thinned evenly.
pub const MAX_HISTORY_POINTS: usize = 1000;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ToSchema)]
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

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status_url: String,
}

#[derive(Debug)]
struct Job {
    view: Mutex<JobView>,
    cancel: AtomicBool,
}

impl Job {
    fn view(&self) -> JobView {
        lock(&self.view).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a caller asks the job manager to train.
pub struct JobRequest {
    pub model: String,
    pub spec: TrainSpec,
    pub dataset: Dataset,
    pub data_source: String,
    pub alias: Option<String>,
    /// `Some` for a grid search (`/tune`): `spec` is then only used for its algorithm.
    pub tune: Option<Plan>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the training queue is full ({0} jobs waiting or running); retry later")]
    QueueFull(usize),
    #[error("job '{0}' not found")]
    NotFound(String),
}

pub struct JobManager {
    cfg: TrainingConfig,
    /// Quantile bins of the feature profile stored with each version (drift reference).
    profile_bins: usize,
    slots: Arc<Semaphore>,
    /// Shared by all jobs: `[training] threads` bounds training's cores in total.
    threads: Threads,
    jobs: Mutex<VecDeque<(String, Arc<Job>)>>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
}

impl JobManager {
    pub fn new(
        cfg: TrainingConfig,
        profile_bins: usize,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            profile_bins,
            slots: Arc::new(Semaphore::new(cfg.max_concurrent_jobs)),
            threads: Threads::new(cfg.threads).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "training runs on the job threads only");
                Threads::sequential()
            }),
            cfg,
            jobs: Mutex::new(VecDeque::new()),
            registry,
            metrics,
        }
    }

    /// Queues a job, or refuses with `QueueFull` when `max_concurrent_jobs + queue_size`
    /// jobs are already waiting or running.
    pub fn submit(self: &Arc<Self>, req: JobRequest) -> Result<JobView, JobError> {
        let id = uuid::Uuid::new_v4().to_string();
        let job = Arc::new(Job {
            view: Mutex::new(JobView {
                job_id: id.clone(),
                model: req.model.clone(),
                algorithm: req.spec.algorithm.family().as_str().to_string(),
                state: JobState::Queued,
                progress: 0.0,
                epoch: 0,
                loss: None,
                validation_loss: None,
                version: None,
                metrics: None,
                history: Vec::new(),
                cv_results: None,
                best_params: None,
                error: None,
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                status_url: format!("/v1/jobs/{id}"),
            }),
            cancel: AtomicBool::new(false),
        });
        {
            let mut jobs = lock(&self.jobs);
            let active = jobs
                .iter()
                .filter(|(_, j)| !lock(&j.view).state.is_finished())
                .count();
            let capacity = self.cfg.max_concurrent_jobs + self.cfg.queue_size;
            if active >= capacity {
                return Err(JobError::QueueFull(active));
            }
            jobs.push_back((id, job.clone()));
            self.evict_finished(&mut jobs);
        }
        self.refresh_gauges();
        let view = job.view();
        let this = self.clone();
        tokio::spawn(async move { this.run(job, req).await });
        Ok(view)
    }

    /// Forgets the oldest finished jobs beyond `job_history`.
    fn evict_finished(&self, jobs: &mut VecDeque<(String, Arc<Job>)>) {
        let mut finished = jobs
            .iter()
            .filter(|(_, j)| lock(&j.view).state.is_finished())
            .count();
        while finished > self.cfg.job_history {
            let Some(pos) = jobs
                .iter()
                .position(|(_, j)| lock(&j.view).state.is_finished())
            else {
                break;
            };
            jobs.remove(pos);
            finished -= 1;
        }
    }

    async fn run(self: Arc<Self>, job: Arc<Job>, req: JobRequest) {
        let Ok(_permit) = self.slots.clone().acquire_owned().await else {
            return;
        };
        if job.cancel.load(Ordering::Relaxed) {
            self.finish(&job, JobState::Cancelled, None);
            return;
        }
        {
            let mut v = lock(&job.view);
            v.state = JobState::Running;
            v.started_at = Some(Utc::now());
        }
        self.refresh_gauges();
        let this = self.clone();
        let job2 = job.clone();
        let outcome =
            tokio::task::spawn_blocking(move || this.train_and_register(&job2, req)).await;
        match outcome {
            Ok(Ok(version)) => {
                lock(&job.view).version = Some(version);
                self.finish(&job, JobState::Succeeded, None);
            }
            Ok(Err(TrainError::Cancelled)) => self.finish(&job, JobState::Cancelled, None),
            Ok(Err(e)) => self.finish(&job, JobState::Failed, Some(e.to_string())),
            Err(join) => {
                tracing::error!(error = %join, "training task panicked");
                self.finish(&job, JobState::Failed, Some("training crashed".into()));
            }
        }
    }

    /// Runs on the blocking pool.
    fn train_and_register(&self, job: &Job, req: JobRequest) -> Result<u64, TrainError> {
        let started = Instant::now();
        let mut on_epoch = |rec: &EpochRecord, progress: f64| {
            let mut v = lock(&job.view);
            v.epoch = rec.epoch;
            v.loss = Some(rec.train_loss);
            v.validation_loss = rec.validation_loss;
            v.progress = progress.clamp(0.0, 1.0);
            v.history.push(rec.clone());
            if v.history.len() > 2 * MAX_HISTORY_POINTS {
                v.history = thin(&v.history, MAX_HISTORY_POINTS);
            }
            if job.cancel.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let (fitted, spec, cv) = match &req.tune {
            None => (
                train::fit_with(&req.spec, &req.dataset, &self.threads, &mut on_epoch)?,
                req.spec.clone(),
                None,
            ),
            Some(plan) => {
                // Folds only report progress and check the cancel flag; the
                // learning curve shown is the final refit's.
                let mut on_step = |rec: Option<&EpochRecord>, progress: f64| match rec {
                    Some(r) => on_epoch(r, progress),
                    None => {
                        lock(&job.view).progress = progress.clamp(0.0, 1.0);
                        if job.cancel.load(Ordering::Relaxed) {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    }
                };
                let (report, fitted, spec) =
                    tune::run(plan, &req.dataset, &self.threads, &mut on_step)?;
                {
                    let mut v = lock(&job.view);
                    v.cv_results = Some(report.results.clone());
                    v.best_params = Some(report.best_params.clone());
                }
                (fitted, spec, Some(report))
            }
        };
        if job.cancel.load(Ordering::Relaxed) {
            return Err(TrainError::Cancelled);
        }
        let duration = started.elapsed().as_secs_f64();
        self.metrics.training_duration.observe(duration);
        let job_id = lock(&job.view).job_id.clone();
        let mut meta = version_meta(
            &fitted,
            &job_id,
            &spec,
            &req.dataset,
            duration,
            &req.data_source,
            self.profile_bins,
        );
        if let Some(t) = meta.training.as_mut() {
            t.cv = cv;
        }
        let metrics = meta.metrics.clone();
        let history = meta
            .training
            .as_ref()
            .map(|t| t.history.clone())
            .unwrap_or_default();
        let version = self
            .registry
            .register(&req.model, meta, fitted.model.clone(), req.alias.as_deref())
            .map_err(|e| TrainError::InvalidData(format!("could not store the model: {e}")))?;
        let mut v = lock(&job.view);
        v.metrics = Some(metrics);
        v.history = history;
        v.epoch = fitted.epochs_run;
        Ok(version)
    }

    fn finish(&self, job: &Job, state: JobState, error: Option<String>) {
        {
            let mut v = lock(&job.view);
            if v.state.is_finished() {
                return;
            }
            v.state = state;
            v.error = error;
            v.finished_at = Some(Utc::now());
            if state == JobState::Succeeded {
                v.progress = 1.0;
            }
        }
        self.refresh_gauges();
        let view = job.view();
        tracing::info!(job_id = %view.job_id, model = %view.model, state = state.as_str(), version = ?view.version, error = ?view.error, "training job finished");
    }

    fn refresh_gauges(&self) {
        let jobs = lock(&self.jobs);
        let mut counts = [0usize; 5];
        for (_, j) in jobs.iter() {
            counts[lock(&j.view).state as usize] += 1;
        }
        for (state, n) in [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .iter()
        .zip(counts)
        {
            self.metrics
                .training_jobs
                .with_label_values(&[state.as_str()])
                .set(n as f64);
        }
    }

    pub fn list(&self) -> Vec<JobView> {
        lock(&self.jobs)
            .iter()
            .rev()
            .map(|(_, j)| j.view())
            .collect()
    }

    pub fn get(&self, id: &str) -> Result<JobView, JobError> {
        lock(&self.jobs)
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, j)| j.view())
            .ok_or_else(|| JobError::NotFound(id.to_string()))
    }

    /// Asks a job to stop. A queued job is cancelled at once; a running one stops within
    /// one epoch and registers nothing. Finished jobs are left as they are.
    pub fn cancel(&self, id: &str) -> Result<JobView, JobError> {
        let job = lock(&self.jobs)
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, j)| j.clone())
            .ok_or_else(|| JobError::NotFound(id.to_string()))?;
        job.cancel.store(true, Ordering::Relaxed);
        let queued = lock(&job.view).state == JobState::Queued;
        if queued {
            self.finish(&job, JobState::Cancelled, None);
        }
        Ok(job.view())
    }
}

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
        profile: Some(FeatureProfile::from_matrix(
            dataset.x.view(),
            &dataset.feature_names,
            profile_bins,
        )),
        training: Some(Provenance {
            job_id: job_id.to_string(),
            algorithm: spec.algorithm.family().as_str().to_string(),
            n_train: fitted.n_train,
            n_validation: fitted.n_validation,
            n_features: dataset.feature_names.len(),
            epochs_run: fitted.epochs_run,
            duration_seconds,
            modeld_version: env!("CARGO_PKG_VERSION").to_string(),
            data_source: data_source.to_string(),
            history: thin(&fitted.history, MAX_HISTORY_POINTS),
            dataset: Some(dataset.fingerprint()),
            cv: None,
        }),
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
