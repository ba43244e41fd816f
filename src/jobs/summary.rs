//! What each version records about its training data, the fingerprint and the feature
//! profile, computed once per parsed dataset: a repeated training on cached data (the
//! same `Arc<Dataset>`, see [`crate::train::cache`]) reuses them instead of hashing and
//! profiling every row again.

use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};

use super::lock;
use crate::monitor::FeatureProfile;
use crate::train::cache::{ParsedCache, StoredLink};
use crate::train::source::DatasetSource;
use crate::train::{parsed_form, Dataset, DatasetFingerprint};

/// A dataset's fingerprint and its profile at some bin count.
#[derive(Debug, Serialize, Deserialize)]
pub struct DataSummary {
    pub fingerprint: DatasetFingerprint,
    pub profile: FeatureProfile,
}

impl DataSummary {
    pub fn of(data: &Dataset, bins: usize) -> Self {
        DataSummary {
            fingerprint: data.fingerprint(),
            profile: FeatureProfile::from_matrix(data.x.view(), &data.feature_names, bins),
        }
    }

    /// As kept with a stored parsed form: with the bin count it was made at.
    fn to_kept(&self, bins: usize) -> serde_json::Value {
        serde_json::json!({"bins": bins, "summary": self})
    }

    /// A kept summary of `data` at `bins`, if it is one and is of that shape.
    fn from_kept(kept: &serde_json::Value, data: &Dataset, bins: usize) -> Option<Self> {
        if kept.get("bins")?.as_u64()? != bins as u64 {
            return None;
        }
        let summary = DataSummary::deserialize(kept.get("summary")?).ok()?;
        let (rows, columns) = data.x.dim();
        let f = &summary.fingerprint;
        (f.rows == rows && f.columns == columns && summary.profile.features.len() == columns)
            .then_some(summary)
    }
}

/// The parse cache, to find which stored form a job's data came from, and the store.
pub struct KeptForms {
    pub cache: Arc<ParsedCache>,
    pub source: Arc<dyn DatasetSource + Send + Sync>,
}

impl KeptForms {
    /// The stored form `data` was read from or is to be kept as.
    pub fn link(&self, data: &Arc<Dataset>) -> Option<StoredLink> {
        self.cache.link(data)
    }

    /// A summary kept with `data`'s stored form, at `bins`.
    pub fn summary(&self, link: &StoredLink, data: &Dataset, bins: usize) -> Option<DataSummary> {
        DataSummary::from_kept(link.summary.as_ref()?, data, bins)
    }

    /// Writes `data`'s form, with `summary`, to the store on a background thread: the
    /// job that parsed it does not wait for the write.
    pub fn keep(&self, data: &Arc<Dataset>, link: StoredLink, summary: &DataSummary, bins: usize) {
        let kept = summary.to_kept(bins);
        // Marked first, so that another job on the same data does not write it again.
        self.cache.mark_saved(data, kept.clone());
        let (data, source) = (data.clone(), self.source.clone());
        let spawned = std::thread::Builder::new()
            .name("modeld-keep-parsed".into())
            .spawn(move || {
                crate::train::parallel::background_priority();
                let form = parsed_form::encode(&data, &link.content_id, Some(kept));
                drop(data);
                let kept =
                    source.write_parsed(&link.dataset, &link.content_id, &link.variant, form);
                tracing::debug!(dataset = %link.dataset, kept, "parsed form written to the store");
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start writing a parsed form to the store");
        }
    }
}

/// Summaries remembered, at most.
const KEPT: usize = 16;

/// Summaries of recent datasets, keyed by the dataset's allocation. An entry holds a
/// [`Weak`], which keeps that allocation's address from being reused, so an entry can only
/// ever match the dataset it was computed from; a dataset dropped from the parse cache
/// and every job leaves only its entry's few kilobytes, evicted oldest first.
#[derive(Default)]
pub struct Summaries {
    entries: Mutex<Vec<Entry>>,
}

struct Entry {
    data: Weak<Dataset>,
    bins: usize,
    summary: Arc<DataSummary>,
}

impl Summaries {
    /// Whether a summary of `data` at `bins` is remembered.
    pub fn knows(&self, data: &Arc<Dataset>, bins: usize) -> bool {
        let key = Arc::downgrade(data);
        lock(&self.entries)
            .iter()
            .any(|e| e.bins == bins && Weak::ptr_eq(&e.data, &key))
    }

    /// Remembers a summary computed elsewhere (kept with a stored parsed form).
    pub fn seed(&self, data: &Arc<Dataset>, bins: usize, summary: DataSummary) {
        self.remember(data, bins, Arc::new(summary));
    }

    pub fn get_or_compute(&self, data: &Arc<Dataset>, bins: usize) -> Arc<DataSummary> {
        let key = Arc::downgrade(data);
        let known = lock(&self.entries)
            .iter()
            .find(|e| e.bins == bins && Weak::ptr_eq(&e.data, &key))
            .map(|e| e.summary.clone());
        if let Some(summary) = known {
            return summary;
        }
        let summary = Arc::new(DataSummary::of(data, bins));
        self.remember(data, bins, summary.clone());
        summary
    }

    fn remember(&self, data: &Arc<Dataset>, bins: usize, summary: Arc<DataSummary>) {
        let key = Arc::downgrade(data);
        let mut entries = lock(&self.entries);
        entries.retain(|e| e.data.strong_count() > 0);
        if entries.len() >= KEPT {
            entries.remove(0);
        }
        entries.push(Entry {
            data: key,
            bins,
            summary,
        });
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    fn data(shift: f64) -> Arc<Dataset> {
        Arc::new(Dataset {
            x: Array2::from_shape_fn((50, 2), |(i, j)| (i + j) as f64 + shift),
            y: (0..50).map(|i| i as f64).collect(),
            feature_names: vec!["a".into(), "b".into()],
            target: "y".into(),
            classes: None,
            read_fingerprint: Default::default(),
        })
    }

    #[test]
    fn the_same_dataset_is_summarised_once_and_another_is_not_confused_with_it() {
        let memo = Summaries::default();
        let first = data(0.0);
        let a = memo.get_or_compute(&first, 10);
        assert!(Arc::ptr_eq(&a, &memo.get_or_compute(&first, 10)));
        // Another bin count is another profile.
        assert_eq!(
            memo.get_or_compute(&first, 4).profile.features[0]
                .edges
                .len(),
            3
        );
        // Equal content in another allocation is summarised afresh, and equally.
        let twin = data(0.0);
        let b = memo.get_or_compute(&twin, 10);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.fingerprint, b.fingerprint);
        let other = memo.get_or_compute(&data(1.0), 10);
        assert_ne!(other.fingerprint, a.fingerprint);
        assert_eq!(a.fingerprint, first.fingerprint());
    }

    #[test]
    fn it_stays_bounded() {
        let memo = Summaries::default();
        let alive: Vec<_> = (0..40).map(|i| data(f64::from(i))).collect();
        for d in &alive {
            memo.get_or_compute(d, 10);
        }
        assert_eq!(lock(&memo.entries).len(), KEPT);
    }
}
