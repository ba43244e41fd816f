//! Grid search with k-fold cross-validation (`POST /v1/models/{name}/tune`).
//!
//! Every combination of `param_grid` (cartesian product, keys in sorted order, the
//! last key varying fastest, like scikit-learn's `ParameterGrid`) is merged over the
//! base `params` and trained on each fold's training rows — with the scaler refitted
//! per fold, since [`fit_rows`] standardises on the rows it trains on — then scored on
//! the fold's held-out rows. Folds are scikit-learn's unshuffled `KFold` (regression)
//! or `StratifiedKFold` (classification) over the rows in the order given. The best
//! mean score wins (ties: the first in grid order, like `GridSearchCV`) and is
//! refitted on all rows.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::checked::CheckedSpec;
use super::fit::{fit_rows_checked, Fitted};
use super::optim::EpochRecord;
use super::parallel::Threads;
use super::params::{Algorithm, Params, TrainSpec};
use super::quality::evaluate;
use super::task::check_task;
use super::{split, Dataset, TrainError};
use crate::models::Task;

/// Largest grid accepted.
pub const MAX_COMBINATIONS: usize = 256;
/// Default number of folds.
pub const DEFAULT_FOLDS: usize = 5;

/// CV score; higher is better (errors are negated, like scikit-learn).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    Accuracy,
    /// Macro F1.
    F1,
    Precision,
    Recall,
    R2,
    NegMse,
    NegMae,
}

impl Scoring {
    fn task(&self) -> Task {
        match self {
            Scoring::R2 | Scoring::NegMse | Scoring::NegMae => Task::Regression,
            _ => Task::Classification,
        }
    }
    /// (metric name in [`super::Metrics`], sign).
    fn metric(&self) -> (&'static str, f64) {
        match self {
            Scoring::Accuracy => ("accuracy", 1.0),
            Scoring::F1 => ("f1", 1.0),
            Scoring::Precision => ("precision", 1.0),
            Scoring::Recall => ("recall", 1.0),
            Scoring::R2 => ("r2", 1.0),
            Scoring::NegMse => ("mse", -1.0),
            Scoring::NegMae => ("mae", -1.0),
        }
    }
}

/// A grid-search request (the data travels separately).
#[derive(Deserialize, Serialize, Clone, Debug)]
pub struct TuneSpec {
    pub algorithm: Algorithm,
    /// Base parameters (a JSON object), overridden per combination.
    pub params: Value,
    /// Parameter name → candidate values.
    pub param_grid: BTreeMap<String, Vec<Value>>,
    pub folds: usize,
    /// Default: accuracy for classifiers, r2 for regressors.
    pub scoring: Option<Scoring>,
}

/// One row of the CV table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct CvResult {
    /// The grid values of this combination.
    #[schema(value_type = Object)]
    pub params: Value,
    pub mean_score: f64,
    /// Population standard deviation over folds (numpy's default, as GridSearchCV).
    pub std_score: f64,
    pub fold_scores: Vec<f64>,
    /// 1 = best; equal means share a rank.
    pub rank: usize,
}

/// The whole search, as kept in a version's provenance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct CvReport {
    #[schema(value_type = String)]
    pub scoring: Scoring,
    pub folds: usize,
    pub results: Vec<CvResult>,
    #[schema(value_type = Object)]
    pub best_params: Value,
    pub best_score: f64,
}

/// A validated grid: the combinations and their checked training specs.
pub struct Plan {
    pub algorithm: Algorithm,
    pub scoring: Scoring,
    pub folds: usize,
    pub candidates: Vec<(Value, CheckedSpec)>,
}

impl TuneSpec {
    /// Checks everything that does not need the data: grid non-empty, known keys,
    /// size ≤ [`MAX_COMBINATIONS`], folds ≥ 2, scoring fits the task, and every
    /// combination's parameters validate.
    pub fn plan(&self) -> Result<Plan, TrainError> {
        let bad = |name, reason: String| Err(TrainError::param(name, reason));
        if self.folds < 2 {
            return bad("folds", format!("must be at least 2, got {}", self.folds));
        }
        let task = self.algorithm.family().task();
        let scoring = self.scoring.unwrap_or(match task {
            Task::Classification => Scoring::Accuracy,
            Task::Regression => Scoring::R2,
        });
        if scoring.task() != task {
            return bad(
                "scoring",
                format!(
                    "{} does not apply to {}; use {}",
                    serde_json::to_string(&scoring).unwrap_or_default(),
                    self.algorithm.family(),
                    match task {
                        Task::Classification => "accuracy, f1, precision or recall",
                        Task::Regression => "r2, neg_mse or neg_mae",
                    }
                ),
            );
        }
        let Value::Object(base) = &self.params else {
            return bad("params", "must be a JSON object".into());
        };
        if self.param_grid.is_empty() {
            return bad("param_grid", "must name at least one parameter".into());
        }
        let known: Vec<String> = match serde_json::to_value(Params::default()) {
            Ok(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut total = 1usize;
        for (key, values) in &self.param_grid {
            if !known.contains(key) {
                return bad(
                    "param_grid",
                    format!(
                        "key '{key}' is not a parameter; known: {}",
                        known.join(", ")
                    ),
                );
            }
            if values.is_empty() {
                return bad("param_grid", format!("key '{key}' has no values"));
            }
            total = total.saturating_mul(values.len());
        }
        if total > MAX_COMBINATIONS {
            return bad(
                "param_grid",
                format!("has {total} combinations, more than the limit of {MAX_COMBINATIONS}"),
            );
        }
        let mut candidates = Vec::with_capacity(total);
        for i in 0..total {
            // Mixed-radix decoding of i, the last key varying fastest.
            let mut rest = i;
            let mut combo = Map::new();
            for (key, values) in self.param_grid.iter().rev() {
                combo.insert(key.clone(), values[rest % values.len()].clone());
                rest /= values.len();
            }
            let mut merged = base.clone();
            merged.extend(combo.clone());
            let combo = Value::Object(combo);
            let in_combo = |source| TrainError::GridCombination {
                combination: combo.to_string(),
                source: Box::new(source),
            };
            let params: Params = serde_json::from_value(Value::Object(merged))
                .map_err(|e| in_combo(TrainError::param("params", format!("are invalid: {e}"))))?;
            let spec = TrainSpec {
                algorithm: self.algorithm,
                params,
                validation_split: 0.0,
            };
            let checked = spec.validate().map_err(in_combo)?;
            candidates.push((combo, checked));
        }
        Ok(Plan {
            algorithm: self.algorithm,
            scoring,
            folds: self.folds,
            candidates,
        })
    }
}

impl Plan {
    /// What can only be checked against the data, before any training: the
    /// folds fit the rows and the algorithm fits the data.
    pub fn check_data(&self, data: &Dataset) -> Result<(), TrainError> {
        folds(data, self.folds)?;
        check_task(self.algorithm, data)
    }
}

/// (training positions, validation positions) per fold.
pub type Folds = Vec<(Vec<usize>, Vec<usize>)>;

/// The folds over the data's rows (positions in the given order); errors when
/// there are more folds than rows, or (classification) than rows of some class.
pub fn folds(data: &Dataset, k: usize) -> Result<Folds, TrainError> {
    let n = data.n_rows();
    if k > n {
        return Err(TrainError::param(
            "folds",
            format!("({k}) must not exceed the number of rows ({n})"),
        ));
    }
    match data.task() {
        Task::Regression => Ok(split::kfold(n, k)),
        Task::Classification => {
            let labels: Vec<usize> = data.y.iter().map(|&v| v.max(0.0) as usize).collect();
            let classes = data.classes.clone().unwrap_or_default();
            for (c, name) in classes.iter().enumerate() {
                let count = labels.iter().filter(|&&l| l == c).count();
                if count < k {
                    return Err(TrainError::param(
                        "folds",
                        format!(
                            "must not exceed the rows of any class: class '{name}' has {count} rows, \
                             fewer than folds ({k}); stratified CV needs at least one per fold"
                        ),
                    ));
                }
            }
            Ok(split::stratified_kfold(&labels, k))
        }
    }
}

/// Progress callback: `record` is `Some` only during the final refit.
pub type TuneCallback<'a> = &'a mut dyn FnMut(Option<&EpochRecord>, f64) -> ControlFlow<()>;

/// Runs the search and the refit. Returns the report and the refitted model.
pub fn run(
    plan: &Plan,
    data: &Dataset,
    threads: &Threads,
    progress: TuneCallback,
) -> Result<(CvReport, Fitted), TrainError> {
    let folds = folds(data, plan.folds)?;
    let steps = (plan.candidates.len() * folds.len() + 1) as f64;
    let (metric, sign) = plan.scoring.metric();
    let mut results = Vec::with_capacity(plan.candidates.len());
    for (ci, (combo, spec)) in plan.candidates.iter().enumerate() {
        let mut scores = Vec::with_capacity(folds.len());
        for (fi, (train, val)) in folds.iter().enumerate() {
            let done = (ci * folds.len() + fi) as f64;
            let mut cb = |_: &EpochRecord, p: f64| progress(None, (done + p) / steps);
            let fitted = fit_rows_checked(spec, data, train, &[], threads, &mut cb)?;
            let v = data.select(val)?;
            let m = evaluate(fitted.model.as_ref(), v.x.view(), &v.y)?;
            scores.push(sign * m.get(metric).copied().unwrap_or(f64::NAN));
            if progress(None, (done + 1.0) / steps).is_break() {
                return Err(TrainError::Cancelled);
            }
        }
        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        let var =
            scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len().max(1) as f64;
        results.push(CvResult {
            params: combo.clone(),
            mean_score: mean,
            std_score: var.sqrt(),
            fold_scores: scores,
            rank: 0,
        });
    }
    // Best = highest mean, first in grid order on ties; NaN means lose.
    let key = |r: &CvResult| {
        if r.mean_score.is_nan() {
            f64::NEG_INFINITY
        } else {
            r.mean_score
        }
    };
    let mut best = 0;
    for (i, r) in results.iter().enumerate() {
        if key(r) > key(&results[best]) {
            best = i;
        }
    }
    let means: Vec<f64> = results.iter().map(key).collect();
    for (i, r) in results.iter_mut().enumerate() {
        r.rank = 1 + means.iter().filter(|&&m| m > means[i]).count();
    }
    let (best_params, best_spec) = plan
        .candidates
        .get(best)
        .ok_or_else(|| TrainError::internal("empty grid".into()))?;
    let all: Vec<usize> = (0..data.n_rows()).collect();
    let base = steps - 1.0;
    let mut cb = |r: &EpochRecord, p: f64| progress(Some(r), (base + p) / steps);
    let fitted = fit_rows_checked(best_spec, data, &all, &[], threads, &mut cb)?;
    let report = CvReport {
        scoring: plan.scoring,
        folds: plan.folds,
        best_score: results[best].mean_score,
        best_params: best_params.clone(),
        results,
    };
    Ok((report, fitted))
}
