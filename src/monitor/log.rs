//! Recent predictions by request id, so ground truth sent later can be joined to what
//! was predicted. Bounded by the total number of rows held and by the bytes its rings
//! take; the oldest requests go first.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::Instant;

/// What was predicted for one request.
#[derive(Debug, Clone)]
pub struct LoggedPrediction {
    pub model: String,
    pub version: u64,
    /// Class index or regression value per row.
    pub predictions: Vec<f64>,
    /// Set once feedback has been recorded, so the same truth is not counted twice.
    pub consumed: bool,
    /// When it was logged: of several requests under one id, the latest wins.
    pub logged_at: Instant,
}

/// Requests in arrival order, with their predictions and ids stored back to back in
/// rings of values and bytes: logging a request allocates nothing once the rings have
/// grown to capacity, and evicting one frees nothing.
///
/// There is no map from id to request. The predict path only appends; the rare
/// feedback lookup scans the ids' 64-bit hashes, newest first, and confirms a match on
/// the id's bytes (10,000 hashes take a few microseconds). A map cost every prediction
/// an insert and an eviction's remove, each a likely cache miss.
#[derive(Debug, Default)]
pub struct PredictionLog {
    capacity_rows: usize,
    /// Bound on [`PredictionLog::bytes`], the rings' allocation.
    capacity_bytes: usize,
    /// Predictions of every request in `requests`, in the same order.
    values: VecDeque<f64>,
    /// Id and model name of every request in `requests`, in the same order. The name
    /// is copied rather than shared: a reference count that every worker writes costs
    /// more than a few bytes.
    id_bytes: VecDeque<u8>,
    /// Seeded per process: ids come from clients.
    hasher: foldhash::fast::RandomState,
    requests: VecDeque<Slot>,
    /// Hash of each request's id, parallel to `requests`: kept apart so that a lookup
    /// scans 8 bytes a request.
    id_hashes: VecDeque<u64>,
    /// Absolute positions of `values[0]` and `id_bytes[0]` in everything ever logged.
    first_value: u64,
    first_id_byte: u64,
}

#[derive(Debug)]
struct Slot {
    version: u64,
    logged_at: Instant,
    /// Absolute positions of its first value and its first id byte.
    value_start: u64,
    id_start: u64,
    rows: usize,
    id_len: usize,
    model_len: usize,
    consumed: bool,
}

/// Bytes a logged request holds beyond its predictions and its id: its ring slot and
/// its id hash.
const ENTRY_BYTES: usize = std::mem::size_of::<Slot>() + std::mem::size_of::<u64>();
const VALUE_BYTES: usize = std::mem::size_of::<f64>();

impl PredictionLog {
    pub fn new(capacity_rows: usize, capacity_bytes: usize) -> Self {
        Self {
            capacity_rows,
            capacity_bytes,
            ..Self::default()
        }
    }

    /// Bytes the requests held now take in the rings.
    fn held_bytes(&self) -> usize {
        self.values.len() * VALUE_BYTES + self.id_bytes.len() + self.requests.len() * ENTRY_BYTES
    }

    /// Bytes the rings have allocated, spare capacity included.
    pub fn bytes(&self) -> usize {
        self.values.capacity() * VALUE_BYTES
            + self.id_bytes.capacity()
            + self.requests.capacity() * std::mem::size_of::<Slot>()
            + self.id_hashes.capacity() * std::mem::size_of::<u64>()
    }

    /// What held requests may take: half the bound, because the rings grow by doubling
    /// and so may have allocated up to twice what they hold.
    fn held_budget(&self) -> usize {
        self.capacity_bytes / 2
    }

    /// Logs a request; a batch larger than the whole log is not kept. A client reusing a
    /// request id gets its latest request on lookup.
    pub fn insert(&mut self, request_id: &str, model: &str, version: u64, predictions: &[f64]) {
        let n = predictions.len();
        let cost = n
            .saturating_mul(VALUE_BYTES)
            .saturating_add(request_id.len() + model.len() + ENTRY_BYTES);
        if request_id.is_empty() || n == 0 || n > self.capacity_rows || cost > self.held_budget() {
            return;
        }
        while self.values.len() + n > self.capacity_rows
            || self.held_bytes() + cost > self.held_budget()
        {
            if !self.evict_oldest() {
                break;
            }
        }
        self.id_hashes.push_back(self.hasher.hash_one(request_id));
        self.requests.push_back(Slot {
            version,
            logged_at: Instant::now(),
            value_start: self.first_value + self.values.len() as u64,
            id_start: self.first_id_byte + self.id_bytes.len() as u64,
            rows: n,
            id_len: request_id.len(),
            model_len: model.len(),
            consumed: false,
        });
        self.values.extend(predictions);
        self.id_bytes.extend(request_id.as_bytes());
        self.id_bytes.extend(model.as_bytes());
        // Evicting frees no capacity, so a change in the mix of traffic (first many
        // one-row requests, then fewer large ones) can leave each ring at the largest it
        // ever was. Then all are trimmed to what they hold, which is at most half the
        // bound; steady traffic never gets here, since doubling what it holds fits.
        if self.bytes() > self.capacity_bytes {
            self.values.shrink_to_fit();
            self.id_bytes.shrink_to_fit();
            self.requests.shrink_to_fit();
            self.id_hashes.shrink_to_fit();
        }
    }

    /// Drops the oldest request; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some(oldest) = self.requests.pop_front() else {
            return false;
        };
        self.id_hashes.pop_front();
        self.values.drain(..oldest.rows.min(self.values.len()));
        self.first_value += oldest.rows as u64;
        let named = oldest.id_len + oldest.model_len;
        self.id_bytes.drain(..named.min(self.id_bytes.len()));
        self.first_id_byte += named as u64;
        true
    }

    /// Position in `requests` of the newest request logged under `request_id`.
    fn find(&self, request_id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(request_id);
        self.id_hashes
            .iter()
            .zip(&self.requests)
            .rposition(|(h, slot)| *h == hash && self.id_of(slot).eq(request_id.bytes()))
    }

    fn id_of(&self, slot: &Slot) -> impl Iterator<Item = u8> + '_ {
        let from = (slot.id_start - self.first_id_byte) as usize;
        self.id_bytes.range(from..from + slot.id_len).copied()
    }

    pub fn get(&self, request_id: &str) -> Option<LoggedPrediction> {
        let slot = self.requests.get(self.find(request_id)?)?;
        let from = (slot.value_start - self.first_value) as usize;
        let model_from = (slot.id_start - self.first_id_byte) as usize + slot.id_len;
        let model: Vec<u8> = (self.id_bytes)
            .range(model_from..model_from + slot.model_len)
            .copied()
            .collect();
        Some(LoggedPrediction {
            model: String::from_utf8_lossy(&model).into_owned(),
            version: slot.version,
            predictions: self.values.range(from..from + slot.rows).copied().collect(),
            consumed: slot.consumed,
            logged_at: slot.logged_at,
        })
    }

    pub fn mark_consumed(&mut self, request_id: &str) {
        if let Some(at) = self.find(request_id) {
            if let Some(slot) = self.requests.get_mut(at) {
                slot.consumed = true;
            }
        }
    }

    /// Requests held (a reused id counts once per request).
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub fn rows(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(log: &mut PredictionLog, id: &str, rows: usize) {
        let values: Vec<f64> = (0..rows).map(|i| i as f64 + id.len() as f64).collect();
        log.insert(id, "m", 1, &values);
    }

    #[test]
    fn oldest_requests_are_dropped_to_stay_within_capacity() {
        let mut log = PredictionLog::new(10, 1 << 20);
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
    fn ids_are_matched_on_their_bytes_not_their_prefix() {
        let mut log = PredictionLog::new(100, 1 << 20);
        log.insert("req-1", "m", 1, &[1.0]);
        log.insert("req-10", "m", 1, &[10.0]);
        log.insert("req-1é", "m", 1, &[2.0]);
        assert_eq!(log.get("req-1").unwrap().predictions, vec![1.0]);
        assert_eq!(log.get("req-10").unwrap().predictions, vec![10.0]);
        assert_eq!(log.get("req-1é").unwrap().predictions, vec![2.0]);
        assert!(log.get("req-").is_none() && log.get("req-100").is_none());
    }

    #[test]
    fn a_reused_id_answers_with_its_latest_request() {
        let mut log = PredictionLog::new(10, 1 << 20);
        log.insert("b", "m", 1, &[1.0, 2.0, 3.0, 4.0]);
        log.insert("c", "m", 1, &[5.0]);
        log.insert("b", "other", 2, &[6.0, 7.0]);
        let b = log.get("b").unwrap();
        assert_eq!((b.model.as_str(), b.version), ("other", 2));
        assert_eq!(b.predictions, vec![6.0, 7.0]);
        // The replaced request still holds its rows until it is the oldest.
        assert_eq!((log.len(), log.rows()), (3, 7));
        log.insert("d", "m", 1, &[8.0, 9.0, 10.0, 11.0]);
        assert_eq!(log.rows(), 7);
        assert_eq!(log.get("b").unwrap().predictions, vec![6.0, 7.0]);
        assert_eq!(log.get("c").unwrap().predictions, vec![5.0]);
    }

    #[test]
    fn predictions_and_feedback_marks_survive_wrapping_many_times() {
        let mut log = PredictionLog::new(7, 1 << 20);
        for i in 0..1000u32 {
            let rows = (i % 3 + 1) as usize;
            let values: Vec<f64> = (0..rows).map(|r| f64::from(i) * 10.0 + r as f64).collect();
            log.insert(&i.to_string(), "m", u64::from(i), &values);
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

    #[test]
    fn the_rings_stay_within_the_byte_bound_whatever_the_mix_of_requests() {
        let bound = 16 * 1024;
        let mut log = PredictionLog::new(1_000_000, bound);
        let long_id = "x".repeat(120);
        for i in 0..5000u32 {
            // Phases of one-row requests with short ids, then large ones with long ids,
            // so each ring in turn is the one that grows.
            let (id, rows) = match (i / 500) % 3 {
                0 => (i.to_string(), 1),
                1 => (format!("{long_id}{i}"), 1),
                _ => (i.to_string(), 40),
            };
            let values = vec![f64::from(i); rows];
            log.insert(&id, "m", 1, &values);
            assert!(log.bytes() <= bound, "{} bytes after {i}", log.bytes());
            assert_eq!(log.get(&id).map(|e| e.predictions), Some(values));
        }
        // An entry larger than the whole budget is not kept, and evicts nothing.
        let before = log.len();
        log.insert("huge", "m", 1, &vec![0.0; bound]);
        assert!(log.get("huge").is_none());
        assert_eq!(log.len(), before);
    }
}
