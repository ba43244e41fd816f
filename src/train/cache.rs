//! Parse once: the parsed form of a CSV file or stored dataset, kept in memory and shared
//! by every job that names the same data (`Arc`, never copied), so a second training, a
//! tune and its k folds pay no parse. Entries are keyed by the source *and its content*
//! (a stored dataset's SHA-256, a file's size and modification time), so a changed source
//! is a new key and its stale entry simply ages out. The cache is bounded in bytes
//! (`training.dataset_cache_bytes`) and evicts the least recently used entry first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::dataset::Dataset;
use crate::models::Task;

/// What a parsed dataset depends on: the bytes (source and content id) and how they
/// were read (target column, task, class names).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub source: String,
    pub content: String,
    pub target: String,
    pub task: Task,
    pub class_names: Option<Vec<String>>,
}

impl CacheKey {
    /// How the bytes were read (target, task, class names, the reader's version), as the
    /// 16 hex digits that name a stored parsed form (`registry::store::parsed`).
    pub fn variant(&self) -> String {
        use sha2::{Digest, Sha256};
        let version = super::parsed_form::READER_VERSION;
        let how = serde_json::json!([version, self.target, self.task, self.class_names]);
        let digest = Sha256::digest(how.to_string().as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// A cached dataset parsed from a stored dataset: what its parsed form in the store is
/// named by, and what was kept with it.
#[derive(Clone, Debug)]
pub struct StoredLink {
    pub dataset: String,
    pub content_id: String,
    pub variant: String,
    /// The summary stored with the form (see `jobs::summary`); `None` until one is.
    pub summary: Option<serde_json::Value>,
    /// Whether the form was read from the store or handed to it: a write that then fails
    /// is not tried again while the data stays cached.
    pub saved: bool,
}

/// Where a load came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    /// The parsed form kept in the store: no parse.
    Stored,
    Miss,
    /// Inline data, or a cache of size 0.
    Uncached,
}

impl Lookup {
    pub fn as_str(&self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Stored => "store",
            Lookup::Miss => "miss",
            Lookup::Uncached => "uncached",
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<CacheKey, Entry>,
    bytes: usize,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    dataset: Arc<Dataset>,
    used: u64,
    link: Option<StoredLink>,
}

#[derive(Debug)]
pub struct ParsedCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

/// The cache's size, for /metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: usize,
    pub bytes: usize,
}

/// Bytes a parsed dataset holds: the matrix and targets dominate; names are counted too.
pub fn footprint(d: &Dataset) -> usize {
    let names: usize = d.feature_names.iter().map(String::len).sum::<usize>()
        + d.classes.iter().flatten().map(String::len).sum::<usize>();
    (d.x.len() + d.y.len()).saturating_mul(std::mem::size_of::<f64>()) + names
}

impl ParsedCache {
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            capacity: capacity_bytes,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// A cache that keeps nothing.
    pub fn disabled() -> Self {
        Self::new(0)
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Entries stay consistent under every panic point (each update is one statement
        // on plain data), so a poisoned lock's data is still good.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Dataset>> {
        let mut e = self.lock();
        e.clock += 1;
        let now = e.clock;
        let entry = e.map.get_mut(key)?;
        entry.used = now;
        Some(entry.dataset.clone())
    }

    /// The stored form `dataset` came from or is to be kept as, if it is cached.
    pub fn link(&self, dataset: &Arc<Dataset>) -> Option<StoredLink> {
        let e = self.lock();
        let entry = e.map.values().find(|v| Arc::ptr_eq(&v.dataset, dataset))?;
        entry.link.clone()
    }

    /// Records that the store now holds `dataset`'s form, with `summary`.
    pub fn mark_saved(&self, dataset: &Arc<Dataset>, summary: serde_json::Value) {
        let mut e = self.lock();
        let found = e
            .map
            .values_mut()
            .find(|v| Arc::ptr_eq(&v.dataset, dataset));
        if let Some(link) = found.and_then(|v| v.link.as_mut()) {
            link.saved = true;
            link.summary = Some(summary);
        }
    }

    /// Keeps `dataset`, with the stored form it came from or is to be kept as, unless it
    /// alone is bigger than the whole cache; evicts the least recently used entries until
    /// it fits.
    pub fn insert(&self, key: CacheKey, dataset: Arc<Dataset>, link: Option<StoredLink>) {
        let size = footprint(&dataset);
        if size > self.capacity {
            return;
        }
        let mut e = self.lock();
        e.clock += 1;
        let now = e.clock;
        if let Some(old) = e.map.remove(&key) {
            e.bytes = e.bytes.saturating_sub(footprint(&old.dataset));
        }
        while e.bytes + size > self.capacity {
            let Some(oldest) = e
                .map
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = e.map.remove(&oldest) {
                e.bytes = e.bytes.saturating_sub(footprint(&old.dataset));
            }
        }
        e.bytes += size;
        let entry = Entry {
            dataset,
            used: now,
            link,
        };
        e.map.insert(key, entry);
    }

    pub fn usage(&self) -> CacheUsage {
        let e = self.lock();
        CacheUsage {
            entries: e.map.len(),
            bytes: e.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data(rows: usize) -> Arc<Dataset> {
        Arc::new(Dataset {
            x: Array2::zeros((rows, 1)),
            y: vec![0.0; rows],
            feature_names: vec!["a".into()],
            target: "y".into(),
            classes: None,
            read_fingerprint: Default::default(),
        })
    }

    fn key(source: &str) -> CacheKey {
        CacheKey {
            source: source.into(),
            content: "v1".into(),
            target: "y".into(),
            task: Task::Regression,
            class_names: None,
        }
    }

    #[test]
    fn least_recently_used_goes_first_and_the_bound_holds() {
        // Each entry: 10 rows × (1 feature + 1 target) × 8 bytes + 1 name byte = 161.
        let cache = ParsedCache::new(400);
        cache.insert(key("a"), data(10), None);
        cache.insert(key("b"), data(10), None);
        assert!(cache.get(&key("a")).is_some()); // a is now the most recent
        cache.insert(key("c"), data(10), None);
        assert!(cache.get(&key("b")).is_none(), "b was least recently used");
        assert!(cache.get(&key("a")).is_some() && cache.get(&key("c")).is_some());
        assert_eq!(
            cache.usage(),
            CacheUsage {
                entries: 2,
                bytes: 322
            }
        );
        cache.insert(key("huge"), data(100), None);
        assert!(
            cache.get(&key("huge")).is_none(),
            "bigger than the cache: not kept"
        );
        assert_eq!(cache.usage().entries, 2);
    }

    #[test]
    fn a_changed_source_is_another_key_and_a_zero_cache_keeps_nothing() {
        let cache = ParsedCache::new(1 << 20);
        cache.insert(key("a"), data(1), None);
        let changed = CacheKey {
            content: "v2".into(),
            ..key("a")
        };
        assert!(cache.get(&changed).is_none());
        let off = ParsedCache::disabled();
        off.insert(key("a"), data(1), None);
        assert!(off.get(&key("a")).is_none());
    }
}
