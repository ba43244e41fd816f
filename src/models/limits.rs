//! [`Limits`]: how large a model modeld accepts, checked on every import, registration
//! and store load, and by the ONNX loader before it allocates anything sized by the file.
//! The values come from the `[models]` configuration section; this module does not know
//! the configuration, only the two numbers.

use super::{Model, ModelError};

/// Size bounds of an acceptable model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Input features (`models.max_features`).
    pub max_features: usize,
    /// Learned scalars: native weights and biases, ONNX initializer elements
    /// (`models.max_parameters`).
    pub max_parameters: usize,
}

/// Default of `models.max_features`.
pub const DEFAULT_MAX_FEATURES: usize = 10_000;
/// Default of `models.max_parameters`.
pub const DEFAULT_MAX_PARAMETERS: usize = 50_000_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_features: DEFAULT_MAX_FEATURES,
            max_parameters: DEFAULT_MAX_PARAMETERS,
        }
    }
}

impl Limits {
    /// `n` input features (or `None`: more than a `usize` holds) within `max_features`.
    pub fn check_features(&self, n: Option<usize>) -> Result<(), ModelError> {
        match n {
            Some(n) if n <= self.max_features => Ok(()),
            _ => Err(ModelError::TooLarge(format!(
                "the model declares {} input features, above the limit models.max_features = {}",
                shown(n),
                self.max_features
            ))),
        }
    }

    /// `n` parameters (or `None`: more than a `usize` holds) within `max_parameters`.
    pub fn check_parameters(&self, n: Option<usize>) -> Result<(), ModelError> {
        match n {
            Some(n) if n <= self.max_parameters => Ok(()),
            _ => Err(ModelError::TooLarge(format!(
                "the model has {} parameters, above the limit models.max_parameters = {}",
                shown(n),
                self.max_parameters
            ))),
        }
    }

    /// Both bounds on a built model.
    pub fn check(&self, model: &dyn Model) -> Result<(), ModelError> {
        self.check_features(Some(model.schema().n_features()))?;
        self.check_parameters(Some(model.n_parameters()))
    }
}

fn shown(n: Option<usize>) -> String {
    n.map_or_else(|| format!("more than {}", usize::MAX), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_overflow_is_refused() {
        let l = Limits {
            max_features: 3,
            max_parameters: 10,
        };
        assert!(l.check_features(Some(3)).is_ok());
        assert!(l.check_parameters(Some(10)).is_ok());
        let msg = l.check_features(Some(4)).unwrap_err().to_string();
        assert!(msg.contains("models.max_features = 3"), "{msg}");
        let msg = l.check_parameters(None).unwrap_err().to_string();
        assert!(msg.contains("models.max_parameters"), "{msg}");
    }
}
