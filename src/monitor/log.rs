//! Recent predictions by request id, so ground truth sent later can be joined to what
//! was predicted. Bounded by the total number of rows held; the oldest requests go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What was predicted for one request.
#[derive(Debug, Clone)]
pub struct LoggedPrediction {
    pub model: String,
    pub version: u64,
    /// Class index or regression value per row.
    pub predictions: Vec<f64>,
    /// Set once feedback has been recorded, so the same truth is not counted twice.
    pub consumed: bool,
}

#[derive(Debug, Default)]
pub struct PredictionLog {
    capacity_rows: usize,
    rows: usize,
    // One allocation per id, shared by the queue and the map.
    order: VecDeque<Arc<str>>,
    // Ids come from clients, so the hash is seeded per process (foldhash), but it need
    // not be SipHash: this map is touched on every prediction.
    entries: HashMap<Arc<str>, LoggedPrediction, foldhash::fast::RandomState>,
}

/// Rough bytes per logged request beyond its 8-byte-per-row predictions: the id (twice:
/// map key and order queue), model name, and map/queue overhead.
pub const BYTES_PER_ENTRY: usize = 160;

impl PredictionLog {
    pub fn new(capacity_rows: usize) -> Self {
        Self {
            capacity_rows,
            ..Self::default()
        }
    }

    /// Logs a request; a batch larger than the whole log is not kept.
    pub fn insert(&mut self, request_id: Arc<str>, entry: LoggedPrediction) {
        let n = entry.predictions.len();
        if request_id.is_empty() || n == 0 || n > self.capacity_rows {
            return;
        }
        if let Some(old) = self.entries.remove(&request_id) {
            // A client reusing a request id replaces the earlier entry.
            self.rows -= old.predictions.len();
            self.order.retain(|id| *id != request_id);
        }
        while self.rows + n > self.capacity_rows {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.rows -= old.predictions.len();
            }
        }
        self.rows += n;
        self.order.push_back(request_id.clone());
        self.entries.insert(request_id, entry);
    }

    pub fn get(&self, request_id: &str) -> Option<&LoggedPrediction> {
        self.entries.get(request_id)
    }

    pub fn mark_consumed(&mut self, request_id: &str) {
        if let Some(e) = self.entries.get_mut(request_id) {
            e.consumed = true;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn capacity_rows(&self) -> usize {
        self.capacity_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rows: usize) -> LoggedPrediction {
        LoggedPrediction {
            model: "m".into(),
            version: 1,
            predictions: vec![1.0; rows],
            consumed: false,
        }
    }

    #[test]
    fn oldest_requests_are_dropped_to_stay_within_capacity() {
        let mut log = PredictionLog::new(10);
        log.insert("a".into(), entry(4));
        log.insert("b".into(), entry(4));
        log.insert("c".into(), entry(4));
        assert!(log.get("a").is_none());
        assert!(log.get("b").is_some() && log.get("c").is_some());
        assert_eq!(log.rows(), 8);
        log.insert("huge".into(), entry(11));
        assert!(log.get("huge").is_none());
        log.insert("b".into(), entry(2));
        assert_eq!((log.len(), log.rows()), (2, 6));
    }
}
