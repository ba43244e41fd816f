//! The training entry points: split → standardise on train rows → optimise →
//! build the model → score train/validation rows.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::objective::{r2_from_residuals, BinaryLogLoss, CrossEntropy, LeastSquares, RegLoss};
use super::optim::{minimize, EpochRecord, Objective, OptimConfig, OptimOutcome};
use super::parallel::Threads;
use super::params::{Algorithm, Loss, ResolvedParams, Solver, TrainSpec, DEFAULT_HUBER_DELTA};
use super::quality::{evaluate, Metrics};
use super::schedule::Schedule;
use super::{linalg, split, Dataset, TrainError};
use crate::models::linear::LinearModel;
use crate::models::logistic::LogisticModel;
use crate::models::scaler::Scaler;
use crate::models::softmax::SoftmaxModel;
use crate::models::{Model, Schema, Task};

/// A trained model plus its training report.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub model: Arc<dyn Model>,
    pub train_metrics: Metrics,
    pub validation_metrics: Option<Metrics>,
    pub history: Vec<EpochRecord>,
    pub epochs_run: usize,
    pub params: ResolvedParams,
    pub n_train: usize,
    pub n_validation: usize,
}

type EpochCallback<'a> = &'a mut dyn FnMut(&EpochRecord, f64) -> ControlFlow<()>;

/// Validates `spec`, splits `data` (seeded, stratified for classification,
/// `spec.validation_split` held out) and trains. `on_epoch` is called after
/// every epoch with progress in (0, 1]; `Break` aborts with
/// [`TrainError::Cancelled`]. Runs on the calling thread; see [`fit_with`].
pub fn fit(
    spec: &TrainSpec,
    data: &Dataset,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    fit_with(spec, data, &Threads::sequential(), on_epoch)
}

/// [`fit`] with chunked work (the Newton solver's passes over the rows) on
/// `threads`; the result does not depend on the thread count.
pub fn fit_with(
    spec: &TrainSpec,
    data: &Dataset,
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    let params = spec.validate()?;
    data.validate()?;
    let (train, val) = split::train_validation_split(
        data.n_rows(),
        &data.y,
        data.task(),
        params.validation_split,
        params.seed,
    );
    fit_rows_resolved(&params, data, &train, &val, threads, on_epoch)
}

/// Like [`fit`] but trains on exactly `train_rows` (in that order) and
/// validates on `validation_rows` (may be empty); `spec.validation_split`
/// is not used for splitting.
pub fn fit_rows(
    spec: &TrainSpec,
    data: &Dataset,
    train_rows: &[usize],
    validation_rows: &[usize],
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    fit_rows_with(
        spec,
        data,
        train_rows,
        validation_rows,
        &Threads::sequential(),
        on_epoch,
    )
}

/// [`fit_rows`] on `threads` (see [`fit_with`]).
pub fn fit_rows_with(
    spec: &TrainSpec,
    data: &Dataset,
    train_rows: &[usize],
    validation_rows: &[usize],
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    let params = spec.validate()?;
    data.validate()?;
    fit_rows_resolved(
        &params,
        data,
        train_rows,
        validation_rows,
        threads,
        on_epoch,
    )
}

fn fit_rows_resolved(
    params: &ResolvedParams,
    data: &Dataset,
    train_rows: &[usize],
    validation_rows: &[usize],
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    check_task(params.algorithm, data)?;
    if train_rows.is_empty() {
        return Err(TrainError::InvalidData("no training rows".into()));
    }
    // Training on every row in order (the usual final fit) needs no copy.
    let all_rows =
        train_rows.len() == data.n_rows() && train_rows.iter().enumerate().all(|(k, &r)| k == r);
    let train = if all_rows {
        Cow::Borrowed(data)
    } else {
        Cow::Owned(data.select(train_rows)?)
    };
    let val = (!validation_rows.is_empty())
        .then(|| data.select(validation_rows))
        .transpose()?;
    let scaler = Scaler::fit(train.x.view());
    let zt = scaler.transform(train.x.view());
    let zv = val.as_ref().map(|v| scaler.transform(v.x.view()));
    let schema = Schema {
        feature_names: data.feature_names.clone(),
        target: data.target.clone(),
        classes: data.classes.clone(),
    };
    let yt = Array1::from(train.y.clone());
    let yv = val.as_ref().map(|v| Array1::from(v.y.clone()));
    let k = data.classes.as_ref().map_or(0, Vec::len);
    // The objectives below take ownership of zt: no n×d copies.
    let d = zt.ncols();

    let (model, history, epochs_run): (Arc<dyn Model>, _, _) =
        match (params.algorithm, params.solver) {
            (Algorithm::MlpRegressor | Algorithm::MlpClassifier, _) => super::mlp::fit_mlp(
                params,
                schema,
                scaler,
                &zt,
                &yt,
                zv.as_ref().zip(yv.as_ref()),
                k,
                on_epoch,
            )?,
            (Algorithm::LinearRegression, Solver::ClosedForm) => {
                let (w, b) = closed_form(&zt, &yt, params.l2)?;
                let eval = |z: &Array2<f64>, y: &Array1<f64>| {
                    let r = z.dot(&w) + b - y;
                    (
                        0.5 * r.dot(&r) / r.len().max(1) as f64,
                        r2_from_residuals(&r, y.view()),
                    )
                };
                let (tl, tm) = eval(&zt, &yt);
                let v = zv.as_ref().zip(yv.as_ref()).map(|(z, y)| eval(z, y));
                let record = EpochRecord {
                    epoch: 1,
                    train_loss: tl,
                    validation_loss: v.map(|v| v.0),
                    learning_rate: 0.0,
                    train_metric: Some(tm),
                    validation_metric: v.map(|v| v.1),
                };
                if on_epoch(&record, 1.0).is_break() {
                    return Err(TrainError::Cancelled);
                }
                let m = LinearModel::new(schema, scaler, w.to_vec(), b)?;
                (Arc::new(m), vec![record], 1)
            }
            // Newton is rejected for linear regression by validate().
            (Algorithm::LinearRegression, Solver::Gd | Solver::Newton) => {
                // Standardise the target too so default learning rates work for
                // any target scale: with y = ȳ + s·y', minimising the objective in
                // (w', b') with l1/s and the same l2 is equivalent (F = s²·F').
                let mean = yt.mean().unwrap_or(0.0);
                let sd = yt.std(0.0);
                let s = if sd.is_finite() && sd > 0.0 { sd } else { 1.0 };
                let scaled = |y: &Array1<f64>| y.mapv(|v| (v - mean) / s);
                // In target-scaled units r = s·r': ½r² = s²·½r'²; |r| = s·|r'|;
                // huber_δ(r) = s²·huber_{δ/s}(r'). Dividing F by the loss's scale
                // factor gives the equivalent l1/l2 in the scaled problem.
                let (loss, scale, l1, l2) = match (params.loss, params.huber_delta) {
                    (Loss::Mae, _) => (RegLoss::Mae, s, params.l1, params.l2 * s),
                    (Loss::Huber, d) => (
                        RegLoss::Huber(d.unwrap_or(DEFAULT_HUBER_DELTA) / s),
                        s * s,
                        params.l1 / s,
                        params.l2,
                    ),
                    _ => (RegLoss::Mse, s * s, params.l1 / s, params.l2),
                };
                let obj = LeastSquares {
                    x: zt,
                    y: scaled(&yt),
                    loss,
                };
                let vobj = zv.as_ref().zip(yv.as_ref()).map(|(z, y)| LeastSquares {
                    x: z.clone(),
                    y: scaled(y),
                    loss,
                });
                let mut cfg = optim_config(params)?;
                cfg.l1 = l1;
                cfg.l2 = l2;
                cfg.loss_scale = scale;
                let out = run(
                    &obj,
                    vobj.as_ref().map(|v| v as &dyn Objective),
                    &cfg,
                    on_epoch,
                )?;
                let w = out.theta.slice(ndarray::s![..d]).mapv(|v| v * s);
                let b = mean + s * out.theta.get(d).copied().unwrap_or(0.0);
                let m = LinearModel::new(schema, scaler, w.to_vec(), b)?;
                (Arc::new(m), out.history, out.epochs_run)
            }
            (Algorithm::LogisticRegression, Solver::Newton) => {
                let obj = BinaryLogLoss {
                    x: zt,
                    y: yt.clone(),
                };
                let vobj = zv.as_ref().zip(yv.as_ref()).map(|(z, y)| BinaryLogLoss {
                    x: z.clone(),
                    y: y.clone(),
                });
                let out = super::newton::newton_logistic(
                    &obj,
                    params.l2,
                    params.epochs.unwrap_or(100),
                    params.tol.unwrap_or(1e-10),
                    vobj.as_ref().map(|v| v as &dyn Objective),
                    threads,
                    on_epoch,
                )?;
                let w = out.theta.slice(ndarray::s![..d]).to_vec();
                let b = out.theta.get(d).copied().unwrap_or(0.0);
                let m = LogisticModel::new(schema, scaler, w, b)?;
                (Arc::new(m), out.history, out.epochs_run)
            }
            (Algorithm::LogisticRegression, _) => {
                let obj = BinaryLogLoss {
                    x: zt,
                    y: yt.clone(),
                };
                let vobj = zv.as_ref().zip(yv.as_ref()).map(|(z, y)| BinaryLogLoss {
                    x: z.clone(),
                    y: y.clone(),
                });
                let out = run(
                    &obj,
                    vobj.as_ref().map(|v| v as &dyn Objective),
                    &optim_config(params)?,
                    on_epoch,
                )?;
                let w = out.theta.slice(ndarray::s![..d]).to_vec();
                let b = out.theta.get(d).copied().unwrap_or(0.0);
                let m = LogisticModel::new(schema, scaler, w, b)?;
                (Arc::new(m), out.history, out.epochs_run)
            }
            (Algorithm::SoftmaxRegression, _) => {
                let obj = CrossEntropy {
                    x: zt,
                    y: one_hot(yt.view(), k),
                };
                let vobj = zv.as_ref().zip(yv.as_ref()).map(|(z, y)| CrossEntropy {
                    x: z.clone(),
                    y: one_hot(y.view(), k),
                });
                let out = run(
                    &obj,
                    vobj.as_ref().map(|v| v as &dyn Objective),
                    &optim_config(params)?,
                    on_epoch,
                )?;
                // θ = [W (d×K row-major); b (K)] → per-class weight rows.
                let w =
                    Array2::from_shape_vec((d, k), out.theta.slice(ndarray::s![..d * k]).to_vec())
                        .map_err(|e| TrainError::InvalidParam(e.to_string()))?;
                let weights = w.t().outer_iter().map(|r| r.to_vec()).collect();
                let b = out.theta.slice(ndarray::s![d * k..]).to_vec();
                let m = SoftmaxModel::new(schema, scaler, weights, b)?;
                (Arc::new(m), out.history, out.epochs_run)
            }
        };
    let train_metrics = evaluate(model.as_ref(), train.x.view(), &train.y)?;
    let validation_metrics = val
        .as_ref()
        .map(|v| evaluate(model.as_ref(), v.x.view(), &v.y))
        .transpose()?;
    Ok(Fitted {
        model,
        train_metrics,
        validation_metrics,
        history,
        epochs_run,
        params: params.clone(),
        n_train: train_rows.len(),
        n_validation: validation_rows.len(),
    })
}

/// The algorithm must fit the data's task (and logistic needs 2 classes).
fn check_task(algorithm: Algorithm, data: &Dataset) -> Result<(), TrainError> {
    let k = data.classes.as_ref().map(Vec::len);
    match (algorithm, data.task(), k) {
        (Algorithm::LinearRegression | Algorithm::MlpRegressor, Task::Regression, _) => Ok(()),
        (Algorithm::LinearRegression | Algorithm::MlpRegressor, _, _) => {
            Err(TrainError::InvalidData(format!(
                "{} needs numeric regression targets, but the data has classes",
                algorithm.family()
            )))
        }
        (_, Task::Regression, _) => Err(TrainError::InvalidData(format!(
            "{} needs class labels, but the data was loaded for regression",
            algorithm.family()
        ))),
        (Algorithm::LogisticRegression, _, Some(k)) if k != 2 => {
            Err(TrainError::InvalidData(format!(
            "logistic_regression needs exactly 2 classes, the data has {k}; use softmax_regression"
        )))
        }
        _ => Ok(()),
    }
}

/// Ridge normal equations on standardised (train-centred) features:
/// (ZᵀZ + n·l2·I)·w = Zᵀ(y − ȳ), intercept b = ȳ (Z has zero column means).
fn closed_form(
    z: &Array2<f64>,
    y: &Array1<f64>,
    l2: f64,
) -> Result<(Array1<f64>, f64), TrainError> {
    let n = z.nrows() as f64;
    let mean = y.mean().unwrap_or(0.0);
    let mut a = z.t().dot(z);
    a.diag_mut().mapv_inplace(|v| v + n * l2);
    let rhs = z.t().dot(&y.mapv(|v| v - mean));
    let w = linalg::solve_symmetric(&a, &rhs)
        .filter(|w| w.iter().all(|v| v.is_finite()))
        .ok_or_else(|| {
            TrainError::Diverged("normal equations could not be solved (non-finite values)".into())
        })?;
    Ok((w, mean))
}

/// One-hot encoding of class indices (rows x k); validated upstream.
pub(crate) fn one_hot(y: ArrayView1<f64>, k: usize) -> Array2<f64> {
    let classes = Array1::from_iter((0..k).map(|c| c as f64));
    let yc = y.insert_axis(Axis(1));
    let cc = classes.insert_axis(Axis(0));
    ndarray::Zip::from(&mut Array2::<f64>::zeros((y.len(), k)))
        .and_broadcast(&yc)
        .and_broadcast(&cc)
        .map_collect(|_, &yi, &c| if yi == c { 1.0 } else { 0.0 })
}

pub(crate) fn optim_config(p: &ResolvedParams) -> Result<OptimConfig, TrainError> {
    let missing =
        || TrainError::InvalidParam("iterative solver parameters were not resolved".into());
    Ok(OptimConfig {
        optimizer: p.optimizer.ok_or_else(missing)?,
        learning_rate: p.learning_rate.ok_or_else(missing)?,
        epochs: p.epochs.ok_or_else(missing)?,
        batch_size: p.batch_size,
        momentum: p.momentum.unwrap_or(0.0),
        nesterov: p.nesterov,
        schedule: p.schedule.clone().unwrap_or(Schedule::Constant),
        l1: p.l1,
        l2: p.l2,
        tol: p.tol,
        early_stopping: p.early_stopping,
        seed: p.seed,
        loss_scale: 1.0,
    })
}

fn run(
    obj: &dyn Objective,
    val: Option<&dyn Objective>,
    cfg: &OptimConfig,
    on_epoch: EpochCallback,
) -> Result<OptimOutcome, TrainError> {
    let init = Array1::zeros(obj.n_params());
    minimize(obj, init, cfg, val, on_epoch)
}
