//! Binary logistic regression by Newton's method or a first-order optimiser.

use std::sync::Arc;

use ndarray::{s, Array1};

use super::{EpochCallback, Prepared, Trained};
use crate::models::logistic::LogisticModel;
use crate::train::checked::LogisticSolver;
use crate::train::newton::newton_logistic;
use crate::train::objective::BinaryLogLoss;
use crate::train::optim::{minimize, Objective, OptimOutcome};
use crate::train::parallel::Threads;
use crate::train::TrainError;

pub fn fit(
    solver: &LogisticSolver,
    data: Prepared,
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    let d = data.n_features();
    // Soft targets: the positive class's probability replaces the 0/1 label.
    let (y, val_y) = match data.soft {
        Some(s) => (
            s.train.column(1).to_owned(),
            Some(s.validation.column(1).to_owned()),
        ),
        None => (data.y, None),
    };
    let vobj = data.validation.map(|(x, y)| BinaryLogLoss {
        x,
        y: val_y.unwrap_or(y),
    });
    let obj = BinaryLogLoss { x: data.x, y };
    let validation = vobj.as_ref().map(|v| v as &dyn Objective);
    let out: OptimOutcome = match solver {
        LogisticSolver::Newton(cfg) => newton_logistic(&obj, cfg, validation, threads, on_epoch)?,
        LogisticSolver::Gradient(cfg) => minimize(
            &obj,
            Array1::zeros(obj.n_params()),
            cfg,
            validation,
            on_epoch,
        )?,
    };
    let w = out.theta.slice(s![..d]).to_vec();
    let b = out.theta.get(d).copied().unwrap_or(0.0);
    let model = LogisticModel::new(data.schema, data.scaler, w, b)?;
    Ok(Trained {
        model: Arc::new(model),
        history: out.history,
        epochs_run: out.epochs_run,
        predictions: None,
    })
}
