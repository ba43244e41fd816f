//! Quality metrics, computed exactly as scikit-learn does: accuracy and
//! macro precision / recall / F1 (zero_division = 0) for classifiers; MSE,
//! MAE and R² for regressors.

use std::collections::BTreeMap;

use ndarray::{ArrayView1, ArrayView2};

use crate::models::{Model, ModelError, Task};

/// Metric name → value.
pub type Metrics = BTreeMap<String, f64>;

/// `accuracy` = share of equal labels; per class c: P_c = TP/(TP+FP),
/// R_c = TP/(TP+FN), F1_c = 2·P·R/(P+R), each 0 when its denominator is 0;
/// `precision`, `recall`, `f1` are unweighted means over the classes that occur
/// in `y_true` or `y_pred` (scikit-learn's default `labels=None`), so a small
/// online window that never saw a class is not penalised for it. Labels ≥
/// n_classes only affect accuracy. Empty input → all 0.
pub fn classification_metrics(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Metrics {
    let n = y_true.len().min(y_pred.len());
    let mut tp = vec![0usize; n_classes];
    let mut pred_count = vec![0usize; n_classes];
    let mut true_count = vec![0usize; n_classes];
    let mut correct = 0usize;
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t == p {
            correct += 1;
            if let Some(c) = tp.get_mut(t) {
                *c += 1;
            }
        }
        if let Some(c) = pred_count.get_mut(p) {
            *c += 1;
        }
        if let Some(c) = true_count.get_mut(t) {
            *c += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (mut p_sum, mut r_sum, mut f_sum) = (0.0, 0.0, 0.0);
    let mut present = 0usize;
    for c in 0..n_classes {
        if true_count[c] + pred_count[c] == 0 {
            continue;
        }
        present += 1;
        let p = ratio(tp[c], pred_count[c]);
        let r = ratio(tp[c], true_count[c]);
        p_sum += p;
        r_sum += r;
        f_sum += if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
    }
    let k = present.max(1) as f64;
    Metrics::from([
        ("accuracy".to_string(), ratio(correct, n)),
        ("precision".to_string(), p_sum / k),
        ("recall".to_string(), r_sum / k),
        ("f1".to_string(), f_sum / k),
    ])
}

/// `mse` = mean (y−ŷ)², `mae` = mean |y−ŷ|, `r2` = 1 − SS_res/SS_tot with
/// SS_tot = Σ(y − ȳ)²; if SS_tot = 0, r2 = 1 when SS_res = 0 else 0
/// (scikit-learn's convention). Empty input → all 0.
pub fn regression_metrics(y_true: &[f64], y_pred: &[f64]) -> Metrics {
    let n = y_true.len().min(y_pred.len());
    let t = ArrayView1::from(&y_true[..n]);
    let p = ArrayView1::from(&y_pred[..n]);
    let (mse, mae, r2) = if n == 0 {
        (0.0, 0.0, 0.0)
    } else {
        let res = &t - &p;
        let ss_res = res.dot(&res);
        let mean = t.sum() / n as f64;
        let dev = t.mapv(|v| v - mean);
        let ss_tot = dev.dot(&dev);
        let r2 = if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
        (ss_res / n as f64, res.mapv(f64::abs).sum() / n as f64, r2)
    };
    Metrics::from([
        ("mse".to_string(), mse),
        ("mae".to_string(), mae),
        ("r2".to_string(), r2),
    ])
}

/// Predicts `x` and scores against `y` (class indices as f64 for
/// classifiers). Errors if `y` has the wrong length or holds a value that is
/// not a class index of the model.
pub fn evaluate(model: &dyn Model, x: ArrayView2<f64>, y: &[f64]) -> Result<Metrics, ModelError> {
    if y.len() != x.nrows() {
        return Err(ModelError::InvalidInput(format!(
            "{} target values for {} rows",
            y.len(),
            x.nrows()
        )));
    }
    let out = model.predict(x)?;
    score(model, y, &out.predictions)
}

/// [`evaluate`] of the rows of `x` and `y` at `rows`, predicted where they lie
/// ([`Model::predict_rows`]): scoring the 800,000 training rows of a large set copies
/// none of them for a linear model, 4,096 at a time for any other.
pub fn evaluate_rows(
    model: &dyn Model,
    x: ArrayView2<f64>,
    y: &[f64],
    rows: &[usize],
) -> Result<Metrics, ModelError> {
    let n = x.nrows().min(y.len());
    if let Some(bad) = rows.iter().find(|&&r| r >= n) {
        return Err(ModelError::InvalidInput(format!(
            "row {bad} out of range ({n} rows)"
        )));
    }
    score_rows(model, y, rows, &model.predict_rows(x, rows)?)
}

/// The model's metrics of `predictions`, made for the rows of `y` at `rows` (each in
/// range), in that order.
pub fn score_rows(
    model: &dyn Model,
    y: &[f64],
    rows: &[usize],
    predictions: &[f64],
) -> Result<Metrics, ModelError> {
    if predictions.len() != rows.len() {
        return Err(ModelError::InvalidInput(format!(
            "{} predictions for {} rows",
            predictions.len(),
            rows.len()
        )));
    }
    let targets: Vec<f64> = rows.iter().filter_map(|&r| y.get(r).copied()).collect();
    score(model, &targets, predictions)
}

/// The model's task's metrics of `predictions` against `y`.
fn score(model: &dyn Model, y: &[f64], predictions: &[f64]) -> Result<Metrics, ModelError> {
    match model.task() {
        Task::Regression => Ok(regression_metrics(y, predictions)),
        Task::Classification => {
            let k = model.schema().classes.as_ref().map_or(0, Vec::len);
            let to_class = |(i, &v): (usize, &f64)| -> Result<usize, ModelError> {
                if v.fract() == 0.0 && v >= 0.0 && v < k as f64 {
                    Ok(v as usize)
                } else {
                    Err(ModelError::InvalidInput(format!(
                        "target {v} at row {i} is not a class index in 0..{k}"
                    )))
                }
            };
            let y_true = y
                .iter()
                .enumerate()
                .map(to_class)
                .collect::<Result<Vec<_>, _>>()?;
            let y_pred = predictions.iter().map(|&v| v as usize).collect::<Vec<_>>();
            Ok(classification_metrics(&y_true, &y_pred, k))
        }
    }
}
