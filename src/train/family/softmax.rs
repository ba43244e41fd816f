//! Multinomial (softmax) regression by a first-order optimiser.

use std::sync::Arc;

use ndarray::{s, Array1, Array2};

use super::{EpochCallback, Prepared, Trained};
use crate::models::softmax::SoftmaxModel;
use crate::train::objective::{one_hot, CrossEntropy};
use crate::train::optim::{minimize, Objective, OptimConfig};
use crate::train::TrainError;

pub fn fit(
    cfg: &OptimConfig,
    data: Prepared<'_>,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    let (d, k) = (data.n_features(), data.n_classes);
    let (soft_train, soft_val) = match data.soft {
        Some(s) => (Some(s.train), Some(s.validation)),
        None => (None, None),
    };
    let vobj = data.validation.map(|(x, y)| CrossEntropy {
        y: soft_val.unwrap_or_else(|| one_hot(y.view(), k)),
        x,
    });
    let obj = CrossEntropy {
        y: soft_train.unwrap_or_else(|| one_hot(data.y.view(), k)),
        x: data.x,
    };
    let init = Array1::zeros(obj.n_params());
    let out = minimize(
        &obj,
        init,
        cfg,
        vobj.as_ref().map(|v| v as &dyn Objective),
        on_epoch,
    )?;
    // θ = [W (d×K row-major); b (K)] → per-class weight rows.
    let w = Array2::from_shape_vec((d, k), out.theta.slice(s![..d * k]).to_vec())
        .map_err(|e| TrainError::internal(e.to_string()))?;
    let weights = w.t().outer_iter().map(|r| r.to_vec()).collect();
    let b = out.theta.slice(s![d * k..]).to_vec();
    let model = SoftmaxModel::new(data.schema, data.scaler, weights, b)?;
    Ok(Trained {
        model: Arc::new(model),
        history: out.history,
        epochs_run: out.epochs_run,
        predictions: None,
    })
}
