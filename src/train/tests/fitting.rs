//! `fit` behaviour: parameter validation, cancellation, stopping rules,
//! task checks and divergence.

use std::ops::ControlFlow;

use super::common::dataset;
use crate::models::Task;
use crate::train::{
    fit, Algorithm, EarlyStopping, Optimizer, Params, Solver, TrainError, TrainSpec,
};

fn spec(algorithm: Algorithm, params: Params) -> TrainSpec {
    TrainSpec {
        algorithm,
        params,
        validation_split: 0.2,
    }
}

fn cont() -> impl FnMut(&crate::train::EpochRecord, f64) -> ControlFlow<()> {
    |_, _| ControlFlow::Continue(())
}

fn invalid_param(s: &TrainSpec, needle: &str) {
    match s.validate() {
        Err(e @ TrainError::InvalidParam { .. }) => {
            let m = e.to_string();
            assert!(m.contains(needle), "{needle}: {m}")
        }
        other => panic!("{needle}: expected InvalidParam, got {other:?}"),
    }
}

#[test]
fn validate_defaults() {
    let r = spec(Algorithm::LinearRegression, Params::default())
        .validate()
        .unwrap()
        .report();
    assert_eq!(
        (r.solver, r.optimizer, r.epochs, r.seed, r.l2),
        (Solver::ClosedForm, None, None, 42, 0.0)
    );
    let r = spec(Algorithm::LogisticRegression, Params::default())
        .validate()
        .unwrap()
        .report();
    assert_eq!(
        (r.solver, r.optimizer, r.learning_rate, r.epochs),
        (Solver::Gd, Some(Optimizer::Adam), Some(0.05), Some(1000))
    );
    let p = Params {
        optimizer: Some(Optimizer::Minibatch),
        ..Params::default()
    };
    let r = spec(Algorithm::LinearRegression, p)
        .validate()
        .unwrap()
        .report();
    assert_eq!((r.solver, r.batch_size), (Solver::Gd, Some(32)));
    let p = Params {
        optimizer: Some(Optimizer::Momentum),
        ..Params::default()
    };
    assert_eq!(
        spec(Algorithm::SoftmaxRegression, p)
            .validate()
            .unwrap()
            .report()
            .momentum,
        Some(0.9)
    );
}

#[test]
fn validate_rejects_bad_params() {
    let a = Algorithm::LogisticRegression;
    let with = |p: Params| spec(a, p);
    invalid_param(
        &with(Params {
            learning_rate: Some(0.0),
            ..Default::default()
        }),
        "learning_rate",
    );
    invalid_param(
        &with(Params {
            learning_rate: Some(f64::NAN),
            ..Default::default()
        }),
        "learning_rate",
    );
    invalid_param(
        &with(Params {
            epochs: Some(0),
            ..Default::default()
        }),
        "epochs",
    );
    invalid_param(
        &with(Params {
            epochs: Some(1_000_001),
            ..Default::default()
        }),
        "epochs",
    );
    invalid_param(
        &with(Params {
            optimizer: Some(Optimizer::Minibatch),
            batch_size: Some(0),
            ..Default::default()
        }),
        "batch_size",
    );
    invalid_param(
        &with(Params {
            optimizer: Some(Optimizer::Gd),
            batch_size: Some(8),
            ..Default::default()
        }),
        "batch_size",
    );
    invalid_param(
        &with(Params {
            l1: Some(-1.0),
            ..Default::default()
        }),
        "l1",
    );
    invalid_param(
        &with(Params {
            l2: Some(-0.1),
            ..Default::default()
        }),
        "l2",
    );
    invalid_param(
        &with(Params {
            momentum: Some(0.5),
            ..Default::default()
        }),
        "momentum",
    );
    invalid_param(
        &with(Params {
            optimizer: Some(Optimizer::Momentum),
            momentum: Some(1.0),
            ..Default::default()
        }),
        "momentum",
    );
    invalid_param(
        &with(Params {
            tol: Some(-1.0),
            ..Default::default()
        }),
        "tol",
    );
    invalid_param(
        &with(Params {
            early_stopping: Some(EarlyStopping {
                patience: 0,
                min_delta: 0.0,
            }),
            ..Default::default()
        }),
        "patience",
    );
    invalid_param(
        &with(Params {
            solver: Some(Solver::ClosedForm),
            ..Default::default()
        }),
        "closed_form",
    );
    let lin = |p: Params| spec(Algorithm::LinearRegression, p);
    invalid_param(
        &lin(Params {
            solver: Some(Solver::ClosedForm),
            l1: Some(0.1),
            ..Default::default()
        }),
        "l1",
    );
    invalid_param(
        &lin(Params {
            solver: Some(Solver::ClosedForm),
            epochs: Some(5),
            ..Default::default()
        }),
        "epochs",
    );
    invalid_param(
        &TrainSpec {
            algorithm: a,
            params: Params::default(),
            validation_split: 0.95,
        },
        "validation_split",
    );
    invalid_param(
        &TrainSpec {
            algorithm: a,
            params: Params::default(),
            validation_split: -0.1,
        },
        "validation_split",
    );
}

#[test]
fn params_json_rejects_unknown_and_bad_enums() {
    assert!(serde_json::from_str::<Params>(r#"{"learning_rat": 0.1}"#).is_err());
    assert!(serde_json::from_str::<Params>(r#"{"optimizer": "rmsprop"}"#).is_err());
    assert!(serde_json::from_str::<TrainSpec>(r#"{"algorithm": "svm"}"#).is_err());
    let s: TrainSpec = serde_json::from_str(
        r#"{"algorithm": "softmax_regression", "params": {"optimizer": "sgd", "l2": 0.01}}"#,
    )
    .unwrap();
    assert_eq!(
        (s.algorithm, s.params.optimizer, s.validation_split),
        (Algorithm::SoftmaxRegression, Some(Optimizer::Sgd), 0.2)
    );
}

#[test]
fn cancellation_returns_cancelled_promptly() {
    let data = dataset("iris", Task::Classification);
    let mut calls = 0;
    let mut cb = |_: &crate::train::EpochRecord, _: f64| {
        calls += 1;
        if calls == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let r = fit(
        &spec(Algorithm::SoftmaxRegression, Params::default()),
        &data,
        &mut cb,
    );
    assert!(matches!(r, Err(TrainError::Cancelled)));
    assert_eq!(calls, 3);
    let diabetes = dataset("diabetes", Task::Regression);
    let r = fit(
        &spec(Algorithm::LinearRegression, Params::default()),
        &diabetes,
        &mut |_, _| ControlFlow::Break(()),
    );
    assert!(matches!(r, Err(TrainError::Cancelled)));
}

#[test]
fn fit_reports_history_progress_and_validation() {
    let data = dataset("breast_cancer", Task::Classification);
    let mut last_progress = 0.0;
    let p = Params {
        epochs: Some(50),
        ..Default::default()
    };
    let f = fit(
        &spec(Algorithm::LogisticRegression, p),
        &data,
        &mut |_, pr| {
            assert!(pr > last_progress);
            last_progress = pr;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(last_progress, 1.0);
    assert_eq!(
        (f.epochs_run, f.history.len(), f.n_train + f.n_validation),
        (50, 50, 569)
    );
    assert_eq!(f.n_validation, 42 + 71); // round(0.2·212) + round(0.2·357)
    assert!(f.history.iter().all(|h| h.validation_loss.is_some()));
    assert!(f.history[49].train_loss < f.history[0].train_loss);
    assert!(f.validation_metrics.unwrap()["accuracy"] > 0.9);
    // Deterministic for the same seed.
    let p = Params {
        epochs: Some(50),
        ..Default::default()
    };
    let g = fit(&spec(Algorithm::LogisticRegression, p), &data, &mut cont()).unwrap();
    assert_eq!(f.history, g.history);
}

#[test]
fn tol_and_early_stopping_stop_before_max_epochs() {
    let data = dataset("iris", Task::Classification);
    let p = Params {
        tol: Some(1e-4),
        epochs: Some(5000),
        ..Default::default()
    };
    let f = fit(&spec(Algorithm::SoftmaxRegression, p), &data, &mut cont()).unwrap();
    assert!(f.epochs_run < 5000, "{}", f.epochs_run);
    let es = EarlyStopping {
        patience: 5,
        min_delta: 1e-3,
    };
    let p = Params {
        early_stopping: Some(es),
        epochs: Some(5000),
        ..Default::default()
    };
    let f = fit(&spec(Algorithm::SoftmaxRegression, p), &data, &mut cont()).unwrap();
    assert!(f.epochs_run < 5000, "{}", f.epochs_run);
    assert!(f.train_metrics["accuracy"] > 0.9);
}

#[test]
fn l1_produces_sparse_weights() {
    use crate::models::Artifact;
    let data = dataset("breast_cancer", Task::Classification);
    let p = Params {
        l1: Some(0.05),
        optimizer: Some(Optimizer::Gd),
        ..Default::default()
    };
    let f = fit(&spec(Algorithm::LogisticRegression, p), &data, &mut cont()).unwrap();
    let Artifact::LogisticRegression(m) = f.model.to_artifact() else {
        panic!()
    };
    assert!(
        m.weights.iter().filter(|w| **w == 0.0).count() >= 10,
        "{:?}",
        m.weights
    );
    assert!(f.train_metrics["accuracy"] > 0.9);
}

#[test]
fn task_mismatch_and_divergence_are_errors() {
    let iris = dataset("iris", Task::Classification);
    let diabetes = dataset("diabetes", Task::Regression);
    let err = |r: Result<_, TrainError>| match r {
        Err(e) if !e.is_internal() => e.to_string(),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("expected error"),
    };
    assert!(err(fit(
        &spec(Algorithm::LogisticRegression, Params::default()),
        &iris,
        &mut cont()
    ))
    .contains("exactly 2"));
    assert!(err(fit(
        &spec(Algorithm::LinearRegression, Params::default()),
        &iris,
        &mut cont()
    ))
    .contains("classes"));
    assert!(err(fit(
        &spec(Algorithm::SoftmaxRegression, Params::default()),
        &diabetes,
        &mut cont()
    ))
    .contains("class labels"));
    let p = Params {
        optimizer: Some(Optimizer::Gd),
        learning_rate: Some(1e6),
        ..Default::default()
    };
    let r = fit(
        &spec(Algorithm::LinearRegression, p),
        &diabetes,
        &mut cont(),
    );
    assert!(matches!(r, Err(TrainError::Diverged { .. })), "{r:?}");
}

#[test]
fn constant_and_duplicate_columns_train() {
    let csv = "a,b,c,target\n1,5,1,2\n2,5,2,4\n3,5,3,6.5\n4,5,4,8\n";
    let data = crate::train::dataset::parse_csv(csv, "target", None, Task::Regression).unwrap();
    let s = TrainSpec {
        algorithm: Algorithm::LinearRegression,
        params: Params::default(),
        validation_split: 0.0,
    };
    let f = fit(&s, &data, &mut cont()).unwrap();
    assert!(f.train_metrics["r2"] > 0.99);
}
