//! A training or tuning job's own work: load its data if the request left that to it,
//! fit (the data's summary computed alongside), and register the version.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::record::version_meta_for;
use super::request::{JobData, LoadedRequest, RunError};
use super::view::{JobPhase, LoadingProgress};
use super::{budget, lock, Job, JobManager, JobRequest, Work};
use crate::compress;
use crate::train::tune;
use crate::train::{self, EpochRecord, TrainError};

impl JobManager {
    /// The job's data: as it came, or read and parsed now (the `loading` phase, its bytes
    /// shown as they are read), then held to the budget its shape decides.
    pub(super) fn load(&self, job: &Job, req: JobRequest) -> Result<LoadedRequest, RunError> {
        let JobRequest {
            model,
            work,
            data,
            data_source,
            alias,
        } = req;
        let dataset = match data {
            JobData::Ready(dataset) => dataset,
            JobData::Deferred { bytes, load } => {
                {
                    let mut v = lock(&job.view);
                    v.phase = Some(JobPhase::Loading);
                    v.loading = Some(LoadingProgress {
                        bytes_read: 0,
                        bytes_total: bytes,
                    });
                }
                let dataset = load(&mut |read| {
                    if let Some(l) = lock(&job.view).loading.as_mut() {
                        l.bytes_read = read;
                    }
                })?;
                // Complete, however it was loaded (a parsed form read from the store
                // reports no CSV bytes).
                if let Some(l) = lock(&job.view).loading.as_mut() {
                    l.bytes_read = l.bytes_total;
                }
                // The read blocks and the parser's scratch (a whole text, on the general
                // parser's path) are gone, and the fit comes next. Scaled by the data's
                // size, so a small load costs no collection.
                crate::memory::release_after(dataset.x.len().saturating_mul(8));
                if job.cancel.load(Ordering::Relaxed) {
                    return Err(TrainError::Cancelled.into());
                }
                work.check_data(&dataset)?;
                budget::check(&self.limits, &work, &dataset)
                    .map_err(|e| TrainError::OverBudget(e.to_string()))?;
                dataset
            }
        };
        lock(&job.view).phase = Some(JobPhase::Training);
        Ok(LoadedRequest {
            model,
            work,
            dataset,
            data_source,
            alias,
        })
    }

    pub(super) fn train_and_register(
        &self,
        job: &Job,
        req: LoadedRequest,
        on_step: compress::OnStep,
    ) -> Result<u64, RunError> {
        let started = Instant::now();
        let link = self.kept.as_ref().and_then(|k| k.link(&req.dataset));
        // A summary kept with the stored form, unless one is remembered already.
        let remembered = self.summaries.knows(&req.dataset, self.profile_bins);
        let stored_summary = (!remembered)
            .then(|| self.kept.as_ref().zip(link.as_ref()))
            .flatten()
            .and_then(|(kept, link)| kept.summary(link, &req.dataset, self.profile_bins));
        if let Some(summary) = stored_summary {
            self.summaries
                .seed(&req.dataset, self.profile_bins, summary);
        }
        // The data's fingerprint and profile are computed on a second thread while the
        // fit runs (or remembered from an earlier job on the same parsed data).
        let summarise = || {
            self.summaries
                .get_or_compute(&req.dataset, self.profile_bins)
        };
        let (fitted, summary) = std::thread::scope(|scope| {
            let beside = std::thread::Builder::new()
                .name("modeld-summary".into())
                .spawn_scoped(scope, || {
                    crate::train::parallel::background_priority();
                    summarise()
                });
            let fitted = self.fit_work(job, &req, on_step);
            // Without a second thread, after the fit.
            let summary = match beside {
                Ok(handle) => handle
                    .join()
                    .map_err(|_| TrainError::internal("profiling the data crashed".into())),
                Err(_) => Ok(summarise()),
            };
            (fitted, summary)
        });
        let (fitted, cv) = fitted?;
        let summary = summary?;
        if job.cancel.load(Ordering::Relaxed) {
            return Err(TrainError::Cancelled.into());
        }
        let duration = started.elapsed().as_secs_f64();
        self.metrics.training_duration.observe(duration);
        let job_id = lock(&job.view).job_id.clone();
        let mut meta = version_meta_for(
            &fitted,
            &job_id,
            fitted.params.algorithm,
            &req.dataset,
            &summary,
            duration,
            &req.data_source,
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
        let version =
            self.registry
                .register(&req.model, meta, fitted.model.clone(), req.alias.as_deref())?;
        if let (Some(kept), Some(link)) = (&self.kept, link.filter(|l| !l.saved)) {
            kept.keep(&req.dataset, link, &summary, self.profile_bins);
        }
        let mut v = lock(&job.view);
        v.metrics = Some(metrics);
        v.history = history;
        v.epoch = fitted.epochs_run;
        Ok(version)
    }

    /// The fit (or the search and its refit) a training or tuning job asks for.
    fn fit_work(
        &self,
        job: &Job,
        req: &LoadedRequest,
        on_step: compress::OnStep,
    ) -> Result<(train::Fitted, Option<tune::CvReport>), TrainError> {
        let mut on_epoch = |rec: &EpochRecord, progress: f64| on_step(Some(rec), progress);
        match &req.work {
            Work::Compress(_) => Err(TrainError::internal(
                "a compress job reached training".into(),
            )),
            Work::Fit(spec) => Ok((
                train::fit_checked(spec, &req.dataset, &self.threads, &mut on_epoch)?,
                None,
            )),
            Work::Tune(plan) => {
                // Folds only report progress and check the cancel flag; the
                // learning curve shown is the final refit's.
                let (report, fitted) = tune::run(plan, &req.dataset, &self.threads, on_step)?;
                let mut v = lock(&job.view);
                v.cv_results = Some(report.results.clone());
                v.best_params = Some(report.best_params.clone());
                Ok((fitted, Some(report)))
            }
        }
    }
}
