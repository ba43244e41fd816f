use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::models::scaler::Scaler;
use crate::models::stable::{sigmoid, softplus};

/// A noisy logistic problem with large weights, where Newton from 0 needs many steps,
/// on raw columns with offsets and spreads far from standardised.
struct Problem {
    x: Array2<f64>,
    y: Vec<f64>,
    rows: Vec<usize>,
    scaler: Scaler,
}

impl Problem {
    fn new(n: usize, d: usize) -> Problem {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let z = Array2::from_shape_fn((n, d), |_| rng.random_range(-2.0..2.0));
        let y = z
            .rows()
            .into_iter()
            .map(|r| {
                let z: f64 = r
                    .iter()
                    .enumerate()
                    .map(|(j, v)| v * (j as f64 + 1.0))
                    .sum();
                let p = sigmoid(1.5 * z + 0.5);
                f64::from(rng.random_range(0.0..1.0) < p)
            })
            .collect();
        let x = Array2::from_shape_fn((n, d), |(i, j)| 100.0 * j as f64 + 3.0 * z[[i, j]]);
        let rows: Vec<usize> = (0..n).collect();
        let scaler = Scaler::fit_rows(x.view(), &rows);
        Problem { x, y, rows, scaler }
    }

    fn data(&self) -> LogisticRows<'_> {
        LogisticRows::new(self.x.view(), &self.rows, &self.y, &self.scaler).unwrap()
    }
}

fn config(l2: f64, tol: f64) -> NewtonConfig {
    NewtonConfig {
        l2,
        max_iter: 100,
        tol,
    }
}

fn assert_same_optimum(a: &Array1<f64>, b: &Array1<f64>) {
    for (a, b) in a.iter().zip(b) {
        assert!((a - b).abs() < 1e-6 * b.abs().max(1.0), "{a} vs {b}");
    }
}

fn quiet() -> impl FnMut(&EpochRecord, f64) -> ControlFlow<()> {
    |_, _| ControlFlow::Continue(())
}

fn cold(data: &LogisticRows<'_>, cfg: &NewtonConfig) -> (Array1<f64>, usize) {
    let threads = Threads::sequential();
    let start = at_zero(data, &threads);
    let (theta, history, _) = iterate(data, cfg, start, None, &threads, &mut quiet()).unwrap();
    (theta, history.len())
}

#[test]
fn a_pass_gives_the_loss_sums_and_classes_of_the_standardised_rows() {
    // Rows out of order and two chunks, the last one partial.
    let p = Problem::new(2 * CHUNK + 77, 3);
    let rows: Vec<usize> = (0..p.x.nrows()).rev().filter(|i| i % 3 != 0).collect();
    let y: Vec<f64> = rows.iter().map(|&r| p.y[r]).collect();
    let data = LogisticRows::new(p.x.view(), &rows, &y, &p.scaler).unwrap();
    let theta = Array1::from(vec![0.4, -1.2, 2.0, 0.3]);
    let at = pass(&data, theta.view(), true, &Threads::sequential());
    let z = p.scaler.transform_rows(p.x.view(), &rows);
    let logits = z.dot(&theta.slice(s![..3])) + theta[3];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * (1.0 + b.abs());
    let loss = logits.iter().zip(&y).map(|(&l, &y)| softplus(l) - y * l);
    assert!(close(at.loss, loss.sum::<f64>() / rows.len() as f64));
    let classes: Vec<f64> = logits.iter().map(|&l| f64::from(l > 0.0)).collect();
    assert_eq!(at.classes, classes);
    let correct = classes.iter().zip(&y).filter(|(c, y)| c == y).count();
    assert_eq!(at.correct, correct);
    let (h, g) = hessian_and_gradient(&at, &theta, 0.0, rows.len()).unwrap();
    let ones = Array2::from_elem((rows.len(), 1), 1.0);
    let zt = ndarray::concatenate(Axis(1), &[z.view(), ones.view()]).unwrap();
    let prob = logits.mapv(sigmoid);
    let s = prob.mapv(|p| p * (1.0 - p));
    let n = rows.len() as f64;
    let expected_h = zt.t().dot(&(&zt * &s.insert_axis(Axis(1)))) / n;
    let expected_g = zt.t().dot(&(&prob - &Array1::from(y.clone()))) / n;
    for (a, b) in h.iter().zip(expected_h.iter()) {
        assert!(close(*a, *b), "{a} vs {b}");
    }
    for (a, b) in g.iter().zip(expected_g.iter()) {
        assert!(close(*a, *b), "{a} vs {b}");
    }
}

const CHUNK: usize = crate::train::parallel::CHUNK_ROWS;

#[test]
fn a_pass_in_batches_of_chunks_is_the_same_pass_bit_for_bit() {
    let p = Problem::new(5 * CHUNK + 9, 3);
    let data = p.data();
    let theta = Array1::from(vec![0.3, -0.7, 1.1, -0.2]);
    let threads = Threads::new(2).unwrap();
    let whole = pass(&data, theta.view(), true, &threads);
    for batch in [1, 2, 4] {
        let batched = pass_in_batches(&data, theta.view(), true, &threads, batch);
        assert_eq!(
            batched.loss.to_bits(),
            whole.loss.to_bits(),
            "batch {batch}"
        );
        assert_eq!(batched.classes, whole.classes);
        assert_eq!(batched.correct, whole.correct);
        let (h, g) = hessian_and_gradient(&batched, &theta, 1e-3, data.len()).unwrap();
        let (wh, wg) = hessian_and_gradient(&whole, &theta, 1e-3, data.len()).unwrap();
        assert_eq!((h, g), (wh, wg), "batch {batch}");
    }
}

#[test]
fn a_warm_start_reaches_the_same_optimum_in_fewer_full_iterations() {
    let p = Problem::new(20_000, 4);
    let data = p.data();
    let cfg = config(1e-5, 1e-10);
    let threads = Threads::sequential();
    let start = warm_start(&data, &cfg, &threads, 2_000)
        .unwrap()
        .expect("tall enough");
    let at = pass(&data, start.view(), true, &threads);
    let (warm, history, _) =
        iterate(&data, &cfg, (start, at), None, &threads, &mut quiet()).unwrap();
    let (cold, cold_iterations) = cold(&data, &cfg);
    assert_same_optimum(&warm, &cold);
    assert!(
        history.len() + 2 <= cold_iterations,
        "warm {} cold {cold_iterations}",
        history.len()
    );
}

#[test]
fn short_or_wide_data_starts_from_zero() {
    let cfg = config(1e-5, 1e-10);
    let threads = Threads::sequential();
    // Fewer than 4 samples' worth of rows.
    let short = Problem::new(7_999, 4);
    assert!(warm_start(&short.data(), &cfg, &threads, 2_000)
        .unwrap()
        .is_none());
    // A 2,000-row sample cannot pin down 200 weights.
    let wide = Problem::new(10_000, 200);
    assert!(warm_start(&wide.data(), &cfg, &threads, 2_000)
        .unwrap()
        .is_none());
}

#[test]
fn the_fit_through_the_warm_start_equals_the_cold_fit() {
    // Tall enough for the real sample size: the public entry point takes the warm path.
    let p = Problem::new(4 * WARM_START_ROWS, 3);
    let data = p.data();
    let cfg = config(1e-4, 1e-10);
    let threads = Threads::sequential();
    let mut epochs = 0;
    let fit = newton_logistic(&data, None, &cfg, &threads, &mut |_, _| {
        epochs += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    let (cold, cold_iterations) = cold(&data, &cfg);
    assert_eq!(epochs, fit.epochs_run);
    assert!(fit.epochs_run < cold_iterations);
    assert_same_optimum(&fit.theta, &cold);
    // The classes handed to the scoring are those of the final θ.
    let last = pass(&data, fit.theta.view(), false, &threads);
    assert_eq!(fit.classes.0, last.classes);
    assert!(fit.classes.1.is_empty());
}

#[test]
fn a_rejected_full_step_is_halved_and_the_next_step_still_has_its_hessian() {
    // Far from the optimum, where the logits saturate, the full step overshoots.
    let p = Problem::new(3 * CHUNK, 2);
    let data = p.data();
    let cfg = config(1e-4, 1e-12);
    let threads = Threads::sequential();
    let far = Array1::from(vec![-30.0, 25.0, 10.0]);
    let at = pass(&data, far.view(), true, &threads);
    let (theta, history, _) =
        iterate(&data, &cfg, (far, at), None, &threads, &mut quiet()).unwrap();
    let halved = history.iter().position(|r| r.learning_rate < 1.0);
    assert!(
        halved.is_some_and(|i| i + 1 < history.len()),
        "{:?}",
        history.iter().map(|r| r.learning_rate).collect::<Vec<_>>()
    );
    assert!(history
        .windows(2)
        .all(|w| w[1].train_loss <= w[0].train_loss));
    // And it still ends at the optimum.
    let (cold, _) = cold(&data, &cfg);
    assert_same_optimum(&theta, &cold);
}

#[test]
fn the_fit_stops_without_the_pass_of_a_step_that_promises_less_than_tol() {
    let p = Problem::new(3 * CHUNK, 3);
    let data = p.data();
    let tol = 1e-10;
    let cfg = config(0.0, tol);
    let threads = Threads::sequential();
    let start = at_zero(&data, &threads);
    let (theta, history, (at, _)) =
        iterate(&data, &cfg, start, None, &threads, &mut quiet()).unwrap();
    // The last step taken still lowered F by more than `tol`, so the rule on the
    // decrease alone would have made one more pass ...
    let [.., before, last] = history.as_slice() else {
        panic!("{} iterations", history.len())
    };
    assert!((before.train_loss - last.train_loss) / before.train_loss >= tol);
    // ... but the next step promised less than `tol`·F.
    let (h, g) = hessian_and_gradient(&at, &theta, 0.0, data.len()).unwrap();
    let step = linalg::solve_symmetric(&h, &g).unwrap();
    assert!(0.5 * g.dot(&step) < tol * last.train_loss);
    // And it kept its promise: taking it would have lowered F by less than `tol`·F.
    let next = pass(&data, (&theta - &step).view(), false, &threads);
    assert!(next.loss <= last.train_loss);
    assert!(last.train_loss - next.loss < tol * last.train_loss);
}

#[test]
fn only_a_finite_non_negative_promise_below_tol_ends_the_fit() {
    assert!(promises_less_than_tol(1e-12, 1e-10, 0.5));
    assert!(!promises_less_than_tol(1e-10, 1e-10, 0.5));
    // A step that is mostly rounding on a nearly singular H says nothing.
    assert!(!promises_less_than_tol(-1e-3, 1e-10, 0.5));
    assert!(!promises_less_than_tol(f64::NAN, 1e-10, 0.5));
    // `tol` = 0 runs every iteration.
    assert!(!promises_less_than_tol(0.0, 0.0, 0.5));
}
