//! Trained-model types: the [`Model`] trait the server predicts through, the
//! serialisable [`Artifact`] a model is stored as, and the shared vocabulary
//! ([`Task`], [`Family`], [`Schema`], [`Output`], [`ModelError`]).
//!
//! Every concrete model keeps its own [`scaler::Scaler`] so callers always pass
//! raw feature values; weights live in standardised space.

pub mod compact;
pub mod limits;
pub mod linear;
pub mod logistic;
pub mod mlp;
pub mod onnx;
pub mod rows;
pub mod scaler;
pub mod softmax;
pub mod stable;
pub mod tensors;

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub use limits::Limits;

/// What kind of target a model predicts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Regression,
    Classification,
}

/// Model family. New families (MLP, ONNX) are added as new variants here, in
/// [`Artifact`], and in the two `match`es below.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
    MlpRegressor,
    MlpClassifier,
    /// An imported ONNX graph; its task (classification or regression) is read from the
    /// graph, see [`Model::task`].
    Onnx,
}

impl Family {
    /// The snake_case name, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            Family::LinearRegression => "linear_regression",
            Family::LogisticRegression => "logistic_regression",
            Family::SoftmaxRegression => "softmax_regression",
            Family::MlpRegressor => "mlp_regressor",
            Family::MlpClassifier => "mlp_classifier",
            Family::Onnx => "onnx",
        }
    }

    /// The task this family solves. ONNX graphs can be either; this says regression and
    /// [`Model::task`] gives the real answer.
    pub fn task(&self) -> Task {
        match self {
            Family::LinearRegression | Family::MlpRegressor | Family::Onnx => Task::Regression,
            Family::LogisticRegression | Family::SoftmaxRegression | Family::MlpClassifier => {
                Task::Classification
            }
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Input/output description of a model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Schema {
    /// Feature names, in the column order `predict` expects.
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target: String,
    /// Class labels for classifiers (index i names class i); `None` for regression.
    pub classes: Option<Vec<String>>,
}

impl Schema {
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }
}

/// Prediction result.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Regression: predicted values. Classification: argmax class index as f64.
    pub predictions: Vec<f64>,
    /// Classification only: rows x n_classes probabilities (binary logistic gives
    /// the two columns `[1-p, p]`).
    pub probabilities: Option<Array2<f64>>,
}

impl Output {
    /// The first row whose prediction (value, or any class probability) is not finite.
    pub fn first_non_finite_row(&self) -> Option<usize> {
        let bad_value = self.predictions.iter().position(|v| !v.is_finite());
        let bad_probability = self.probabilities.as_ref().and_then(|p| {
            p.rows()
                .into_iter()
                .position(|r| r.iter().any(|v| !v.is_finite()))
        });
        match (bad_value, bad_probability) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(thiserror::Error, Debug)]
pub enum ModelError {
    #[error("expected {expected} feature columns, got {got}")]
    ShapeMismatch { expected: usize, got: usize },
    #[error("input value at row {row}, column {col} is not a finite number")]
    NonFinite { row: usize, col: usize },
    #[error("invalid model artifact: {0}")]
    InvalidArtifact(String),
    /// Bad evaluation input that is not a feature-shape problem (e.g. a class
    /// label outside the model's classes, or a target of the wrong length).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The runtime failed on input the model accepted (a tract error): the server's
    /// fault, not the client's.
    #[error("model runtime failed: {0}")]
    Runtime(String),
    /// A model above [`Limits`] (features or parameters); the message names the limit.
    #[error("model too large: {0}")]
    TooLarge(String),
}

impl ModelError {
    /// Whether the failure is the runtime's rather than the input's.
    pub fn is_runtime(&self) -> bool {
        matches!(self, ModelError::Runtime(_))
    }
}

/// A trained, immutable model that can be shared across request handlers.
pub trait Model: Send + Sync + std::fmt::Debug {
    fn family(&self) -> Family;
    fn schema(&self) -> &Schema;
    /// x: rows x n_features in schema order, raw (unstandardised) values.
    /// Checks the column count and that every value is finite.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError>;
    fn to_artifact(&self) -> Artifact;
    /// Number of learned scalars (weights + intercepts; scaler not counted).
    fn n_parameters(&self) -> usize;
    /// Classification iff the schema lists classes.
    fn task(&self) -> Task {
        if self.schema().classes.is_some() {
            Task::Classification
        } else {
            Task::Regression
        }
    }
    /// Named, typed input and output tensors (KServe V2 metadata, ONNX export).
    fn signature(&self) -> tensors::Signature {
        tensors::native(self.schema())
    }
    /// The predictions alone (no probabilities) of the rows of `x` at `rows`, as
    /// training's scoring needs them; an error for a row out of range, and as
    /// [`Model::predict`]'s. Linear models read the rows where they lie.
    fn predict_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Result<Vec<f64>, ModelError> {
        rows::predict_in_blocks(self, x, rows)
    }
}

/// Serialised form of a model, tagged by `"family"`.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Artifact {
    LinearRegression(linear::LinearModel),
    LogisticRegression(logistic::LogisticModel),
    SoftmaxRegression(softmax::SoftmaxModel),
    MlpRegressor(mlp::MlpModel),
    MlpClassifier(mlp::MlpModel),
    /// `model.json` is a stub naming the graph file beside it (`model.onnx`).
    Onnx(onnx::OnnxArtifact),
    /// A quantised, pruned or distilled-and-compacted native model; served under the
    /// family it was made from.
    Compressed(compact::CompactModel),
}

impl Artifact {
    /// Checks every shape and value of a native model's parameters, and that an MLP
    /// artifact's family matches its task; ONNX graphs are checked as they load.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            Artifact::LinearRegression(m) => m.validate(),
            Artifact::LogisticRegression(m) => m.validate(),
            Artifact::SoftmaxRegression(m) => m.validate(),
            Artifact::MlpRegressor(m) | Artifact::MlpClassifier(m) => {
                m.validate()?;
                if m.family() != self.family() {
                    return Err(ModelError::InvalidArtifact(format!(
                        "{} artifact holds a {} model",
                        self.family(),
                        m.family()
                    )));
                }
                Ok(())
            }
            // Checked as it was deserialised or built (its kernels need valid weights).
            Artifact::Onnx(_) | Artifact::Compressed(_) => Ok(()),
        }
    }

    /// Validates every shape and value, then wraps the model for sharing. A
    /// corrupt artifact yields [`ModelError::InvalidArtifact`] here, so it can
    /// never cause a panic at prediction time. Within the default [`Limits`].
    pub fn into_model(self) -> Result<Arc<dyn Model>, ModelError> {
        self.into_model_within(&Limits::default())
    }

    /// [`Artifact::into_model`] refusing a model above `limits` with
    /// [`ModelError::TooLarge`] (an ONNX graph before anything sized by it is built).
    pub fn into_model_within(self, limits: &Limits) -> Result<Arc<dyn Model>, ModelError> {
        self.validate()?;
        let model: Arc<dyn Model> = match self {
            Artifact::LinearRegression(m) => Arc::new(m),
            Artifact::LogisticRegression(m) => Arc::new(m),
            Artifact::SoftmaxRegression(m) => Arc::new(m),
            Artifact::MlpRegressor(m) | Artifact::MlpClassifier(m) => Arc::new(m),
            Artifact::Onnx(a) => onnx::load(a, limits)?,
            Artifact::Compressed(m) => Arc::new(m),
        };
        limits.check(model.as_ref())?;
        Ok(model)
    }

    pub fn family(&self) -> Family {
        match self {
            Artifact::LinearRegression(_) => Family::LinearRegression,
            Artifact::LogisticRegression(_) => Family::LogisticRegression,
            Artifact::SoftmaxRegression(_) => Family::SoftmaxRegression,
            Artifact::MlpRegressor(_) => Family::MlpRegressor,
            Artifact::MlpClassifier(_) => Family::MlpClassifier,
            Artifact::Onnx(_) => Family::Onnx,
            Artifact::Compressed(m) => m.spec().source_family,
        }
    }

    /// Extra files the store writes beside `model.json`: (file name, bytes).
    pub fn blobs(&self) -> Vec<(&str, &[u8])> {
        match self {
            Artifact::Onnx(a) => vec![(a.file.as_str(), a.bytes.as_slice())],
            _ => Vec::new(),
        }
    }
}

/// Checks the column count and finiteness of prediction input; reports the
/// first offending cell so the client can fix its request.
pub fn check_input(x: ArrayView2<f64>, n_features: usize) -> Result<(), ModelError> {
    if x.ncols() != n_features {
        return Err(ModelError::ShapeMismatch {
            expected: n_features,
            got: x.ncols(),
        });
    }
    if x.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    // Slow path only on failure: locate the first bad cell for the message.
    for ((row, col), v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(ModelError::NonFinite { row, col });
        }
    }
    Ok(())
}

/// Shared artifact checks for the schema part of a model.
fn validate_schema(schema: &Schema, task: Task) -> Result<(), ModelError> {
    let bad = |m: &str| Err(ModelError::InvalidArtifact(m.to_string()));
    if schema.feature_names.is_empty() {
        return bad("schema has no features");
    }
    match (task, &schema.classes) {
        (Task::Regression, Some(_)) => bad("regression schema must not have classes"),
        (Task::Classification, None) => bad("classifier schema must list its classes"),
        (Task::Classification, Some(c)) if c.len() < 2 => {
            bad("classifier schema needs at least 2 classes")
        }
        _ => Ok(()),
    }
}

/// How much of a model's parameters a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Lengths only: before every prediction, since a wrong length would panic inside
    /// ndarray. It costs O(layers), not O(parameters).
    Shapes,
    /// Lengths and every value: once, when an artifact is loaded or a model registered.
    Values,
}

/// Checks that a weight vector has the expected length and, with [`Scan::Values`],
/// finite values.
fn validate_weights(
    name: std::fmt::Arguments<'_>,
    w: &[f64],
    expected: usize,
    scan: Scan,
) -> Result<(), ModelError> {
    if w.len() != expected {
        return Err(ModelError::InvalidArtifact(format!(
            "{name} has length {}, expected {expected}",
            w.len()
        )));
    }
    if scan == Scan::Shapes {
        return Ok(());
    }
    if let Some(i) = w.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::InvalidArtifact(format!(
            "{name}[{i}] is not a finite number"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
