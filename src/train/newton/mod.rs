//! Newton's method for binary logistic regression (`solver: newton`, like
//! scikit-learn's `newton-cholesky`): few, exact second-order steps instead of
//! many first-order epochs, which wins on tall data with few features.
//!
//! With X̃ = [X 1], p = σ(X̃θ), S = diag(p(1−p)) and M = diag(1,…,1,0) (bias not
//! penalised): g = X̃ᵀ(p − y)/n + l2·Mθ, H = X̃ᵀSX̃/n + l2·M (+1e-10·I for the
//! bias when the data is separable); θ ← θ − t·H⁻¹g with t halved until F
//! decreases. Stops when the relative decrease of F is below `tol`, when the decrease
//! the next full step promises (½gᵀH⁻¹g, the Newton decrement) is below `tol`·F — which
//! saves the pass of a last step that would change F by less than `tol` — or after
//! `epochs` iterations. Each iteration is one [`EpochRecord`].
//!
//! On tall data the first iterations, which only find the neighbourhood of the optimum,
//! are run on an evenly spaced sample of the rows ([`WARM_START_ROWS`]); the full data
//! then needs 2 iterations (1M × 20; 3 under the rule on the last decrease alone, and 8
//! from θ = 0 under that rule). The sample's optimum is only kept as the start when its
//! solve converged and it beats θ = 0 on the full data, and the stopping rule is the
//! same, so a converged fit is the same to `tol`. `epochs` counts the full-data
//! iterations only (the sample's are up to 20 more, each a fraction of one).
//!
//! Each iteration reads the rows once ([`pass`]): the full step's pass gives its loss
//! for the line search and, in the same read, the sums behind the next H and g (a
//! rejected full step costs shorter trials without the sums, then one pass with them). The rows
//! are standardised a chunk at a time where they lie, so no copy of the data is made.

mod pass;

use std::ops::ControlFlow;

use ndarray::{s, Array1};

#[cfg(test)]
use pass::pass_in_batches;
pub use pass::LogisticRows;
use pass::{hessian_and_gradient, pass, Pass};

use super::checked::NewtonConfig;
use super::optim::EpochRecord;
use super::parallel::Threads;
use super::{linalg, TrainError};

/// θ = [w; b] in standardised units, the learning curve, and the classes the model
/// predicts for the training and validation rows (in their order), which the scoring
/// after the fit reuses.
pub struct NewtonOutcome {
    pub theta: Array1<f64>,
    pub history: Vec<EpochRecord>,
    pub epochs_run: usize,
    pub classes: (Vec<f64>, Vec<f64>),
}

/// Minimises F = mean log loss + l2·½‖w‖² over `train` by damped Newton steps,
/// reporting `validation`'s loss and accuracy after each.
pub fn newton_logistic(
    train: &LogisticRows<'_>,
    validation: Option<&LogisticRows<'_>>,
    cfg: &NewtonConfig,
    threads: &Threads,
    on_epoch: &mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>,
) -> Result<NewtonOutcome, TrainError> {
    let warm = warm_start(train, cfg, threads, WARM_START_ROWS)?.and_then(|start| {
        let at = pass(train, start.view(), true, threads);
        // At θ = 0 every row's loss is softplus(0) = ln 2.
        let beats_zero = at.loss + penalty(&start, cfg.l2) < std::f64::consts::LN_2;
        beats_zero.then_some((start, at))
    });
    let start = warm.unwrap_or_else(|| at_zero(train, threads));
    let (theta, history, at) = iterate(train, cfg, start, validation, threads, on_epoch)?;
    let validation_classes = match validation {
        Some(v) if !v.is_empty() => match history.last() {
            // The last record's validation pass was made at the final θ.
            Some(_) => at.1,
            None => pass(v, theta.view(), false, threads).classes,
        },
        _ => Vec::new(),
    };
    let epochs_run = history.len();
    Ok(NewtonOutcome {
        theta,
        history,
        epochs_run,
        classes: (at.0.classes, validation_classes),
    })
}

/// θ = 0 and its pass.
fn at_zero(data: &LogisticRows<'_>, threads: &Threads) -> (Array1<f64>, Pass) {
    let zero = Array1::<f64>::zeros(data.n_features() + 1);
    let at = pass(data, zero.view(), true, threads);
    (zero, at)
}

/// l2·½‖w‖², the bias (θ's last entry) not penalised.
fn penalty(theta: &Array1<f64>, l2: f64) -> f64 {
    let w = theta.slice(s![..theta.len().saturating_sub(1)]);
    0.5 * l2 * w.dot(&w)
}

/// The final θ, the learning curve, and the final training pass with the last validation
/// pass's classes.
type Iterated = (Array1<f64>, Vec<EpochRecord>, (Pass, Vec<f64>));

/// Newton iterations from `theta` (with its pass `at`, made with the sums) until `tol`
/// or `max_iter`.
fn iterate(
    data: &LogisticRows<'_>,
    cfg: &NewtonConfig,
    (mut theta, mut at): (Array1<f64>, Pass),
    validation: Option<&LogisticRows<'_>>,
    threads: &Threads,
    on_epoch: &mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>,
) -> Result<Iterated, TrainError> {
    let NewtonConfig { l2, max_iter, tol } = *cfg;
    let n = data.len();
    let penalty = |t: &Array1<f64>| penalty(t, l2);
    let mut f = at.loss + penalty(&theta);
    let mut history = Vec::new();
    let mut validation_classes = Vec::new();
    for it in 1..=max_iter {
        let (h, g) = hessian_and_gradient(&at, &theta, l2, n).ok_or_else(|| {
            TrainError::internal("a Newton pass made without the sums of H and g".into())
        })?;
        let step = linalg::solve_symmetric(&h, &g).ok_or(TrainError::Unsolvable {
            system: "the Newton system",
        })?;
        // ½gᵀH⁻¹g is the decrease the full step promises (the Newton decrement): when
        // that is already below `tol`, the step would change nothing that matters, and
        // its pass over the rows is saved. Only after a first iteration, so that every
        // fit has a learning curve and the classes of a θ it has reported.
        if !history.is_empty() && promises_less_than_tol(0.5 * g.dot(&step), tol, f) {
            break;
        }
        // The full step is nearly always taken, so its pass also makes the sums of the
        // next H and g; the shorter trials after a rejection only need the loss, and the
        // step finally taken gets one pass with the sums.
        let mut t = 1.0;
        let mut next = &theta - &step;
        let mut at_next = pass(data, next.view(), true, threads);
        let mut f_next = at_next.loss + penalty(&next);
        // NaN also counts as "not decreased".
        let mut halved = false;
        while (f_next.is_nan() || f_next > f) && t > 1e-6 {
            t *= 0.5;
            halved = true;
            next = &theta - &(&step * t);
            at_next = pass(data, next.view(), false, threads);
            f_next = at_next.loss + penalty(&next);
        }
        if !f_next.is_finite() {
            // Halving the step did not help: the iteration itself broke down.
            return Err(TrainError::Unsolvable {
                system: "the Newton step",
            });
        }
        if halved {
            at_next = pass(data, next.view(), true, threads);
        }
        let improved = f - f_next;
        theta = next;
        at = at_next;
        let on_validation = validation
            .filter(|v| !v.is_empty())
            .map(|v| pass(v, theta.view(), false, threads));
        let record = EpochRecord {
            epoch: it,
            train_loss: at.loss,
            validation_loss: on_validation.as_ref().map(|v| v.loss),
            learning_rate: t,
            train_metric: Some(at.correct as f64 / n.max(1) as f64),
            validation_metric: on_validation
                .as_ref()
                .zip(validation)
                .map(|(at, v)| at.correct as f64 / v.len().max(1) as f64),
        };
        if let Some(v) = on_validation {
            validation_classes = v.classes;
        }
        let flow = on_epoch(&record, it as f64 / max_iter as f64);
        history.push(record);
        if flow.is_break() {
            return Err(TrainError::Cancelled);
        }
        let done = improved.abs() / f.abs().max(1e-12) < tol;
        f = f_next;
        if done {
            break;
        }
    }
    Ok((theta, history, (at, validation_classes)))
}

/// Whether a step promising to lower F by `promised` (½gᵀH⁻¹g) can be skipped. Only a
/// finite, non-negative promise below `tol`·|F| counts: on a nearly singular H the solve
/// can give a step that is mostly rounding, whose "promise" is negative or NaN and says
/// nothing about the optimum; the line search then judges it as before. `tol` = 0 never
/// stops here.
fn promises_less_than_tol(promised: f64, tol: f64, f: f64) -> bool {
    promised.is_finite() && promised >= 0.0 && promised < tol * f.abs().max(1e-12)
}

/// Rows of the warm-start sample: enough that its optimum is close to the full data's,
/// so that two full Newton steps finish the job (measured on 1M × 20; 65,536 rows did
/// no better and cost twice as much).
pub const WARM_START_ROWS: usize = 32_768;

/// Cells (rows × columns) the warm-start sample may span: on wide data fewer rows, so
/// that its iterations stay a fraction of a full pass.
const WARM_START_CELLS: usize = 4 << 20;

/// The optimum of the same objective on every (n / m)-th row, or None when the data is
/// too short for that to save full passes (fewer than 4m rows), too wide for an m-row
/// sample to pin the weights down, or the sample's own solve fails or does not converge
/// in 20 iterations (a separable sample, whose optimum is no guide).
fn warm_start(
    data: &LogisticRows<'_>,
    cfg: &NewtonConfig,
    threads: &Threads,
    rows: usize,
) -> Result<Option<Array1<f64>>, TrainError> {
    let (n, d) = (data.len(), data.n_features());
    let m = rows.min(WARM_START_CELLS / (d + 1));
    if m < 20 * (d + 1) || n < 4 * m {
        return Ok(None);
    }
    let (picked, y) = data.sample(m);
    let sample = data.with_rows(&picked, &y)?;
    const SAMPLE_MAX_ITER: usize = 20;
    // The sample's optimum is only a start: its last digits would be redone on the
    // full data anyway.
    const SAMPLE_TOL: f64 = 1e-6;
    let sample_cfg = NewtonConfig {
        max_iter: SAMPLE_MAX_ITER,
        tol: cfg.tol.max(SAMPLE_TOL),
        ..*cfg
    };
    let start = at_zero(&sample, threads);
    let no_report = &mut |_: &EpochRecord, _: f64| ControlFlow::Continue(());
    Ok(
        match iterate(&sample, &sample_cfg, start, None, threads, no_report) {
            Ok((theta, history, _)) => (history.len() < SAMPLE_MAX_ITER).then_some(theta),
            Err(_) => None,
        },
    )
}

#[cfg(test)]
mod tests;
