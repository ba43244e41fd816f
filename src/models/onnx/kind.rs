//! What an ONNX graph's outputs make of it: a regressor (one float output) or a
//! classifier (an int64 label plus float probabilities `[N, K]`), the schema and
//! signature that follow, and how a classifier's label is read.

use super::graph::Declared;
use crate::models::tensors::{DataType, OutputSpec, Role, TensorSpec};
use crate::models::{Limits, ModelError};

pub fn invalid(m: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidArtifact(m.to_string())
}

#[derive(Clone, Debug)]
pub enum Kind {
    Regressor {
        output: usize,
    },
    Classifier {
        label: usize,
        probabilities: usize,
        classes: Vec<i64>,
        /// Labels are the most probable class, not the graph's label output.
        label_from_probabilities: bool,
    },
}

/// A graph's outputs, read: the kind, the schema's target and classes, the signature's
/// outputs.
pub struct Classified {
    pub kind: Kind,
    pub target: String,
    pub classes: Option<Vec<String>>,
    pub outputs: Vec<OutputSpec>,
}

/// Decides regressor or classifier from the declared outputs.
pub fn classify(
    outputs: &[Declared],
    classes: Option<Vec<i64>>,
    label_from_probabilities: bool,
    limits: &Limits,
) -> Result<Classified, ModelError> {
    let floats: Vec<usize> = (0..outputs.len())
        .filter(|&i| outputs[i].is_float())
        .collect();
    let others: Vec<usize> = (0..outputs.len())
        .filter(|&i| !outputs[i].is_float())
        .collect();
    let spec = |o: &Declared, role, datatype, shape| OutputSpec {
        tensor: TensorSpec {
            name: o.name.clone(),
            datatype,
            shape,
        },
        role,
    };
    match (floats.as_slice(), others.as_slice()) {
        ([v], []) => {
            let o = &outputs[*v];
            if o.dims.len() > 2 || (o.dims.len() == 2 && o.dims[1].is_some_and(|k| k != 1)) {
                return Err(invalid(format!(
                    "output '{}' has shape {:?}; regressors must give one value per row",
                    o.name, o.dims
                )));
            }
            let dt = o.datatype().unwrap_or(DataType::Fp32);
            let shape = if o.dims.len() == 2 {
                vec![-1, 1]
            } else {
                vec![-1]
            };
            Ok(Classified {
                kind: Kind::Regressor { output: *v },
                target: o.name.clone(),
                classes: None,
                outputs: vec![spec(o, Role::Value, dt, shape)],
            })
        }
        ([p], [l]) => {
            let (po, lo) = (&outputs[*p], &outputs[*l]);
            let k = match po.dims.as_slice() {
                [_, Some(k)] => usize::try_from(*k).unwrap_or(usize::MAX),
                [_, None] => classes.as_ref().map_or(0, Vec::len),
                _ => 0,
            };
            // Class names are built per class: the width is bounded like the input's.
            if k > limits.max_features {
                return Err(ModelError::TooLarge(format!(
                    "probabilities output '{}' declares {k} classes, above the limit \
                     models.max_features = {}",
                    po.name, limits.max_features
                )));
            }
            if k < 2 {
                return Err(invalid(format!(
                    "probabilities output '{}' must be [N, K] with K >= 2, got {:?}",
                    po.name, po.dims
                )));
            }
            let classes = classes
                .filter(|c| c.len() == k)
                .unwrap_or_else(|| (0..k as i64).collect());
            if lo.datatype() != Some(DataType::Int64) {
                return Err(invalid(format!(
                    "label output '{}' is {}; only int64 labels are supported",
                    lo.name,
                    lo.type_name()
                )));
            }
            let dt = po.datatype().unwrap_or(DataType::Fp32);
            Ok(Classified {
                target: lo.name.clone(),
                classes: Some(classes.iter().map(i64::to_string).collect()),
                outputs: vec![
                    spec(lo, Role::Label, DataType::Int64, vec![-1]),
                    spec(po, Role::Probabilities, dt, vec![-1, k as i64]),
                ],
                kind: Kind::Classifier {
                    label: *l,
                    probabilities: *p,
                    classes,
                    label_from_probabilities,
                },
            })
        }
        _ => {
            let list: Vec<String> = outputs
                .iter()
                .map(|o| format!("{} ({})", o.name, o.type_name()))
                .collect();
            Err(invalid(format!(
                "unsupported outputs [{}]: expected one float output (regressor) or an \
                 int64 label plus float probabilities (classifier)",
                list.join(", ")
            )))
        }
    }
}

/// The index of the highest probability, the first on a tie (as onnxruntime's tree
/// ensembles pick).
pub fn most_probable(row: ndarray::ArrayView1<f64>) -> f64 {
    let mut best = 0;
    for (i, p) in row.iter().enumerate() {
        if row.get(best).is_some_and(|b| p > b) {
            best = i;
        }
    }
    best as f64
}
