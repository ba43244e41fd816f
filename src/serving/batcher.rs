//! Adaptive batching: concurrent predict requests for one model version are gathered
//! into a single `Model::predict` call, up to a row budget or a short wait.
//!
//! It pays where one call costs much more than one row (an MLP's matrix products, a
//! tract plan run) and is off for linear models, whose per-call cost is a few hundred
//! nanoseconds. The batching is adaptive: rows that queued while the previous call ran
//! are taken at once, so batches grow with the load and an idle server adds no delay;
//! `max_delay_us` (default 0) additionally lets a batch below the budget wait for company.

use std::sync::Arc;
use std::time::Duration;

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use prometheus::Histogram;
use tokio::sync::{mpsc, oneshot};

use super::compute::INLINE_CELLS;
use crate::config::BatchingConfig;
use crate::models::{Model, ModelError, Output};

/// The input handed back with the model's answer for it.
type Answer = (Array2<f64>, Result<Output, ModelError>);
type Reply = oneshot::Sender<Answer>;

/// What became of a request handed to [`Batcher::predict`].
pub enum Batched {
    /// Predicted as part of a batch; the input comes back for the prediction log.
    Done(Array2<f64>, Result<Output, ModelError>),
    /// Not batched (larger than a batch, queue full, worker gone): run it alone.
    RunAlone(Array2<f64>),
    /// The worker died while holding the request (a panic inside the model).
    Lost,
}

struct Pending {
    x: Array2<f64>,
    reply: Reply,
}

/// The sending half of one version's batch worker. Dropping it (the version is unloaded
/// and its last in-flight request finished) ends the worker once its queue is drained.
#[derive(Debug)]
pub struct Batcher {
    tx: mpsc::Sender<Pending>,
    max_rows: usize,
}

impl Batcher {
    /// Starts the worker on the current tokio runtime.
    pub fn spawn(model: Arc<dyn Model>, cfg: &BatchingConfig, rows: Histogram) -> Self {
        let (tx, rx) = mpsc::channel(cfg.queue_size);
        let worker = Worker {
            model,
            rows,
            max_rows: cfg.max_batch_rows,
            max_delay: Duration::from_micros(cfg.max_delay_us),
        };
        tokio::spawn(worker.run(rx));
        Self {
            tx,
            max_rows: cfg.max_batch_rows,
        }
    }

    /// Predicts `x` as part of a batch, or hands it back ([`Batched::RunAlone`]) when it is
    /// larger than a batch, the queue is full, or the worker is gone.
    pub async fn predict(&self, x: Array2<f64>) -> Batched {
        if x.nrows() > self.max_rows {
            return Batched::RunAlone(x);
        }
        let (reply, answer) = oneshot::channel();
        if let Err(e) = self.tx.try_send(Pending { x, reply }) {
            let pending = match e {
                mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p) => p,
            };
            return Batched::RunAlone(pending.x);
        }
        match answer.await {
            Ok((x, out)) => Batched::Done(x, out),
            Err(_) => Batched::Lost,
        }
    }
}

struct Worker {
    model: Arc<dyn Model>,
    /// Rows per model call, so operators can see whether batching happens.
    rows: Histogram,
    max_rows: usize,
    max_delay: Duration,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Pending>) {
        while let Some(first) = rx.recv().await {
            let mut rows = first.x.nrows();
            let mut batch = vec![first];
            let mut deadline = tokio::time::Instant::now() + self.max_delay;
            while rows < self.max_rows {
                let next = match rx.try_recv() {
                    Ok(p) => Some(p),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) if self.max_delay.is_zero() => None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .ok()
                            .flatten()
                    }
                };
                let Some(p) = next else { break };
                // A request that would overflow the budget starts the next batch instead
                // of being split; it is answered right after this one.
                if rows + p.x.nrows() > self.max_rows {
                    self.execute(batch).await;
                    rows = p.x.nrows();
                    batch = vec![p];
                    deadline = tokio::time::Instant::now() + self.max_delay;
                    continue;
                }
                rows += p.x.nrows();
                batch.push(p);
            }
            self.execute(batch).await;
        }
    }

    async fn execute(&self, batch: Vec<Pending>) {
        let cells: usize = batch.iter().map(|p| p.x.len()).sum();
        self.rows
            .observe(batch.iter().map(|p| p.x.nrows()).sum::<usize>() as f64);
        let model = self.model.clone();
        let work = move || run_batch(model.as_ref(), batch);
        // Same rule as the unbatched path: small batches are cheaper to run here than to
        // hand to the blocking pool.
        if cells <= INLINE_CELLS {
            work();
        } else {
            // If the blocking task panics, its replies drop and each caller gets Err.
            let _ = tokio::task::spawn_blocking(work).await;
        }
    }
}

/// Runs one model call for the whole batch and hands each request its slice. If the
/// batched call fails, each request is retried alone so it gets its own error.
fn run_batch(model: &dyn Model, batch: Vec<Pending>) {
    if batch.len() == 1 {
        for p in batch {
            let out = model.predict(p.x.view());
            let _ = p.reply.send((p.x, out));
        }
        return;
    }
    let views: Vec<ArrayView2<f64>> = batch.iter().map(|p| p.x.view()).collect();
    let joined = concatenate(Axis(0), &views).map(|x| model.predict(x.view()));
    let total: usize = batch.iter().map(|p| p.x.nrows()).sum();
    // A graph that answers with the wrong number of rows cannot be split safely.
    let fits = |o: &Output| {
        o.predictions.len() == total && o.probabilities.as_ref().is_none_or(|p| p.nrows() == total)
    };
    let Some(out) = joined.ok().and_then(Result::ok).filter(fits) else {
        for p in batch {
            let out = model.predict(p.x.view());
            let _ = p.reply.send((p.x, out));
        }
        return;
    };
    let mut start = 0;
    for p in batch {
        let end = start + p.x.nrows();
        let part = slice_output(&out, start, end);
        start = end;
        let _ = p.reply.send((p.x, Ok(part)));
    }
}

fn slice_output(out: &Output, start: usize, end: usize) -> Output {
    Output {
        predictions: out
            .predictions
            .get(start..end)
            .map(<[f64]>::to_vec)
            .unwrap_or_default(),
        probabilities: out
            .probabilities
            .as_ref()
            .map(|p| p.slice(ndarray::s![start..end, ..]).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Artifact, Family, Schema};
    use ndarray::array;

    /// Doubles the first feature, and refuses any call that contains the value 13, so a
    /// batch with one such row fails as a whole.
    #[derive(Debug)]
    struct Picky(Schema);

    impl Model for Picky {
        fn family(&self) -> Family {
            Family::MlpRegressor
        }
        fn schema(&self) -> &Schema {
            &self.0
        }
        fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
            if x.iter().any(|v| *v == 13.0) {
                return Err(ModelError::InvalidInput("13 is unlucky".into()));
            }
            Ok(Output {
                predictions: x.column(0).iter().map(|v| v * 2.0).collect(),
                probabilities: None,
            })
        }
        /// The linear model that doubles the first feature (without the refusal).
        fn to_artifact(&self) -> Artifact {
            Artifact::LinearRegression(crate::models::linear::LinearModel {
                schema: self.0.clone(),
                scaler: crate::models::scaler::Scaler {
                    mean: vec![0.0],
                    scale: vec![1.0],
                },
                weights: vec![2.0],
                intercept: 0.0,
            })
        }
        fn n_parameters(&self) -> usize {
            0
        }
    }

    fn pending(x: Array2<f64>) -> (Pending, oneshot::Receiver<Answer>) {
        let (reply, rx) = oneshot::channel();
        (Pending { x, reply }, rx)
    }

    #[test]
    fn a_failing_batch_is_retried_row_group_by_row_group() {
        let model = Picky(Schema {
            feature_names: vec!["a".into()],
            target: "y".into(),
            classes: None,
        });
        let (a, ra) = pending(array![[1.0], [2.0]]);
        let (b, rb) = pending(array![[13.0]]);
        let (c, rc) = pending(array![[4.0]]);
        run_batch(&model, vec![a, b, c]);
        let (xa, oa) = ra.blocking_recv().unwrap();
        assert_eq!(xa, array![[1.0], [2.0]]);
        assert_eq!(oa.unwrap().predictions, vec![2.0, 4.0]);
        assert!(rb.blocking_recv().unwrap().1.is_err());
        assert_eq!(
            rc.blocking_recv().unwrap().1.unwrap().predictions,
            vec![8.0]
        );
    }

    #[test]
    fn a_successful_batch_is_split_in_request_order() {
        let model = Picky(Schema {
            feature_names: vec!["a".into()],
            target: "y".into(),
            classes: None,
        });
        let (a, ra) = pending(array![[1.0]]);
        let (b, rb) = pending(array![[2.0], [3.0]]);
        run_batch(&model, vec![a, b]);
        assert_eq!(
            ra.blocking_recv().unwrap().1.unwrap().predictions,
            vec![2.0]
        );
        assert_eq!(
            rb.blocking_recv().unwrap().1.unwrap().predictions,
            vec![4.0, 6.0]
        );
    }
}
