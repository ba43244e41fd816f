//! Generic first-order optimisation over a flat parameter vector: the
//! [`Objective`] trait (loss + gradient over a subset of rows), the update
//! rules (gd, sgd, minibatch, momentum, adam), penalties, stopping rules and
//! the per-epoch callback. Model-agnostic so an MLP can reuse it.

use std::ops::ControlFlow;

use ndarray::{Array1, ArrayView1};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::params::{EarlyStopping, Optimizer};
use super::schedule::{Schedule, Scheduler};
use super::TrainError;

/// One epoch of training history.
#[derive(Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean per-row data loss on the training rows after this epoch, without
    /// penalty terms: ½(ŷ−y)² for regression, log loss / cross-entropy for
    /// classifiers.
    pub train_loss: f64,
    /// The same loss on the validation rows, if any.
    pub validation_loss: Option<f64>,
    /// Step size used in this epoch (0 for the closed-form solver's single record).
    pub learning_rate: f64,
    /// Quality on the training rows after this epoch: accuracy for classifiers, R²
    /// for regression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_metric: Option<f64>,
    /// The same metric on the validation rows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_metric: Option<f64>,
}

/// A differentiable training objective over a fixed set of rows.
pub trait Objective {
    fn n_rows(&self) -> usize;
    fn n_params(&self) -> usize;
    /// 1.0 for penalised parameters (weights), 0.0 for unpenalised (intercepts).
    fn penalty_mask(&self) -> Array1<f64>;
    /// Mean data loss over `rows` (all rows if `None`); overwrites `grad`
    /// (length [`Self::n_params`]) with its gradient. Writing into the caller's
    /// buffer keeps the optimiser's steps free of heap allocation.
    fn loss_grad_into(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
        grad: &mut Array1<f64>,
    ) -> Result<f64, TrainError>;
    /// [`Self::loss_grad_into`] into a new vector.
    fn loss_grad(
        &self,
        theta: ArrayView1<f64>,
        rows: Option<&[usize]>,
    ) -> Result<(f64, Array1<f64>), TrainError> {
        let mut grad = Array1::zeros(self.n_params());
        let loss = self.loss_grad_into(theta, rows, &mut grad)?;
        Ok((loss, grad))
    }
    /// One pass of per-row steps (sgd, batch size 1) over `rows` in that
    /// order: for each row, its gradient goes into `grad` and then
    /// `update(theta, grad)` runs. Objectives over a row-major matrix override
    /// this to read the rows in blocks (see [`super::objective`]).
    fn per_row_pass(
        &self,
        theta: &mut Array1<f64>,
        rows: &[usize],
        grad: &mut Array1<f64>,
        update: &mut dyn FnMut(&mut Array1<f64>, &mut Array1<f64>),
    ) -> Result<(), TrainError> {
        for i in rows {
            self.loss_grad_into(theta.view(), Some(std::slice::from_ref(i)), grad)?;
            update(theta, grad);
        }
        Ok(())
    }
    /// Mean data loss over all rows.
    fn loss(&self, theta: ArrayView1<f64>) -> Result<f64, TrainError>;
    /// Mean data loss over all rows and the quality metric (accuracy or R² in
    /// the objective's own target space), in one pass where possible.
    fn evaluate(&self, theta: ArrayView1<f64>) -> Result<(f64, Option<f64>), TrainError> {
        Ok((self.loss(theta)?, None))
    }
}

/// Settings for [`minimize`].
#[derive(Clone, Debug)]
pub struct OptimConfig {
    pub optimizer: Optimizer,
    pub learning_rate: f64,
    pub epochs: usize,
    /// `None` = full batch. Ignored by `gd`.
    pub batch_size: Option<usize>,
    pub momentum: f64,
    /// Nesterov look-ahead for `momentum`.
    pub nesterov: bool,
    pub schedule: Schedule,
    pub l1: f64,
    pub l2: f64,
    /// Stop once |F_prev − F| / max(|F_prev|, 1e-12) < tol, F = full objective.
    pub tol: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub seed: u64,
    /// Reported losses are multiplied by this (undoes target standardisation).
    pub loss_scale: f64,
}

/// Result of [`minimize`].
#[derive(Clone, Debug)]
pub struct OptimOutcome {
    pub theta: Array1<f64>,
    pub history: Vec<EpochRecord>,
    pub epochs_run: usize,
}

/// Per-optimiser state carried between steps.
enum State {
    Plain,
    Momentum {
        v: Array1<f64>,
        nesterov: bool,
    },
    Adam {
        m: Array1<f64>,
        v: Array1<f64>,
        t: i32,
    },
}

const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

impl State {
    /// Applies one update θ ← θ − η·step(g) in place.
    /// * plain: step = g
    /// * momentum: v ← μv + g, step = v (Nesterov: step = g + μv)
    /// * adam: m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², step = m̂ / (√v̂ + ε)
    ///   with bias corrections m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
    fn apply(&mut self, theta: &mut Array1<f64>, g: &Array1<f64>, lr: f64, mu: f64) {
        match self {
            State::Plain => theta.scaled_add(-lr, g),
            State::Momentum { v, nesterov } => {
                *v *= mu;
                *v += g;
                if *nesterov {
                    theta.scaled_add(-lr, g);
                    theta.scaled_add(-lr * mu, v);
                } else {
                    theta.scaled_add(-lr, v);
                }
            }
            State::Adam { m, v, t } => {
                *t = t.saturating_add(1);
                let c1 = 1.0 - ADAM_BETA1.powi(*t);
                let c2 = 1.0 - ADAM_BETA2.powi(*t);
                // One fused pass: no temporaries per step.
                ndarray::Zip::from(theta)
                    .and(m)
                    .and(v)
                    .and(g)
                    .for_each(|th, m, v, &g| {
                        *m = ADAM_BETA1 * *m + (1.0 - ADAM_BETA1) * g;
                        *v = ADAM_BETA2 * *v + (1.0 - ADAM_BETA2) * (g * g);
                        *th -= lr * ((*m / c1) / ((*v / c2).sqrt() + ADAM_EPS));
                    });
            }
        }
    }
}

/// Full objective F(θ) = mean data loss + l2·½‖w‖² + l1·‖w‖₁ (w = masked θ).
fn penalised(data_loss: f64, theta: &Array1<f64>, mask: &Array1<f64>, cfg: &OptimConfig) -> f64 {
    let w = theta * mask;
    data_loss + 0.5 * cfg.l2 * w.dot(&w) + cfg.l1 * w.mapv(f64::abs).sum()
}

/// Minimises F(θ) = mean loss + l2·½‖w‖² + l1·‖w‖₁ starting from `init`.
///
/// Each step uses the gradient of the data loss on a batch plus l2·w; the L1
/// term is applied afterwards as the proximal soft-threshold
/// w ← sign(w)·max(|w| − η·l1, 0) (for Adam this uses the base rate η, a common
/// approximation). The step of each epoch comes from `cfg.schedule` (see
/// [`super::schedule`]; reported in each [`EpochRecord`]). After every epoch the
/// full training loss and metric (and validation loss and metric) are computed, `on_epoch` is called with progress = epoch / epochs, and
/// a `Break` returns [`TrainError::Cancelled`]. A non-finite loss returns
/// [`TrainError::Diverged`].
pub fn minimize(
    obj: &dyn Objective,
    init: Array1<f64>,
    cfg: &OptimConfig,
    validation: Option<&dyn Objective>,
    on_epoch: &mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>,
) -> Result<OptimOutcome, TrainError> {
    let n = obj.n_rows();
    let mask = obj.penalty_mask();
    let l2_mask = &mask * cfg.l2;
    let mut theta = init;
    let mut state = match cfg.optimizer {
        Optimizer::Gd | Optimizer::Sgd | Optimizer::Minibatch => State::Plain,
        Optimizer::Momentum => State::Momentum {
            v: Array1::zeros(theta.len()),
            nesterov: cfg.nesterov,
        },
        Optimizer::Adam => State::Adam {
            m: Array1::zeros(theta.len()),
            v: Array1::zeros(theta.len()),
            t: 0,
        },
    };
    // Full batch when no batch size applies; shuffled batches otherwise.
    let batch = match cfg.optimizer {
        Optimizer::Gd => None,
        _ => cfg.batch_size.filter(|&b| b < n),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    // Only the tol rule needs F before the first epoch: skip that full pass otherwise.
    let mut prev_obj = match cfg.tol {
        Some(_) => penalised(obj.loss(theta.view())?, &theta, &mask, cfg),
        None => f64::NAN,
    };
    let mut best: Option<(f64, Array1<f64>)> = None;
    let mut since_best = 0usize;
    let mut history = Vec::with_capacity(cfg.epochs.min(10_000));
    let mut scheduler = Scheduler::new(cfg.schedule.clone(), cfg.learning_rate);
    let mut grad = Array1::zeros(theta.len());

    for epoch in 1..=cfg.epochs {
        let lr = scheduler.rate(epoch);
        // In place: no temporaries per step (matters for sgd's one-row steps).
        let mut update = |theta: &mut Array1<f64>, g: &mut Array1<f64>| {
            ndarray::Zip::from(&mut *g)
                .and(&l2_mask)
                .and(&*theta)
                .for_each(|g, &m, &t| *g += m * t);
            state.apply(theta, g, lr, cfg.momentum);
            if cfg.l1 > 0.0 {
                let c = lr * cfg.l1;
                theta.zip_mut_with(&mask, |t, &m| {
                    *t = t.signum() * (t.abs() - m * c).max(0.0);
                });
            }
        };
        match batch {
            None => {
                obj.loss_grad_into(theta.view(), None, &mut grad)?;
                update(&mut theta, &mut grad);
            }
            Some(b) => {
                order.shuffle(&mut rng);
                if b == 1 {
                    obj.per_row_pass(&mut theta, &order, &mut grad, &mut update)?;
                } else {
                    for chunk in order.chunks(b) {
                        if super::cancel::requested() {
                            return Err(TrainError::Cancelled);
                        }
                        obj.loss_grad_into(theta.view(), Some(chunk), &mut grad)?;
                        update(&mut theta, &mut grad);
                    }
                }
            }
        }
        let (train_loss, train_metric) = obj.evaluate(theta.view())?;
        let (validation_loss, validation_metric) =
            match validation.map(|v| v.evaluate(theta.view())).transpose()? {
                Some((l, m)) => (Some(l), m),
                None => (None, None),
            };
        if !train_loss.is_finite() || validation_loss.is_some_and(|v| !v.is_finite()) {
            return Err(TrainError::Diverged { epoch });
        }
        let record = EpochRecord {
            epoch,
            train_loss: train_loss * cfg.loss_scale,
            validation_loss: validation_loss.map(|v| v * cfg.loss_scale),
            learning_rate: lr,
            train_metric,
            validation_metric,
        };
        scheduler.observe(validation_loss.unwrap_or(train_loss));
        let progress = epoch as f64 / cfg.epochs as f64;
        let flow = on_epoch(&record, progress);
        history.push(record);
        if flow.is_break() {
            return Err(TrainError::Cancelled);
        }

        if let Some(es) = cfg.early_stopping {
            let monitored = validation_loss.unwrap_or(train_loss);
            match &best {
                Some((b, _)) if monitored >= b - es.min_delta => since_best += 1,
                _ => {
                    best = Some((monitored, theta.clone()));
                    since_best = 0;
                }
            }
            if since_best >= es.patience {
                let theta = best.map_or(theta, |(_, t)| t);
                return Ok(OptimOutcome {
                    theta,
                    history,
                    epochs_run: epoch,
                });
            }
        }
        let cur_obj = penalised(train_loss, &theta, &mask, cfg);
        if let Some(tol) = cfg.tol {
            if (prev_obj - cur_obj).abs() / prev_obj.abs().max(1e-12) < tol {
                return Ok(OptimOutcome {
                    theta,
                    history,
                    epochs_run: epoch,
                });
            }
        }
        prev_obj = cur_obj;
    }
    let epochs_run = history.len();
    Ok(OptimOutcome {
        theta,
        history,
        epochs_run,
    })
}
