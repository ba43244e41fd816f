//! Repository polling (TF Serving's file-system polling): every `poll_interval_ms` the
//! store is scanned and each model whose folder changed (a version folder or file added,
//! removed or rewritten, aliases.json or policy.json edited) is reloaded on its own, so
//! versions copied into the store appear and removed ones retire without an API call.
//! Models unloaded through the V2 repository API are left alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use super::Registry;

/// What a model folder looked like: (relative path, size, modified) of every entry two
/// levels deep, sorted. Temporary `.tmp-*`/`.deleted-*` entries of in-flight writes are
/// skipped; the rename that completes them changes the fingerprint.
pub type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path) -> Fingerprint {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        out.push((name.clone(), meta.len(), meta.modified().ok()));
        if meta.is_dir() {
            for f in fs::read_dir(e.path()).into_iter().flatten().flatten() {
                if let Ok(m) = f.metadata() {
                    let rel = format!("{name}/{}", f.file_name().to_string_lossy());
                    out.push((rel, m.len(), m.modified().ok()));
                }
            }
        }
    }
    out.sort();
    out
}

/// Remembers the last fingerprint of every model folder.
#[derive(Debug, Default)]
pub struct Poller {
    seen: BTreeMap<String, Fingerprint>,
}

impl Poller {
    /// Records the store as it is now, without reloading anything (call after the
    /// initial load).
    pub fn prime(registry: &Registry) -> Self {
        let mut p = Poller::default();
        for name in registry.store_model_names().unwrap_or_default() {
            let fp = fingerprint(&registry.store.model_dir(&name));
            p.seen.insert(name, fp);
        }
        p
    }

    /// One scan: reloads every model whose folder changed, appeared or vanished.
    /// Returns the names reloaded. Blocking (file IO).
    pub fn poll(&mut self, registry: &Registry) -> Vec<String> {
        let names = match registry.store_model_names() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "repository poll: cannot list the store");
                return Vec::new();
            }
        };
        let mut current = BTreeMap::new();
        for name in names {
            let fp = fingerprint(&registry.store.model_dir(&name));
            current.insert(name, fp);
        }
        let mut changed: Vec<String> = current
            .iter()
            .filter(|(n, fp)| self.seen.get(*n) != Some(*fp))
            .map(|(n, _)| n.clone())
            .collect();
        changed.extend(
            self.seen
                .keys()
                .filter(|n| !current.contains_key(*n))
                .cloned(),
        );
        self.seen = current;
        let mut reloaded = Vec::new();
        for name in changed {
            if registry.is_unloaded(&name) {
                continue;
            }
            match registry.reload_model(&name) {
                Ok(entry) => {
                    let versions: Vec<u64> = entry
                        .map(|e| e.versions.keys().copied().collect())
                        .unwrap_or_default();
                    tracing::info!(model = %name, ?versions, "repository poll: reloaded");
                    reloaded.push(name);
                }
                Err(e) => {
                    tracing::warn!(model = %name, error = %e, "repository poll: reload failed")
                }
            }
        }
        reloaded
    }
}
