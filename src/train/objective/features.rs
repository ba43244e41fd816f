//! The feature rows an objective reads, in standardised units: a matrix already in them
//! (a pruned model's inputs), or rows of the raw data standardised as they are read, so
//! that a first-order fit or an MLP makes no standardised copy of the data (1M × 20:
//! 160 MB).

use ndarray::{s, Array1, Array2, ArrayView2, CowArray, Ix1, Ix2};

use crate::models::scaler::Scaler;
use crate::train::parallel::CHUNK_ROWS;
use crate::train::TrainError;

/// Rows in standardised units; row `i` of the objective is row `i` here.
pub enum Features<'a> {
    /// Already standardised, row `i` is the objective's row `i`.
    Standardised(Array2<f64>),
    /// Row `i` is row `rows[i]` of `x`, standardised by `scaler` when read.
    Raw(RawRows<'a>),
}

/// Rows of a raw matrix and the scaler that standardises them, checked to fit together.
pub struct RawRows<'a> {
    x: ArrayView2<'a, f64>,
    rows: &'a [usize],
    scaler: Scaler,
    /// Every position, in the order of the rows they read: a pass over all rows (whose
    /// sums do not depend on the order) reads the matrix front to back, where the
    /// positions' own order (a shuffled split) missed the cache on almost every row.
    in_row_order: Vec<usize>,
}

/// Which of the objective's rows a block holds: a run of them, or those listed.
pub enum Positions<'p> {
    Run(std::ops::Range<usize>),
    Listed(&'p [usize]),
}

impl Positions<'_> {
    /// The entries of `y` at these positions: a view of a run, a copy of a list.
    pub fn of<'y>(&self, y: &'y Array1<f64>) -> Result<CowArray<'y, f64, Ix1>, TrainError> {
        let n = y.len();
        match self {
            Positions::Run(r) if r.end <= n => Ok(y.slice(s![r.clone()]).into()),
            Positions::Run(r) => Err(out_of_range(r.end.saturating_sub(1), n)),
            Positions::Listed(l) => l
                .iter()
                .map(|&i| y.get(i).copied().ok_or_else(|| out_of_range(i, n)))
                .collect::<Result<Array1<f64>, _>>()
                .map(Into::into),
        }
    }

    /// The rows of `y` (one per objective row) at these positions.
    pub fn rows_of<'y>(&self, y: &'y Array2<f64>) -> Result<CowArray<'y, f64, Ix2>, TrainError> {
        let n = y.nrows();
        match self {
            Positions::Run(r) if r.end <= n => Ok(y.slice(s![r.clone(), ..]).into()),
            Positions::Run(r) => Err(out_of_range(r.end.saturating_sub(1), n)),
            Positions::Listed(l) => {
                if let Some(&bad) = l.iter().find(|&&i| i >= n) {
                    return Err(out_of_range(bad, n));
                }
                Ok(y.select(ndarray::Axis(0), l).into())
            }
        }
    }
}

/// The positions of `rows` (each below `n`) ordered by the row they name, by counting.
fn in_row_order(rows: &[usize], n: usize) -> Vec<usize> {
    // starts[r]: where row r's positions go in the result.
    let mut starts = vec![0usize; n + 1];
    for &r in rows {
        if let Some(count) = starts.get_mut(r + 1) {
            *count += 1;
        }
    }
    let mut sum = 0;
    for start in starts.iter_mut() {
        sum += *start;
        *start = sum;
    }
    let mut order = vec![0usize; rows.len()];
    for (p, &r) in rows.iter().enumerate() {
        if let Some(at) = starts.get_mut(r) {
            if let Some(slot) = order.get_mut(*at) {
                *slot = p;
            }
            *at += 1;
        }
    }
    order
}

fn not_row_major() -> TrainError {
    TrainError::internal("rows that are not row-major".into())
}

fn out_of_range(i: usize, n: usize) -> TrainError {
    TrainError::internal(format!("row {i} out of range ({n} rows)"))
}

impl<'a> Features<'a> {
    /// Rows `rows` of `x`, standardised by `scaler` as they are read; refuses rows out of
    /// range and a scaler of another width.
    pub fn raw(
        x: ArrayView2<'a, f64>,
        rows: &'a [usize],
        scaler: Scaler,
    ) -> Result<Features<'a>, TrainError> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= x.nrows()) {
            return Err(TrainError::data(format!(
                "row index {bad} out of range (dataset has {} rows)",
                x.nrows()
            )));
        }
        if scaler.mean.len() != x.ncols() || scaler.scale.len() != x.ncols() {
            return Err(TrainError::internal(format!(
                "a scaler of {} features for {} columns",
                scaler.mean.len(),
                x.ncols()
            )));
        }
        let in_row_order = in_row_order(rows, x.nrows());
        Ok(Features::Raw(RawRows {
            x,
            rows,
            scaler,
            in_row_order,
        }))
    }

    pub fn n_rows(&self) -> usize {
        match self {
            Features::Standardised(x) => x.nrows(),
            Features::Raw(r) => r.rows.len(),
        }
    }

    pub fn n_cols(&self) -> usize {
        match self {
            Features::Standardised(x) => x.ncols(),
            Features::Raw(r) => r.x.ncols(),
        }
    }

    /// Writes the rows at `positions` into the first rows of `out` (as wide as a row).
    pub fn gather_into(
        &self,
        positions: &[usize],
        out: &mut Array2<f64>,
    ) -> Result<(), TrainError> {
        let n = self.n_rows();
        if out.ncols() != self.n_cols() || out.nrows() < positions.len() {
            return Err(TrainError::internal(
                "a row buffer of the wrong shape".into(),
            ));
        }
        let d = self.n_cols();
        // Row-major raw rows into a row-major buffer, the usual case, over plain slices: a
        // per-row array view cost more than the standardising (per-row SGD).
        if let (Features::Raw(r), Some(x), true) = (self, self.raw_slice(), d > 0) {
            let out = out.as_slice_mut().ok_or_else(not_row_major)?;
            for (to, &p) in out.chunks_exact_mut(d).zip(positions) {
                let row = *r.rows.get(p).ok_or_else(|| out_of_range(p, n))?;
                let from = x
                    .get(row * d..(row + 1) * d)
                    .ok_or_else(|| out_of_range(row, r.x.nrows()))?;
                r.scaler.transform_slice(from, to);
            }
            return Ok(());
        }
        for (mut to, &p) in out.outer_iter_mut().zip(positions) {
            match self {
                Features::Standardised(x) if p < n => to.assign(&x.row(p)),
                Features::Standardised(_) => return Err(out_of_range(p, n)),
                Features::Raw(r) => {
                    let row = *r.rows.get(p).ok_or_else(|| out_of_range(p, n))?;
                    // Checked with the rows when made; checked again rather than trusted.
                    if row >= r.x.nrows() {
                        return Err(out_of_range(row, r.x.nrows()));
                    }
                    let to = to.as_slice_mut().ok_or_else(not_row_major)?;
                    r.scaler.transform_into(r.x.row(row), to);
                }
            }
        }
        Ok(())
    }

    /// The raw matrix as one row-major slice, when it is one.
    fn raw_slice(&self) -> Option<&'a [f64]> {
        match self {
            Features::Raw(r) => r.x.to_slice(),
            Features::Standardised(_) => None,
        }
    }

    /// Calls `f` on the rows at `rows`, in order, a block at a time with the positions it
    /// holds; or on every row when `None`, in an order of the callee's choosing (sums only).
    /// A standardised matrix is one block (a view when it is every row), so its sums are
    /// taken as before; raw rows come standardised in blocks of at most [`CHUNK_ROWS`],
    /// all of them in the order they lie in the matrix.
    pub fn for_blocks(
        &self,
        rows: Option<&[usize]>,
        mut f: impl FnMut(ArrayView2<f64>, Positions) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        let n = self.n_rows();
        match (self, rows) {
            (Features::Standardised(x), None) => f(x.view(), Positions::Run(0..n)),
            (Features::Standardised(_), Some(list)) => {
                let mut block = Array2::zeros((list.len(), self.n_cols()));
                self.gather_into(list, &mut block)?;
                f(block.view(), Positions::Listed(list))
            }
            (Features::Raw(r), _) => {
                let list = rows.unwrap_or(r.in_row_order.as_slice());
                let mut block = Array2::zeros((CHUNK_ROWS.min(list.len()), self.n_cols()));
                for part in list.chunks(CHUNK_ROWS.max(1)) {
                    self.gather_into(part, &mut block)?;
                    f(block.slice(s![..part.len(), ..]), Positions::Listed(part))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::train::objective::{one_hot, BinaryLogLoss, CrossEntropy, LeastSquares, RegLoss};
    use crate::train::optim::Objective;

    /// 5,000 × 4 raw rows and 4,000 of them out of order: two blocks and a part.
    fn data() -> (Array2<f64>, Vec<usize>) {
        let x = Array2::from_shape_fn((5000, 4), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 13.0 + j as f64 * 40.0
        });
        let rows = (0..5000).rev().filter(|i| i % 5 != 0).collect();
        (x, rows)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    /// `raw` and `copy` are one objective over the raw rows and over their standardised
    /// copy: per-row steps and a mini-batch within a block give the same bits, full-batch
    /// sums (added a block at a time) agree to rounding.
    fn same_objective(raw: &dyn Objective, copy: &dyn Objective) {
        let theta = Array1::from_iter((0..raw.n_params()).map(|i| 0.3 - 0.07 * i as f64));
        let (la, ga) = raw.loss_grad(theta.view(), None).unwrap();
        let (lb, gb) = copy.loss_grad(theta.view(), None).unwrap();
        assert!(close(la, lb), "{la} {lb}");
        assert!(ga.iter().zip(&gb).all(|(a, b)| close(*a, *b)), "{ga} {gb}");
        let (ea, eb) = (
            raw.evaluate(theta.view()).unwrap(),
            copy.evaluate(theta.view()).unwrap(),
        );
        assert!(
            close(ea.0, eb.0) && close(ea.1.unwrap(), eb.1.unwrap()),
            "{ea:?} {eb:?}"
        );
        assert!(close(raw.loss(theta.view()).unwrap(), eb.0));
        let batch: Vec<usize> = (0..300).map(|i| (i * 7) % 4000).collect();
        let (a, b) = (
            raw.loss_grad(theta.view(), Some(&batch)).unwrap(),
            copy.loss_grad(theta.view(), Some(&batch)).unwrap(),
        );
        assert!(a.0.to_bits() == b.0.to_bits() && a.1 == b.1);
        let order: Vec<usize> = (0..4000).map(|i| (i * 1237) % 4000).collect();
        let steps = |o: &dyn Objective| {
            let mut t = theta.clone();
            let mut g = Array1::zeros(t.len());
            let mut update = |t: &mut Array1<f64>, g: &mut Array1<f64>| t.scaled_add(-0.01, g);
            o.per_row_pass(&mut t, &order, &mut g, &mut update).unwrap();
            t
        };
        assert_eq!(steps(raw), steps(copy));
    }

    #[test]
    fn raw_rows_are_read_as_their_standardised_copy() {
        let (x, rows) = data();
        let scaler = Scaler::fit_rows(x.view(), &rows);
        let raw = || Features::raw(x.view(), &rows, scaler.clone()).unwrap();
        let copy = || Features::Standardised(scaler.transform_rows(x.view(), &rows));
        let labels: Array1<f64> = rows.iter().map(|&r| (r % 3) as f64).collect();
        let binary = labels.mapv(|c| f64::from(c > 0.0));
        let values = labels.mapv(|c| c * 2.5 - 1.0);
        let logistic = |x| BinaryLogLoss {
            x,
            y: binary.clone(),
        };
        same_objective(&logistic(raw()), &logistic(copy()));
        let huber = |x| LeastSquares {
            x,
            y: values.clone(),
            loss: RegLoss::Huber(0.5),
        };
        same_objective(&huber(raw()), &huber(copy()));
        let softmax = |x| CrossEntropy {
            x,
            y: one_hot(labels.view(), 3),
        };
        same_objective(&softmax(raw()), &softmax(copy()));
    }

    #[test]
    fn a_full_pass_reads_the_rows_in_the_order_they_lie() {
        assert_eq!(in_row_order(&[5, 1, 3, 1, 0], 6), vec![4, 1, 3, 2, 0]);
        assert!(in_row_order(&[], 3).is_empty());
    }

    #[test]
    fn rows_out_of_range_are_refused() {
        let (x, _) = data();
        let scaler = Scaler::fit(x.view());
        assert!(Features::raw(x.view(), &[0, 5000], scaler.clone()).is_err());
        let narrow = Scaler::fit(x.slice(s![.., ..2]));
        assert!(Features::raw(x.view(), &[0], narrow).is_err());
        let features = Features::raw(x.view(), &[1, 2], scaler).unwrap();
        let mut out = Array2::zeros((2, 4));
        assert!(features.gather_into(&[1, 0], &mut out).is_ok());
        // Position 2 of two rows; a buffer too short, or too narrow.
        assert!(features.gather_into(&[0, 2], &mut out).is_err());
        assert!(features.gather_into(&[0, 1, 0], &mut out).is_err());
        assert!(features
            .gather_into(&[0], &mut Array2::zeros((1, 3)))
            .is_err());
    }
}
