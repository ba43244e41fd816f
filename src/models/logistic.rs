//! Binary logistic regression model: p = σ(z·w + b), z standardised features.

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::scaler::Scaler;
use super::stable::sigmoid;
use super::{check_input, validate_schema, validate_weights, Scan};
use super::{Artifact, Family, Model, ModelError, Output, Schema, Task};

/// Two-class logistic model; class 1 (`schema.classes[1]`) is the positive class.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LogisticModel {
    pub schema: Schema,
    pub scaler: Scaler,
    /// One weight per feature, applied to standardised features.
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl LogisticModel {
    /// Builds and validates a model.
    pub fn new(
        schema: Schema,
        scaler: Scaler,
        weights: Vec<f64>,
        intercept: f64,
    ) -> Result<Self, ModelError> {
        let m = LogisticModel {
            schema,
            scaler,
            weights,
            intercept,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks every length and value; logistic needs exactly two classes.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check(Scan::Values)
    }

    fn check(&self, scan: Scan) -> Result<(), ModelError> {
        validate_schema(&self.schema, Task::Classification)?;
        if self.schema.classes.as_ref().map(Vec::len) != Some(2) {
            return Err(ModelError::InvalidArtifact(
                "logistic regression needs exactly 2 classes".into(),
            ));
        }
        let d = self.schema.n_features();
        self.scaler.check(d, scan)?;
        validate_weights(format_args!("weights"), &self.weights, d, scan)?;
        validate_weights(format_args!("intercept"), &[self.intercept], 1, scan)
    }
}

impl Model for LogisticModel {
    fn family(&self) -> Family {
        Family::LogisticRegression
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    /// p = σ(z·w + b); predicted class is 1 iff the logit is > 0 (scikit-learn's
    /// rule, so a logit of exactly 0 predicts class 0).
    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        self.check(Scan::Shapes)?;
        check_input(x, self.schema.n_features())?;
        let logits = self
            .scaler
            .transform(x)
            .dot(&ArrayView1::from(&self.weights[..]))
            + self.intercept;
        let p = logits.mapv(sigmoid);
        let mut probs = Array2::zeros((p.len(), 2));
        probs.column_mut(0).assign(&p.mapv(|v| 1.0 - v));
        probs.column_mut(1).assign(&p);
        let predictions = logits.mapv(|z| if z > 0.0 { 1.0 } else { 0.0 }).to_vec();
        Ok(Output {
            predictions,
            probabilities: Some(probs),
        })
    }

    /// The classes alone, by the rule of [`Model::predict`]: no probabilities.
    fn predict_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Result<Vec<f64>, ModelError> {
        self.check(Scan::Shapes)?;
        let (w, b) = (&self.weights, self.intercept);
        let class = |logit: f64| if logit > 0.0 { 1.0 } else { 0.0 };
        super::rows::linear_rows(&self.scaler, w, b, x, rows, class)
    }

    fn to_artifact(&self) -> Artifact {
        Artifact::LogisticRegression(self.clone())
    }

    fn n_parameters(&self) -> usize {
        self.weights.len() + 1
    }
}
