//! One pass of Newton's method over the rows where they lie. Each chunk of rows is
//! standardised into a small buffer, and everything the iteration needs at a θ comes out
//! of that one read: the logits, the mean log loss, the correct count, the classes a
//! model with θ predicts, and optionally the sums behind H and g. The fit makes no
//! standardised copy of the data, and an iteration reads the rows once, not twice.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};

use crate::models::scaler::Scaler;
use crate::models::stable::softplus_and_sigmoid;
use crate::train::parallel::{chunk_range, n_chunks, Threads, CHUNK_ROWS};
use crate::train::TrainError;

/// The rows of one side of a fit (training or validation): the raw matrix, which rows in
/// which order, the target of each (a 0/1 label, or a probability when learning soft
/// targets) and the training rows' scaler.
pub struct LogisticRows<'a> {
    x: ArrayView2<'a, f64>,
    rows: &'a [usize],
    y: &'a [f64],
    scaler: &'a Scaler,
}

impl<'a> LogisticRows<'a> {
    /// Refuses rows past `x`'s end, a target count other than the row count, and a
    /// scaler of another width.
    pub fn new(
        x: ArrayView2<'a, f64>,
        rows: &'a [usize],
        y: &'a [f64],
        scaler: &'a Scaler,
    ) -> Result<Self, TrainError> {
        crate::train::family::check_rows(x.nrows(), rows, &[])?;
        if x.ncols() == 0 {
            return Err(TrainError::data("no feature columns".into()));
        }
        if y.len() != rows.len() {
            return Err(TrainError::ShapeMismatch {
                rows: rows.len(),
                targets: y.len(),
            });
        }
        if scaler.mean.len() != x.ncols() || scaler.scale.len() != x.ncols() {
            return Err(TrainError::internal(format!(
                "a scaler of {} features for {} columns",
                scaler.mean.len(),
                x.ncols()
            )));
        }
        Ok(LogisticRows { x, rows, y, scaler })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// Every `n / m`-th row (m ≤ n): the warm start's sample.
    pub fn sample(&self, m: usize) -> (Vec<usize>, Vec<f64>) {
        let n = self.len();
        let picked = (0..m.min(n)).map(|i| i * n / m.max(1));
        picked
            .filter_map(|i| Some((*self.rows.get(i)?, *self.y.get(i)?)))
            .unzip()
    }

    /// The same matrix and scaler, other rows. (An `ArrayView` is invariant in its
    /// lifetime: the view is borrowed again for the shorter one.)
    pub fn with_rows<'b>(
        &'b self,
        rows: &'b [usize],
        y: &'b [f64],
    ) -> Result<LogisticRows<'b>, TrainError> {
        LogisticRows::new(self.x.view(), rows, y, self.scaler)
    }
}

/// What one pass found at a θ.
pub struct Pass {
    /// Mean log loss.
    pub loss: f64,
    pub correct: usize,
    /// 1 where the logit is > 0, else 0, per row in order: the model's own prediction.
    pub classes: Vec<f64>,
    /// [Zᵀ·B; 1ᵀ·B] with B = [S·Z | s | p − y], when asked for: H and g before the
    /// division by n and the penalty (see [`hessian_and_gradient`]).
    sums: Option<Array2<f64>>,
}

/// The per-worker buffers of a pass: one chunk standardised, and its B.
struct Scratch {
    z: Vec<f64>,
    b: Array2<f64>,
}

/// A pass over `data` at θ = [w; b], with the sums behind H and g when `with_sums`.
pub fn pass(
    data: &LogisticRows<'_>,
    theta: ArrayView1<f64>,
    with_sums: bool,
    threads: &Threads,
) -> Pass {
    // Chunks a batch at a time, so the partial sums held before they are added stay
    // bounded on wide data; added in chunk order all the same.
    let d = data.n_features();
    let per_chunk = (d + 1).saturating_mul(d + 2).saturating_mul(8).max(1);
    let batch = (BATCH_SUMS_BYTES / per_chunk)
        .min(MAX_BATCH_CHUNKS)
        .max(threads.count().max(1));
    pass_in_batches(data, theta, with_sums, threads, batch)
}

/// [`pass`], `batch` chunks at a time.
pub(super) fn pass_in_batches(
    data: &LogisticRows<'_>,
    theta: ArrayView1<f64>,
    with_sums: bool,
    threads: &Threads,
    batch: usize,
) -> Pass {
    let (n, d) = (data.len(), data.n_features());
    let w = theta.slice(s![..d.min(theta.len())]);
    let bias = theta.get(d).copied().unwrap_or(0.0);
    let mut total = Pass {
        loss: 0.0,
        correct: 0,
        classes: Vec::with_capacity(n),
        sums: with_sums.then(|| Array2::zeros((d + 1, d + 2))),
    };
    let chunks = n_chunks(n);
    for first in (0..chunks).step_by(batch.max(1)) {
        let parts = batch_pass(
            data,
            (w, bias),
            first..(first + batch).min(chunks),
            with_sums,
            threads,
        );
        for part in parts {
            total.loss += part.loss;
            total.correct += part.correct;
            total.classes.extend(part.classes);
            if let (Some(t), Some(p)) = (total.sums.as_mut(), part.sums) {
                *t += &p;
            }
        }
    }
    if n > 0 {
        total.loss /= n as f64;
    }
    total
}

/// Bytes of partial sums a batch of chunks may hold (at least one chunk per thread).
const BATCH_SUMS_BYTES: usize = 32 << 20;

/// Chunks per batch at most, unless there are more threads: enough to keep every thread
/// busy between two batches.
const MAX_BATCH_CHUNKS: usize = 64;

/// The chunks `chunks` of a pass, in order.
fn batch_pass(
    data: &LogisticRows<'_>,
    (w, bias): (ArrayView1<f64>, f64),
    chunks: std::ops::Range<usize>,
    with_sums: bool,
    threads: &Threads,
) -> Vec<Chunk> {
    let (n, d) = (data.len(), data.n_features());
    threads.map_chunks(
        chunks.len(),
        || Scratch {
            z: vec![0.0; CHUNK_ROWS.min(n) * d],
            b: Array2::zeros((if with_sums { CHUNK_ROWS.min(n) } else { 0 }, d + 2)),
        },
        |scratch, c| {
            let range = chunk_range(chunks.start + c, n);
            let rows = data.rows.get(range.clone()).unwrap_or_default();
            let y = data.y.get(range).unwrap_or_default();
            let k = rows.len();
            let z = scratch.z.get_mut(..k * d).unwrap_or_default();
            for (to, &r) in z.chunks_exact_mut(d.max(1)).zip(rows) {
                data.scaler.transform_into(data.x.row(r), to);
            }
            let mut chunk = Chunk {
                loss: 0.0,
                correct: 0,
                classes: Vec::with_capacity(k),
                sums: None,
            };
            let mut b = with_sums.then(|| scratch.b.slice_mut(s![..k, ..]));
            let mut b_rows = b.as_mut().map(|b| b.rows_mut().into_iter());
            for (zr, &yi) in z.chunks_exact(d.max(1)).zip(y) {
                // The arithmetic of the model's predict, so `classes` are its answers.
                let logit = ArrayView1::from(zr).dot(&w) + bias;
                let (softplus, p) = softplus_and_sigmoid(logit);
                chunk.loss += softplus - yi * logit;
                chunk.correct += usize::from((logit > 0.0) == (yi > 0.5));
                chunk.classes.push(if logit > 0.0 { 1.0 } else { 0.0 });
                if let Some(row) = b_rows.as_mut().and_then(Iterator::next) {
                    fill_b_row(row, zr, p, yi);
                }
            }
            if let (Some(b), Ok(zv)) = (b, ArrayView2::from_shape((k, d), &z[..])) {
                chunk.sums = Some(sums_of(zv, b.view(), d));
            }
            chunk
        },
    )
}

/// A chunk's share of a [`Pass`].
struct Chunk {
    loss: f64,
    correct: usize,
    classes: Vec<f64>,
    sums: Option<Array2<f64>>,
}

/// A row of B: [s·z | s | p − y] with s = p(1 − p).
fn fill_b_row(mut row: ArrayViewMut1<f64>, z: &[f64], p: f64, y: f64) {
    let s = p * (1.0 - p);
    let d = z.len();
    for (to, &v) in row.iter_mut().zip(z) {
        *to = s * v;
    }
    if let Some(to) = row.get_mut(d) {
        *to = s;
    }
    if let Some(to) = row.get_mut(d + 1) {
        *to = p - y;
    }
}

/// [Zᵀ·B; 1ᵀ·B]: one GEMM gives the weight rows of H and g together, B's column sums the
/// bias row.
fn sums_of(z: ArrayView2<f64>, b: ArrayView2<f64>, d: usize) -> Array2<f64> {
    let mut a = Array2::<f64>::zeros((d + 1, d + 2));
    general_mat_mul(1.0, &z.t(), &b, 0.0, &mut a.slice_mut(s![..d, ..]));
    // Row by row in order, as `sum_axis(Axis(0))` adds them, but over slices: ndarray's
    // version made an array operation of every row and cost a third of the GEMM.
    let mut bias_row = a.row_mut(d);
    match (bias_row.as_slice_mut(), b.as_slice()) {
        (Some(to), Some(b)) => {
            for row in b.chunks_exact(to.len().max(1)) {
                for (t, v) in to.iter_mut().zip(row) {
                    *t += v;
                }
            }
        }
        _ => bias_row.assign(&b.sum_axis(Axis(0))),
    }
    a
}

/// H and g at θ (see the module docs of [`super`]) from a pass's sums over n rows, or
/// None for a pass made without them.
pub fn hessian_and_gradient(
    at: &Pass,
    theta: &Array1<f64>,
    l2: f64,
    n: usize,
) -> Option<(Array2<f64>, Array1<f64>)> {
    let a = at.sums.as_ref()? / n.max(1) as f64;
    let d = a.nrows().checked_sub(1)?;
    let mut h = a.slice(s![.., ..d + 1]).to_owned();
    // The bias row came from column sums, the bias column from the GEMM: make H
    // exactly symmetric.
    for j in 0..d {
        h[[d, j]] = h[[j, d]];
        h[[j, j]] += l2;
    }
    h[[d, d]] += 1e-10;
    let mut g = a.column(d + 1).to_owned();
    g.slice_mut(s![..d]).scaled_add(l2, &theta.slice(s![..d]));
    Some((h, g))
}
