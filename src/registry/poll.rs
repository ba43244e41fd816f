//! Repository polling (TF Serving's file-system polling, and how replicas sharing one
//! store converge): every `poll_interval_ms` the store is listed once (one list call for
//! an object store) and each model whose listing changed (a version added, removed or
//! rewritten, aliases.json or policy.json edited) is refreshed on its own, reading only
//! the versions that changed. So versions copied into the store, or registered by another
//! replica, appear, removed ones retire, and moved aliases follow, without an API call.
//! Models unloaded through the V2 repository API are left alone.

use super::store::Listing;
use super::Registry;

/// Remembers the last listing of the store.
#[derive(Debug, Default)]
pub struct Poller {
    seen: Listing,
}

impl Poller {
    /// Starts from the listing the registry's last full load read (call after it), so
    /// nothing written since that load is missed.
    pub fn prime(registry: &Registry) -> Self {
        Poller {
            seen: registry.loaded_listing(),
        }
    }

    /// One scan: refreshes every model whose listing changed, appeared or vanished.
    /// Returns the names refreshed. Blocking (store IO).
    pub fn poll(&mut self, registry: &Registry) -> Vec<String> {
        let current = match registry.store().list() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "repository poll: cannot list the store");
                return Vec::new();
            }
        };
        registry.mark_synced();
        let empty = Default::default();
        let mut changed: Vec<String> = current
            .iter()
            .filter(|(n, l)| !self.seen.get(*n).is_some_and(|s| s.same_content(l)))
            .map(|(n, _)| n.clone())
            .collect();
        changed.extend(
            self.seen
                .keys()
                .filter(|n| !current.contains_key(*n))
                .cloned(),
        );
        let mut refreshed = Vec::new();
        for name in changed {
            if registry.is_unloaded(&name) {
                continue;
            }
            let listing = current.get(&name).unwrap_or(&empty);
            let entry = registry.refresh_model(&name, listing, self.seen.get(&name));
            let versions: Vec<u64> = entry
                .map(|e| e.versions.keys().copied().collect())
                .unwrap_or_default();
            tracing::info!(model = %name, ?versions, "repository poll: reloaded");
            refreshed.push(name);
        }
        self.seen = current;
        refreshed
    }
}
