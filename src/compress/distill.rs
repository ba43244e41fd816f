//! Distillation: a student trained on the teacher's outputs over the transfer rows —
//! softened class probabilities for classifiers, predictions for regressors — with the
//! trainer's own validation split and early stopping.

use std::sync::Arc;

use ndarray::{Array2, Axis};

use super::Aligned;
use crate::models::{Artifact, Model, Task};
use crate::train::family::EpochCallback;
use crate::train::fit::fit_rows_soft;
use crate::train::split::train_validation_split;
use crate::train::{fit_rows_checked, CheckedSpec, Dataset, Fitted, Threads, TrainError};

/// Smallest probability taken to a logarithm when softening.
const MIN_PROBABILITY: f64 = 1e-12;

/// softmax(log p / T) per row: T > 1 spreads the teacher's confidence over the other
/// classes (their relative likelihoods are what the student learns from), T = 1 keeps it.
pub fn soften(p: &Array2<f64>, temperature: f64) -> Array2<f64> {
    let mut q = p.mapv(|v| v.max(MIN_PROBABILITY).ln() / temperature);
    for mut row in q.rows_mut() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        if sum > 0.0 {
            row /= sum;
        }
    }
    q
}

/// Trains `spec` on the teacher's outputs for the `transfer` rows of `aligned`.
#[allow(clippy::too_many_arguments)]
pub fn train_student(
    teacher: &dyn Model,
    spec: &CheckedSpec,
    temperature: f64,
    aligned: &Aligned,
    data: &Dataset,
    transfer: &[usize],
    threads: &Threads,
    on_epoch: EpochCallback,
) -> Result<Fitted, TrainError> {
    let x = aligned.x.select(Axis(0), transfer);
    let taught = teacher.predict(x.view())?;
    let schema = teacher.schema();
    let student_data = Dataset {
        x,
        // The teacher's answers: its classes (which drive the split and the student's
        // metrics) or its predicted values.
        y: taught.predictions.clone(),
        feature_names: schema.feature_names.clone(),
        target: data.target.clone(),
        classes: schema.classes.clone(),
        read_fingerprint: Default::default(),
    };
    let (train, validation) = train_validation_split(
        student_data.n_rows(),
        &student_data.y,
        teacher.task(),
        spec.validation_split,
        spec.seed,
    );
    match (teacher.task(), taught.probabilities) {
        (Task::Classification, Some(p)) => {
            let mut fitted = fit_rows_soft(
                spec,
                &student_data,
                &soften(&p, temperature),
                (&train, &validation),
                threads,
                on_epoch,
            )?;
            fitted.model = sharpen(fitted.model.as_ref(), temperature)?;
            Ok(fitted)
        }
        _ => fit_rows_checked(spec, &student_data, &train, &validation, threads, on_epoch),
    }
}

/// The student learnt logits z ≈ log p / T; serving z·T gives back the teacher's
/// confidence (argmax, and so every label metric, is unchanged).
fn sharpen(model: &dyn Model, temperature: f64) -> Result<Arc<dyn Model>, TrainError> {
    let t = temperature;
    let scale = |v: &mut Vec<f64>| v.iter_mut().for_each(|w| *w *= t);
    let artifact = match model.to_artifact() {
        Artifact::LogisticRegression(mut m) => {
            scale(&mut m.weights);
            m.intercept *= t;
            Artifact::LogisticRegression(m)
        }
        Artifact::SoftmaxRegression(mut m) => {
            m.weights.iter_mut().for_each(scale);
            scale(&mut m.intercepts);
            Artifact::SoftmaxRegression(m)
        }
        Artifact::MlpClassifier(mut m) => {
            if let (Some(w), Some(b)) = (m.weights.last_mut(), m.biases.last_mut()) {
                scale(w);
                scale(b);
            }
            Artifact::MlpClassifier(m)
        }
        other => other,
    };
    Ok(artifact.into_model()?)
}
