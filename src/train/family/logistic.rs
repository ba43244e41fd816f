//! Binary logistic regression by Newton's method, read from the raw rows, or by a
//! first-order optimiser on the standardised copy.

use std::sync::Arc;

use ndarray::{s, Array1, Array2};

use super::{check_rows, targets_of, EpochCallback, Prepared, Rows, Trained};
use crate::models::logistic::LogisticModel;
use crate::models::scaler::Scaler;
use crate::models::Schema;
use crate::train::checked::NewtonConfig;
use crate::train::newton::{newton_logistic, LogisticRows};
use crate::train::objective::BinaryLogLoss;
use crate::train::optim::{minimize, Objective, OptimConfig};
use crate::train::parallel::Threads;
use crate::train::TrainError;

/// Newton's method over `rows` where they lie (see [`crate::train::newton`]), learning
/// the positive class's probability in `soft` (one row per data row) instead of the
/// label when given.
pub fn newton(
    cfg: &NewtonConfig,
    rows: Rows<'_>,
    soft: Option<&Array2<f64>>,
    (schema, scaler): (Schema, Scaler),
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    check_rows(
        rows.x.nrows().min(rows.y.len()),
        rows.train,
        rows.validation,
    )?;
    let targets = |of: &[usize]| -> Vec<f64> {
        match soft {
            Some(p) => of
                .iter()
                .map(|&r| p.get((r, 1)).copied().unwrap_or(0.0))
                .collect(),
            None => targets_of(rows.y, of).to_vec(),
        }
    };
    let (train_y, validation_y) = (targets(rows.train), targets(rows.validation));
    let train = LogisticRows::new(rows.x.view(), rows.train, &train_y, &scaler)?;
    let validation = LogisticRows::new(rows.x.view(), rows.validation, &validation_y, &scaler)?;
    let out = newton_logistic(&train, Some(&validation), cfg, threads, on_epoch)?;
    let d = rows.x.ncols();
    let w = out.theta.slice(s![..d]).to_vec();
    let b = out.theta.get(d).copied().unwrap_or(0.0);
    let model = LogisticModel::new(schema, scaler, w, b)?;
    Ok(Trained {
        model: Arc::new(model),
        history: out.history,
        epochs_run: out.epochs_run,
        predictions: Some(out.classes),
    })
}

/// A first-order optimiser on the standardised copy in `data`.
pub fn gradient(
    cfg: &OptimConfig,
    data: Prepared,
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
    let out = minimize(
        &obj,
        Array1::zeros(obj.n_params()),
        cfg,
        validation,
        on_epoch,
    )?;
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
