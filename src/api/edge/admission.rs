//! The server-wide in-flight limit: a request over it is shed at once (503
//! `overloaded`) rather than queued without bound.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Admission {
    in_flight: AtomicUsize,
    limit: usize,
}

impl Admission {
    pub fn new(limit: usize) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes one slot, or refuses when `limit` requests are already being handled.
    /// Every `true` must be matched by one [`Admission::release`].
    pub fn admit(&self) -> bool {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before < self.limit {
            return true;
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        false
    }

    pub fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}
