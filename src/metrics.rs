//! Prometheus metrics. `Metrics` owns a private registry (not the process-global one) so
//! every app instance, and so every test, starts from zero. Names are fixed by API.md.
//! A leaf: the per-version gauges are filled by the serving layer at scrape time.

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts,
    Registry, TextEncoder,
};

use std::collections::BTreeMap;

/// Latency buckets from 50 µs to 10 s, roughly ×2.5 apart, so sub-millisecond predictions
/// and slow training-era requests are both resolved.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

/// Training runs take from milliseconds to hours.
const TRAINING_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Quality gauges exported per model version and split; the names after `modeld_model_`.
pub const QUALITY_METRICS: &[&str] = &["accuracy", "precision", "recall", "f1", "mse", "mae", "r2"];

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub predictions: IntCounterVec,
    pub prediction_duration: HistogramVec,
    pub training_jobs: GaugeVec,
    pub training_duration: Histogram,
    pub model_info: GaugeVec,
    pub model_size: GaugeVec,
    quality: Vec<(&'static str, GaugeVec)>,
    pub feature_drift: GaugeVec,
    pub feedback: IntCounterVec,
    pub batch_rows: HistogramVec,
    /// Seconds since the model store was last read whole (start-up or a poll's listing).
    pub store_sync_age: Gauge,
    /// Training data loads by outcome: `hit` (parsed copy reused), `miss`, `uncached`.
    pub data_cache_loads: IntCounterVec,
    /// Bytes of parsed training data held for reuse.
    pub data_cache_bytes: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("modeld_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "modeld_http_request_duration_seconds",
                "HTTP request latency, from request to response head",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let predictions = IntCounterVec::new(
            Opts::new("modeld_predictions_total", "Rows predicted"),
            &["model", "version"],
        )?;
        let prediction_duration = HistogramVec::new(
            HistogramOpts::new(
                "modeld_prediction_duration_seconds",
                "Model compute time per predict call, parsing and serialising excluded",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["model", "version"],
        )?;
        let training_jobs = GaugeVec::new(
            Opts::new("modeld_training_jobs", "Training jobs by state"),
            &["state"],
        )?;
        let training_duration = Histogram::with_opts(
            HistogramOpts::new(
                "modeld_training_duration_seconds",
                "Wall time of finished training jobs",
            )
            .buckets(TRAINING_BUCKETS.to_vec()),
        )?;
        let model_info = GaugeVec::new(
            Opts::new("modeld_model_info", "1 for each loaded model version"),
            &["model", "version", "family"],
        )?;
        let model_size = GaugeVec::new(
            Opts::new(
                "modeld_model_size_bytes",
                "Bytes the store holds for each loaded model version",
            ),
            &["model", "version"],
        )?;
        let feature_drift = GaugeVec::new(
            Opts::new(
                "modeld_feature_drift_psi",
                "Population Stability Index of live inputs against the training profile",
            ),
            &["model", "version", "feature"],
        )?;
        let feedback = IntCounterVec::new(
            Opts::new("modeld_feedback_total", "Ground-truth labels received"),
            &["model", "version"],
        )?;
        let batch_rows = HistogramVec::new(
            HistogramOpts::new(
                "modeld_batch_rows",
                "Rows per model call made by the adaptive batcher",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0,
            ]),
            &["model", "version"],
        )?;
        registry.register(Box::new(batch_rows.clone()))?;
        let store_sync_age = Gauge::new(
            "modeld_store_sync_age_seconds",
            "Seconds since the model store was last listed (start-up load or repository poll)",
        )?;
        registry.register(Box::new(store_sync_age.clone()))?;
        let data_cache_loads = IntCounterVec::new(
            Opts::new(
                "modeld_training_data_loads_total",
                "Training data loads: hit (a parsed copy in memory), store (a parsed form kept in the store), miss (parsed), uncached",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(data_cache_loads.clone()))?;
        let data_cache_bytes = Gauge::new(
            "modeld_training_data_cache_bytes",
            "Bytes of parsed training data kept for reuse (training.dataset_cache_bytes)",
        )?;
        registry.register(Box::new(data_cache_bytes.clone()))?;
        for outcome in ["hit", "store", "miss", "uncached"] {
            data_cache_loads.with_label_values(&[outcome]);
        }
        registry.register(Box::new(feature_drift.clone()))?;
        registry.register(Box::new(feedback.clone()))?;
        let mut quality = Vec::new();
        for name in QUALITY_METRICS {
            let g = GaugeVec::new(
                Opts::new(
                    format!("modeld_model_{name}"),
                    format!("Model {name} per version and split (train, validation, online)"),
                ),
                &["model", "version", "split"],
            )?;
            registry.register(Box::new(g.clone()))?;
            quality.push((*name, g));
        }
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(predictions.clone()))?;
        registry.register(Box::new(prediction_duration.clone()))?;
        registry.register(Box::new(training_jobs.clone()))?;
        registry.register(Box::new(training_duration.clone()))?;
        registry.register(Box::new(model_info.clone()))?;
        registry.register(Box::new(model_size.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        for state in ["queued", "running", "succeeded", "failed", "cancelled"] {
            training_jobs.with_label_values(&[state]).set(0.0);
        }
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            predictions,
            prediction_duration,
            training_jobs,
            training_duration,
            model_info,
            model_size,
            quality,
            feature_drift,
            feedback,
            batch_rows,
            store_sync_age,
            data_cache_loads,
            data_cache_bytes,
        })
    }

    /// The text exposition format 0.0.4.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }

    /// Sets the quality gauges of one version and split from a metrics map (name →
    /// value, as training and the online window report them).
    pub fn set_quality(
        &self,
        model: &str,
        version: &str,
        split: &str,
        values: &BTreeMap<String, f64>,
    ) {
        for (metric, gauge) in &self.quality {
            if let Some(x) = values.get(*metric) {
                gauge.with_label_values(&[model, version, split]).set(*x);
            }
        }
    }

    /// Clears every per-version gauge, before they are set again from what is loaded
    /// now, so versions that were deleted or reloaded away stop being exported.
    pub fn reset_version_gauges(&self) {
        self.model_info.reset();
        self.model_size.reset();
        self.feature_drift.reset();
        for (_, g) in &self.quality {
            g.reset();
        }
    }

    /// Drops the series of the per-version counters and histograms whose
    /// `(model, version)` `keep` refuses. Unlike the gauges these are cumulative, so
    /// without this a deleted version's series stay exported and in memory: one set for
    /// every version ever served (found by the soak, bench/RESULTS.md).
    pub fn retain_versions(&self, keep: impl Fn(&str, &str) -> bool) {
        prune(&self.predictions, &keep);
        prune(&self.prediction_duration, &keep);
        prune(&self.feedback, &keep);
        prune(&self.batch_rows, &keep);
    }
}

fn prune<T: MetricVecBuilder>(vec: &MetricVec<T>, keep: &impl Fn(&str, &str) -> bool) {
    for family in vec.collect() {
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value())
            };
            if let (Some(model), Some(version)) = (label("model"), label("version")) {
                if !keep(model, version) {
                    // Only fails for a label set that is already gone.
                    let _ = vec.remove_label_values(&[model, version]);
                }
            }
        }
    }
}
