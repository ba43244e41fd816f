//! Shared application state handed to every handler through `State<AppState>`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Config;
use crate::config::StoreLocation;
use crate::datasets::Datasets;
use crate::jobs::JobManager;
use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::registry::store::{open_dir, s3::S3Store, Stores};
use crate::registry::Registry;
use crate::serving::Serving;
use crate::train::cache::ParsedCache;

/// Cloned for every request by each layer and extractor that takes state, so it is one
/// reference count rather than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub cfg: Arc<Config>,
    pub registry: Arc<Registry>,
    pub datasets: Datasets,
    /// Parsed training data shared by jobs on the same source (training.dataset_cache_bytes).
    pub parsed: Arc<ParsedCache>,
    pub jobs: Arc<JobManager>,
    pub metrics: Arc<Metrics>,
    pub monitor: Arc<Monitor>,
    pub serving: Arc<Serving>,
    pub lifecycle: Arc<Lifecycle>,
}

/// Readiness: false while the store loads at start and again once draining begins.
#[derive(Debug, Default)]
pub struct Lifecycle {
    loaded: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn set_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
    pub fn is_ready(&self) -> bool {
        self.loaded.load(Ordering::Acquire) && !self.draining.load(Ordering::Acquire)
    }
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

impl AppState {
    /// Builds the state over the store `store.uri` names (default `<data_dir>/models`);
    /// the store is not read yet (see [`crate::load_store`]), so the server can answer
    /// /healthz while it loads.
    pub fn new(cfg: Config) -> Result<Self, crate::StartError> {
        crate::train::parallel::start_parse_pool();
        let metrics = Arc::new(Metrics::new()?);
        let location = cfg.store_location()?;
        // Models and datasets share one backend (and, for S3, one client).
        let opened: std::io::Result<Stores> = match &location {
            StoreLocation::Dir(dir) => open_dir(dir, cfg.store.model_name.as_deref()),
            StoreLocation::S3 { bucket, prefix } => {
                S3Store::open(bucket, prefix).map(|s| (Box::new(s.clone()) as _, Arc::new(s) as _))
            }
        };
        let (store, dataset_store) = opened.map_err(|e| crate::StartError::Store {
            location: location.to_string(),
            source: e,
        })?;
        let datasets = Datasets::new(dataset_store, cfg.server.dataset_limit_bytes)
            .with_parsed_budget(cfg.training.dataset_cache_bytes as u64);
        tracing::info!(store = %store.describe(), "model store");
        let registry = Arc::new(Registry::with_limits(store, cfg.models.limits()));
        let parsed = Arc::new(ParsedCache::new(cfg.training.dataset_cache_bytes));
        let jobs = Arc::new(
            JobManager::new(
                cfg.training.clone(),
                cfg.monitoring.drift_bins,
                registry.clone(),
                metrics.clone(),
            )
            .with_limits(cfg.training_limits.clone())
            .with_parsed_forms(parsed.clone(), Arc::new(datasets.clone())),
        );
        let monitor = Arc::new(Monitor::new(cfg.monitoring.clone()));
        let serving = Arc::new(Serving::new(
            registry.clone(),
            monitor.clone(),
            metrics.clone(),
            cfg.batching.clone(),
        ));
        Ok(Self(Arc::new(Shared {
            monitor,
            serving,
            cfg: Arc::new(cfg),
            registry,
            datasets,
            parsed,
            jobs,
            metrics,
            lifecycle: Arc::new(Lifecycle::default()),
        })))
    }
}
