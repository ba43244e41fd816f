//! Configuration: one `Config` struct layered from config/default.toml, an optional
//! `--config` file, `MODELD_*` environment variables and command-line flags, in that order.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::models::Family;

mod grpc;
mod limits;
mod store;
pub use grpc::GrpcConfig;
pub use limits::{ModelsConfig, TrainingLimitsConfig};
pub use store::{StoreConfig, StoreLocation, StoreOverrides};

/// Everything modeld can be told at start-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to bind. Default `0.0.0.0`.
    pub host: String,
    /// Port to bind. Default `8080`.
    pub port: u16,
    /// Data directory: the model store lives in `<data_dir>/models` unless `store.uri`
    /// says otherwise, and training files named by `{"path": ...}` are resolved under it.
    /// Default `./data`.
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub server: ServerConfig,
    pub grpc: GrpcConfig,
    pub training: TrainingConfig,
    pub log: LogConfig,
    pub demo: DemoConfig,
    pub monitoring: MonitoringConfig,
    pub repository: RepositoryConfig,
    pub batching: BatchingConfig,
    pub models: ModelsConfig,
    pub training_limits: TrainingLimitsConfig,
}

/// `[batching]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchingConfig {
    /// Model families whose requests are batched. Empty turns batching off. Default
    /// `["mlp_regressor", "mlp_classifier", "onnx"]`.
    pub families: Vec<Family>,
    /// Rows gathered into one call at most; a request larger than this runs alone.
    /// Default 64.
    pub max_batch_rows: usize,
    /// Longest a request waits for others to join its batch, in microseconds. 0 batches
    /// only what queued while the previous call ran, which measured best on 2 cores
    /// (bench/RESULTS.md). Default 0.
    pub max_delay_us: u64,
    /// Requests that may wait for a batch per version; beyond this they run alone rather
    /// than queue without bound. Default 1024.
    pub queue_size: usize,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            families: vec![Family::MlpRegressor, Family::MlpClassifier, Family::Onnx],
            max_batch_rows: 64,
            max_delay_us: 0,
            queue_size: 1024,
        }
    }
}

impl BatchingConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_batch_rows == 0 {
            return Err("batching.max_batch_rows must be > 0".into());
        }
        if self.max_delay_us > 1_000_000 {
            return Err("batching.max_delay_us must be at most 1000000 (1 s)".into());
        }
        if self.queue_size == 0 {
            return Err("batching.queue_size must be > 0".into());
        }
        Ok(())
    }

    pub fn applies_to(&self, family: Family) -> bool {
        self.families.contains(&family)
    }
}

/// The model store as a repository other processes write to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RepositoryConfig {
    /// Scan the store every this many milliseconds and reload models whose folders
    /// changed (versions added or removed, policy.json edited). 0 turns polling off.
    /// Default 0: the store changes only through the API unless you opt in.
    pub poll_interval_ms: u64,
}

/// HTTP serving limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 above). Default 10 MiB.
    pub body_limit_bytes: usize,
    /// Per-request deadline in milliseconds (504 `timeout` after it). Default 30000.
    pub request_timeout_ms: u64,
    /// Longest wait for the rest of a request body once reading it has had to wait, in
    /// milliseconds (408 `timeout` after it): a client that stalls its body holds an
    /// in-flight slot this long, not `request_timeout_ms`. Default 5000.
    pub body_timeout_ms: u64,
    /// Largest dataset upload (`PUT /v1/datasets/{name}`) in bytes (413 above). The upload
    /// streams to the store, so this bounds the store's use, not memory. Default 1 GiB.
    pub dataset_limit_bytes: u64,
    /// Requests handled at once; more are shed with 503 `overloaded`. Default 1024.
    pub concurrency_limit: usize,
    /// Upper bound on how long shutdown waits for in-flight requests, in ms. Default 10000.
    pub shutdown_grace_ms: u64,
    /// When set, every route except /healthz, /readyz and /metrics requires
    /// `Authorization: Bearer <api_key>` (401 `unauthorized` otherwise). Default unset.
    pub api_key: Option<Secret>,
}

/// A setting that must not reach logs: its `Debug` and `Display` print `***`, so the
/// whole `Config` can be logged at start-up. Read as a plain string from files and the
/// environment (`serde(transparent)`); [`Secret::expose`] is the one way to its value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Background training jobs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Whether this replica trains at all. `false` makes a pure serving tier: train and
    /// tune requests are refused with 403 `training_disabled` before their body is read,
    /// and no training threads are started. Env `MODELD_TRAINING__ENABLED`. Default true.
    pub enabled: bool,
    /// Jobs that train at the same time. Default 1 (the other core keeps serving).
    pub max_concurrent_jobs: usize,
    /// Jobs that may wait for a slot; past that, new jobs get 429 `busy`. Default 16.
    pub queue_size: usize,
    /// Finished jobs kept for `GET /v1/jobs`; the oldest finished are forgotten first. Default 100.
    pub job_history: usize,
    /// Worker threads shared by all training jobs for the work split over row chunks
    /// (the Newton solver's passes). 0 = every core on Linux, where they run in the idle
    /// scheduling class so requests still come first (half the cores elsewhere); results
    /// do not depend on it. Default 0.
    pub threads: usize,
    /// Between epochs a job pauses (in 1 ms steps, about 9x the last epoch's compute at
    /// most, but 5 ms for short epochs and 200 ms at the longest) while the async
    /// workers are busy with requests on more than this many cores, so training does not
    /// fill the gaps requests need. 0 = never pause.
    /// Default 0.25.
    pub pause_when_serving_cores: f64,
    /// Bytes of parsed training data kept in memory (CSV files and stored datasets, by
    /// content), so the next job on the same data skips the parse; least recently used
    /// goes first. 0 = parse every time. Default 536870912 (512 MiB).
    pub dataset_cache_bytes: usize,
}

/// Upper bound of `training.threads`; more is a typo, not a machine.
pub const MAX_TRAINING_THREADS: usize = 256;

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (human readable) or `json` (one object a line). Default `text`.
    pub format: LogFormat,
    /// tracing `EnvFilter` directive; `RUST_LOG` wins if set. Default `modeld=info`.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Online quality and drift.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Rows of recent predictions kept by request id for feedback (about 8 bytes a row
    /// plus ~72 bytes and the id a request, and up to as much again in spare ring
    /// capacity); 0 turns the log off. Default 10000 (≈ 1.1–2.2 MiB at one row a request
    /// with a UUID id).
    pub prediction_log_rows: usize,
    /// Bound on the bytes the prediction log allocates, whatever the rows and ids; the
    /// oldest requests are dropped first. 0 turns the log off. Default 16 MiB.
    pub prediction_log_bytes: usize,
    /// Labelled rows in each version's online-metrics window. Default 1000.
    pub feedback_window: usize,
    /// Live rows in each version's drift window. Default 1000.
    pub drift_window: usize,
    /// Quantile bins per feature in the training profile. Default 10.
    pub drift_bins: usize,
    /// PSI above which a feature counts as drifted. Default 0.2.
    pub drift_threshold: f64,
    /// Live rows needed before drift is judged and exported (PSI of a handful of rows is
    /// noise). Default 100.
    pub drift_min_rows: usize,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            prediction_log_rows: 10_000,
            prediction_log_bytes: 16 * 1024 * 1024,
            feedback_window: 1000,
            drift_window: 1000,
            drift_bins: 10,
            drift_threshold: 0.2,
            drift_min_rows: 100,
        }
    }
}

/// Demo models trained from the bundled datasets when the store has none of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Train `iris` (softmax regression) and `diabetes` (linear regression) at first start.
    /// Default true.
    pub enabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            data_dir: PathBuf::from("./data"),
            store: StoreConfig::default(),
            server: ServerConfig::default(),
            grpc: GrpcConfig::default(),
            training: TrainingConfig::default(),
            log: LogConfig::default(),
            demo: DemoConfig { enabled: true },
            monitoring: MonitoringConfig::default(),
            repository: RepositoryConfig::default(),
            batching: Default::default(),
            models: ModelsConfig::default(),
            training_limits: TrainingLimitsConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 10 * 1024 * 1024,
            request_timeout_ms: 30_000,
            body_timeout_ms: 5_000,
            dataset_limit_bytes: 1 << 30,
            concurrency_limit: 1024,
            shutdown_grace_ms: 10_000,
            api_key: None,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent_jobs: 1,
            queue_size: 16,
            job_history: 100,
            threads: 0,
            pause_when_serving_cores: 0.25,
            dataset_cache_bytes: 512 << 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "modeld=info".into(),
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--grpc-port`, as `{"grpc": {"port": N}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcConfig>,
    /// `--model-dir` and `--model-name`, as `{"store": {"uri": .., "model_name": ..}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreOverrides>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Layers, lowest first: built-in defaults, `config/default.toml` (if present in the
    /// working directory), `file`, `MODELD_*` environment (nested keys with `__`, e.g.
    /// `MODELD_SERVER__BODY_LIMIT_BYTES`), then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file("config/default.toml"));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let cfg: Config = fig
            .merge(Env::prefixed("MODELD_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Rejects values that would only fail later, with the key's name in the message.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.host.trim().is_empty() {
            return bad("host must not be empty");
        }
        if self.addr().is_err() {
            return bad("host must be an IP address such as 0.0.0.0 or 127.0.0.1");
        }
        if self.server.body_limit_bytes == 0 {
            return bad("server.body_limit_bytes must be > 0");
        }
        if self.server.request_timeout_ms == 0 {
            return bad("server.request_timeout_ms must be > 0");
        }
        if self.server.body_timeout_ms == 0 {
            return bad("server.body_timeout_ms must be > 0");
        }
        if self.server.concurrency_limit == 0 {
            return bad("server.concurrency_limit must be > 0");
        }
        if self
            .server
            .api_key
            .as_ref()
            .is_some_and(|k| k.expose().len() < 8)
        {
            return bad("server.api_key must be at least 8 characters");
        }
        if self.training.max_concurrent_jobs == 0 {
            return bad("training.max_concurrent_jobs must be > 0");
        }
        if self.training.job_history == 0 {
            return bad("training.job_history must be > 0");
        }
        let pause = self.training.pause_when_serving_cores;
        if !(pause.is_finite() && pause >= 0.0) {
            return bad("training.pause_when_serving_cores must be a number >= 0");
        }
        if self.training.threads > MAX_TRAINING_THREADS {
            return bad("training.threads must be 0 (auto) or between 1 and 256");
        }
        let m = &self.monitoring;
        if m.feedback_window == 0 || m.drift_window == 0 {
            return bad("monitoring.feedback_window and monitoring.drift_window must be > 0");
        }
        if !(2..=1000).contains(&m.drift_bins) {
            return bad("monitoring.drift_bins must be between 2 and 1000");
        }
        if !(m.drift_threshold.is_finite() && m.drift_threshold > 0.0) {
            return bad("monitoring.drift_threshold must be a positive number");
        }
        self.store_location()?;
        self.batching.validate().map_err(ConfigError::Invalid)?;
        self.models.validate().map_err(ConfigError::Invalid)?;
        self.training_limits
            .validate()
            .map_err(ConfigError::Invalid)?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::Invalid(format!("log.filter is invalid: {e}")));
        }
        Ok(())
    }

    pub fn addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        let host = self.host.trim_matches(|c| c == '[' || c == ']');
        let ip: std::net::IpAddr = if host == "localhost" {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse()?
        };
        Ok(SocketAddr::new(ip, self.port))
    }

    /// The model store: `store.uri`, or `<data_dir>/models` when it is unset.
    pub fn store_location(&self) -> Result<StoreLocation, ConfigError> {
        self.store
            .location(&self.data_dir)
            .map_err(ConfigError::Invalid)
    }

    /// The model store's directory; an error for an object-store URI.
    pub fn store_dir(&self) -> Result<PathBuf, ConfigError> {
        match self.store_location()? {
            StoreLocation::Dir(dir) => Ok(dir),
            other => Err(ConfigError::Invalid(format!(
                "store.uri '{other}' is not a directory"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().addr().unwrap().port(), 8080);
    }

    #[test]
    fn training_threads_are_bounded() {
        let mut c = Config::default();
        c.training.threads = MAX_TRAINING_THREADS + 1;
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("training.threads"), "{msg}");
        c.training.threads = 2;
        c.validate().unwrap();
    }

    #[test]
    fn zero_limits_are_rejected_with_the_key() {
        let mut c = Config::default();
        c.server.concurrency_limit = 0;
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("server.concurrency_limit"), "{msg}");
    }

    #[test]
    fn batching_settings_are_validated_with_the_key() {
        let mut c = Config::default();
        c.batching.max_batch_rows = 0;
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("batching.max_batch_rows"), "{msg}");
        let mut c = Config::default();
        c.batching.max_delay_us = 5_000_000;
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("batching.max_delay_us"), "{msg}");
    }

    #[test]
    fn the_api_key_never_shows_in_the_logged_config() {
        let mut c = Config::default();
        c.server.api_key = Some("hunter2-secret-key".into());
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("api_key: Some(***)"), "{shown}");
        let key = c.server.api_key.as_ref().map(Secret::expose);
        assert_eq!(key, Some("hunter2-secret-key"));
        assert_eq!(Secret::new("x").to_string(), "***");
    }

    #[test]
    fn bad_host_is_rejected() {
        let c = Config {
            host: "not an ip".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn layers_apply_in_documented_order() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "port = 1000\nhost = \"127.0.0.1\"\n[training]\nqueue_size = 5\n",
            )?;
            jail.create_file("custom.toml", "port = 2000\n[training]\njob_history = 7\n")?;
            let file = Some(Path::new("custom.toml"));
            let none = Overrides::default();
            let c = Config::load(None, &none).map_err(|e| e.to_string())?;
            assert_eq!((c.port, c.training.queue_size), (1000, 5));
            let c = Config::load(file, &none).map_err(|e| e.to_string())?;
            assert_eq!(
                (c.port, c.training.job_history, c.training.queue_size),
                (2000, 7, 5)
            );
            jail.set_env("MODELD_PORT", "3000");
            jail.set_env("MODELD_TRAINING__QUEUE_SIZE", "9");
            let c = Config::load(file, &none).map_err(|e| e.to_string())?;
            assert_eq!((c.port, c.training.queue_size), (3000, 9));
            let flags = Overrides {
                port: Some(4000),
                ..Overrides::default()
            };
            let c = Config::load(file, &flags).map_err(|e| e.to_string())?;
            assert_eq!(c.port, 4000);
            jail.set_env("MODELD_SERVER__API_KEY", "from-env-key");
            let c = Config::load(file, &flags).map_err(|e| e.to_string())?;
            assert_eq!(
                c.server.api_key.as_ref().map(Secret::expose),
                Some("from-env-key")
            );
            jail.set_env("MODELD_SERVER__NO_SUCH_KEY", "1");
            assert!(Config::load(file, &flags).is_err());
            Ok(())
        });
    }
}
