//! The registry: named models with numbered versions and aliases, held in memory as an
//! immutable [`Snapshot`] behind an `ArcSwap` (the predict path loads it without a lock)
//! and persisted through a [`store::ModelStore`] (a directory, or an S3 bucket shared by
//! replicas). Writers serialise on a mutex, build a new snapshot and swap it in, so a
//! reader sees the old registry or the new one, never a mix. Version numbers and alias
//! maps come back from the store's conditional writes, so writers in other processes
//! (replicas) never collide with this one.
//! It knows nothing of serving, metrics or monitoring: each version has one opaque slot
//! where the layer above caches what it builds for it (see [`VersionEntry::cache`]).

pub mod error;
pub mod index;
pub mod listing;
pub mod meta;
pub mod policy;
pub mod poll;
pub mod store;
mod sync;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::models::{Artifact, Limits, Model};
use error::check_name;
pub use error::{valid_name, RegistryError, NAME_PATTERN};
use index::clone_entry;
pub use index::{ModelEntry, Snapshot, VersionEntry, VersionState, PRODUCTION};
pub use meta::{Provenance, VersionMeta};
use store::read_model;
pub use store::ModelStore;
use sync::known_aliases;

pub struct Registry {
    store: Box<dyn ModelStore>,
    /// When the store was last read whole (start-up load or a poll's listing); until
    /// then, when the registry was made, so a replica that never read its store shows
    /// an age that grows rather than a fresh one.
    synced: Mutex<Instant>,
    /// The listing the last full load read, which the poller starts from: a version
    /// written after it is then seen by the first poll.
    loaded_listing: Mutex<store::Listing>,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    /// Models unloaded through the V2 repository API: kept out of serving (and out of
    /// repository polling) until loaded again. Guarded by `write`'s holders.
    unloaded: Mutex<std::collections::BTreeSet<String>>,
    /// How large a model may be, checked on register and on every load from the store.
    limits: Limits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store.describe())
            .finish()
    }
}

impl Registry {
    /// An empty registry over `store` with the default [`Limits`]; call
    /// [`Registry::reload_all`] to read it.
    pub fn new(store: impl ModelStore + 'static) -> Self {
        Self::with_limits(Box::new(store), Limits::default())
    }

    /// An empty registry over `store` that refuses models above `limits`.
    pub fn with_limits(store: Box<dyn ModelStore>, limits: Limits) -> Self {
        Self {
            store,
            synced: Mutex::new(Instant::now()),
            loaded_listing: Mutex::default(),
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            write: Mutex::new(()),
            unloaded: Mutex::default(),
            limits,
        }
    }

    /// The size bounds every registered or loaded model is held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
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
        self.snapshot.store(Arc::new(snapshot));
    }

    fn unloaded(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.unloaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of the models in the store, loaded or not. Blocking.
    pub fn store_model_names(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.store.list()?.into_keys().collect())
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

    /// Removes the leftovers of writes and deletes interrupted before this process
    /// started (see [`ModelStore::remove_leftovers`]). Blocking (store IO).
    pub fn remove_leftovers(&self) -> Result<Vec<String>, RegistryError> {
        let _guard = self.lock();
        Ok(self.store.remove_leftovers()?)
    }

    /// Re-reads the whole store and swaps it in at once. Blocking (file IO).
    pub fn reload_all(&self) -> Result<Arc<Snapshot>, RegistryError> {
        let _guard = self.lock();
        self.unloaded().clear();
        let listing = self.store.list()?;
        let mut snap = Snapshot::default();
        for (name, model) in &listing {
            let stored = read_model(self.store.as_ref(), name, model, &|_| false);
            let entry = ModelEntry::from_stored(stored, &self.limits, &BTreeMap::new());
            if !entry.versions.is_empty() {
                snap.models.insert(name.clone(), Arc::new(entry));
            }
        }
        self.publish(snap);
        self.mark_synced();
        *self
            .loaded_listing
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = listing;
        Ok(self.snapshot())
    }

    /// Re-reads one model's folder and swaps it in. A model whose folder is gone (or
    /// holds no version) disappears.
    pub fn reload_model(&self, name: &str) -> Result<Option<Arc<ModelEntry>>, RegistryError> {
        check_name(name)?;
        let listing = self.store.list_model(name)?;
        let _guard = self.lock();
        self.unloaded().remove(name);
        Ok(self.swap_in(name, &listing, &BTreeMap::new()))
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
        self.limits.check(model.as_ref())?;
        let artifact: Artifact = model.to_artifact();
        artifact.validate()?;
        let first = in_memory.saturating_add(1);
        let version = self
            .store
            .create_version(name, first, &mut meta, &artifact)?;

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
            Arc::new(VersionEntry::new(
                version,
                Some(meta),
                VersionState::Ready(model),
            )),
        );
        if let Some(a) = alias {
            let stored = self.store.update_aliases(name, &mut |m| {
                m.insert(a.to_string(), version);
            })?;
            entry.aliases = known_aliases(stored, &entry);
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
        let stored = self.store.update_aliases(name, &mut |m| {
            m.insert(alias.to_string(), version);
        })?;
        entry.aliases = known_aliases(stored, &entry);
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
        let stored = self.store.update_aliases(name, &mut |m| {
            m.remove(alias);
        })?;
        entry.aliases = known_aliases(stored, &entry);
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
            // The version is gone either way: a folder that cannot be removed now is
            // only an empty folder, which the start-up janitor removes.
            if let Err(e) = self.store.remove_model_if_empty(name) {
                tracing::warn!(model = name, error = %e, "cannot remove the model's folder");
            }
            snap.models.remove(name);
        } else {
            snap.models.insert(name.to_string(), Arc::new(entry));
        }
        self.publish(snap);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::store::LocalStore as Store;
    use super::{valid_name, Registry, RegistryError, VersionMeta};
    use crate::models::linear::LinearModel;
    use crate::models::scaler::Scaler;
    use crate::models::{Model, Schema};

    #[test]
    fn a_model_with_non_finite_parameters_is_never_registered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("models")).unwrap();
        let registry = Registry::new(store);
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
            compressed_from: None,
            compression: None,
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
