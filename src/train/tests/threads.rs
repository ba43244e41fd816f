//! `[training] threads` must not change results: chunked sums are combined in
//! chunk order whatever the number of workers.

use std::ops::ControlFlow;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::train::parallel::CHUNK_ROWS;
use crate::train::quality::evaluate_rows;
use crate::train::{
    fit_rows_checked, fit_rows_with, fit_with, Algorithm, Dataset, Params, Threads, TrainSpec,
};

/// A noisy linearly separable-ish binary problem, several chunks long.
fn classification(n: usize, d: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Array2::from_shape_fn((n, d), |_| rng.random_range(-2.0..2.0) + 3.0);
    let w: Vec<f64> = (0..d).map(|j| (j as f64 - 2.0) * 0.7).collect();
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let z: f64 = r.iter().zip(&w).map(|(a, b)| (a - 3.0) * b).sum();
            let noise: f64 = rng.random_range(-1.5..1.5);
            if z + noise > 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Dataset {
        x,
        y,
        feature_names: (0..d).map(|j| format!("f{j}")).collect(),
        target: "t".into(),
        classes: Some(vec!["no".into(), "yes".into()]),
        read_fingerprint: Default::default(),
    }
}

fn newton_spec(l2: f64, validation_split: f64) -> TrainSpec {
    TrainSpec {
        algorithm: Algorithm::LogisticRegression,
        params: serde_json::from_value::<Params>(serde_json::json!({
            "solver": "newton", "l2": l2
        }))
        .unwrap(),
        validation_split,
    }
}

#[test]
fn newton_fit_is_identical_for_any_thread_count() {
    let data = classification(3 * CHUNK_ROWS + 123, 6);
    let spec = newton_spec(1e-4, 0.2);
    let run = |t: usize| {
        fit_with(&spec, &data, &Threads::new(t).unwrap(), &mut |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap()
    };
    let one = run(1);
    assert!(one.epochs_run >= 3, "{}", one.epochs_run);
    let acc = one.train_metrics["accuracy"];
    assert!(acc > 0.8, "{acc}");
    for t in [2, 3] {
        let other = run(t);
        assert_eq!(Threads::new(t).unwrap().count(), t);
        // Bit-identical, not merely close: same chunks, same order of sums.
        assert_eq!(one.history, other.history, "threads = {t}");
        assert_eq!(one.train_metrics, other.train_metrics, "threads = {t}");
        assert_eq!(one.validation_metrics, other.validation_metrics);
    }
}

/// Newton's fit hands the classes of its last pass to the scoring instead of predicting
/// the rows again: the metrics must be those of the model's own predictions, on rows in
/// any order.
#[test]
fn newton_metrics_are_those_of_the_models_own_predictions() {
    let data = classification(2 * CHUNK_ROWS + 77, 5);
    let spec = newton_spec(1e-3, 0.0);
    let n = data.x.nrows();
    let train: Vec<usize> = (0..n).rev().filter(|i| i % 5 != 0).collect();
    let validation: Vec<usize> = (0..n).filter(|i| i % 5 == 0).collect();
    let fitted = fit_rows_with(
        &spec,
        &data,
        &train,
        &validation,
        &Threads::new(2).unwrap(),
        &mut |_, _| ControlFlow::Continue(()),
    )
    .unwrap();
    let model = fitted.model.as_ref();
    let own = |rows: &[usize]| evaluate_rows(model, data.x.view(), &data.y, rows).unwrap();
    assert_eq!(fitted.train_metrics, own(&train));
    assert_eq!(fitted.validation_metrics, Some(own(&validation)));
    let accuracy = fitted.train_metrics["accuracy"];
    assert!(accuracy > 0.8 && accuracy < 1.0, "{accuracy}");
    // The learning curve's last point is the same accuracy.
    let last = fitted.history.last().unwrap();
    assert_eq!(last.train_metric, Some(accuracy));
}

/// Distillation's soft targets go through the same Newton passes: one-hot probabilities
/// are the labels themselves, so the fit is the hard-label fit bit for bit.
#[test]
fn newton_on_one_hot_soft_targets_is_the_labelled_fit() {
    let data = classification(2 * CHUNK_ROWS + 77, 4);
    let spec = newton_spec(1e-3, 0.0).validate().unwrap();
    let n = data.x.nrows();
    let train: Vec<usize> = (0..n).filter(|i| i % 4 != 0).collect();
    let validation: Vec<usize> = (0..n).filter(|i| i % 4 == 0).collect();
    let one_hot = Array2::from_shape_fn((n, 2), |(i, k)| f64::from(data.y[i] == k as f64));
    let quiet = || |_: &crate::train::optim::EpochRecord, _: f64| ControlFlow::Continue(());
    let threads = Threads::sequential();
    let soft = crate::train::fit::fit_rows_soft(
        &spec,
        &data,
        &one_hot,
        (&train, &validation),
        &threads,
        &mut quiet(),
    )
    .unwrap();
    let hard = fit_rows_checked(&spec, &data, &train, &validation, &threads, &mut quiet()).unwrap();
    assert_eq!(soft.history, hard.history);
    assert_eq!(soft.train_metrics, hard.train_metrics);
    assert_eq!(soft.validation_metrics, hard.validation_metrics);
    assert_eq!(
        soft.model.predict(data.x.view()).unwrap().probabilities,
        hard.model.predict(data.x.view()).unwrap().probabilities
    );
    // A softened target moves the fit: the soft path does read the probabilities.
    let softened = one_hot.mapv(|p| 0.1 + 0.8 * p);
    let moved = crate::train::fit::fit_rows_soft(
        &spec,
        &data,
        &softened,
        (&train, &validation),
        &threads,
        &mut quiet(),
    )
    .unwrap();
    assert_ne!(moved.history, hard.history);
}

#[test]
fn auto_threads_take_every_core_where_they_run_idle() {
    let auto = Threads::new(0).unwrap().count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let expected = if cfg!(target_os = "linux") {
        cores
    } else {
        (cores / 2).max(1)
    };
    assert_eq!(auto, expected);
    assert_eq!(Threads::sequential().count(), 1);
}
