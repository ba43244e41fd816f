//! MLP regressor / classifier: the [`MlpObjective`] trained by the generic
//! optimiser; regression targets standardised as for linear regression.

use std::sync::Arc;

use ndarray::{Array1, Array2, Axis};

use super::{EpochCallback, Prepared, TargetScale, Trained};
use crate::models::mlp::MlpModel;
use crate::train::checked::MlpConfig;
use crate::train::mlp::{init, offsets, Head, MlpObjective};
use crate::train::objective::one_hot;
use crate::train::optim::{minimize, Objective};
use crate::train::TrainError;

pub fn fit(
    cfg: &MlpConfig,
    data: Prepared<'_>,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    let k = data.n_classes;
    let (target, head, optim, n_out) = match cfg.head {
        Head::Classification => (None, Head::Classification, cfg.optim.clone(), k),
        Head::Regression(loss) => {
            let target = TargetScale::of(&data.y);
            let (loss, optim) = target.rescale(loss, &cfg.optim);
            (Some(target), Head::Regression(loss), optim, 1)
        }
    };
    let targets = |y: &Array1<f64>| -> Array2<f64> {
        match &target {
            None => one_hot(y.view(), k),
            Some(t) => t.apply(y).insert_axis(Axis(1)),
        }
    };
    let mut sizes = vec![data.n_features()];
    sizes.extend(&cfg.hidden);
    sizes.push(n_out);
    let (soft_train, soft_val) = match data.soft {
        Some(s) => (Some(s.train), Some(s.validation)),
        None => (None, None),
    };
    let objective = |x, y: &Array1<f64>, soft: Option<Array2<f64>>| MlpObjective {
        y: soft.unwrap_or_else(|| targets(y)),
        x,
        sizes: sizes.clone(),
        activation: cfg.activation,
        head,
    };
    let vobj = data.validation.map(|(x, y)| objective(x, &y, soft_val));
    let obj = objective(data.x, &data.y, soft_train);
    let theta0 = init(&sizes, cfg.activation, optim.seed);
    let res = minimize(
        &obj,
        theta0,
        &optim,
        vobj.as_ref().map(|v| v as &dyn Objective),
        on_epoch,
    )?;
    let theta = res
        .theta
        .as_slice()
        .ok_or_else(|| TrainError::internal("parameters not contiguous".into()))?;
    let (mut weights, mut biases) = (Vec::new(), Vec::new());
    for (sz, (w, b)) in sizes.windows(2).zip(offsets(&sizes)) {
        weights.push(theta[w..b].to_vec());
        biases.push(theta[b..b + sz[1]].to_vec());
    }
    let (target_mean, target_scale) = target.map_or((0.0, 1.0), |t| (t.mean, t.s));
    let model = MlpModel::new(MlpModel {
        schema: data.schema,
        scaler: data.scaler,
        activation: cfg.activation,
        sizes,
        weights,
        biases,
        target_mean,
        target_scale,
    })?;
    Ok(Trained {
        model: Arc::new(model),
        history: res.history,
        epochs_run: res.epochs_run,
        predictions: None,
    })
}
