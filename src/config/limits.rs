//! The size limits sections: `[models]` (how large a model may be imported, registered or
//! loaded) and `[training_limits]` (how much work one training job may ask for).

use serde::{Deserialize, Serialize};

use crate::models::limits::{Limits, DEFAULT_MAX_FEATURES, DEFAULT_MAX_PARAMETERS};

/// `[models]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Largest input width (features) of a model; an import, registration or store load
    /// above it is refused (422 `invalid_input`, or a failed version). Default 10000.
    pub max_features: usize,
    /// Most learned scalars of a model (native weights and biases, ONNX initializer
    /// elements), checked like `max_features`. Default 50000000.
    pub max_parameters: usize,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            max_features: DEFAULT_MAX_FEATURES,
            max_parameters: DEFAULT_MAX_PARAMETERS,
        }
    }
}

impl ModelsConfig {
    /// The bounds as the model layer takes them.
    pub fn limits(&self) -> Limits {
        Limits {
            max_features: self.max_features,
            max_parameters: self.max_parameters,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.max_features == 0 || self.max_parameters == 0 {
            return Err("models.max_features and models.max_parameters must be > 0".into());
        }
        Ok(())
    }
}

/// `[training_limits]` settings: a training or tuning request above them is refused at
/// submit time (422 `invalid_input` naming the limit and the computed value).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingLimitsConfig {
    /// Most parameters of a model to train. Default 10000000 (80 MB of weights, about
    /// four times that with the optimiser's state).
    pub max_parameters: usize,
    /// Most work of one job: parameters × rows × epochs, summed over every fit of a
    /// tuning job (each combination once per fold plus the refit). Default 1e12.
    pub max_work: u64,
    /// Most memory loading one data file may take: its text, 8 bytes a parsed cell and
    /// 16 a row; estimated before the file is read, counted exactly before the parse
    /// allocates. Default 4 GiB.
    pub max_dataset_bytes: u64,
}

impl Default for TrainingLimitsConfig {
    fn default() -> Self {
        Self {
            max_parameters: 10_000_000,
            max_work: 1_000_000_000_000,
            max_dataset_bytes: 4 << 30,
        }
    }
}

impl TrainingLimitsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_parameters == 0 || self.max_work == 0 || self.max_dataset_bytes == 0 {
            return Err(
                "training_limits.max_parameters, max_work and max_dataset_bytes must \
                 be > 0"
                    .into(),
            );
        }
        Ok(())
    }
}
