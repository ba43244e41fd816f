//! Online quality: a sliding window of (prediction, ground truth) pairs per version,
//! scored with the same functions as the training metrics.

use std::collections::VecDeque;

use crate::train::quality::{classification_metrics, regression_metrics};
use crate::train::Metrics;

#[derive(Debug)]
pub struct OnlineWindow {
    capacity: usize,
    /// `Some(k)` for a classifier with k classes.
    n_classes: Option<usize>,
    pairs: VecDeque<(f64, f64)>,
    /// Labels received in all, including those that slid out of the window.
    total: u64,
}

impl OnlineWindow {
    pub fn new(capacity: usize, n_classes: Option<usize>) -> Self {
        Self {
            capacity: capacity.max(1),
            n_classes,
            pairs: VecDeque::new(),
            total: 0,
        }
    }

    /// Adds the pairs; a pair with a non-finite side is skipped (serving refuses such
    /// predictions, but one would turn the window's metrics into NaN until it slid out).
    pub fn push(&mut self, predicted: &[f64], actual: &[f64]) {
        for (p, a) in predicted.iter().zip(actual) {
            if !(p.is_finite() && a.is_finite()) {
                continue;
            }
            self.pairs.push_back((*p, *a));
            if self.pairs.len() > self.capacity {
                self.pairs.pop_front();
            }
            self.total += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Accuracy, macro precision/recall/F1 for classifiers; MSE, MAE, R² for regressors.
    pub fn metrics(&self) -> Option<Metrics> {
        if self.pairs.is_empty() {
            return None;
        }
        match self.n_classes {
            Some(k) => {
                let pred: Vec<usize> = self.pairs.iter().map(|(p, _)| *p as usize).collect();
                let truth: Vec<usize> = self.pairs.iter().map(|(_, a)| *a as usize).collect();
                Some(classification_metrics(&truth, &pred, k))
            }
            None => {
                let pred: Vec<f64> = self.pairs.iter().map(|(p, _)| *p).collect();
                let truth: Vec<f64> = self.pairs.iter().map(|(_, a)| *a).collect();
                Some(regression_metrics(&truth, &pred))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_latest_pairs() {
        let mut w = OnlineWindow::new(4, Some(2));
        w.push(&[1.0, 1.0, 0.0], &[1.0, 0.0, 0.0]);
        assert_eq!(w.metrics().unwrap()["accuracy"], 2.0 / 3.0);
        w.push(&[1.0, 1.0, 1.0], &[1.0, 1.0, 0.0]);
        // Window now: (0,0) (1,1) (1,1) (1,0) → 3/4.
        assert_eq!(w.len(), 4);
        assert_eq!(w.total(), 6);
        assert_eq!(w.metrics().unwrap()["accuracy"], 0.75);
    }

    #[test]
    fn non_finite_pairs_never_enter_the_window() {
        let mut w = OnlineWindow::new(10, None);
        w.push(
            &[1.0, f64::NAN, f64::INFINITY, 3.0],
            &[2.0, 1.0, 1.0, f64::NAN],
        );
        assert_eq!((w.len(), w.total()), (1, 1));
        assert!(w.metrics().unwrap().values().all(|v| v.is_finite()));
    }

    #[test]
    fn regression_metrics_over_the_window() {
        let mut w = OnlineWindow::new(10, None);
        w.push(&[1.0, 2.0], &[2.0, 2.0]);
        let m = w.metrics().unwrap();
        assert_eq!(m["mse"], 0.5);
        assert_eq!(m["mae"], 0.5);
    }
}
