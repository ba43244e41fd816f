//! ONNX export of native models as default-domain graphs any ONNX runtime runs:
//!
//! ```text
//! input [N,d] f64 → Sub(mean) → Div(scale) → MatMul(W) → Add(b) →
//!   linear:   variable [N,1]
//!   logistic: Softmax(Concat(0·z, z)) = [1-σ(z), σ(z)] → probabilities [N,2]; ArgMax → label
//!   softmax:  Softmax(axis=1) → probabilities [N,K]; ArgMax → label [N]
//! ```
//!
//! An MLP or a compressed model chains `MatMul(W) → Add(b)` layers with an activation
//! between them; a compressed int8 layer keeps its weights int8 in the file
//! (`export_compact.rs`).
//!
//! Everything is float64, so an exported model reproduces modeld's predictions to
//! rounding. Feature and class names travel in `metadata_props` (`modeld.feature_names`,
//! `modeld.classes`, JSON lists) and the importer reads them back. A new family adds one
//! arm to [`export`] built from the same [`Graph`] helpers (an MLP is a chain of
//! `dense` + activation nodes).

use tract_onnx::pb::tensor_proto::DataType as PbType;

use crate::models::tensors::VARIABLE;
use crate::models::{Artifact, Model, ModelError};

pub use super::export_graph::{Graph, META_CLASSES, META_FEATURES};

/// The model as ONNX bytes; an imported graph is returned exactly as it was uploaded.
pub fn export(model: &dyn Model) -> Result<Vec<u8>, ModelError> {
    let schema = model.schema().clone();
    let mut g = Graph::default();
    match model.to_artifact() {
        Artifact::Onnx(a) => return Ok(a.bytes.to_vec()),
        Artifact::LinearRegression(m) => {
            let z = g.standardise(&m.scaler);
            let y = g.dense(&z, &m.weights, 1, &[m.intercept], VARIABLE);
            debug_assert_eq!(y, VARIABLE);
            g.output(VARIABLE, PbType::Double, vec![None, Some(1)]);
        }
        Artifact::LogisticRegression(m) => {
            let z = g.standardise(&m.scaler);
            let logit = g.dense(&z, &m.weights, 1, &[m.intercept], "logit");
            g.logistic_outputs(logit);
        }
        Artifact::SoftmaxRegression(m) => {
            let z = g.standardise(&m.scaler);
            let k = m.intercepts.len();
            let d = schema.n_features();
            // Column k of W holds class k's weights: W[j][k] = weights[k][j].
            let w: Vec<f64> = (0..d)
                .flat_map(|j| {
                    m.weights
                        .iter()
                        .map(move |row| row.get(j).copied().unwrap_or(0.0))
                })
                .collect();
            let logits = g.dense(&z, &w, k, &m.intercepts, "logits");
            g.softmax_outputs(logits, k);
        }
        Artifact::MlpRegressor(m) | Artifact::MlpClassifier(m) => export_mlp(&mut g, &m)?,
        Artifact::Compressed(m) => super::export_compact::export(&mut g, &m)?,
    }
    g.finish(&schema)
}

/// Dense + activation per hidden layer, then softmax (classifier) or the target
/// un-scaling (regressor).
fn export_mlp(g: &mut Graph, m: &crate::models::mlp::MlpModel) -> Result<(), ModelError> {
    let mut h = g.standardise(&m.scaler);
    let layers = m.weights.len();
    for (i, (w, b)) in m.weights.iter().zip(&m.biases).enumerate() {
        let out = m.sizes.get(i + 1).copied().ok_or_else(|| {
            ModelError::InvalidArtifact("MLP sizes do not match its layers".into())
        })?;
        h = g.dense(&h, w, out, b, &format!("layer{i}"));
        if i + 1 < layers {
            h = g.activation(m.activation, h);
        }
    }
    match m.schema.classes.as_ref() {
        Some(classes) => g.softmax_outputs(h, classes.len()),
        None => g.regression_outputs(h, m.target_mean, m.target_scale),
    }
    Ok(())
}
