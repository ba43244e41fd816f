//! The import-time check that a graph answers sensibly before it is served: run on rows
//! sampled over the declared input, its outputs must be finite, and a classifier's label
//! must be the class its own probabilities rank first. A graph that fails is refused
//! (422) rather than served with silently wrong answers.

use ndarray::Array2;

use crate::models::{Model, ModelError, Output};

/// Rows per scale; small, so a check costs one short batch.
const ROWS_PER_SCALE: usize = 8;
/// Input magnitudes: unit-scale rows must give finite outputs; larger ones widen the
/// label check to inputs of unscaled features (those may overflow and are not judged on
/// finiteness).
const SCALES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
/// Probabilities this close count as a tie, where label and ranking may both be right.
const TIE: f64 = 1e-6;

/// Deterministic rows in [-scale, scale], first the all-zero row.
fn sample(d: usize, scale: f64, seed: u64) -> Array2<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((ROWS_PER_SCALE, d), |(row, _)| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if row == 0 {
            return 0.0;
        }
        let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
        (2.0 * unit - 1.0) * scale
    })
}

/// `voted_labels`: the label is an SVM's one-vs-one vote, which onnxruntime and
/// scikit-learn answer even where the Platt probabilities rank another class first, so
/// a disagreement is not a fault of the file.
pub fn check(
    model: &dyn Model,
    output_names: (&str, &str),
    voted_labels: bool,
) -> Result<(), ModelError> {
    let contradiction = |out: &Output, names| {
        if voted_labels {
            Ok(())
        } else {
            contradiction(out, names)
        }
    };
    let d = model.schema().n_features();
    // Small integers of both signs: a graph can index by what it computes (an ArgMax
    // feeding a Gather) and fail only on some rows.
    for x in super::guard::trial_inputs(d) {
        contradiction(&model.predict(x.view())?, output_names)?;
    }
    for (i, scale) in SCALES.iter().enumerate() {
        let x = sample(d, *scale, i as u64 + 1);
        let out = model.predict(x.view())?;
        let judged_finite = i == 0;
        if judged_finite {
            if let Some(row) = out.first_non_finite_row() {
                let labels_finite = out.predictions.get(row).is_some_and(|v| v.is_finite());
                let name = if labels_finite {
                    output_names.1
                } else {
                    output_names.0
                };
                return Err(ModelError::InvalidArtifact(format!(
                    "output '{name}' is not a finite number on a sampled unit-scale input \
                     (row {row}); the graph cannot be served"
                )));
            }
        }
        contradiction(&out, output_names)?;
    }
    Ok(())
}

/// A row whose label is not the class its probabilities rank first (by more than a
/// tie), on rows where every probability is finite.
fn contradiction(out: &Output, (label, probabilities): (&str, &str)) -> Result<(), ModelError> {
    let Some(p) = &out.probabilities else {
        return Ok(());
    };
    for (row, (probs, predicted)) in p.rows().into_iter().zip(&out.predictions).enumerate() {
        if probs.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let top = probs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let labelled = probs.get(*predicted as usize).copied();
        if labelled.is_none_or(|v| v < top - TIE) {
            return Err(ModelError::InvalidArtifact(format!(
                "output '{label}' contradicts output '{probabilities}' on a sampled input \
                 (row {row}): the label is class {predicted} but the probabilities rank \
                 another class first; refused rather than served with wrong labels"
            )));
        }
    }
    Ok(())
}
