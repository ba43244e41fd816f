//! The one inference path under every API. [`Serving::predict`] owns the version
//! look-up, the choice of where the model runs (inline, batched, or on the blocking
//! pool), the per-version metric handles and the monitor hook; the native and V2
//! handlers are [`Codec`]s around it that only turn their wire format into rows and the
//! model's output back into theirs. So a V2 request is logged for feedback and feeds
//! drift exactly as a native one does.

pub mod batcher;
pub mod compute;
pub mod gauges;
pub mod version;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ndarray::Array2;

use crate::config::BatchingConfig;
use crate::metrics::Metrics;
use crate::models::{Model, ModelError, Output};
use crate::monitor::{FeedbackError, LoggedPrediction, Monitor, Tracked, VersionReport};
use crate::registry::{Registry, RegistryError, VersionEntry};
use batcher::Batched;
use version::{Deps, Served};

/// Which version of which model a request asks for: a number, an alias, or neither
/// (the `production` alias, else the highest ready version).
#[derive(Debug, Clone, Copy)]
pub struct ModelRef<'a> {
    pub name: &'a str,
    pub version: Option<u64>,
    pub alias: Option<&'a str>,
}

/// Per-request facts serving needs besides the rows.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The id the prediction is logged under (feedback joins on it); such a prediction
    /// is traffic: counted, logged and fed to drift. `None` only computes (scoring the
    /// labelled rows of a feedback call, which are not traffic).
    pub request_id: Option<&'a str>,
}

/// A computed prediction, handed to the codec to encode.
pub struct Prediction<'a> {
    pub name: &'a str,
    pub version: u64,
    pub model: &'a dyn Model,
    pub output: Output,
}

/// A wire format around [`Serving::predict`]: native `instances`, a V2 tensor, ...
pub trait Codec {
    type Answer;
    type Error: From<ServeError>;
    /// The request's rows for `model`, or why it cannot take them.
    fn decode(&mut self, model: &dyn Model) -> Result<Array2<f64>, Self::Error>;
    /// The answer for a prediction of those rows.
    fn encode(self, prediction: Prediction<'_>) -> Result<Self::Answer, Self::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The model refused the rows (shape, non-finite values) or failed computing them;
    /// [`ModelError::is_runtime`] tells the two apart.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The batch worker or blocking task died while holding the request.
    #[error("{0}")]
    Lost(String),
    /// A prometheus encoding failure at scrape time.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Feedback(#[from] FeedbackError),
    /// The model answered a value or probability that is not a finite number (an input
    /// far outside what it was trained on, e.g. 1e308): refused, never logged.
    #[error("the prediction for row {row} is not a finite number; the input is outside what the model can score")]
    NonFinitePrediction { row: usize },
}

pub struct Serving {
    registry: Arc<Registry>,
    monitor: Arc<Monitor>,
    metrics: Arc<Metrics>,
    batching: BatchingConfig,
    /// Scrapes refresh the per-version gauges then render; one at a time, so a scrape
    /// never sees another's half-reset gauges.
    scrape: Mutex<()>,
}

impl Serving {
    pub fn new(
        registry: Arc<Registry>,
        monitor: Arc<Monitor>,
        metrics: Arc<Metrics>,
        batching: BatchingConfig,
    ) -> Self {
        Self {
            registry,
            monitor,
            metrics,
            batching,
            scrape: Mutex::new(()),
        }
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    fn deps(&self) -> Deps<'_> {
        Deps {
            metrics: &self.metrics,
            monitor: &self.monitor,
            batching: &self.batching,
        }
    }

    fn served<'e>(
        &self,
        name: &str,
        entry: &'e VersionEntry,
        model: &Arc<dyn Model>,
    ) -> Result<&'e Served, ServeError> {
        version::served(&self.deps(), name, entry, model)
            .ok_or_else(|| ServeError::Lost("the version's serving state is unreadable".into()))
    }

    /// Looks the version up, decodes the request for it, runs the model where it is
    /// cheapest, counts and logs the prediction, and encodes the answer.
    pub async fn predict<C: Codec>(
        &self,
        target: ModelRef<'_>,
        mut codec: C,
        ctx: Context<'_>,
    ) -> Result<C::Answer, C::Error> {
        let (entry, model, x) = {
            // The snapshot is borrowed (no reference count) for the common case, a small
            // input of an unbatched family, answered before this block ends.
            let snapshot = self.registry.current();
            let (entry, model) = snapshot
                .lookup(target.name, target.version, target.alias)
                .map_err(ServeError::from)?;
            let x = codec.decode(model.as_ref())?;
            let served = self.served(target.name, entry, model)?;
            if served.batcher.is_none() && compute::runs_inline(&x) {
                let started = Instant::now();
                let output = model.predict(x.view()).map_err(ServeError::from)?;
                let done = Done { served, started };
                return self.finish(target.name, entry, model, &x, output, done, ctx, codec);
            }
            (entry.clone(), model.clone(), x)
        };
        let served = self.served(target.name, &entry, &model)?;
        let started = Instant::now();
        let x = match &served.batcher {
            Some(batcher) => match batcher.predict(x).await {
                Batched::Done(x, output) => {
                    let output = output.map_err(ServeError::from)?;
                    let done = Done { served, started };
                    return self.finish(target.name, &entry, &model, &x, output, done, ctx, codec);
                }
                Batched::RunAlone(x) => x,
                Batched::Lost => {
                    let lost = "the batch worker stopped while predicting";
                    return Err(ServeError::Lost(lost.into()).into());
                }
            },
            None => x,
        };
        let (x, output) = compute::run(&model, x)
            .await
            .map_err(|e| ServeError::Lost(e.to_string()))?;
        let output = output.map_err(ServeError::from)?;
        let done = Done { served, started };
        self.finish(target.name, &entry, &model, &x, output, done, ctx, codec)
    }

    /// Counts the prediction, logs it for feedback and drift, and encodes the answer.
    #[allow(clippy::too_many_arguments)]
    fn finish<C: Codec>(
        &self,
        name: &str,
        entry: &VersionEntry,
        model: &Arc<dyn Model>,
        x: &Array2<f64>,
        output: Output,
        done: Done<'_>,
        ctx: Context<'_>,
        codec: C,
    ) -> Result<C::Answer, C::Error> {
        let Done { served, started } = done;
        if let Some(row) = output.first_non_finite_row() {
            return Err(ServeError::NonFinitePrediction { row }.into());
        }
        if let Some(id) = ctx.request_id {
            served.predictions.inc_by(x.nrows() as u64);
            served.duration.observe(started.elapsed().as_secs_f64());
            self.monitor
                .record_prediction(&served.tracked, id, x.view(), &output.predictions);
        }
        codec.encode(Prediction {
            name,
            version: entry.version,
            model: model.as_ref(),
            output,
        })
    }

    /// The logged prediction for `request_id`, if it belongs to `name` and has had no
    /// feedback yet.
    pub fn logged(&self, name: &str, request_id: &str) -> Result<LoggedPrediction, ServeError> {
        Ok(self.monitor.logged(name, request_id)?)
    }

    /// Adds ground truth for a version's predictions to its online window and counts it.
    pub fn record_feedback(
        &self,
        name: &str,
        entry: &VersionEntry,
        request_id: Option<&str>,
        predicted: &[f64],
        actual: &[f64],
    ) -> Result<VersionReport, ServeError> {
        let model = entry.model().ok_or_else(|| RegistryError::NotReady {
            name: name.to_string(),
            version: entry.version,
            reason: "not loaded".into(),
        })?;
        let tracked = self.tracked(name, entry, model);
        self.monitor
            .record_feedback(&tracked, request_id, predicted, actual)?;
        self.metrics
            .feedback
            .with_label_values(&[name, &entry.version.to_string()])
            .inc_by(actual.len() as u64);
        Ok(self.monitor.report(&tracked))
    }

    /// Online metrics and drift of a ready version (`None` for a failed one).
    pub fn report(&self, name: &str, entry: &VersionEntry) -> Option<VersionReport> {
        let model = entry.model()?;
        Some(self.monitor.report(&self.tracked(name, entry, model)))
    }

    /// The version's monitoring state, without starting its serving state (a batch
    /// worker, metric series) for a version that has had no traffic.
    fn tracked(&self, name: &str, entry: &VersionEntry, model: &Arc<dyn Model>) -> Tracked {
        let cached = entry.cache.get().and_then(|c| c.downcast_ref::<Served>());
        match cached {
            Some(served) => served.tracked.clone(),
            None => version::track(&self.monitor, name, entry, model),
        }
    }

    /// The Prometheus exposition, with the per-version gauges set from what is loaded
    /// and monitored now.
    pub fn render_metrics(&self) -> Result<String, ServeError> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        gauges::refresh(&self.registry.snapshot(), &self.monitor, &self.metrics);
        self.metrics
            .store_sync_age
            .set(self.registry.sync_age_seconds());
        Ok(self.metrics.render()?)
    }
}

/// The version's serving state and when its compute started.
struct Done<'a> {
    served: &'a Served,
    started: Instant,
}
