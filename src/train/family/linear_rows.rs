//! The ridge closed form read from the raw rows, a block at a time. The normal equations
//! need only ZᵀZ and Zᵀ(y − ȳ), so each block of training rows is standardised into a
//! small buffer and added to both: no standardised copy of the data is made, which was
//! the largest allocation of a closed-form training and a third of its time.

use std::sync::Arc;

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::{EpochCallback, Trained};
use crate::models::linear::LinearModel;
use crate::models::scaler::Scaler;
use crate::models::{Model, Schema};
use crate::train::objective::r2_from_residuals;
use crate::train::optim::EpochRecord;
use crate::train::{linalg, TrainError};

/// Training rows standardised at a time: 4,096 × 20 features is 640 KiB, in cache.
const BLOCK_ROWS: usize = 4096;

/// The rows a closed-form fit reads: the raw matrix, the targets and which rows train and
/// validate (each in range).
pub struct Rows<'a> {
    pub x: ArrayView2<'a, f64>,
    pub y: &'a [f64],
    pub train: &'a [usize],
    pub validation: &'a [usize],
}

pub fn closed_form(
    l2: f64,
    rows: Rows<'_>,
    schema: Schema,
    scaler: Scaler,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    let targets = |of: &[usize]| -> Array1<f64> {
        of.iter().filter_map(|&r| rows.y.get(r).copied()).collect()
    };
    let y = targets(rows.train);
    let mean = y.mean().unwrap_or(0.0);
    let (gram, rhs) = normal_equations(&rows, &scaler, mean);
    let n = rows.train.len() as f64;
    let mut a = gram;
    a.diag_mut().mapv_inplace(|v| v + n * l2);
    let w = linalg::solve_symmetric(&a, &rhs)
        .filter(|w| w.iter().all(|v| v.is_finite()))
        .ok_or(TrainError::Unsolvable {
            system: "the normal equations",
        })?;
    let model = LinearModel::new(schema, scaler, w.to_vec(), mean)?;
    // The learning curve's one point, from the model's own predictions of the rows.
    let eval = |of: &[usize], y: &Array1<f64>| -> Result<(f64, f64), TrainError> {
        let predicted = Array1::from(model.predict_rows(rows.x, of)?);
        let r = predicted - y;
        Ok((
            0.5 * r.dot(&r) / r.len().max(1) as f64,
            r2_from_residuals(&r, y.view()),
        ))
    };
    let (train_loss, train_metric) = eval(rows.train, &y)?;
    let v = (!rows.validation.is_empty())
        .then(|| eval(rows.validation, &targets(rows.validation)))
        .transpose()?;
    let record = EpochRecord {
        epoch: 1,
        train_loss,
        validation_loss: v.map(|v| v.0),
        learning_rate: 0.0,
        train_metric: Some(train_metric),
        validation_metric: v.map(|v| v.1),
    };
    if on_epoch(&record, 1.0).is_break() {
        return Err(TrainError::Cancelled);
    }
    Ok(Trained {
        model: Arc::new(model),
        history: vec![record],
        epochs_run: 1,
    })
}

/// ZᵀZ and Zᵀ(y − `mean`) over the training rows, Z the rows standardised by `scaler`.
fn normal_equations(rows: &Rows<'_>, scaler: &Scaler, mean: f64) -> (Array2<f64>, Array1<f64>) {
    let d = rows.x.ncols();
    let mut gram = Array2::zeros((d, d));
    let mut rhs = Array2::zeros((1, d));
    let mut block = Array2::zeros((BLOCK_ROWS.min(rows.train.len()), d));
    let mut centred = Array2::zeros((1, block.nrows()));
    for chunk in rows.train.chunks(BLOCK_ROWS) {
        let k = chunk.len();
        let mut z = block.slice_mut(s![..k, ..]);
        for (mut to, &r) in z.outer_iter_mut().zip(chunk) {
            if let Some(to) = to.as_slice_mut() {
                scaler.transform_into(rows.x.row(r), to);
            }
        }
        let mut c = centred.slice_mut(s![.., ..k]);
        for (to, &r) in c.iter_mut().zip(chunk) {
            *to = rows.y.get(r).copied().unwrap_or(mean) - mean;
        }
        let z = block.slice(s![..k, ..]);
        general_mat_mul(1.0, &z.t(), &z, 1.0, &mut gram);
        // As a 1 × k by k × d product: ndarray's transposed matrix-vector product walks
        // the block's columns with a stride.
        general_mat_mul(1.0, &centred.slice(s![.., ..k]), &z, 1.0, &mut rhs);
    }
    (gram, rhs.remove_axis(Axis(0)))
}
