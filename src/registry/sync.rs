//! How the registry follows a store that other processes (replicas) write too: the sync
//! age, the listing the last full load read, and the poller's per-model refresh that reads
//! only what changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::error::valid_name;
use super::index::{ModelEntry, VersionEntry};
use super::store::{self, read_model, ModelListing, ModelStore};
use super::Registry;

impl Registry {
    /// The store, for the poller's listing.
    pub fn store(&self) -> &dyn ModelStore {
        self.store.as_ref()
    }

    /// Seconds since the store was last read whole, or since start-up before the first
    /// read.
    pub fn sync_age_seconds(&self) -> f64 {
        let synced = *self.synced.lock().unwrap_or_else(|p| p.into_inner());
        synced.elapsed().as_secs_f64()
    }

    /// The listing of the last full load (empty if none), for the poller to start from.
    pub fn loaded_listing(&self) -> store::Listing {
        self.loaded_listing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records that the store was just read whole.
    pub fn mark_synced(&self) {
        *self.synced.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Applies what a poll's listing shows of `name` (`seen`: what the previous listing
    /// showed): versions unchanged since then are kept as they are in memory (with their
    /// serving caches), only new or changed ones are read. Models unloaded through the
    /// repository API are left alone.
    pub fn refresh_model(
        &self,
        name: &str,
        listing: &ModelListing,
        seen: Option<&ModelListing>,
    ) -> Option<Arc<ModelEntry>> {
        let _guard = self.lock();
        if self.is_unloaded(name) {
            return self.snapshot().models.get(name).cloned();
        }
        let mut reuse = BTreeMap::new();
        if let Some(model) = self.snapshot().models.get(name) {
            for (v, entry) in &model.versions {
                let before = seen.and_then(|s| s.versions.get(v));
                let unchanged = match before {
                    Some(before) => listing.versions.get(v) == Some(before),
                    // Registered here since the last listing: what memory holds is what
                    // was written.
                    None => entry.model().is_some(),
                };
                if unchanged {
                    reuse.insert(*v, entry.clone());
                }
            }
        }
        self.swap_in(name, listing, &reuse)
    }

    /// Reads `name` as `listing` shows it (reusing `reuse`) and swaps it in; the caller
    /// holds the write lock.
    pub(super) fn swap_in(
        &self,
        name: &str,
        listing: &ModelListing,
        reuse: &BTreeMap<u64, Arc<VersionEntry>>,
    ) -> Option<Arc<ModelEntry>> {
        let held = |v: u64| reuse.contains_key(&v);
        let stored = read_model(self.store.as_ref(), name, listing, &held);
        let entry = ModelEntry::from_stored(stored, &self.limits, reuse);
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
        result
    }
}

/// The stored alias map, less aliases to versions not loaded here yet (another replica's
/// new version; the next poll brings both in).
pub(super) fn known_aliases(stored: store::Aliases, entry: &ModelEntry) -> store::Aliases {
    stored
        .into_iter()
        .filter(|(a, v)| entry.versions.contains_key(v) && valid_name(a))
        .collect()
}
