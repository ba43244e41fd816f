//! Multinomial (softmax) regression model: p = softmax(z·Wᵀ + b).

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::scaler::Scaler;
use super::stable::{argmax_rows, softmax_rows};
use super::{check_input, validate_schema, validate_weights, Scan};
use super::{Artifact, Family, Model, ModelError, Output, Schema, Task};

/// K-class softmax model with one weight row and intercept per class
/// (symmetric parameterisation, like scikit-learn's multinomial model).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SoftmaxModel {
    pub schema: Schema,
    pub scaler: Scaler,
    /// `weights[k]` holds class k's weights for the standardised features.
    pub weights: Vec<Vec<f64>>,
    /// One intercept per class.
    pub intercepts: Vec<f64>,
}

impl SoftmaxModel {
    /// Builds and validates a model.
    pub fn new(
        schema: Schema,
        scaler: Scaler,
        weights: Vec<Vec<f64>>,
        intercepts: Vec<f64>,
    ) -> Result<Self, ModelError> {
        let m = SoftmaxModel {
            schema,
            scaler,
            weights,
            intercepts,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks every length and value: K weight rows of length d, K intercepts.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check(Scan::Values)
    }

    fn check(&self, scan: Scan) -> Result<(), ModelError> {
        validate_schema(&self.schema, Task::Classification)?;
        let k = self.schema.classes.as_ref().map_or(0, Vec::len);
        let d = self.schema.n_features();
        self.scaler.check(d, scan)?;
        if self.weights.len() != k {
            return Err(ModelError::InvalidArtifact(format!(
                "weights has {} rows, expected one per class ({k})",
                self.weights.len()
            )));
        }
        for (i, row) in self.weights.iter().enumerate() {
            validate_weights(format_args!("weights[{i}]"), row, d, scan)?;
        }
        validate_weights(format_args!("intercepts"), &self.intercepts, k, scan)
    }

    /// Weights as a d x K matrix (column k = class k) for a single `dot`.
    fn weight_matrix(&self) -> Result<Array2<f64>, ModelError> {
        let k = self.weights.len();
        let d = self.schema.n_features();
        let flat: Vec<f64> = self.weights.iter().flatten().copied().collect();
        Array2::from_shape_vec((k, d), flat)
            .map(|w| w.reversed_axes())
            .map_err(|e| ModelError::InvalidArtifact(e.to_string()))
    }
}

impl Model for SoftmaxModel {
    fn family(&self) -> Family {
        Family::SoftmaxRegression
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    /// logits = z·W + b; probabilities by stable softmax; class = first argmax.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        self.check(Scan::Shapes)?;
        check_input(x, self.schema.n_features())?;
        let w = self.weight_matrix()?;
        let b = Array1::from(self.intercepts.clone());
        let logits = self.scaler.transform(x).dot(&w) + &b;
        Ok(Output {
            predictions: argmax_rows(logits.view()),
            probabilities: Some(softmax_rows(logits.view())),
        })
    }

    fn to_artifact(&self) -> Artifact {
        Artifact::SoftmaxRegression(self.clone())
    }

    fn n_parameters(&self) -> usize {
        self.weights.iter().map(Vec::len).sum::<usize>() + self.intercepts.len()
    }
}
