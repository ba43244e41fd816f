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

/// Requests in arrival order with their predictions stored back to back in one ring of
/// values, and an index from request id to position: logging a request allocates only
/// its id (shared by the ring and the index) once the rings have grown to capacity,
/// where a map of owned entries allocated and freed three objects per prediction.
#[derive(Debug, Default)]
pub struct PredictionLog {
    capacity_rows: usize,
    /// Predictions of every request in `requests`, in the same order.
    values: VecDeque<f64>,
    requests: VecDeque<Slot>,
    /// Sequence number of `requests[0]`; a request's number never changes.
    first_seq: u64,
    /// Absolute position of `values[0]` in the stream of all logged values.
    first_value: u64,
    // Ids come from clients, so the hash is seeded per process (foldhash), but it need
    // not be SipHash: this map is touched on every prediction.
    index: HashMap<Arc<str>, u64, foldhash::fast::RandomState>,
}

#[derive(Debug)]
struct Slot {
    id: Arc<str>,
    model: Arc<str>,
    version: u64,
    /// Absolute position of its first value.
    start: u64,
    rows: usize,
    consumed: bool,
    /// False once a later request reused the id; its rows stay until evicted.
    current: bool,
}

/// Rough bytes per logged request beyond its 8-byte-per-row predictions: the id (with its
/// reference count), the ring slot and the index entry.
pub const BYTES_PER_ENTRY: usize = 160;

impl PredictionLog {
    pub fn new(capacity_rows: usize) -> Self {
        Self {
            capacity_rows,
            ..Self::default()
        }
    }

    /// Logs a request; a batch larger than the whole log is not kept. A client reusing a
    /// request id replaces the earlier entry.
    pub fn insert(
        &mut self,
        request_id: Arc<str>,
        model: Arc<str>,
        version: u64,
        predictions: &[f64],
    ) {
        let n = predictions.len();
        if request_id.is_empty() || n == 0 || n > self.capacity_rows {
            return;
        }
        while self.values.len() + n > self.capacity_rows {
            self.evict_oldest();
        }
        let seq = self.first_seq + self.requests.len() as u64;
        let start = self.first_value + self.values.len() as u64;
        if let Some(earlier) = self.index.insert(request_id.clone(), seq) {
            if let Some(slot) = self.slot_mut(earlier) {
                slot.current = false;
            }
        }
        self.values.extend(predictions);
        self.requests.push_back(Slot {
            id: request_id,
            model,
            version,
            start,
            rows: n,
            consumed: false,
            current: true,
        });
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = self.requests.pop_front() else {
            return;
        };
        self.first_seq += 1;
        self.values.drain(..oldest.rows.min(self.values.len()));
        self.first_value += oldest.rows as u64;
        if oldest.current {
            self.index.remove(&oldest.id);
        }
    }

    fn slot(&self, seq: u64) -> Option<&Slot> {
        let at = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.requests.get(at)
    }

    fn slot_mut(&mut self, seq: u64) -> Option<&mut Slot> {
        let at = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.requests.get_mut(at)
    }

    pub fn get(&self, request_id: &str) -> Option<LoggedPrediction> {
        let slot = self.slot(*self.index.get(request_id)?)?;
        let from = usize::try_from(slot.start.checked_sub(self.first_value)?).ok()?;
        Some(LoggedPrediction {
            model: slot.model.to_string(),
            version: slot.version,
            predictions: self.values.range(from..from + slot.rows).copied().collect(),
            consumed: slot.consumed,
        })
    }

    pub fn mark_consumed(&mut self, request_id: &str) {
        if let Some(&seq) = self.index.get(request_id) {
            if let Some(slot) = self.slot_mut(seq) {
                slot.consumed = true;
            }
        }
    }

    /// Requests that can still be looked up.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Rows held, counting those of requests whose id was reused until they are evicted.
    pub fn rows(&self) -> usize {
        self.values.len()
    }

    pub fn capacity_rows(&self) -> usize {
        self.capacity_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(log: &mut PredictionLog, id: &str, rows: usize) {
        let values: Vec<f64> = (0..rows).map(|i| i as f64 + id.len() as f64).collect();
        log.insert(id.into(), "m".into(), 1, &values);
    }

    #[test]
    fn oldest_requests_are_dropped_to_stay_within_capacity() {
        let mut log = PredictionLog::new(10);
        insert(&mut log, "a", 4);
        insert(&mut log, "b", 4);
        insert(&mut log, "c", 4);
        assert!(log.get("a").is_none());
        assert!(log.get("b").is_some() && log.get("c").is_some());
        assert_eq!(log.rows(), 8);
        insert(&mut log, "huge", 11);
        assert!(log.get("huge").is_none());
        assert_eq!((log.len(), log.rows()), (2, 8));
    }

    #[test]
    fn a_reused_id_answers_with_its_latest_request() {
        let mut log = PredictionLog::new(10);
        log.insert("b".into(), "m".into(), 1, &[1.0, 2.0, 3.0, 4.0]);
        log.insert("c".into(), "m".into(), 1, &[5.0]);
        log.insert("b".into(), "other".into(), 2, &[6.0, 7.0]);
        let b = log.get("b").unwrap();
        assert_eq!((b.model.as_str(), b.version), ("other", 2));
        assert_eq!(b.predictions, vec![6.0, 7.0]);
        // The replaced request still holds its rows until it is the oldest.
        assert_eq!((log.len(), log.rows()), (2, 7));
        log.insert("d".into(), "m".into(), 1, &[8.0, 9.0, 10.0, 11.0]);
        assert_eq!(log.rows(), 7);
        assert_eq!(log.get("b").unwrap().predictions, vec![6.0, 7.0]);
        assert_eq!(log.get("c").unwrap().predictions, vec![5.0]);
    }

    #[test]
    fn predictions_and_feedback_marks_survive_wrapping_many_times() {
        let mut log = PredictionLog::new(7);
        for i in 0..1000u32 {
            let rows = (i % 3 + 1) as usize;
            let values: Vec<f64> = (0..rows).map(|r| f64::from(i) * 10.0 + r as f64).collect();
            log.insert(i.to_string().into(), "m".into(), u64::from(i), &values);
            log.mark_consumed(&(i - i.min(1)).to_string());
            assert!(log.rows() <= 7);
        }
        let last = log.get("999").unwrap();
        assert_eq!(last.predictions, vec![9990.0]);
        assert_eq!(last.version, 999);
        assert!(!last.consumed);
        let before = log.get("998").unwrap();
        assert_eq!(before.predictions, vec![9980.0, 9981.0, 9982.0]);
        assert!(before.consumed);
        assert!(log.get("990").is_none());
    }
}
