//! A learning curve in two numbers per series: its last value and its best one. The runs
//! table shows either (what MLflow users call "last" and "min/max" of a logged metric)
//! without shipping every version's whole history.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::optim::EpochRecord;

/// One value per curve: loss and metric, on the training and validation rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurvePoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Accuracy for classifiers, R² for regression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_metric: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_metric: Option<f64>,
}

/// The last and the best (lowest loss, highest metric) value of each curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurveSummary {
    /// Epochs recorded (the stored history may be thinned; this counts its points).
    pub points: usize,
    pub last: CurvePoint,
    pub best: CurvePoint,
}

/// `None` for a version with no recorded history (imported, or made by an older build).
pub fn summarize(history: &[EpochRecord]) -> Option<CurveSummary> {
    let last = history.last()?;
    let mut best = CurvePoint::default();
    for r in history {
        best.train_loss = pick(best.train_loss, Some(r.train_loss), f64::min);
        best.validation_loss = pick(best.validation_loss, r.validation_loss, f64::min);
        best.train_metric = pick(best.train_metric, r.train_metric, f64::max);
        best.validation_metric = pick(best.validation_metric, r.validation_metric, f64::max);
    }
    Some(CurveSummary {
        points: history.len(),
        last: CurvePoint {
            train_loss: finite(Some(last.train_loss)),
            validation_loss: finite(last.validation_loss),
            train_metric: finite(last.train_metric),
            validation_metric: finite(last.validation_metric),
        },
        best,
    })
}

/// A diverged epoch (NaN or infinite loss) is never the best one, and JSON has no NaN.
fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

fn pick(held: Option<f64>, next: Option<f64>, better: fn(f64, f64) -> f64) -> Option<f64> {
    match (held, finite(next)) {
        (Some(a), Some(b)) => Some(better(a, b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64, val_loss: f64, metric: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: loss,
            validation_loss: Some(val_loss),
            learning_rate: 0.1,
            train_metric: Some(metric),
            validation_metric: Some(metric - 0.1),
        }
    }

    #[test]
    fn best_is_lowest_loss_and_highest_metric_last_is_the_final_epoch() {
        let history = vec![
            record(1, 0.9, 1.0, 0.5),
            record(2, 0.3, 0.4, 0.9),
            record(3, 0.2, f64::NAN, 0.8),
        ];
        let s = summarize(&history).unwrap();
        assert_eq!(s.points, 3);
        assert_eq!(s.best.train_loss, Some(0.2));
        assert_eq!(s.best.validation_loss, Some(0.4));
        assert_eq!(s.best.train_metric, Some(0.9));
        assert_eq!(s.last.train_loss, Some(0.2));
        assert_eq!(s.last.validation_loss, None);
        assert_eq!(s.last.train_metric, Some(0.8));
    }

    #[test]
    fn no_history_no_summary() {
        assert_eq!(summarize(&[]), None);
    }
}
