//! The prediction log split into one part per worker thread. Every prediction is
//! logged, so one lock for the whole log was taken by both workers on every request
//! and its cache line moved between cores each time (about 5% of a one-row predict's
//! CPU, bench/RESULTS.md). A thread logs into its own part; the rare feedback lookup
//! asks every part and takes the latest match.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::log::{LoggedPrediction, PredictionLog};

/// A part on its own cache lines, so that two workers' parts never share one.
#[repr(align(128))]
struct Part(Mutex<PredictionLog>);

pub struct ShardedLog {
    parts: Box<[Part]>,
    capacity_rows: usize,
    capacity_bytes: usize,
}

/// Where a lookup found a request: which part, and what it held.
pub struct Found {
    part: usize,
    pub entry: LoggedPrediction,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Consumed {
    Now,
    Already,
    /// Evicted or replaced by a newer request under the same id since it was found.
    Gone,
}

/// Threads take part numbers in the order they first log.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_NUMBER: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

fn lock(part: &Part) -> MutexGuard<'_, PredictionLog> {
    part.0.lock().unwrap_or_else(|p| p.into_inner())
}

impl ShardedLog {
    /// `parts` parts (the runtime's worker count is the natural choice) that share the
    /// bounds equally; fewer when the row bound is smaller than that, so each part can
    /// hold at least one row.
    pub fn new(parts: usize, capacity_rows: usize, capacity_bytes: usize) -> Self {
        let n = parts.clamp(1, capacity_rows.max(1));
        let parts = (0..n)
            .map(|_| {
                Part(Mutex::new(PredictionLog::new(
                    capacity_rows / n,
                    capacity_bytes / n,
                )))
            })
            .collect();
        Self {
            parts,
            capacity_rows,
            capacity_bytes,
        }
    }

    fn own_part(&self) -> &Part {
        let number = THREAD_NUMBER.with(|n| *n);
        // `new` makes at least one part.
        &self.parts[number % self.parts.len()]
    }

    pub fn insert(&self, request_id: &str, model: &str, version: u64, predictions: &[f64]) {
        lock(self.own_part()).insert(request_id, model, version, predictions);
    }

    /// The latest request logged under `request_id`, in whichever part.
    pub fn latest(&self, request_id: &str) -> Option<Found> {
        self.parts
            .iter()
            .enumerate()
            .filter_map(|(part, p)| Some((part, lock(p).get(request_id)?)))
            .max_by_key(|(_, entry)| entry.logged_at)
            .map(|(part, entry)| Found { part, entry })
    }

    /// Marks `found` consumed unless it already was. Checked and marked under one
    /// lock, so two concurrent feedbacks for one request cannot both count.
    pub fn consume(&self, request_id: &str, found: &Found) -> Consumed {
        let Some(part) = self.parts.get(found.part) else {
            return Consumed::Gone;
        };
        let mut log = lock(part);
        match log.get(request_id) {
            Some(e) if e.logged_at != found.entry.logged_at => Consumed::Gone,
            Some(e) if e.consumed => Consumed::Already,
            Some(_) => {
                log.mark_consumed(request_id);
                Consumed::Now
            }
            None => Consumed::Gone,
        }
    }

    /// Requests, rows and allocated bytes over all parts.
    pub fn usage(&self) -> (usize, usize, usize) {
        self.parts.iter().fold((0, 0, 0), |(n, rows, bytes), p| {
            let log = lock(p);
            (n + log.len(), rows + log.rows(), bytes + log.bytes())
        })
    }

    pub fn capacity_rows(&self) -> usize {
        self.capacity_rows
    }

    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_request_under_an_id_wins_across_threads() {
        let log = std::sync::Arc::new(ShardedLog::new(4, 100, 1 << 20));
        log.insert("r", "m", 1, &[1.0]);
        for version in 2..=5 {
            let log = log.clone();
            std::thread::spawn(move || log.insert("r", "m", version, &[version as f64]))
                .join()
                .unwrap();
        }
        let found = log.latest("r").unwrap();
        assert_eq!(
            (found.entry.version, found.entry.predictions.clone()),
            (5, vec![5.0])
        );
        assert_eq!(log.consume("r", &found), Consumed::Now);
        assert_eq!(log.consume("r", &found), Consumed::Already);
        assert!(log.latest("r").unwrap().entry.consumed);
        assert_eq!(log.usage().0, 5);
    }

    #[test]
    fn parts_share_the_bounds() {
        let log = ShardedLog::new(8, 3, 1 << 20);
        assert_eq!(log.parts.len(), 3);
        let log = ShardedLog::new(2, 0, 0);
        assert_eq!(log.parts.len(), 1);
        log.insert("r", "m", 1, &[1.0]);
        assert!(log.latest("r").is_none());
    }
}
