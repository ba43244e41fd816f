//! Binary logistic regression by Newton's method, read from the raw rows, or by a
//! first-order optimiser on the rows standardised as they are read.

use std::sync::Arc;

use ndarray::{s, Array1, Array2};

use super::{targets_of, EpochCallback, Prepared, Rows, Trained};
use crate::models::logistic::LogisticModel;
use crate::models::scaler::Scaler;
use crate::models::{Model, Schema};
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
    // Rows out of range are refused by `LogisticRows::new`, missing targets by its
    // count check.
    let targets = |of: &[usize]| -> Vec<f64> {
        match soft {
            Some(p) => positive_probability(p, of.iter().copied()),
            None => targets_of(rows.y, of).to_vec(),
        }
    };
    let (train_y, validation_y) = (targets(rows.train), targets(rows.validation));
    let train = LogisticRows::new(rows.x.view(), rows.train, &train_y, &scaler)?;
    let validation = LogisticRows::new(rows.x.view(), rows.validation, &validation_y, &scaler)?;
    let out = newton_logistic(&train, Some(&validation), cfg, threads, on_epoch)?;
    Ok(Trained {
        model: model_of(&out.theta, schema, scaler)?,
        history: out.history,
        epochs_run: out.epochs_run,
        predictions: Some(out.classes),
    })
}

/// A first-order optimiser on the rows of `data`.
pub fn gradient(
    cfg: &OptimConfig,
    data: Prepared<'_>,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    // Soft targets: the positive class's probability replaces the 0/1 label.
    let (y, val_y) = match data.soft {
        Some(s) => (
            positive_probability(&s.train, 0..s.train.nrows()).into(),
            Some(positive_probability(&s.validation, 0..s.validation.nrows()).into()),
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
    Ok(Trained {
        model: model_of(&out.theta, data.schema, data.scaler)?,
        history: out.history,
        epochs_run: out.epochs_run,
        predictions: None,
    })
}

/// The positive class's probability (column 1) of each of `rows` of the soft targets `p`.
fn positive_probability(p: &Array2<f64>, rows: impl Iterator<Item = usize>) -> Vec<f64> {
    rows.map(|r| p.get((r, 1)).copied().unwrap_or(0.0))
        .collect()
}

/// The model of θ = [w; b], in the units of `scaler`'s standardised features.
fn model_of(
    theta: &Array1<f64>,
    schema: Schema,
    scaler: Scaler,
) -> Result<Arc<dyn Model>, TrainError> {
    let d = theta.len().saturating_sub(1);
    let w = theta.slice(s![..d]).to_vec();
    let b = theta.get(d).copied().unwrap_or(0.0);
    Ok(Arc::new(LogisticModel::new(schema, scaler, w, b)?))
}
