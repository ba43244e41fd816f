//! Learning-rate schedules, Nesterov, regression losses and elastic net on
//! real data (diabetes, breast_cancer reference splits).

use super::common::*;
use crate::models::Task;
use crate::train::schedule::{Schedule, Scheduler};
use crate::train::{Algorithm, Loss, Optimizer, Params, TrainError, TrainSpec};

fn parse(v: serde_json::Value) -> Schedule {
    serde_json::from_value(v).unwrap()
}

#[test]
fn closed_form_rates() {
    let rates = |s: Schedule| -> Vec<f64> {
        let sch = Scheduler::new(s, 1.0);
        (1..=6).map(|e| sch.rate(e)).collect()
    };
    assert_eq!(rates(Schedule::Constant), vec![1.0; 6]);
    assert_eq!(
        rates(parse(
            serde_json::json!({"kind": "step", "step_size": 2, "gamma": 0.1})
        ))
        .iter()
        .map(|r| (r * 1000.0).round() / 1000.0)
        .collect::<Vec<_>>(),
        vec![1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    );
    let e = rates(parse(
        serde_json::json!({"kind": "exponential", "gamma": 0.5}),
    ));
    assert_eq!(e, vec![1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]);
    let i = rates(parse(serde_json::json!({"kind": "inverse_scaling"})));
    assert!((i[3] - 0.5).abs() < 1e-12, "1/sqrt(4) = 0.5, got {}", i[3]);
    let w = rates(parse(
        serde_json::json!({"kind": "warmup", "warmup_epochs": 3,
        "then": {"kind": "exponential", "gamma": 0.5}}),
    ));
    assert_eq!(w, vec![0.25, 0.5, 0.75, 1.0, 0.5, 0.25]);
}

#[test]
fn plateau_reduces_after_patience_and_respects_min_lr() {
    let mut s = Scheduler::new(
        parse(serde_json::json!({"kind": "plateau", "factor": 0.5, "patience": 2, "min_lr": 0.3})),
        1.0,
    );
    let mut seen = Vec::new();
    for loss in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5] {
        seen.push(s.rate(seen.len() + 1));
        s.observe(loss);
    }
    // improvement at epochs 1-2, then 3 stalled epochs (> patience 2) halve the rate.
    assert_eq!(seen, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3]);
}

#[test]
fn bad_schedules_and_losses_are_rejected() {
    let check = |alg: Algorithm, p: serde_json::Value, needle: &str| {
        let params: Params = serde_json::from_value(p).unwrap();
        let spec = TrainSpec {
            algorithm: alg,
            params,
            validation_split: 0.2,
        };
        match spec.validate() {
            Err(e @ TrainError::InvalidParam { .. }) => {
                let m = e.to_string();
                assert!(m.contains(needle), "{needle}: {m}")
            }
            other => panic!("{needle}: expected InvalidParam, got {other:?}"),
        }
    };
    use serde_json::json;
    let lr = Algorithm::LinearRegression;
    check(
        lr,
        json!({"schedule": {"kind": "step", "step_size": 0}}),
        "step_size",
    );
    check(
        lr,
        json!({"schedule": {"kind": "exponential", "gamma": 1.5}}),
        "gamma",
    );
    check(
        lr,
        json!({"schedule": {"kind": "plateau", "factor": 1.0}}),
        "factor",
    );
    check(
        lr,
        json!({"schedule": {"kind": "warmup", "then": {"kind": "plateau"}}}),
        "then",
    );
    check(lr, json!({"loss": "log_loss"}), "for classifiers");
    check(
        lr,
        json!({"loss": "huber", "huber_delta": -1.0}),
        "huber_delta",
    );
    check(
        lr,
        json!({"loss": "mae", "huber_delta": 1.0}),
        "only used with loss huber",
    );
    check(lr, json!({"solver": "closed_form", "loss": "mae"}), "loss");
    check(
        Algorithm::LogisticRegression,
        json!({"loss": "mse"}),
        "for regression",
    );
    check(
        Algorithm::SoftmaxRegression,
        json!({"optimizer": "adam", "nesterov": true}),
        "nesterov",
    );
    assert!(serde_json::from_value::<Params>(json!({"schedule": {"kind": "cosine"}})).is_err());
    // both names are accepted for every classifier
    for (alg, loss) in [
        (Algorithm::LogisticRegression, Loss::CrossEntropy),
        (Algorithm::SoftmaxRegression, Loss::LogLoss),
    ] {
        let spec = TrainSpec {
            algorithm: alg,
            params: Params {
                loss: Some(loss),
                ..Params::default()
            },
            validation_split: 0.2,
        };
        assert_eq!(spec.validate().unwrap().report().loss, loss);
    }
}

/// Every schedule (and Nesterov) trains diabetes to within 0.02 R² of OLS.
#[test]
fn every_schedule_reaches_reference_quality() {
    let r = reference();
    let want = ref_metric(&r, "diabetes", "linear_regression", "r2");
    use serde_json::json;
    let cases = [
        json!({"optimizer": "gd", "schedule": {"kind": "constant"}}),
        json!({"optimizer": "gd", "schedule": {"kind": "step", "step_size": 200, "gamma": 0.5}}),
        json!({"optimizer": "momentum", "nesterov": true, "schedule": {"kind": "exponential", "gamma": 0.999}}),
        json!({"optimizer": "minibatch", "schedule": {"kind": "inverse_scaling", "power_t": 0.25}}),
        json!({"optimizer": "adam", "schedule": {"kind": "warmup", "warmup_epochs": 20}}),
        json!({"optimizer": "adam", "learning_rate": 0.2, "schedule": {"kind": "plateau", "patience": 3}}),
    ];
    for c in cases {
        let p: Params = serde_json::from_value(c.clone()).unwrap();
        let (f, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
        println!(
            "{c}: r2 {} (ref {want}) last lr {}",
            m["r2"],
            f.history.last().unwrap().learning_rate
        );
        assert!((m["r2"] - want).abs() < 0.02, "{c}: {}", m["r2"]);
        assert!(f.history.iter().all(|h| h.train_metric.is_some()));
    }
    // plateau with a too-large rate must actually have reduced it
    let p: Params = serde_json::from_value(
        json!({"optimizer": "adam", "learning_rate": 0.2, "schedule": {"kind": "plateau", "patience": 3}}),
    )
    .unwrap();
    let (f, _) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
    assert!(f.history.last().unwrap().learning_rate < 0.2);
}

/// MAE and Huber fit diabetes close to OLS quality; MAE beats OLS on MAE-train.
#[test]
fn robust_losses_on_diabetes() {
    let r = reference();
    let want = ref_metric(&r, "diabetes", "linear_regression", "r2");
    let ols_train_mae = r["datasets"]["diabetes"]["models"]["linear_regression"]["train_metrics"]
        ["mae"]
        .as_f64()
        .unwrap();
    for (loss, delta) in [(Loss::Mae, None), (Loss::Huber, Some(30.0))] {
        let p = Params {
            optimizer: Some(Optimizer::Adam),
            loss: Some(loss),
            huber_delta: delta,
            epochs: Some(3000),
            ..Params::default()
        };
        let (f, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
        println!("{loss:?}: test {m:?}, train mae {}", f.train_metrics["mae"]);
        // MAE/Huber minimise a different loss than R² rewards: allow 0.04.
        assert!((m["r2"] - want).abs() < 0.04, "{loss:?}");
        if loss == Loss::Mae {
            assert!(f.train_metrics["mae"] <= ols_train_mae + 1e-6);
        }
    }
}

/// Elastic net (l1 + l2 together) zeroes weak coefficients and keeps quality.
#[test]
fn elastic_net_sparsifies() {
    let r = reference();
    let want = ref_metric(&r, "diabetes", "linear_regression", "r2");
    let p = Params {
        optimizer: Some(Optimizer::Gd),
        l1: Some(2.0),
        l2: Some(0.01),
        ..Params::default()
    };
    let (f, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
    let w = match f.model.to_artifact() {
        crate::models::Artifact::LinearRegression(m) => m.weights,
        _ => unreachable!(),
    };
    let zeros = w.iter().filter(|v| **v == 0.0).count();
    println!("elastic net r2 {} zeros {zeros} w {w:?}", m["r2"]);
    assert!(zeros >= 1, "{w:?}");
    assert!((m["r2"] - want).abs() < 0.03);
}

/// Newton's method reproduces scikit-learn's lbfgs logistic regression (C = 1) on
/// breast_cancer: the same test predictions in a handful of iterations.
#[test]
fn newton_solver_matches_reference_logistic() {
    let r = reference();
    let p: Params = serde_json::from_value(serde_json::json!({
        "solver": "newton", "l2": l2_unit(&r, "breast_cancer")
    }))
    .unwrap();
    let (f, m) = fit_reference(
        "breast_cancer",
        Task::Classification,
        Algorithm::LogisticRegression,
        p,
    );
    let want = ref_metric(&r, "breast_cancer", "logistic_regression", "accuracy");
    println!("newton: {m:?} in {} iterations", f.epochs_run);
    assert!((m["accuracy"] - want).abs() < 1e-12);
    assert!(f.epochs_run < 30, "{}", f.epochs_run);
    let test = indices(&r, "breast_cancer", "test_indices");
    let data = dataset("breast_cancer", Task::Classification)
        .select(&test)
        .unwrap();
    let pred = f.model.predict(data.x.view()).unwrap().predictions;
    let want_pred: Vec<f64> = r["datasets"]["breast_cancer"]["models"]["logistic_regression"]
        ["test_predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(pred, want_pred);
    // only for logistic regression, without l1 or optimiser settings
    for (alg, p, needle) in [
        (
            Algorithm::SoftmaxRegression,
            serde_json::json!({"solver": "newton"}),
            "only available for logistic_regression",
        ),
        (
            Algorithm::LinearRegression,
            serde_json::json!({"solver": "newton"}),
            "only available for logistic_regression",
        ),
        (
            Algorithm::LogisticRegression,
            serde_json::json!({"solver": "newton", "l1": 0.1}),
            "l1",
        ),
        (
            Algorithm::LogisticRegression,
            serde_json::json!({"solver": "newton", "optimizer": "adam"}),
            "optimizer is not used",
        ),
    ] {
        let spec = TrainSpec {
            algorithm: alg,
            params: serde_json::from_value(p).unwrap(),
            validation_split: 0.2,
        };
        match spec.validate() {
            Err(e @ TrainError::InvalidParam { .. }) => {
                let m = e.to_string();
                assert!(m.contains(needle), "{needle}: {m}")
            }
            other => panic!("{needle}: {other:?}"),
        }
    }
}
