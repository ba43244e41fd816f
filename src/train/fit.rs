//! The training entry points: validate → split → standardise on the training
//! rows → the family's fit function → score train/validation rows.

use std::sync::Arc;

use ndarray::{Array2, Axis};

use super::checked::{CheckedSpec, FamilyConfig, LinearSolver, LogisticSolver};
use super::family::{self, check_rows, targets_of, EpochCallback, Prepared, Rows, SoftTargets};
use super::objective::Features;
use super::optim::EpochRecord;
use super::parallel::Threads;
use super::params::{ResolvedParams, TrainSpec};
use super::quality::{evaluate_rows, score_rows, Metrics};
use super::task::check_task;
use super::{split, Dataset, TrainError};
use crate::models::scaler::Scaler;
use crate::models::{Model, Schema};

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
    fit_checked(&spec.validate()?, data, threads, on_epoch)
}

/// [`fit_with`] for a request validated earlier (at the HTTP boundary).
pub fn fit_checked(
    spec: &CheckedSpec,
    data: &Dataset,
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    data.validate()?;
    let (train, val) = split::train_validation_split(
        data.n_rows(),
        &data.y,
        data.task(),
        spec.validation_split,
        spec.seed,
    );
    fit_validated_rows(spec, data, None, &train, &val, threads, on_epoch)
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
    let spec = spec.validate()?;
    fit_rows_checked(&spec, data, train_rows, validation_rows, threads, on_epoch)
}

/// [`fit_rows_with`] for a request validated earlier.
pub fn fit_rows_checked(
    spec: &CheckedSpec,
    data: &Dataset,
    train_rows: &[usize],
    validation_rows: &[usize],
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    data.validate()?;
    fit_validated_rows(
        spec,
        data,
        None,
        train_rows,
        validation_rows,
        threads,
        on_epoch,
    )
}

/// [`fit_rows_checked`] for a classifier learning `soft` targets (one row of class
/// probabilities per data row, as a teacher's outputs in distillation) instead of the
/// one-hot labels; `data.y` still drives the metrics. Regressors ignore `soft`.
pub fn fit_rows_soft(
    spec: &CheckedSpec,
    data: &Dataset,
    soft: &Array2<f64>,
    rows: (&[usize], &[usize]),
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    data.validate()?;
    let k = data.classes.as_ref().map_or(0, Vec::len);
    if soft.dim() != (data.n_rows(), k) || soft.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return Err(TrainError::data(format!(
            "soft targets must be {} × {k} probabilities",
            data.n_rows()
        )));
    }
    fit_validated_rows(spec, data, Some(soft), rows.0, rows.1, threads, on_epoch)
}

fn fit_validated_rows(
    spec: &CheckedSpec,
    data: &Dataset,
    soft: Option<&Array2<f64>>,
    train_rows: &[usize],
    validation_rows: &[usize],
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    check_task(spec.algorithm(), data)?;
    if train_rows.is_empty() {
        return Err(TrainError::data("no training rows".into()));
    }
    check_rows(data.n_rows(), train_rows, validation_rows)?;
    let soft = soft.filter(|_| data.classes.is_some());
    // The first-order solvers' inputs, made only for them.
    let prepared = || -> Result<Prepared, TrainError> {
        let mut prepared = prepare(data, train_rows, validation_rows)?;
        if let Some(soft) = soft {
            prepared.soft = Some(SoftTargets {
                train: soft.select(Axis(0), train_rows),
                validation: soft.select(Axis(0), validation_rows),
            });
        }
        Ok(prepared)
    };
    let rows = Rows {
        x: data.x.view(),
        y: &data.y,
        train: train_rows,
        validation: validation_rows,
    };
    let scaled = || (schema_of(data), Scaler::fit_rows(data.x.view(), train_rows));
    let trained = match &spec.family {
        FamilyConfig::Linear(LinearSolver::ClosedForm { l2 }) => {
            let (schema, scaler) = scaled();
            family::linear_rows::closed_form(*l2, rows, schema, scaler, on_epoch)?
        }
        FamilyConfig::Linear(LinearSolver::Gradient { loss, optim }) => {
            family::linear::fit(*loss, optim, prepared()?, on_epoch)?
        }
        FamilyConfig::Logistic(LogisticSolver::Newton(cfg)) => {
            family::logistic::newton(cfg, rows, soft, scaled(), threads, on_epoch)?
        }
        FamilyConfig::Logistic(LogisticSolver::Gradient(optim)) => {
            family::logistic::gradient(optim, prepared()?, on_epoch)?
        }
        FamilyConfig::Softmax(optim) => family::softmax::fit(optim, prepared()?, on_epoch)?,
        FamilyConfig::Mlp(cfg) => family::mlp::fit(cfg, prepared()?, on_epoch)?,
    };
    let model = trained.model;
    let x = data.x.view();
    let score = |rows: &[usize], made: Option<&Vec<f64>>| match made {
        Some(predictions) => score_rows(model.as_ref(), &data.y, rows, predictions),
        None => evaluate_rows(model.as_ref(), x, &data.y, rows),
    };
    let made = trained.predictions.as_ref();
    let train_metrics = score(train_rows, made.map(|p| &p.0))?;
    let validation_metrics = (!validation_rows.is_empty())
        .then(|| score(validation_rows, made.map(|p| &p.1)))
        .transpose()?;
    Ok(Fitted {
        model,
        train_metrics,
        validation_metrics,
        history: trained.history,
        epochs_run: trained.epochs_run,
        params: spec.report(),
        n_train: train_rows.len(),
        n_validation: validation_rows.len(),
    })
}

/// The training and validation rows, read standardised with the training rows' mean and
/// std: no copy of the data is made.
fn prepare<'a>(
    data: &'a Dataset,
    train_rows: &'a [usize],
    validation_rows: &'a [usize],
) -> Result<Prepared<'a>, TrainError> {
    let x = data.x.view();
    let scaler = Scaler::fit_rows(x, train_rows);
    let validation = (!validation_rows.is_empty())
        .then(|| {
            Features::raw(x, validation_rows, scaler.clone())
                .map(|v| (v, targets_of(&data.y, validation_rows)))
        })
        .transpose()?;
    Ok(Prepared {
        schema: schema_of(data),
        x: Features::raw(x, train_rows, scaler.clone())?,
        y: targets_of(&data.y, train_rows),
        scaler,
        validation,
        n_classes: data.classes.as_ref().map_or(0, Vec::len),
        soft: None,
    })
}

fn schema_of(data: &Dataset) -> Schema {
    Schema {
        feature_names: data.feature_names.clone(),
        target: data.target.clone(),
        classes: data.classes.clone(),
    }
}
