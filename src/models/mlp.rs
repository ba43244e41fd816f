//! Multi-layer perceptron (1–3 hidden layers) for regression and softmax
//! classification. Layer l computes A_l = act(A_{l−1}·W_l + b_l) on standardised
//! features; the output layer is linear (regression, 1 unit, mapped back to the
//! target scale) or softmax over one unit per class (classification, binary too).
//! The forward pass is shared with training ([`forward`]) so both agree exactly.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::scaler::Scaler;
use super::stable::{argmax_rows, sigmoid, softmax_rows};
use super::{check_input, validate_schema, validate_weights, Scan};
use super::{Artifact, Family, Model, ModelError, Output, Schema, Task};

/// Hidden-layer activation.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Tanh,
    Sigmoid,
}

impl Activation {
    /// Applies the activation in place.
    pub fn apply(&self, z: &mut Array2<f64>) {
        match self {
            Activation::Relu => z.mapv_inplace(|v| v.max(0.0)),
            Activation::Tanh => z.mapv_inplace(f64::tanh),
            Activation::Sigmoid => z.mapv_inplace(sigmoid),
        }
    }

    /// Multiplies `grad` by act'(z), expressed through the activation a = act(z).
    pub fn backprop(&self, grad: &mut Array2<f64>, a: &Array2<f64>) {
        match self {
            Activation::Relu => grad.zip_mut_with(a, |g, &a| {
                if a <= 0.0 {
                    *g = 0.0
                }
            }),
            Activation::Tanh => grad.zip_mut_with(a, |g, &a| *g *= 1.0 - a * a),
            Activation::Sigmoid => grad.zip_mut_with(a, |g, &a| *g *= a * (1.0 - a)),
        }
    }
}

/// One dense layer's parameters as views (W: n_in × n_out, b: n_out).
pub type LayerView<'a> = (ArrayView2<'a, f64>, ArrayView1<'a, f64>);

/// Forward pass: returns every layer's output, the last being the raw output
/// layer (logits or standardised regression value). Hidden outputs are activated.
pub fn forward(x: ArrayView2<f64>, layers: &[LayerView], act: Activation) -> Vec<Array2<f64>> {
    let mut outs: Vec<Array2<f64>> = Vec::with_capacity(layers.len());
    for (i, (w, b)) in layers.iter().enumerate() {
        // Z = 1·b (broadcast) + A·W, via one GEMM without a temporary product.
        let mut z = {
            let input = match outs.last() {
                Some(a) => a.view(),
                None => x.view(),
            };
            let mut z = Array2::zeros((input.nrows(), w.ncols()));
            z += &b.view().insert_axis(Axis(0));
            general_mat_mul(1.0, &input, w, 1.0, &mut z);
            z
        };
        if i + 1 < layers.len() {
            act.apply(&mut z);
        }
        outs.push(z);
    }
    outs
}

/// A trained MLP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MlpModel {
    pub schema: Schema,
    pub scaler: Scaler,
    pub activation: Activation,
    /// Units per layer, input and output included: `[d, h1, .., out]`.
    pub sizes: Vec<usize>,
    /// Per layer, W row-major (n_in × n_out).
    pub weights: Vec<Vec<f64>>,
    /// Per layer, the n_out biases.
    pub biases: Vec<Vec<f64>>,
    /// Regression: prediction = target_mean + target_scale · output. Unused (0, 1)
    /// for classifiers.
    pub target_mean: f64,
    pub target_scale: f64,
}

impl MlpModel {
    /// Validates a model built field by field.
    pub fn new(m: MlpModel) -> Result<Self, ModelError> {
        m.validate()?;
        Ok(m)
    }

    /// Classification iff the schema lists classes.
    pub fn task(&self) -> Task {
        if self.schema.classes.is_some() {
            Task::Classification
        } else {
            Task::Regression
        }
    }

    /// Checks the layer sizes against the schema and every weight's length and value.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check(Scan::Values)
    }

    fn check(&self, scan: Scan) -> Result<(), ModelError> {
        let task = self.task();
        validate_schema(&self.schema, task)?;
        let d = self.schema.n_features();
        self.scaler.check(d, scan)?;
        let out = match task {
            Task::Regression => 1,
            Task::Classification => self.schema.classes.as_ref().map_or(0, Vec::len),
        };
        let bad = |m: String| Err(ModelError::InvalidArtifact(m));
        if !(3..=5).contains(&self.sizes.len()) {
            return bad(format!(
                "an MLP needs 1 to 3 hidden layers, sizes {:?}",
                self.sizes
            ));
        }
        if self.sizes.first() != Some(&d) || self.sizes.last() != Some(&out) {
            return bad(format!(
                "layer sizes {:?} must start with {d} inputs and end with {out} outputs",
                self.sizes
            ));
        }
        if self.sizes.contains(&0) {
            return bad("layer sizes must be positive".into());
        }
        let n_layers = self.sizes.len() - 1;
        if self.weights.len() != n_layers || self.biases.len() != n_layers {
            return bad(format!("expected {n_layers} weight and bias layers"));
        }
        for (l, pair) in self.sizes.windows(2).enumerate() {
            let Some(n_weights) = pair[0].checked_mul(pair[1]) else {
                return bad(format!("layer sizes {:?} are too large", self.sizes));
            };
            validate_weights(
                format_args!("weights[{l}]"),
                &self.weights[l],
                n_weights,
                scan,
            )?;
            validate_weights(format_args!("biases[{l}]"), &self.biases[l], pair[1], scan)?;
        }
        if !(self.target_mean.is_finite()
            && self.target_scale.is_finite()
            && self.target_scale > 0.0)
        {
            return bad("target_mean/target_scale must be finite, scale > 0".into());
        }
        Ok(())
    }

    fn layer_views(&self) -> Result<Vec<LayerView<'_>>, ModelError> {
        self.sizes
            .windows(2)
            .zip(self.weights.iter().zip(&self.biases))
            .map(|(s, (w, b))| {
                let w = ArrayView2::from_shape((s[0], s[1]), w)
                    .map_err(|e| ModelError::InvalidArtifact(e.to_string()))?;
                Ok((w, ArrayView1::from(&b[..])))
            })
            .collect()
    }
}

impl Model for MlpModel {
    fn family(&self) -> Family {
        match self.task() {
            Task::Regression => Family::MlpRegressor,
            Task::Classification => Family::MlpClassifier,
        }
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        self.check(Scan::Shapes)?;
        check_input(x, self.schema.n_features())?;
        let z = self.scaler.transform(x);
        let layers = self.layer_views()?;
        let out = forward(z.view(), &layers, self.activation)
            .pop()
            .ok_or_else(|| ModelError::InvalidArtifact("MLP has no layers".into()))?;
        Ok(match self.task() {
            Task::Regression => Output {
                predictions: out
                    .column(0)
                    .iter()
                    .map(|v| self.target_mean + self.target_scale * v)
                    .collect(),
                probabilities: None,
            },
            Task::Classification => Output {
                predictions: argmax_rows(out.view()),
                probabilities: Some(softmax_rows(out.view())),
            },
        })
    }

    fn to_artifact(&self) -> Artifact {
        match self.task() {
            Task::Regression => Artifact::MlpRegressor(self.clone()),
            Task::Classification => Artifact::MlpClassifier(self.clone()),
        }
    }

    fn n_parameters(&self) -> usize {
        self.weights.iter().chain(&self.biases).map(Vec::len).sum()
    }
}
