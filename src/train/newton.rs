//! Newton's method for binary logistic regression (`solver: newton`, like
//! scikit-learn's `newton-cholesky`): few, exact second-order steps instead of
//! many first-order epochs, which wins on tall data with few features.
//!
//! With X̃ = [X 1], p = σ(X̃θ), S = diag(p(1−p)) and M = diag(1,…,1,0) (bias not
//! penalised): g = X̃ᵀ(p − y)/n + l2·Mθ, H = X̃ᵀSX̃/n + l2·M (+1e-10·I for the
//! bias when the data is separable); θ ← θ − t·H⁻¹g with t halved until F
//! decreases. Stops when the relative decrease of F is below `tol` or after
//! `epochs` iterations. Each iteration is one [`EpochRecord`].
//!
//! On tall data the first iterations, which only find the neighbourhood of the optimum,
//! are run on an evenly spaced sample of the rows ([`WARM_START_ROWS`]); the full data
//! then needs 3 iterations instead of 8 (1M × 20). The sample's optimum is only kept as
//! the start when its solve converged and it beats θ = 0 on the full data, and the
//! stopping rule is unchanged, so a converged fit is the same to `tol`. `epochs` counts
//! the full-data iterations only (the sample's are up to 20 more, each a fraction of one).
//!
//! Each iteration reads X twice: once for H and g together (one GEMM per row
//! chunk, no scaled copy of X), once for the logits of the trial step, which
//! also give the next H, the reported loss and the accuracy.

use std::ops::ControlFlow;

use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{s, Array1, Array2, ArrayView1, Axis};

use super::checked::NewtonConfig;
use super::objective::BinaryLogLoss;
use super::optim::{EpochRecord, Objective, OptimOutcome};
use super::parallel::{chunk_range, n_chunks, Threads, CHUNK_ROWS};
use super::{linalg, TrainError};
use crate::models::stable::{sigmoid, softplus};

/// Logits, mean log loss and correct count at one θ.
struct AtTheta {
    z: Array1<f64>,
    loss: f64,
    correct: usize,
}

/// Minimises F = mean log loss + l2·½‖w‖² for `obj` by damped Newton steps.
pub fn newton_logistic(
    obj: &BinaryLogLoss,
    cfg: &NewtonConfig,
    validation: Option<&dyn Objective>,
    threads: &Threads,
    on_epoch: &mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>,
) -> Result<OptimOutcome, TrainError> {
    let n = obj.x.nrows();
    if obj.y.len() != n {
        return Err(TrainError::ShapeMismatch {
            rows: n,
            targets: obj.y.len(),
        });
    }
    let warm = warm_start(obj, cfg, threads, WARM_START_ROWS).and_then(|start| {
        let at = logits(obj, start.view(), threads);
        // At θ = 0 every row's loss is softplus(0) = ln 2.
        let beats_zero = at.loss + penalty(&start, cfg.l2) < std::f64::consts::LN_2;
        beats_zero.then_some((start, at))
    });
    let start = warm.unwrap_or_else(|| at_zero(obj, threads));
    iterate(obj, cfg, start, validation, threads, on_epoch)
}

/// θ = 0 and its logits.
fn at_zero(obj: &BinaryLogLoss, threads: &Threads) -> (Array1<f64>, AtTheta) {
    let zero = Array1::<f64>::zeros(obj.x.ncols() + 1);
    let at = logits(obj, zero.view(), threads);
    (zero, at)
}

/// l2·½‖w‖², the bias (θ's last entry) not penalised.
fn penalty(theta: &Array1<f64>, l2: f64) -> f64 {
    let w = theta.slice(s![..theta.len().saturating_sub(1)]);
    0.5 * l2 * w.dot(&w)
}

/// Newton iterations from `theta` (with its logits `at`) until `tol` or `max_iter`.
fn iterate(
    obj: &BinaryLogLoss,
    cfg: &NewtonConfig,
    (mut theta, mut at): (Array1<f64>, AtTheta),
    validation: Option<&dyn Objective>,
    threads: &Threads,
    on_epoch: &mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>,
) -> Result<OptimOutcome, TrainError> {
    let NewtonConfig { l2, max_iter, tol } = *cfg;
    let n = obj.x.nrows();
    let penalty = |t: &Array1<f64>| penalty(t, l2);
    let mut f = at.loss + penalty(&theta);
    let mut history = Vec::new();
    for it in 1..=max_iter {
        let (h, g) = hessian_and_gradient(obj, &at.z, &theta, l2, threads);
        let step = linalg::solve_symmetric(&h, &g).ok_or(TrainError::Unsolvable {
            system: "the Newton system",
        })?;
        let mut t = 1.0;
        let mut next = &theta - &step;
        let mut at_next = logits(obj, next.view(), threads);
        let mut f_next = at_next.loss + penalty(&next);
        // NaN also counts as "not decreased".
        while (f_next.is_nan() || f_next > f) && t > 1e-6 {
            t *= 0.5;
            next = &theta - &(&step * t);
            at_next = logits(obj, next.view(), threads);
            f_next = at_next.loss + penalty(&next);
        }
        if !f_next.is_finite() {
            // Halving the step did not help: the iteration itself broke down.
            return Err(TrainError::Unsolvable {
                system: "the Newton step",
            });
        }
        let improved = f - f_next;
        theta = next;
        at = at_next;
        let (validation_loss, validation_metric) =
            match validation.map(|v| v.evaluate(theta.view())).transpose()? {
                Some((l, m)) => (Some(l), m),
                None => (None, None),
            };
        let record = EpochRecord {
            epoch: it,
            train_loss: at.loss,
            validation_loss,
            learning_rate: t,
            train_metric: Some(at.correct as f64 / n.max(1) as f64),
            validation_metric,
        };
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
    let epochs_run = history.len();
    Ok(OptimOutcome {
        theta,
        history,
        epochs_run,
    })
}

/// Rows of the warm-start sample: enough that its optimum is close to the full data's,
/// so that two full Newton steps finish the job (measured on 1M × 20; 65,536 rows did
/// no better and cost twice as much).
pub const WARM_START_ROWS: usize = 32_768;

/// Cells (rows × columns) the warm-start sample may copy: 32 MiB of f64.
const WARM_START_CELLS: usize = 4 << 20;

/// The optimum of the same objective on every (n / m)-th row, or None when the data is
/// too short for that to save full passes (fewer than 4m rows), too wide for an m-row
/// sample to pin the weights down, or the sample's own solve fails or does not converge
/// in 20 iterations (a separable sample, whose optimum is no guide).
fn warm_start(
    obj: &BinaryLogLoss,
    cfg: &NewtonConfig,
    threads: &Threads,
    rows: usize,
) -> Option<Array1<f64>> {
    let (n, d) = obj.x.dim();
    let m = rows.min(WARM_START_CELLS / (d + 1));
    if m < 20 * (d + 1) || n < 4 * m {
        return None;
    }
    let picked: Vec<usize> = (0..m).map(|i| i * n / m).collect();
    let sample = BinaryLogLoss {
        x: obj.x.select(Axis(0), &picked),
        y: obj.y.select(Axis(0), &picked),
    };
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
    let out = iterate(&sample, &sample_cfg, start, None, threads, no_report).ok()?;
    (out.epochs_run < SAMPLE_MAX_ITER).then_some(out.theta)
}

/// z = Xw + b, the mean log loss softplus(z) − y·z and the number of rows with
/// (z > 0) == (y = 1), chunk by chunk.
fn logits(obj: &BinaryLogLoss, theta: ArrayView1<f64>, threads: &Threads) -> AtTheta {
    let (n, d) = obj.x.dim();
    let w = theta.slice(s![..d]);
    let b = theta.get(d).copied().unwrap_or(0.0);
    let parts = threads.map_chunks(
        n_chunks(n),
        || (),
        |_, c| {
            let r = chunk_range(c, n);
            let mut z = Array1::from_elem(r.len(), b);
            general_mat_vec_mul(1.0, &obj.x.slice(s![r.clone(), ..]), &w, 1.0, &mut z);
            let y = obj.y.slice(s![r]);
            let loss: f64 = z.iter().zip(&y).map(|(&z, &y)| softplus(z) - z * y).sum();
            let correct = z
                .iter()
                .zip(&y)
                .filter(|(&z, &y)| (z > 0.0) == (y > 0.5))
                .count();
            (z, loss, correct)
        },
    );
    let mut z = Vec::with_capacity(n);
    let (mut loss, mut correct) = (0.0, 0);
    for (zc, l, c) in parts {
        z.extend(zc);
        loss += l;
        correct += c;
    }
    AtTheta {
        z: Array1::from(z),
        loss: if n == 0 { 0.0 } else { loss / n as f64 },
        correct,
    }
}

/// H and g (see the module docs) at θ with logits `z`. Per chunk, B = [S·X | s | p − y]
/// and one GEMM Xᵀ·B gives the weight rows of H and g together; B's column sums give
/// the bias row.
fn hessian_and_gradient(
    obj: &BinaryLogLoss,
    z: &Array1<f64>,
    theta: &Array1<f64>,
    l2: f64,
    threads: &Threads,
) -> (Array2<f64>, Array1<f64>) {
    let (n, d) = obj.x.dim();
    let parts = threads.map_chunks(
        n_chunks(n),
        || Array2::<f64>::zeros((CHUNK_ROWS.min(n), d + 2)),
        |scratch, c| {
            let r = chunk_range(c, n);
            let x = obj.x.slice(s![r.clone(), ..]);
            let mut bm = scratch.slice_mut(s![..r.len(), ..]);
            ndarray::Zip::from(bm.rows_mut())
                .and(x.rows())
                .and(z.slice(s![r.clone()]))
                .and(obj.y.slice(s![r]))
                .for_each(|mut b, x, &z, &y| {
                    let p = sigmoid(z);
                    let sw = p * (1.0 - p);
                    let (mut bw, mut tail) = b.view_mut().split_at(Axis(0), d);
                    bw.zip_mut_with(&x, |b, &x| *b = sw * x);
                    tail.assign(&ndarray::aview1(&[sw, p - y]));
                });
            let mut a = Array2::<f64>::zeros((d + 1, d + 2));
            general_mat_mul(1.0, &x.t(), &bm, 0.0, &mut a.slice_mut(s![..d, ..]));
            a.row_mut(d).assign(&bm.sum_axis(Axis(0)));
            a
        },
    );
    let mut a = Array2::<f64>::zeros((d + 1, d + 2));
    for part in &parts {
        a += part;
    }
    a /= n.max(1) as f64;
    let mut h = a.slice(s![.., ..d + 1]).to_owned();
    // The bias row came from column sums, the bias column from the GEMM: make H
    // exactly symmetric.
    for j in 0..d {
        h[[d, j]] = h[[j, d]];
        h[[j, j]] += l2;
    }
    h[[d, d]] += 1e-10;
    let mut g = a.column(d + 1).to_owned();
    g.slice_mut(s![..d]).scaled_add(l2, &theta.slice(s![..d]));
    (h, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A noisy logistic problem with large weights, where Newton from 0 needs many steps.
    fn problem(n: usize, d: usize) -> BinaryLogLoss {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let x = Array2::from_shape_fn((n, d), |_| rng.random_range(-2.0..2.0));
        let y = x
            .rows()
            .into_iter()
            .map(|r| {
                let z: f64 = r
                    .iter()
                    .enumerate()
                    .map(|(j, v)| v * (j as f64 + 1.0))
                    .sum();
                let p = sigmoid(1.5 * z + 0.5);
                f64::from(rng.random_range(0.0..1.0) < p)
            })
            .collect();
        BinaryLogLoss { x, y }
    }

    fn cold(obj: &BinaryLogLoss, cfg: &NewtonConfig) -> OptimOutcome {
        let start = at_zero(obj, &Threads::sequential());
        let quiet = &mut |_: &EpochRecord, _: f64| ControlFlow::Continue(());
        iterate(obj, cfg, start, None, &Threads::sequential(), quiet).unwrap()
    }

    #[test]
    fn a_warm_start_reaches_the_same_optimum_in_fewer_full_iterations() {
        let obj = problem(20_000, 4);
        let cfg = NewtonConfig {
            l2: 1e-5,
            max_iter: 100,
            tol: 1e-10,
        };
        let threads = Threads::sequential();
        let start = warm_start(&obj, &cfg, &threads, 2_000).expect("tall enough");
        let at = logits(&obj, start.view(), &threads);
        let quiet = &mut |_: &EpochRecord, _: f64| ControlFlow::Continue(());
        let warm = iterate(&obj, &cfg, (start, at), None, &threads, quiet).unwrap();
        let cold = cold(&obj, &cfg);
        for (a, b) in warm.theta.iter().zip(&cold.theta) {
            assert!((a - b).abs() < 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert!(
            warm.epochs_run + 2 <= cold.epochs_run,
            "warm {} cold {}",
            warm.epochs_run,
            cold.epochs_run
        );
    }

    #[test]
    fn short_or_wide_data_starts_from_zero() {
        let cfg = NewtonConfig {
            l2: 1e-5,
            max_iter: 100,
            tol: 1e-10,
        };
        let threads = Threads::sequential();
        // Fewer than 4 samples' worth of rows.
        assert!(warm_start(&problem(7_999, 4), &cfg, &threads, 2_000).is_none());
        // A 2,000-row sample cannot pin down 200 weights.
        assert!(warm_start(&problem(10_000, 200), &cfg, &threads, 2_000).is_none());
    }

    #[test]
    fn the_fit_through_the_warm_start_equals_the_cold_fit() {
        // Tall enough for the real sample size: the public entry point takes the warm path.
        let obj = problem(4 * WARM_START_ROWS, 3);
        let cfg = NewtonConfig {
            l2: 1e-4,
            max_iter: 100,
            tol: 1e-10,
        };
        let threads = Threads::sequential();
        let mut epochs = 0;
        let fit = newton_logistic(&obj, &cfg, None, &threads, &mut |_, _| {
            epochs += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        let cold = cold(&obj, &cfg);
        assert_eq!(epochs, fit.epochs_run);
        assert!(fit.epochs_run < cold.epochs_run);
        for (a, b) in fit.theta.iter().zip(&cold.theta) {
            assert!((a - b).abs() < 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}
