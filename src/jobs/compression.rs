//! The compress job: run the compression, record its report on the job, and register
//! the result unless the gate refused it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::Utc;

use super::record::{thin, MAX_HISTORY_POINTS};
use super::request::RunError;
use super::{lock, Job, JobManager, LoadedRequest, Work};
use crate::compress::{self, Compressed, OnStep};
use crate::registry::meta::CompressedFrom;
use crate::registry::store::stored_size;
use crate::registry::{Provenance, VersionMeta};
use crate::train::TrainError;

impl JobManager {
    pub(super) fn compress_and_register(
        &self,
        job: &Job,
        req: LoadedRequest,
        on_step: OnStep,
    ) -> Result<Option<u64>, RunError> {
        let started = Instant::now();
        let Work::Compress(work) = &req.work else {
            return Err(TrainError::internal("a training job reached compression".into()).into());
        };
        let size = |m: &dyn crate::models::Model| stored_size(&m.to_artifact());
        let request = compress::Request {
            teacher: &work.teacher,
            method: &work.method,
            max_metric_drop: work.max_metric_drop,
            teacher_split: work.teacher_split.as_ref(),
        };
        let done: Compressed = compress::run(request, &req.dataset, &size, &self.threads, on_step)?;
        if job.cancel.load(Ordering::Relaxed) {
            return Err(TrainError::Cancelled.into());
        }
        let duration = started.elapsed().as_secs_f64();
        let job_id = {
            let mut v = lock(&job.view);
            v.report = Some(done.report.clone());
            v.metrics = Some(
                [("validation".to_string(), done.evaluation.clone())]
                    .into_iter()
                    .collect(),
            );
            v.job_id.clone()
        };
        if !done.report.kept {
            tracing::info!(job_id = %job_id, before = done.report.before, after = done.report.after,
                "compressed model refused by max_metric_drop");
            return Ok(None);
        }
        let model = done.model.clone();
        let history = match &done.student {
            Some(f) => f.history.clone(),
            None => done.history.clone(),
        };
        let params = match &done.student {
            Some(f) => serde_json::to_value(&f.params).unwrap_or_default(),
            None => work.params.clone(),
        };
        let schema = model.schema().clone();
        let meta = VersionMeta {
            version: 0,
            family: model.family().as_str().to_string(),
            created_at: Utc::now(),
            schema: schema.clone(),
            params,
            metrics: [("validation".to_string(), done.evaluation.clone())]
                .into_iter()
                .collect(),
            training: Some(Provenance {
                job_id,
                algorithm: model.family().as_str().to_string(),
                n_train: done.student.as_ref().map_or(0, |f| f.n_train),
                n_validation: done.report.n_eval,
                n_features: schema.n_features(),
                epochs_run: history.last().map_or(0, |r| r.epoch),
                duration_seconds: duration,
                modeld_version: env!("CARGO_PKG_VERSION").to_string(),
                data_source: req.data_source.clone(),
                history: thin(&history, MAX_HISTORY_POINTS),
                dataset: Some(req.dataset.fingerprint()),
                cv: None,
            }),
            n_parameters: model.n_parameters(),
            profile: work.profile.clone(),
            compressed_from: Some(CompressedFrom {
                model: work.source_model.clone(),
                version: work.source_version,
                method: work.method.name().to_string(),
            }),
            compression: Some(done.report),
        };
        let version = self
            .registry
            .register(&req.model, meta, model, req.alias.as_deref())?;
        lock(&job.view).history = history;
        Ok(Some(version))
    }
}
