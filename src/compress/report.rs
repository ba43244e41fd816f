//! What a compression job measured: size, quality before and after on held-out rows,
//! agreement with the original, and latency at batch 1 and 64.

use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::models::{Model, ModelError, Output, Task};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Report {
    /// `quantize`, `prune` or `distill`.
    pub method: String,
    /// False when `max_metric_drop` refused the result (nothing was registered).
    pub kept: bool,
    /// `accuracy` (classifiers) or `r2` (regressors); higher is better.
    pub metric: String,
    /// The metric of the original and of the compressed model, on `n_eval` rows that
    /// neither compression nor distillation trained on.
    pub before: f64,
    pub after: f64,
    /// Classifiers: share of evaluation rows where both predict the same class.
    /// Regressors: R² of the compressed model's predictions against the original's.
    pub agreement: f64,
    /// The stored model files (what the store writes for the version).
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Microseconds per `predict` call (the call the serving path makes), before and after.
    pub latency_us: LatencyPair,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_metric_drop: Option<f64>,
    pub n_eval: usize,
    /// `teacher_validation` when the data is the teacher's training set (its validation
    /// rows are used, so neither model trained on them), else `held_out` (a seeded 20%).
    pub evaluation_rows: String,
    /// How each layer of the result is stored (`dense`, `int8`, `csr`); a distilled
    /// student is a regular model and shows `dense`.
    pub layers: Vec<String>,
    /// Share of the result's weights that are exactly zero.
    pub sparsity: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct LatencyPair {
    pub before: Latency,
    pub after: Latency,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Latency {
    pub batch_1: Percentiles,
    pub batch_64: Percentiles,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, ToSchema)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

/// The quality score the gate compares, with its name.
pub fn score(
    model: &dyn Model,
    x: ArrayView2<f64>,
    y: &[f64],
) -> Result<(String, f64), ModelError> {
    let metrics = crate::train::evaluate(model, x, y)?;
    let name = match model.task() {
        Task::Classification => "accuracy",
        Task::Regression => "r2",
    };
    let value = metrics.get(name).copied().unwrap_or(f64::NAN);
    Ok((name.to_string(), value))
}

/// Share of rows with the same class, or R² of `after` against `before`.
pub fn agreement(task: Task, before: &Output, after: &Output) -> f64 {
    let (b, a) = (&before.predictions, &after.predictions);
    let n = b.len().min(a.len());
    if n == 0 {
        return 0.0;
    }
    match task {
        Task::Classification => b.iter().zip(a).filter(|(x, y)| x == y).count() as f64 / n as f64,
        Task::Regression => {
            let mean = b.iter().sum::<f64>() / n as f64;
            let total: f64 = b.iter().map(|v| (v - mean).powi(2)).sum();
            let residual: f64 = b.iter().zip(a).map(|(v, w)| (v - w).powi(2)).sum();
            if total > 0.0 {
                1.0 - residual / total
            } else if residual == 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Calls per batch size: enough for a stable p99, bounded in time for large models.
const MIN_CALLS: usize = 30;
const MAX_CALLS: usize = 400;
const WARMUP_CALLS: usize = 10;
const TIME_PER_BATCH_SIZE: Duration = Duration::from_millis(1500);

/// p50/p99 of `predict` at batch 1 and 64 for both models, on rows of `x` (repeated
/// when it has fewer than 64). Calls alternate between the two models, so a neighbour's
/// load on a shared machine slows both sides alike rather than one.
pub fn latency(
    before: &dyn Model,
    after: &dyn Model,
    x: ArrayView2<f64>,
) -> Result<LatencyPair, ModelError> {
    let batch = |n: usize| -> Array2<f64> {
        let rows: Vec<usize> = (0..n).map(|i| i % x.nrows().max(1)).collect();
        x.select(Axis(0), &rows)
    };
    let (one, many) = (batch(1), batch(64));
    let (b1, a1) = time_calls(before, after, one.view())?;
    let (b64, a64) = time_calls(before, after, many.view())?;
    Ok(LatencyPair {
        before: Latency {
            batch_1: b1,
            batch_64: b64,
        },
        after: Latency {
            batch_1: a1,
            batch_64: a64,
        },
    })
}

fn time_calls(
    before: &dyn Model,
    after: &dyn Model,
    x: ArrayView2<f64>,
) -> Result<(Percentiles, Percentiles), ModelError> {
    for _ in 0..WARMUP_CALLS {
        before.predict(x)?;
        after.predict(x)?;
    }
    let started = Instant::now();
    let (mut b, mut a) = (Vec::with_capacity(MAX_CALLS), Vec::with_capacity(MAX_CALLS));
    while b.len() < MAX_CALLS && (b.len() < MIN_CALLS || started.elapsed() < TIME_PER_BATCH_SIZE) {
        for (model, times) in [(before, &mut b), (after, &mut a)] {
            let t = Instant::now();
            let out = model.predict(x)?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(out);
        }
    }
    Ok((percentiles(b), percentiles(a)))
}

fn percentiles(mut micros: Vec<f64>) -> Percentiles {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((micros.len() as f64 - 1.0) * q).round() as usize;
        micros.get(i).copied().unwrap_or(0.0)
    };
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
    }
}
