//! Linear regression by a first-order optimiser on a standardised target (any of mse,
//! mae, huber, with l1/l2); the ridge normal equations are in [`super::linear_rows`].

use std::sync::Arc;

use ndarray::{s, Array1};

use super::{EpochCallback, Prepared, TargetScale, Trained};
use crate::models::linear::LinearModel;
use crate::train::objective::{LeastSquares, RegLoss};
use crate::train::optim::{minimize, Objective, OptimConfig};
use crate::train::TrainError;

/// Linear regression by a first-order optimiser; the closed form reads the raw rows
/// instead ([`super::linear_rows`]).
pub fn fit(
    loss: RegLoss,
    optim: &OptimConfig,
    data: Prepared<'_>,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    gradient(loss, optim, data, on_epoch)
}

fn gradient(
    loss: RegLoss,
    optim: &OptimConfig,
    data: Prepared<'_>,
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
        predictions: None,
    })
}
