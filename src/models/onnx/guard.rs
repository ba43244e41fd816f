//! Containment of tract on hostile graphs: a panic while loading or running one becomes
//! a [`ModelError`], and the trial inputs a graph must run before it is served.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::Array2;

use crate::models::ModelError;

/// tract is not written against hostile graphs; a panic while loading or running one
/// must become an error for that request, not take a worker down. `error` says whose
/// fault it is: the graph's while loading, the runtime's on input the model accepted.
pub fn guarded<T>(
    what: &str,
    error: fn(String) -> ModelError,
    f: impl FnOnce() -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(error(format!("{what} crashed"))))
}

/// Trial inputs run at load: zeros, and varied values of both signs, because a graph
/// can index by what it computes (an ArgMax feeding a Gather) and fail only on some rows.
pub fn trial_inputs(d: usize) -> [Array2<f64>; 2] {
    [
        Array2::zeros((2, d)),
        Array2::from_shape_fn((2, d), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0),
    ]
}
