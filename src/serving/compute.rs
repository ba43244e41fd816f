//! Where a model call runs: on the calling worker when it is small, on the blocking
//! pool when it is not.

use std::sync::Arc;

use ndarray::Array2;

use crate::models::{Model, ModelError, Output};

/// Above this many input values the compute moves to the blocking pool; below it the work
/// takes microseconds and the hand-off would cost more than it saves.
pub const INLINE_CELLS: usize = 16_384;

/// Whether a call on `x` is cheap enough to run on the async worker.
pub fn runs_inline(x: &Array2<f64>) -> bool {
    x.len() <= INLINE_CELLS
}

/// A blocking task that ended without answering (it panicked or the runtime is
/// shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the model call on the blocking pool did not finish: {0}")]
pub struct BlockingFailed(pub String);

/// Runs `model` on `x` here for small inputs and on the blocking pool for large ones,
/// giving `x` back for the prediction log. The outer error is the server's, the inner
/// the model's.
pub async fn run(
    model: &Arc<dyn Model>,
    x: Array2<f64>,
) -> Result<(Array2<f64>, Result<Output, ModelError>), BlockingFailed> {
    if runs_inline(&x) {
        let out = model.predict(x.view());
        return Ok((x, out));
    }
    let m = model.clone();
    tokio::task::spawn_blocking(move || {
        let out = m.predict(x.view());
        (x, out)
    })
    .await
    .map_err(|e| BlockingFailed(e.to_string()))
}
