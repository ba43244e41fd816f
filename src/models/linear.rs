//! Linear regression model: ŷ = z·w + b, with z the standardised features.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::scaler::Scaler;
use super::{check_input, validate_schema, validate_weights, Scan};
use super::{Artifact, Family, Model, ModelError, Output, Schema, Task};

/// Ordinary / ridge / lasso least-squares model in standardised space.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LinearModel {
    pub schema: Schema,
    pub scaler: Scaler,
    /// One weight per feature, applied to standardised features.
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl LinearModel {
    /// Builds and validates a model.
    pub fn new(
        schema: Schema,
        scaler: Scaler,
        weights: Vec<f64>,
        intercept: f64,
    ) -> Result<Self, ModelError> {
        let m = LinearModel {
            schema,
            scaler,
            weights,
            intercept,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks every length and value (for artifacts and trained models; predicting
    /// checks the lengths again, since the public fields could have been edited).
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check(Scan::Values)
    }

    fn check(&self, scan: Scan) -> Result<(), ModelError> {
        validate_schema(&self.schema, Task::Regression)?;
        let d = self.schema.n_features();
        self.scaler.check(d, scan)?;
        validate_weights(format_args!("weights"), &self.weights, d, scan)?;
        validate_weights(format_args!("intercept"), &[self.intercept], 1, scan)
    }
}

impl Model for LinearModel {
    fn family(&self) -> Family {
        Family::LinearRegression
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        self.check(Scan::Shapes)?;
        check_input(x, self.schema.n_features())?;
        // Row by row through one reused buffer: the same arithmetic as standardising the
        // whole matrix and multiplying, without the matrix-sized temporaries that
        // dominate a one-row request.
        let w = ArrayView1::from(&self.weights[..]);
        // Typical widths fit on the stack, which saves the one-row request an allocation.
        let mut on_stack = [0.0; 64];
        let mut on_heap = Vec::new();
        let z = match on_stack.get_mut(..w.len()) {
            Some(z) => z,
            None => {
                on_heap.resize(w.len(), 0.0);
                &mut on_heap[..]
            }
        };
        let predictions = x
            .rows()
            .into_iter()
            .map(|row| {
                self.scaler.transform_into(row, z);
                ArrayView1::from(&*z).dot(&w) + self.intercept
            })
            .collect();
        Ok(Output {
            predictions,
            probabilities: None,
        })
    }

    fn predict_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Result<Vec<f64>, ModelError> {
        self.check(Scan::Shapes)?;
        let (w, b) = (&self.weights, self.intercept);
        super::rows::linear_rows(&self.scaler, w, b, x, rows, |y| y)
    }

    fn to_artifact(&self) -> Artifact {
        Artifact::LinearRegression(self.clone())
    }

    fn n_parameters(&self) -> usize {
        self.weights.len() + 1
    }
}
