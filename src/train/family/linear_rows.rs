//! The ridge closed form read from the raw rows, a block at a time. The normal equations
//! need only ZᵀZ and Zᵀ(y − ȳ), so each block of training rows is standardised into a
//! small buffer and added to both: no standardised copy of the data is made, which was
//! the largest allocation of a closed-form training and a third of its time.

use std::sync::Arc;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::{check_rows, targets_of, EpochCallback, Rows, Trained};
use crate::models::linear::LinearModel;
use crate::models::scaler::Scaler;
use crate::models::{Model, Schema};
use crate::train::objective::r2_from_residuals;
use crate::train::optim::EpochRecord;
use crate::train::{linalg, TrainError};

/// Training rows standardised at a time: 4,096 × 20 features is 640 KiB, in cache.
const BLOCK_ROWS: usize = 4096;

pub fn closed_form(
    l2: f64,
    rows: Rows<'_>,
    schema: Schema,
    scaler: Scaler,
    on_epoch: EpochCallback,
) -> Result<Trained, TrainError> {
    check_rows(
        rows.x.nrows().min(rows.y.len()),
        rows.train,
        rows.validation,
    )?;
    let y = targets_of(rows.y, rows.train);
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
    // The learning curve's one point, from the model's own predictions of the rows, which
    // the scoring after the fit then reuses.
    let eval = |of: &[usize], y: &Array1<f64>| -> Result<(f64, f64, Vec<f64>), TrainError> {
        let predicted = model.predict_rows(rows.x, of)?;
        let r = Array1::from_iter(predicted.iter().zip(y).map(|(p, y)| p - y));
        Ok((
            0.5 * r.dot(&r) / r.len().max(1) as f64,
            r2_from_residuals(&r, y.view()),
            predicted,
        ))
    };
    let (train_loss, train_metric, train_predictions) = eval(rows.train, &y)?;
    let (v, validation_predictions) = if rows.validation.is_empty() {
        (None, Vec::new())
    } else {
        let (loss, metric, predicted) =
            eval(rows.validation, &targets_of(rows.y, rows.validation))?;
        (Some((loss, metric)), predicted)
    };
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
        predictions: Some((train_predictions, validation_predictions)),
    })
}

/// ZᵀZ and Zᵀ(y − `mean`) over the training rows, Z the rows standardised by `scaler`.
fn normal_equations(rows: &Rows<'_>, scaler: &Scaler, mean: f64) -> (Array2<f64>, Array1<f64>) {
    let d = rows.x.ncols();
    let mut gram = Array2::zeros((d, d));
    let mut rhs = Array2::zeros((1, d));
    let mut block = vec![0.0; BLOCK_ROWS.min(rows.train.len()) * d];
    let mut centred = Vec::with_capacity(BLOCK_ROWS);
    for chunk in rows.train.chunks(BLOCK_ROWS) {
        let k = chunk.len();
        for (to, &r) in block.chunks_exact_mut(d.max(1)).zip(chunk) {
            scaler.transform_into(rows.x.row(r), to);
        }
        centred.clear();
        centred.extend(
            chunk
                .iter()
                .map(|&r| rows.y.get(r).map_or(0.0, |v| v - mean)),
        );
        let (Ok(z), Ok(c)) = (
            ArrayView2::from_shape((k, d), &block[..k * d]),
            ArrayView2::from_shape((1, k), &centred[..]),
        ) else {
            continue; // k ≤ the buffer's rows, so the shapes always fit
        };
        general_mat_mul(1.0, &z.t(), &z, 1.0, &mut gram);
        // As a 1 × k by k × d product: ndarray's transposed matrix-vector product walks
        // the block's columns with a stride.
        general_mat_mul(1.0, &c, &z, 1.0, &mut rhs);
    }
    (gram, rhs.remove_axis(Axis(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocked_normal_equations_are_those_of_the_whole_standardised_copy() {
        // More than one block, the last one partial, rows out of order and with an offset
        // far larger than the spread.
        let n = 3 * BLOCK_ROWS + 123;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            1e4 + ((i * 31 + j * 17) % 97) as f64 / 7.0 + (j as f64) * (i % 5) as f64
        });
        let y: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.5 - 2.0).collect();
        let train: Vec<usize> = (0..n).rev().filter(|i| i % 4 != 0).collect();
        let rows = Rows {
            x: x.view(),
            y: &y,
            train: &train,
            validation: &[],
        };
        let scaler = Scaler::fit_rows(x.view(), &train);
        let mean = train.iter().map(|&r| y[r]).sum::<f64>() / train.len() as f64;
        let (gram, rhs) = normal_equations(&rows, &scaler, mean);
        let z = scaler.transform_rows(x.view(), &train);
        let centred: Array1<f64> = train.iter().map(|&r| y[r] - mean).collect();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
        for (a, b) in gram.iter().zip(z.t().dot(&z).iter()) {
            assert!(close(*a, *b), "{a} vs {b}");
        }
        for (a, b) in rhs.iter().zip(z.t().dot(&centred).iter()) {
            assert!(close(*a, *b), "{a} vs {b}");
        }
    }
}
