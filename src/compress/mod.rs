//! Compression of a natively trained model for deployment: int8 quantisation, magnitude
//! pruning (with optional masked fine-tuning) and distillation into a smaller student,
//! each measured on rows it never trained on ([`report::Report`]) and gated by
//! `max_metric_drop`. It knows models and training, not HTTP, jobs or the store: the
//! caller says how big a stored model is.

pub mod distill;
pub mod method;
pub mod prune;
pub mod report;

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;

use ndarray::{Array2, Axis};

pub use method::{FineTune, Method};
pub use report::Report;

use crate::models::compact::{self, weights};
use crate::models::{Model, Task};
use crate::train::split::train_validation_split;
use crate::train::{Dataset, EpochRecord, Fitted, Threads, TrainError};

/// Share of the given rows held out to measure the metric before and after, when they
/// are not the data the teacher was trained on.
pub const EVALUATION_SHARE: f64 = 0.2;
/// Seeds the evaluation split, so a repeated job measures the same rows.
const EVALUATION_SEED: u64 = 0x636f_6d70;

/// Progress (0–1) with the epoch that produced it, if any; `Break` cancels.
pub type OnStep<'a> = &'a mut dyn FnMut(Option<&EpochRecord>, f64) -> ControlFlow<()>;

/// The compressed model and its measurements.
pub struct Compressed {
    pub model: Arc<dyn Model>,
    pub report: Report,
    /// The student's training record (distillation only).
    pub student: Option<Fitted>,
    /// Fine-tuning or distillation epochs, for the learning curve.
    pub history: Vec<EpochRecord>,
    /// The compressed model's quality on the evaluation rows.
    pub evaluation: crate::train::Metrics,
}

/// How the teacher was split when it was trained: on the same data (same fingerprint),
/// its validation rows are the only ones neither it nor the result trained on.
#[derive(Clone, Debug)]
pub struct TeacherSplit {
    pub fingerprint: crate::train::fingerprint::DatasetFingerprint,
    pub fraction: f64,
    pub seed: u64,
    pub n_validation: usize,
}

/// (transfer rows, evaluation rows) and which rows were held out.
fn evaluation_rows(
    data: &Dataset,
    y: &[f64],
    task: Task,
    teacher: Option<&TeacherSplit>,
) -> (Vec<usize>, Vec<usize>, &'static str) {
    let n = data.n_rows();
    if let Some(t) = teacher.filter(|t| t.n_validation > 0) {
        let (train, val) = train_validation_split(n, y, task, t.fraction, t.seed);
        if val.len() == t.n_validation && data.fingerprint_like(&t.fingerprint) == t.fingerprint {
            return (train, val, "teacher_validation");
        }
    }
    let (train, val) = train_validation_split(n, y, task, EVALUATION_SHARE, EVALUATION_SEED);
    (train, val, "held_out")
}

/// Refuses data too small to hold out evaluation rows from (checked before a job exists).
pub fn check_rows(data: &Dataset, y: &[f64], task: Task) -> Result<(), TrainError> {
    let (transfer, eval) =
        train_validation_split(data.n_rows(), y, task, EVALUATION_SHARE, EVALUATION_SEED);
    if eval.is_empty() || transfer.is_empty() {
        return Err(TrainError::data(format!(
            "{} rows are too few: compression holds out {:.0}% of them to measure the result",
            data.n_rows(),
            EVALUATION_SHARE * 100.0
        )));
    }
    Ok(())
}

/// The data in the teacher's terms: its feature order and class indices.
pub struct Aligned<'a> {
    pub x: Cow<'a, Array2<f64>>,
    pub y: Vec<f64>,
}

/// Reorders `data`'s columns to the teacher's features and maps its labels to the
/// teacher's classes; a missing feature or an unknown class is the client's error.
pub fn align<'a>(teacher: &dyn Model, data: &'a Dataset) -> Result<Aligned<'a>, TrainError> {
    let schema = teacher.schema();
    let columns = schema
        .feature_names
        .iter()
        .map(|f| {
            data.feature_names
                .iter()
                .position(|g| g == f)
                .ok_or_else(|| {
                    TrainError::data(format!(
                        "the data has no column `{f}`, a feature of the model"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let in_order = columns.len() == data.feature_names.len()
        && columns.iter().enumerate().all(|(i, &c)| i == c);
    let x = if in_order {
        Cow::Borrowed(&data.x)
    } else {
        Cow::Owned(data.x.select(Axis(1), &columns))
    };
    let y = match (&schema.classes, &data.classes) {
        (None, None) => data.y.clone(),
        (Some(model), Some(given)) => {
            let map = given
                .iter()
                .map(|c| {
                    model.iter().position(|m| m == c).ok_or_else(|| {
                        TrainError::data(format!(
                            "class `{c}` in the data is not one of the model's classes {model:?}"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            data.y
                .iter()
                .map(|&v| map.get(v as usize).map(|&c| c as f64).unwrap_or(f64::NAN))
                .collect()
        }
        _ => {
            return Err(TrainError::data(
                "the data was loaded for the other task than the model's".into(),
            ))
        }
    };
    Ok(Aligned { x, y })
}

/// What to compress and how.
pub struct Request<'a> {
    pub teacher: &'a Arc<dyn Model>,
    pub method: &'a Method,
    /// The gate: refuse a result whose metric drops by more.
    pub max_metric_drop: Option<f64>,
    /// How the teacher was split when trained, if modeld trained it.
    pub teacher_split: Option<&'a TeacherSplit>,
}

/// Compresses the request's teacher on `data`; `stored_bytes` gives a model's size in
/// the store. Runs on the calling (job) thread.
pub fn run(
    req: Request,
    data: &Dataset,
    stored_bytes: &dyn Fn(&dyn Model) -> u64,
    threads: &Threads,
    on_step: OnStep,
) -> Result<Compressed, TrainError> {
    let Request {
        teacher,
        method,
        max_metric_drop,
        teacher_split,
    } = req;
    let aligned = align(teacher.as_ref(), data)?;
    let task = teacher.task();
    let n = aligned.x.nrows();
    let (transfer, eval, evaluation_rows) = evaluation_rows(data, &aligned.y, task, teacher_split);
    if eval.is_empty() || transfer.is_empty() {
        check_rows(data, &aligned.y, task)?;
        return Err(TrainError::data(format!(
            "{n} rows leave no evaluation rows"
        )));
    }
    let mut history = Vec::new();
    let mut on_epoch = |rec: &EpochRecord, progress: f64| {
        history.push(rec.clone());
        on_step(Some(rec), 0.8 * progress)
    };
    let (model, student): (Arc<dyn Model>, Option<Fitted>) = match method {
        Method::Quantize => {
            let dense = compact::from_model(teacher.as_ref())?;
            let q = dense.restored(|_, w| Ok(weights::quantize(w.view())))?;
            (Arc::new(q), None)
        }
        Method::Prune {
            sparsity,
            fine_tune,
        } => {
            let dense = compact::from_model(teacher.as_ref())?;
            let x = aligned.x.select(Axis(0), &transfer);
            let y: Vec<f64> = transfer
                .iter()
                .filter_map(|&r| aligned.y.get(r).copied())
                .collect();
            let pruned = prune::run(
                &dense,
                *sparsity,
                fine_tune.as_ref(),
                x.view(),
                &y,
                &mut on_epoch,
            )?;
            (Arc::new(pruned), None)
        }
        Method::Distill {
            student,
            temperature,
        } => {
            let fitted = distill::train_student(
                teacher.as_ref(),
                student,
                *temperature,
                &aligned,
                data,
                &transfer,
                threads,
                &mut on_epoch,
            )?;
            (fitted.model.clone(), Some(fitted))
        }
    };
    if on_step(None, 0.8).is_break() {
        return Err(TrainError::Cancelled);
    }
    let measured = measure(teacher.as_ref(), model.as_ref(), &aligned, &eval, task)?;
    let (before, after) = (measured.before, measured.after);
    if on_step(None, 0.95).is_break() {
        return Err(TrainError::Cancelled);
    }
    let kept = max_metric_drop.is_none_or(|limit| before - after <= limit);
    let (layers, sparsity) = layout(model.as_ref());
    let report = Report {
        method: method.name().to_string(),
        kept,
        metric: measured.metric,
        before,
        after,
        agreement: measured.agreement,
        bytes_before: stored_bytes(teacher.as_ref()),
        bytes_after: stored_bytes(model.as_ref()),
        latency_us: measured.latency,
        max_metric_drop,
        n_eval: eval.len(),
        evaluation_rows: evaluation_rows.to_string(),
        layers,
        sparsity,
    };
    Ok(Compressed {
        model,
        report,
        student,
        history,
        evaluation: measured.evaluation,
    })
}

struct Measured {
    metric: String,
    before: f64,
    after: f64,
    agreement: f64,
    evaluation: crate::train::Metrics,
    latency: report::LatencyPair,
}

/// Metric before and after, agreement and latency on the evaluation rows.
fn measure(
    teacher: &dyn Model,
    model: &dyn Model,
    aligned: &Aligned,
    eval: &[usize],
    task: Task,
) -> Result<Measured, TrainError> {
    let x = aligned.x.select(Axis(0), eval);
    let y: Vec<f64> = eval
        .iter()
        .filter_map(|&r| aligned.y.get(r).copied())
        .collect();
    let (metric, before) = report::score(teacher, x.view(), &y)?;
    let evaluation = crate::train::evaluate(model, x.view(), &y)?;
    let after = evaluation.get(&metric).copied().unwrap_or(f64::NAN);
    let agreement = report::agreement(task, &teacher.predict(x.view())?, &model.predict(x.view())?);
    let latency = report::latency(teacher, model, x.view())?;
    Ok(Measured {
        metric,
        before,
        after,
        agreement,
        evaluation,
        latency,
    })
}

/// Each layer's storage and the share of zero weights.
fn layout(model: &dyn Model) -> (Vec<String>, f64) {
    let Ok(m) = compact::from_model(model) else {
        return (Vec::new(), 0.0);
    };
    let formats = m
        .spec()
        .layers
        .iter()
        .map(|l| l.weights.format().to_string())
        .collect();
    let (zeros, total) = m
        .dense_layers()
        .iter()
        .fold((0usize, 0usize), |(z, t), (w, _)| {
            (z + w.iter().filter(|v| **v == 0.0).count(), t + w.len())
        });
    let sparsity = if total == 0 {
        0.0
    } else {
        zeros as f64 / total as f64
    };
    (formats, sparsity)
}
