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
    let NewtonConfig { l2, max_iter, tol } = *cfg;
    let (n, d) = obj.x.dim();
    if obj.y.len() != n {
        return Err(TrainError::ShapeMismatch {
            rows: n,
            targets: obj.y.len(),
        });
    }
    let penalty = |t: &Array1<f64>| {
        let w = t.slice(s![..d]);
        0.5 * l2 * w.dot(&w)
    };
    let mut theta = Array1::<f64>::zeros(d + 1);
    let mut at = logits(obj, theta.view(), threads);
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
