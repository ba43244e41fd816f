//! Background training jobs: a bounded queue in front of a semaphore of training slots.
//! Training runs on tokio's blocking pool, never on the async workers, and checks its
//! cancel flag every epoch. Finished jobs are kept up to `job_history`, oldest dropped.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::Semaphore;

pub mod budget;
mod compression;
mod pacing;
mod record;
mod request;
mod summary;
mod training;
mod view;

pub use record::{thin, version_meta, version_meta_for, MAX_HISTORY_POINTS};
pub use request::{CompressWork, DataLoader, JobData, JobRequest, Work};
pub use view::{JobPhase, JobState, JobView, LoadingProgress};

use request::{LoadedRequest, RunError};

use crate::config::{TrainingConfig, TrainingLimitsConfig};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::train::{EpochRecord, Threads, TrainError};

#[derive(Debug)]
struct Job {
    view: Mutex<JobView>,
    /// Shared with the training thread (see [`crate::train::cancel`]).
    cancel: Arc<AtomicBool>,
}

impl Job {
    fn view(&self) -> JobView {
        lock(&self.view).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the training queue is full ({0} jobs waiting or running); retry later")]
    QueueFull(usize),
    #[error("job '{0}' not found")]
    NotFound(String),
    /// Above `[training_limits]`: the message names the limit and the computed value.
    #[error("{0}")]
    OverBudget(String),
    #[error(
        "training is disabled on this replica (training.enabled = false); send training \
         jobs to a training replica"
    )]
    Disabled,
}

pub struct JobManager {
    cfg: TrainingConfig,
    /// Model size and work a job may ask for, checked at submit.
    limits: TrainingLimitsConfig,
    /// Quantile bins of the feature profile stored with each version (drift reference).
    profile_bins: usize,
    slots: Arc<Semaphore>,
    /// Shared by all jobs: `[training] threads` bounds training's cores in total.
    threads: Threads,
    jobs: Mutex<VecDeque<(String, Arc<Job>)>>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    summaries: summary::Summaries,
    /// Where a stored dataset's parsed form is kept after its first training.
    kept: Option<summary::KeptForms>,
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
            // A serving-only replica keeps its cores for requests: no pool is started.
            threads: if cfg.enabled {
                Threads::new(cfg.threads).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "training runs on the job threads only");
                    Threads::sequential()
                })
            } else {
                Threads::sequential()
            },
            cfg,
            limits: TrainingLimitsConfig::default(),
            jobs: Mutex::new(VecDeque::new()),
            registry,
            metrics,
            summaries: summary::Summaries::default(),
            kept: None,
        }
    }

    /// The same manager, keeping each stored dataset's parsed form (and its summary) in
    /// the store once a job has trained on it, for every later job and replica.
    pub fn with_parsed_forms(
        mut self,
        cache: Arc<crate::train::cache::ParsedCache>,
        source: Arc<dyn crate::train::source::DatasetSource + Send + Sync>,
    ) -> Self {
        self.kept = Some(summary::KeptForms { cache, source });
        self
    }

    /// The same manager holding jobs to `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: TrainingLimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Whether this replica takes training jobs (`training.enabled`).
    pub fn enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// Queues a job, or refuses with `Disabled` on a serving-only replica, with
    /// `OverBudget` when it is above `[training_limits]` and with `QueueFull` when
    /// `max_concurrent_jobs + queue_size` jobs are already waiting or running.
    pub fn submit(self: &Arc<Self>, req: JobRequest) -> Result<JobView, JobError> {
        if !self.cfg.enabled {
            return Err(JobError::Disabled);
        }
        if let JobData::Ready(data) = &req.data {
            budget::check(&self.limits, &req.work, data)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let job = Arc::new(Job {
            view: Mutex::new(JobView {
                job_id: id.clone(),
                model: req.model.clone(),
                algorithm: req.work.family().as_str().to_string(),
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
                report: None,
                phase: None,
                loading: None,
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                status_url: format!("/v1/jobs/{id}"),
            }),
            cancel: Arc::new(AtomicBool::new(false)),
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
        // A thread of its own rather than the shared blocking pool: its priority is
        // lowered for the whole job, and the pool's threads stay at normal priority for
        // the request work (large predictions, store I/O) they also run.
        let (done, outcome) = tokio::sync::oneshot::channel();
        let pacer = pacing::Pacer::new(self.cfg.pause_when_serving_cores, pacing::runtime_busy());
        let spawned = std::thread::Builder::new()
            .name("modeld-train".into())
            .spawn(move || {
                crate::train::parallel::background_priority();
                // Mini-batch loops stop within a batch, not an epoch, once cancelled.
                crate::train::cancel::watch(job2.cancel.clone());
                let _ = done.send(this.execute(&job2, req, pacer));
            });
        if let Err(e) = spawned {
            let msg = format!("could not start a training thread: {e}");
            self.finish(&job, JobState::Failed, Some(msg));
            return;
        }
        match outcome.await {
            Ok(Ok(version)) => {
                lock(&job.view).version = version;
                self.finish(&job, JobState::Succeeded, None);
            }
            Ok(Err(RunError::Train(TrainError::Cancelled))) => {
                self.finish(&job, JobState::Cancelled, None)
            }
            Ok(Err(e)) => {
                if matches!(&e, RunError::Register(_)) {
                    tracing::error!(error = %e, "a trained model could not be stored");
                }
                self.finish(&job, JobState::Failed, Some(e.to_string()))
            }
            Err(_) => {
                tracing::error!("training thread panicked");
                self.finish(&job, JobState::Failed, Some("training crashed".into()));
            }
        }
    }

    /// Runs on the job's own training thread; a compression the gate refused registers
    /// nothing (`None`).
    fn execute(
        &self,
        job: &Job,
        req: JobRequest,
        pacer: pacing::Pacer,
    ) -> Result<Option<u64>, RunError> {
        let req = self.load(job, req)?;
        let pacer = std::cell::RefCell::new(pacer);
        let mut on_step = |rec: Option<&EpochRecord>, progress: f64| {
            // Both the epochs' and the folds' callbacks pause through it.
            pacer.borrow_mut().between_epochs(&job.cancel);
            let mut v = lock(&job.view);
            if let Some(rec) = rec {
                v.epoch = rec.epoch;
                v.loss = Some(rec.train_loss);
                v.validation_loss = rec.validation_loss;
                v.history.push(rec.clone());
                if v.history.len() > 2 * MAX_HISTORY_POINTS {
                    v.history = thin(&v.history, MAX_HISTORY_POINTS);
                }
            }
            v.progress = progress.clamp(0.0, 1.0);
            if job.cancel.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        if matches!(req.work, Work::Compress(_)) {
            self.compress_and_register(job, req, &mut on_step)
        } else {
            self.train_and_register(job, req, &mut on_step).map(Some)
        }
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
