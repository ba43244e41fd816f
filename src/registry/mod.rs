//! The registry: named models with numbered versions and aliases, held in memory as an
//! immutable [`Snapshot`] behind an `ArcSwap` (the predict path loads it without a lock)
//! and persisted through [`store::Store`]. Writers serialise on a mutex, build a new
//! snapshot and swap it in, so a reader sees the old registry or the new one, never a mix.

pub mod meta;
pub mod policy;
pub mod poll;
pub mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::metrics::Metrics;
use crate::models::{Artifact, Model};
pub use meta::{Provenance, VersionMeta};
use store::{Store, StoredModel};

/// Alias that serving uses when a request names no version.
pub const PRODUCTION: &str = "production";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    #[error("model '{name}' has no version {version}")]
    VersionNotFound { name: String, version: u64 },
    #[error("model '{name}' has no alias '{alias}'")]
    AliasNotFound { name: String, alias: String },
    #[error("version {version} of '{name}' is the target of alias(es) {aliases}; move them first")]
    AliasInUse {
        name: String,
        version: u64,
        aliases: String,
    },
    #[error("version {version} of '{name}' is not ready: {reason}")]
    NotReady {
        name: String,
        version: u64,
        reason: String,
    },
    #[error("invalid name '{0}': use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit")]
    InvalidName(String),
    #[error("model store: {0}")]
    Store(#[from] std::io::Error),
    /// A model whose parameters fail validation (a length or a non-finite value) is
    /// never registered, so predicting only needs to re-check lengths.
    #[error("invalid model: {0}")]
    InvalidModel(#[from] crate::models::ModelError),
}

/// Model and alias names double as folder names, so they are restricted to a safe set.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A version is either loaded and ready to serve, or failed with the reason.
#[derive(Debug, Clone)]
pub enum VersionState {
    Ready(Arc<dyn Model>),
    Failed(String),
}

#[derive(Debug)]
pub struct VersionEntry {
    pub version: u64,
    pub meta: Option<VersionMeta>,
    pub state: VersionState,
    /// Prediction counters for this version, resolved on first use by the predict path.
    pub handles: std::sync::OnceLock<(prometheus::IntCounter, prometheus::Histogram)>,
    /// This version's batch worker (`None` when its family is not batched), started on
    /// first use by the predict path and stopped when the entry is dropped.
    pub batcher: std::sync::OnceLock<Option<crate::batching::Batcher>>,
    /// This version's online-metrics and drift state, looked up once by the monitor.
    pub(crate) monitor: std::sync::OnceLock<crate::monitor::SharedVersion>,
}

impl VersionEntry {
    pub fn model(&self) -> Option<&Arc<dyn Model>> {
        match &self.state {
            VersionState::Ready(m) => Some(m),
            VersionState::Failed(_) => None,
        }
    }

    pub fn status(&self) -> &'static str {
        match self.state {
            VersionState::Ready(_) => "ready",
            VersionState::Failed(_) => "failed",
        }
    }

    pub fn family(&self) -> String {
        match (&self.state, &self.meta) {
            (VersionState::Ready(m), _) => m.family().as_str().to_string(),
            (_, Some(meta)) => meta.family.clone(),
            _ => "unknown".into(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ModelEntry {
    pub name: String,
    pub versions: BTreeMap<u64, Arc<VersionEntry>>,
    pub aliases: BTreeMap<String, u64>,
    /// Problems reading the model's folder that are not tied to one version.
    pub problems: Vec<String>,
}

impl ModelEntry {
    /// The version served when a request names none: `production` if set, else the
    /// highest ready version.
    pub fn default_version(&self) -> Option<u64> {
        if let Some(v) = self.aliases.get(PRODUCTION) {
            return Some(*v);
        }
        self.versions
            .values()
            .rev()
            .find(|v| v.model().is_some())
            .map(|v| v.version)
    }

    pub fn aliases_of(&self, version: u64) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.clone())
            .collect()
    }

    fn from_stored(stored: StoredModel) -> Self {
        let mut problems = Vec::new();
        if let Some(e) = stored.alias_error {
            tracing::warn!(model = %stored.name, error = %e, "aliases unreadable");
            problems.push(e);
        }
        if let Some(e) = stored.policy_error {
            tracing::warn!(model = %stored.name, error = %e, "version policy unreadable; serving all versions");
            problems.push(e);
        }
        let mut versions = BTreeMap::new();
        for sv in stored.versions {
            let entry = match sv.content {
                Ok((mut meta, artifact)) => match artifact.into_model() {
                    Ok(model) => VersionEntry {
                        meta: Some({
                            // A bare model.onnx gets its schema from the loaded graph.
                            if meta.schema.feature_names.is_empty() {
                                meta.schema = model.schema().clone();
                            }
                            meta
                        }),
                        version: sv.version,
                        state: VersionState::Ready(model),
                        handles: Default::default(),
                        batcher: Default::default(),
                        monitor: Default::default(),
                    },
                    Err(e) => failed(&stored.name, sv.version, Some(meta), e.to_string()),
                },
                Err(reason) => failed(&stored.name, sv.version, None, reason),
            };
            versions.insert(sv.version, Arc::new(entry));
        }
        let mut aliases = stored.aliases;
        aliases.retain(|alias, v| {
            let keep = versions.contains_key(v) && valid_name(alias);
            if !keep {
                let msg = format!("alias '{alias}' points to missing version {v}; ignored");
                tracing::warn!(model = %stored.name, "{msg}");
                problems.push(msg);
            }
            keep
        });
        ModelEntry {
            name: stored.name,
            versions,
            aliases,
            problems,
        }
    }
}

fn failed(name: &str, version: u64, meta: Option<VersionMeta>, reason: String) -> VersionEntry {
    tracing::error!(model = %name, version, %reason, "version failed to load");
    VersionEntry {
        version,
        meta,
        state: VersionState::Failed(reason),
        handles: Default::default(),
        batcher: Default::default(),
        monitor: Default::default(),
    }
}

/// An immutable view of every model; cheap to clone (maps of `Arc`s).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub models: BTreeMap<String, Arc<ModelEntry>>,
}

impl Snapshot {
    pub fn model(&self, name: &str) -> Result<&Arc<ModelEntry>, RegistryError> {
        self.models
            .get(name)
            .ok_or_else(|| RegistryError::ModelNotFound(name.to_string()))
    }

    /// Picks the version a request asked for: an explicit number, an alias, or the default.
    pub fn resolve(
        &self,
        name: &str,
        version: Option<u64>,
        alias: Option<&str>,
    ) -> Result<(Arc<VersionEntry>, Arc<dyn Model>), RegistryError> {
        self.lookup(name, version, alias)
            .map(|(entry, model)| (entry.clone(), model.clone()))
    }

    /// [`Snapshot::resolve`] by reference, for callers that finish with the version
    /// before the snapshot goes.
    pub fn lookup(
        &self,
        name: &str,
        version: Option<u64>,
        alias: Option<&str>,
    ) -> Result<(&Arc<VersionEntry>, &Arc<dyn Model>), RegistryError> {
        let model = self.model(name)?;
        let v = match (version, alias) {
            (Some(v), _) => v,
            (None, Some(a)) => {
                *model
                    .aliases
                    .get(a)
                    .ok_or_else(|| RegistryError::AliasNotFound {
                        name: name.to_string(),
                        alias: a.to_string(),
                    })?
            }
            (None, None) => model
                .default_version()
                .ok_or_else(|| RegistryError::ModelNotFound(name.to_string()))?,
        };
        let entry = model
            .versions
            .get(&v)
            .ok_or_else(|| RegistryError::VersionNotFound {
                name: name.to_string(),
                version: v,
            })?;
        match &entry.state {
            VersionState::Ready(m) => Ok((entry, m)),
            VersionState::Failed(reason) => Err(RegistryError::NotReady {
                name: name.to_string(),
                version: v,
                reason: reason.clone(),
            }),
        }
    }
}

pub struct Registry {
    store: Store,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    /// Models unloaded through the V2 repository API: kept out of serving (and out of
    /// repository polling) until loaded again. Guarded by `write`'s holders.
    unloaded: Mutex<std::collections::BTreeSet<String>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("root", &self.store.root())
            .finish()
    }
}

impl Registry {
    /// An empty registry over `store`; call [`Registry::reload_all`] to read it.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            write: Mutex::new(()),
            unloaded: Mutex::default(),
            metrics,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The current snapshot without a reference-count update, which on the predict path
    /// is a write to a cache line every worker shares. For short synchronous use: a
    /// thread has only a few such guards, beyond which loads fall back to the count.
    pub fn current(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A writer that panicked leaves no half-built snapshot (it never swapped), so the
        // poisoned lock is safe to take.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, snapshot: Snapshot) {
        self.metrics.sync_models(&snapshot);
        self.snapshot.store(Arc::new(snapshot));
    }

    fn unloaded(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.unloaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of the model folders in the store, loaded or not. Blocking.
    pub fn store_model_names(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.store.model_names()?)
    }

    /// True if `name` was unloaded and not loaded again since.
    pub fn is_unloaded(&self, name: &str) -> bool {
        self.unloaded().contains(name)
    }

    /// Stops serving `name` (removes it from the snapshot) without touching its files.
    pub fn unload(&self, name: &str) -> Result<(), RegistryError> {
        let _guard = self.lock();
        let current = self.snapshot();
        current.model(name)?;
        let mut snap = (*current).clone();
        snap.models.remove(name);
        self.unloaded().insert(name.to_string());
        self.publish(snap);
        Ok(())
    }

    /// Re-reads the whole store and swaps it in at once. Blocking (file IO).
    pub fn reload_all(&self) -> Result<Arc<Snapshot>, RegistryError> {
        let _guard = self.lock();
        self.unloaded().clear();
        let mut snap = Snapshot::default();
        for name in self.store.model_names()? {
            let entry = ModelEntry::from_stored(self.store.read_model(&name)?);
            if !entry.versions.is_empty() {
                snap.models.insert(name, Arc::new(entry));
            }
        }
        self.publish(snap);
        Ok(self.snapshot())
    }

    /// Re-reads one model's folder and swaps it in. A model whose folder is gone (or
    /// holds no version) disappears.
    pub fn reload_model(&self, name: &str) -> Result<Option<Arc<ModelEntry>>, RegistryError> {
        check_name(name)?;
        let _guard = self.lock();
        self.unloaded().remove(name);
        let entry = ModelEntry::from_stored(self.store.read_model(name)?);
        let mut snap = (*self.snapshot()).clone();
        let result = if entry.versions.is_empty() {
            snap.models.remove(name);
            None
        } else {
            let entry = Arc::new(entry);
            snap.models.insert(name.to_string(), entry.clone());
            Some(entry)
        };
        self.publish(snap);
        Ok(result)
    }

    /// Persists a new version (numbered after every version in memory or on disk), then
    /// publishes it and optionally points `alias` at it.
    pub fn register(
        &self,
        name: &str,
        mut meta: VersionMeta,
        model: Arc<dyn Model>,
        alias: Option<&str>,
    ) -> Result<u64, RegistryError> {
        check_name(name)?;
        if let Some(a) = alias {
            check_name(a)?;
        }
        let _guard = self.lock();
        let current = self.snapshot();
        let in_memory = current
            .models
            .get(name)
            .and_then(|m| m.versions.keys().next_back().copied())
            .unwrap_or(0);
        let version = in_memory.max(self.store.max_version_on_disk(name)?) + 1;
        meta.version = version;
        let artifact: Artifact = model.to_artifact();
        artifact.validate()?;
        self.store.write_version(name, &meta, &artifact)?;

        let mut entry = current
            .models
            .get(name)
            .map(|m| clone_entry(m))
            .unwrap_or_else(|| ModelEntry {
                name: name.to_string(),
                ..ModelEntry::default()
            });
        entry.versions.insert(
            version,
            Arc::new(VersionEntry {
                version,
                meta: Some(meta),
                state: VersionState::Ready(model),
                handles: Default::default(),
                batcher: Default::default(),
                monitor: Default::default(),
            }),
        );
        if let Some(a) = alias {
            entry.aliases.insert(a.to_string(), version);
            self.store.write_aliases(name, &entry.aliases)?;
        }
        let mut snap = (*current).clone();
        snap.models.insert(name.to_string(), Arc::new(entry));
        self.publish(snap);
        Ok(version)
    }

    /// Points `alias` at `version` (which must exist and be ready), persisted.
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<(), RegistryError> {
        check_name(alias)?;
        let _guard = self.lock();
        let current = self.snapshot();
        let model = current.model(name)?;
        let target =
            model
                .versions
                .get(&version)
                .ok_or_else(|| RegistryError::VersionNotFound {
                    name: name.to_string(),
                    version,
                })?;
        if let VersionState::Failed(reason) = &target.state {
            return Err(RegistryError::NotReady {
                name: name.to_string(),
                version,
                reason: reason.clone(),
            });
        }
        let mut entry = clone_entry(model);
        entry.aliases.insert(alias.to_string(), version);
        self.store.write_aliases(name, &entry.aliases)?;
        let mut snap = (*current).clone();
        snap.models.insert(name.to_string(), Arc::new(entry));
        self.publish(snap);
        Ok(())
    }

    pub fn remove_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        let _guard = self.lock();
        let current = self.snapshot();
        let model = current.model(name)?;
        if !model.aliases.contains_key(alias) {
            return Err(RegistryError::AliasNotFound {
                name: name.to_string(),
                alias: alias.to_string(),
            });
        }
        let mut entry = clone_entry(model);
        entry.aliases.remove(alias);
        self.store.write_aliases(name, &entry.aliases)?;
        let mut snap = (*current).clone();
        snap.models.insert(name.to_string(), Arc::new(entry));
        self.publish(snap);
        Ok(())
    }

    /// Deletes a version from memory and disk; refused while an alias points to it.
    pub fn delete_version(&self, name: &str, version: u64) -> Result<(), RegistryError> {
        let _guard = self.lock();
        let current = self.snapshot();
        let model = current.model(name)?;
        if !model.versions.contains_key(&version) {
            return Err(RegistryError::VersionNotFound {
                name: name.to_string(),
                version,
            });
        }
        let aliases = model.aliases_of(version);
        if !aliases.is_empty() {
            return Err(RegistryError::AliasInUse {
                name: name.to_string(),
                version,
                aliases: aliases.join(", "),
            });
        }
        self.store.remove_version(name, version)?;
        let mut entry = clone_entry(model);
        entry.versions.remove(&version);
        let mut snap = (*current).clone();
        if entry.versions.is_empty() {
            snap.models.remove(name);
        } else {
            snap.models.insert(name.to_string(), Arc::new(entry));
        }
        self.publish(snap);
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), RegistryError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(name.to_string()))
    }
}

fn clone_entry(m: &ModelEntry) -> ModelEntry {
    ModelEntry {
        name: m.name.clone(),
        versions: m.versions.clone(),
        aliases: m.aliases.clone(),
        problems: m.problems.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{valid_name, Registry, RegistryError, Store, VersionMeta};
    use crate::models::linear::LinearModel;
    use crate::models::scaler::Scaler;
    use crate::models::{Model, Schema};

    #[test]
    fn a_model_with_non_finite_parameters_is_never_registered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("models")).unwrap();
        let registry = Registry::new(store, Arc::new(crate::metrics::Metrics::new().unwrap()));
        let schema = Schema {
            feature_names: vec!["a".into()],
            target: "t".into(),
            classes: None,
        };
        let scaler = Scaler {
            mean: vec![0.0],
            scale: vec![1.0],
        };
        let mut model = LinearModel::new(schema.clone(), scaler, vec![2.0], 1.0).unwrap();
        let meta = |m: &LinearModel| VersionMeta {
            version: 0,
            family: m.family().as_str().into(),
            created_at: chrono::Utc::now(),
            schema: schema.clone(),
            params: serde_json::Value::Null,
            metrics: Default::default(),
            training: None,
            n_parameters: m.n_parameters(),
            profile: None,
        };
        model.intercept = f64::INFINITY;
        let refused = registry.register("m", meta(&model), Arc::new(model.clone()), None);
        assert!(
            matches!(refused, Err(RegistryError::InvalidModel(_))),
            "{refused:?}"
        );
        assert!(registry.snapshot().models.is_empty());
        assert!(!dir.path().join("models").join("m").exists());
        model.intercept = 1.0;
        let v = registry
            .register("m", meta(&model), Arc::new(model.clone()), None)
            .unwrap();
        assert_eq!(v, 1);
    }

    #[test]
    fn names_that_could_escape_the_store_are_invalid() {
        assert!(valid_name("iris"));
        assert!(valid_name("iris-v2_final.1"));
        assert!(!valid_name(""));
        assert!(!valid_name(".."));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name(&"x".repeat(129)));
    }
}
