//! A compressed model: any native model (linear, logistic, softmax, MLP) written as
//! what it computes — standardise, then a chain of dense layers with an activation
//! between them, then an output head — with each layer's weights stored dense, int8 or
//! sparse ([`weights::Weights`]). It is served under the family it was made from, so
//! clients, metrics and the runs table see an `mlp_classifier` whether or not it was
//! quantised.

pub mod weights;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::mlp::Activation;
use super::scaler::Scaler;
use super::stable::{argmax_rows, sigmoid, softmax_rows};
use super::{check_input, validate_schema, validate_weights, Scan};
use super::{Artifact, Family, Model, ModelError, Output, Schema};
pub use weights::{Kernel, Weights};

/// What the last layer's output means.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Head {
    /// prediction = target_mean + target_scale · output (one unit).
    Regression { target_mean: f64, target_scale: f64 },
    /// One logit; p = σ(z), class 1 iff z > 0 (as the logistic model).
    Logistic,
    /// One logit per class; softmax probabilities, argmax class.
    Softmax,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Layer {
    pub n_in: usize,
    pub n_out: usize,
    pub weights: Weights,
    pub bias: Vec<f64>,
}

/// The stored form.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CompactSpec {
    /// The family of the model this was made from; the model is served as one.
    pub source_family: Family,
    pub schema: Schema,
    pub scaler: Scaler,
    /// Between hidden layers (unused with a single layer).
    pub activation: Activation,
    pub head: Head,
    pub layers: Vec<Layer>,
}

/// A loaded compressed model: its stored form and the kernels built from it.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(try_from = "CompactSpec", into = "CompactSpec")]
pub struct CompactModel {
    spec: CompactSpec,
    kernels: Vec<Kernel>,
}

impl PartialEq for CompactModel {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl From<CompactModel> for CompactSpec {
    fn from(m: CompactModel) -> Self {
        m.spec
    }
}

impl TryFrom<CompactSpec> for CompactModel {
    type Error = ModelError;

    /// Checks every shape and value and builds the kernels.
    fn try_from(spec: CompactSpec) -> Result<Self, ModelError> {
        let bad = |m: String| Err(ModelError::InvalidArtifact(m));
        let task = spec.source_family.task();
        if spec.source_family == Family::Onnx {
            return bad("a compressed model is made from a native model".into());
        }
        validate_schema(&spec.schema, task)?;
        let d = spec.schema.n_features();
        spec.scaler.check(d, Scan::Values)?;
        let out = match (spec.head, &spec.schema.classes) {
            (Head::Regression { .. }, None) => 1,
            (Head::Logistic, Some(c)) if c.len() == 2 => 1,
            (Head::Softmax, Some(c)) => c.len(),
            (head, _) => return bad(format!("head {head:?} does not fit the schema")),
        };
        if let Head::Regression {
            target_mean,
            target_scale,
        } = spec.head
        {
            if !(target_mean.is_finite() && target_scale.is_finite() && target_scale > 0.0) {
                return bad("target_mean/target_scale must be finite, scale > 0".into());
            }
        }
        if !(1..=4).contains(&spec.layers.len()) {
            return bad(format!("{} layers; 1 to 4 are allowed", spec.layers.len()));
        }
        let mut n_in = d;
        let mut kernels = Vec::with_capacity(spec.layers.len());
        for (l, layer) in spec.layers.iter().enumerate() {
            if layer.n_in != n_in || layer.n_out == 0 {
                return bad(format!("layer {l} is {} → {}", layer.n_in, layer.n_out));
            }
            validate_weights(
                format_args!("bias[{l}]"),
                &layer.bias,
                layer.n_out,
                Scan::Values,
            )?;
            kernels.push(layer.weights.kernel(layer.n_in, layer.n_out)?);
            n_in = layer.n_out;
        }
        if n_in != out {
            return bad(format!("the last layer has {n_in} outputs, expected {out}"));
        }
        Ok(CompactModel { spec, kernels })
    }
}

impl CompactModel {
    pub fn spec(&self) -> &CompactSpec {
        &self.spec
    }

    /// Each layer's weights as a dense n_in × n_out matrix, with its bias.
    pub fn dense_layers(&self) -> Vec<(Array2<f64>, &[f64])> {
        self.kernels
            .iter()
            .zip(&self.spec.layers)
            .map(|(k, l)| (k.to_dense(), l.bias.as_slice()))
            .collect()
    }

    /// The same model with each layer's weights replaced by `store(layer index, W)`.
    pub fn restored(
        &self,
        mut store: impl FnMut(usize, Array2<f64>) -> Result<Weights, ModelError>,
    ) -> Result<CompactModel, ModelError> {
        let layers = self
            .dense_layers()
            .into_iter()
            .enumerate()
            .map(|(l, (w, bias))| Ok((store(l, w)?, bias.to_vec())))
            .collect::<Result<Vec<_>, ModelError>>()?;
        self.rebuilt(layers)
    }

    /// The same model with new weights and biases for every layer.
    pub fn rebuilt(&self, layers: Vec<(Weights, Vec<f64>)>) -> Result<CompactModel, ModelError> {
        if layers.len() != self.spec.layers.len() {
            return Err(ModelError::InvalidArtifact(format!(
                "{} layers given for a {}-layer model",
                layers.len(),
                self.spec.layers.len()
            )));
        }
        let mut spec = self.spec.clone();
        for (layer, (weights, bias)) in spec.layers.iter_mut().zip(layers) {
            layer.weights = weights;
            layer.bias = bias;
        }
        CompactModel::try_from(spec)
    }

    /// The raw output layer (logits or standardised value) for `x`.
    fn forward(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut a = self.spec.scaler.transform(x);
        let last = self.kernels.len().saturating_sub(1);
        for (l, (kernel, layer)) in self.kernels.iter().zip(&self.spec.layers).enumerate() {
            let bias = ndarray::ArrayView1::from(&layer.bias[..]);
            let mut z = Array2::zeros((a.nrows(), layer.n_out));
            z += &bias.insert_axis(Axis(0));
            kernel.mul_add(a.view(), &mut z);
            if l < last {
                self.spec.activation.apply(&mut z);
            }
            a = z;
        }
        a
    }
}

/// The dense layer chain a native model computes, as a [`CompactSpec`] with dense
/// weights. ONNX graphs have no such form.
pub fn from_model(model: &dyn Model) -> Result<CompactModel, ModelError> {
    let dense = |n_in: usize, n_out: usize, values: Vec<f64>, bias: Vec<f64>| Layer {
        n_in,
        n_out,
        weights: Weights::Dense { values },
        bias,
    };
    let family = model.family();
    let (schema, scaler, activation, head, layers) = match model.to_artifact() {
        Artifact::Onnx(_) => {
            return Err(ModelError::InvalidInput(
                "this version is an imported ONNX graph, whose weights modeld cannot read; \
                 only natively trained models (linear, logistic, softmax, MLP) compress"
                    .into(),
            ))
        }
        Artifact::Compressed(m) => return Ok(m),
        Artifact::LinearRegression(m) => {
            let d = m.weights.len();
            let head = Head::Regression {
                target_mean: 0.0,
                target_scale: 1.0,
            };
            let layer = dense(d, 1, m.weights, vec![m.intercept]);
            (m.schema, m.scaler, Activation::Relu, head, vec![layer])
        }
        Artifact::LogisticRegression(m) => {
            let layer = dense(m.weights.len(), 1, m.weights, vec![m.intercept]);
            (
                m.schema,
                m.scaler,
                Activation::Relu,
                Head::Logistic,
                vec![layer],
            )
        }
        Artifact::SoftmaxRegression(m) => {
            let (k, d) = (m.weights.len(), m.schema.n_features());
            // The model keeps one row per class; a layer is n_in × n_out.
            let values = (0..d)
                .flat_map(|j| {
                    m.weights
                        .iter()
                        .map(move |r| r.get(j).copied().unwrap_or(0.0))
                })
                .collect();
            let layer = dense(d, k, values, m.intercepts);
            (
                m.schema,
                m.scaler,
                Activation::Relu,
                Head::Softmax,
                vec![layer],
            )
        }
        Artifact::MlpRegressor(m) | Artifact::MlpClassifier(m) => {
            let head = match m.schema.classes {
                Some(_) => Head::Softmax,
                None => Head::Regression {
                    target_mean: m.target_mean,
                    target_scale: m.target_scale,
                },
            };
            let layers = m
                .sizes
                .windows(2)
                .zip(m.weights.into_iter().zip(m.biases))
                .map(|(s, (w, b))| dense(s[0], s[1], w, b))
                .collect();
            (m.schema, m.scaler, m.activation, head, layers)
        }
    };
    CompactModel::try_from(CompactSpec {
        source_family: family,
        schema,
        scaler,
        activation,
        head,
        layers,
    })
}

impl Model for CompactModel {
    fn family(&self) -> Family {
        self.spec.source_family
    }

    fn schema(&self) -> &Schema {
        &self.spec.schema
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        check_input(x, self.spec.schema.n_features())?;
        let out = self.forward(x);
        Ok(match self.spec.head {
            Head::Regression {
                target_mean,
                target_scale,
            } => Output {
                predictions: out
                    .column(0)
                    .iter()
                    .map(|v| target_mean + target_scale * v)
                    .collect(),
                probabilities: None,
            },
            Head::Logistic => {
                let logits = out.column(0);
                let p = logits.mapv(sigmoid);
                let mut probs = Array2::zeros((p.len(), 2));
                probs.column_mut(0).assign(&p.mapv(|v| 1.0 - v));
                probs.column_mut(1).assign(&p);
                Output {
                    predictions: logits
                        .iter()
                        .map(|&z| if z > 0.0 { 1.0 } else { 0.0 })
                        .collect(),
                    probabilities: Some(probs),
                }
            }
            Head::Softmax => Output {
                predictions: argmax_rows(out.view()),
                probabilities: Some(softmax_rows(out.view())),
            },
        })
    }

    fn to_artifact(&self) -> Artifact {
        Artifact::Compressed(self.clone())
    }

    /// Every weight the layers declare (a sparse layer's zeros included) and the biases:
    /// the size the model limits check, so a stored sparse layer cannot declare a matrix
    /// that export or recompression would then allocate densely.
    fn n_parameters(&self) -> usize {
        self.spec
            .layers
            .iter()
            .map(|l| l.n_in.saturating_mul(l.n_out).saturating_add(l.bias.len()))
            .fold(0, usize::saturating_add)
    }
}

#[cfg(test)]
mod tests;
