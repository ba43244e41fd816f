//! Whether data suits an algorithm: the class-count rules live here and only
//! here (label encoding, dataset checks, `fit` and the HTTP handlers call in).

use super::params::Algorithm;
use super::{Dataset, TrainError};

/// Any classification needs at least two distinct classes.
pub fn check_class_count(found: usize) -> Result<(), TrainError> {
    if found < 2 {
        return Err(TrainError::TooFewClasses { found });
    }
    Ok(())
}

/// The algorithm must fit the data's task, and logistic regression needs
/// exactly two classes.
pub fn check_task(algorithm: Algorithm, data: &Dataset) -> Result<(), TrainError> {
    let family = algorithm.family();
    let expected = family.task();
    if data.task() != expected {
        return Err(TrainError::TaskMismatch {
            algorithm: family,
            expected,
        });
    }
    if let Some(classes) = &data.classes {
        check_class_count(classes.len())?;
        if algorithm == Algorithm::LogisticRegression && classes.len() != 2 {
            return Err(TrainError::NotBinary {
                algorithm: family,
                found: classes.len(),
            });
        }
    }
    Ok(())
}
