//! What each version records about its training data, the fingerprint and the feature
//! profile, computed once per parsed dataset: a repeated training on cached data (the
//! same `Arc<Dataset>`, see [`crate::train::cache`]) reuses them instead of hashing and
//! profiling every row again.

use std::sync::{Arc, Mutex, Weak};

use super::lock;
use crate::monitor::FeatureProfile;
use crate::train::{Dataset, DatasetFingerprint};

/// A dataset's fingerprint and its profile at some bin count.
#[derive(Debug)]
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
        let mut entries = lock(&self.entries);
        entries.retain(|e| e.data.strong_count() > 0);
        if entries.len() >= KEPT {
            entries.remove(0);
        }
        entries.push(Entry {
            data: key,
            bins,
            summary: summary.clone(),
        });
        summary
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
