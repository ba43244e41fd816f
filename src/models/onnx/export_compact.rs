//! ONNX export of compressed models (see [`crate::models::compact`]): the standardise →
//! layers → head chain of [`super::export`], in float64, each layer `MatMul(W) → Add(b)`
//! with the activation between layers, where W is
//!
//! ```text
//! dense, csr: a float64 initializer [n_in, n_out] (a pruned layer is written dense)
//! int8:       Cast(to=DOUBLE)(DequantizeLinear(q, scale, zero; axis=1))
//!             q int8 [n_in, n_out], scale float [n_out], zero int8 [n_out] of zeros
//! ```
//!
//! The int8 form ("QDQ") keeps one byte per weight in the file. `DequantizeLinear` takes
//! `(q - 0) · scale` in float32, which is how modeld dequantises, and `Cast` widens it as
//! modeld does, so the graph multiplies by modeld's very weights. onnxruntime runs it,
//! and so does tract 0.23.9 (modeld's importer): per output channel it casts q to f32,
//! subtracts the zero point and multiplies by the scale; with one output (a linear or
//! logistic layer) the scale is a single value and it takes its per-tensor kernel,
//! `(q - zero) as f32 · scale`, the same numbers.

use base64::Engine;
use tract_onnx::pb::tensor_proto::DataType as PbType;

use super::export_graph::{int_attr, Graph};
use crate::models::compact::{CompactModel, Head, Layer, Weights};
use crate::models::ModelError;

/// Writes the model's nodes and outputs into `g`.
pub fn export(g: &mut Graph, m: &CompactModel) -> Result<(), ModelError> {
    let spec = m.spec();
    let mut h = g.standardise(&spec.scaler);
    let last = spec.layers.len().saturating_sub(1);
    for (l, (layer, (w, b))) in spec.layers.iter().zip(m.dense_layers()).enumerate() {
        let name = format!("layer{l}");
        let w = match &layer.weights {
            Weights::Int8 { q, scales } => int8_weights(g, layer, q, scales, &name)?,
            Weights::Dense { .. } | Weights::Csr { .. } => {
                let dims = vec![dim(layer.n_in)?, dim(layer.n_out)?];
                g.constant(&format!("{name}_w"), dims, w.iter().copied().collect())
            }
        };
        h = g.affine(&h, w, b, &name);
        if l < last {
            h = g.activation(spec.activation, h);
        }
    }
    match spec.head {
        Head::Regression {
            target_mean,
            target_scale,
        } => g.regression_outputs(h, target_mean, target_scale),
        Head::Logistic => g.logistic_outputs(h),
        Head::Softmax => {
            let k = spec.layers.last().map_or(0, |l| l.n_out);
            g.softmax_outputs(h, k);
        }
    }
    Ok(())
}

/// The float64 W of an int8 layer, dequantised in the graph from its int8 initializer.
fn int8_weights(
    g: &mut Graph,
    layer: &Layer,
    q: &str,
    scales: &[f32],
    name: &str,
) -> Result<String, ModelError> {
    let bad = |m: String| ModelError::InvalidArtifact(format!("{name}: {m}"));
    let q = base64::engine::general_purpose::STANDARD
        .decode(q)
        .map_err(|e| bad(format!("int8 weights: {e}")))?;
    if Some(q.len()) != layer.n_in.checked_mul(layer.n_out) || scales.len() != layer.n_out {
        return Err(bad("int8 weights do not fit the layer".into()));
    }
    let (n_in, n_out) = (dim(layer.n_in)?, dim(layer.n_out)?);
    let q = g.initializer(&format!("{name}_q"), vec![n_in, n_out], PbType::Int8, q);
    let raw_scales = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let scale = g.initializer(
        &format!("{name}_scale"),
        vec![n_out],
        PbType::Float,
        raw_scales,
    );
    let zeros = vec![0u8; layer.n_out];
    let zero = g.initializer(&format!("{name}_zero"), vec![n_out], PbType::Int8, zeros);
    let axis = vec![int_attr("axis", 1)];
    let w32 = g.node(
        "DequantizeLinear",
        vec![q, scale, zero],
        axis,
        &format!("{name}_w32"),
    );
    let to = vec![int_attr("to", PbType::Double as i64)];
    Ok(g.node("Cast", vec![w32], to, &format!("{name}_w")))
}

fn dim(n: usize) -> Result<i64, ModelError> {
    i64::try_from(n).map_err(|_| ModelError::TooLarge(format!("a layer of {n} units")))
}

#[cfg(test)]
#[path = "export_compact_tests.rs"]
mod tests;
