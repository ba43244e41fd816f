//! Linear regression: ridge normal equations, or a first-order optimiser on a
//! standardised target (any of mse, mae, huber, with l1/l2).

use std::sync::Arc;

use ndarray::{s, Array1, Array2, Axis};

use super::{EpochCallback, Prepared, TargetScale, Trained};
use crate::models::linear::LinearModel;
use crate::train::checked::LinearSolver;
use crate::train::objective::{r2_from_residuals, LeastSquares, RegLoss};
use crate::train::optim::{minimize, EpochRecord, Objective, OptimConfig};
use crate::train::{linalg, TrainError};

pub fn fit(
    solver: &LinearSolver,
    data: Prepared,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    match solver {
        LinearSolver::ClosedForm { l2 } => closed_form(*l2, data, on_epoch),
        LinearSolver::Gradient { loss, optim } => gradient(*loss, optim, data, on_epoch),
    }
}

fn closed_form(l2: f64, data: Prepared, on_epoch: EpochCallback) -> Result<Trained, TrainError> {
    let (w, b) = solve_ridge(&data.x, &data.y, l2)?;
    let eval = |z: &Array2<f64>, y: &Array1<f64>| {
        let r = z.dot(&w) + b - y;
        (
            0.5 * r.dot(&r) / r.len().max(1) as f64,
            r2_from_residuals(&r, y.view()),
        )
    };
    let (train_loss, train_metric) = eval(&data.x, &data.y);
    let v = data.validation.as_ref().map(|(z, y)| eval(z, y));
    let record = EpochRecord {
        epoch: 1,
        train_loss,
        validation_loss: v.map(|v| v.0),
        learning_rate: 0.0,
        train_metric: Some(train_metric),
        validation_metric: v.map(|v| v.1),
    };
    if on_epoch(&record, 1.0).is_break() {
        return Err(TrainError::Cancelled);
    }
    let model = LinearModel::new(data.schema, data.scaler, w.to_vec(), b)?;
    Ok(Trained {
        model: Arc::new(model),
        history: vec![record],
        epochs_run: 1,
    })
}

/// Ridge normal equations on standardised (train-centred) features:
/// (ZᵀZ + n·l2·I)·w = Zᵀ(y − ȳ), intercept b = ȳ (Z has zero column means).
fn solve_ridge(
    z: &Array2<f64>,
    y: &Array1<f64>,
    l2: f64,
) -> Result<(Array1<f64>, f64), TrainError> {
    let n = z.nrows() as f64;
    let mean = y.mean().unwrap_or(0.0);
    let mut a = z.t().dot(z);
    a.diag_mut().mapv_inplace(|v| v + n * l2);
    // As a 1 × n by n × d product: ndarray's transposed matrix-vector product walks Z's
    // columns with a stride, which cost more than the Gram matrix itself.
    let rhs = y
        .mapv(|v| v - mean)
        .insert_axis(Axis(0))
        .dot(z)
        .remove_axis(Axis(0));
    let w = linalg::solve_symmetric(&a, &rhs)
        .filter(|w| w.iter().all(|v| v.is_finite()))
        .ok_or(TrainError::Unsolvable {
            system: "the normal equations",
        })?;
    Ok((w, mean))
}

fn gradient(
    loss: RegLoss,
    optim: &OptimConfig,
    data: Prepared,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    let d = data.n_features();
    let target = TargetScale::of(&data.y);
    let (loss, cfg) = target.rescale(loss, optim);
    let vobj = data.validation.map(|(x, y)| LeastSquares {
        y: target.apply(&y),
        x,
        loss,
    });
    let obj = LeastSquares {
        y: target.apply(&data.y),
        x: data.x,
        loss,
    };
    let init = Array1::zeros(obj.n_params());
    let out = minimize(
        &obj,
        init,
        &cfg,
        vobj.as_ref().map(|v| v as &dyn Objective),
        on_epoch,
    )?;
    let w = out.theta.slice(s![..d]).mapv(|v| v * target.s);
    let b = target.mean + target.s * out.theta.get(d).copied().unwrap_or(0.0);
    let model = LinearModel::new(data.schema, data.scaler, w.to_vec(), b)?;
    Ok(Trained {
        model: Arc::new(model),
        history: out.history,
        epochs_run: out.epochs_run,
    })
}
