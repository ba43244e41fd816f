//! Quality against scikit-learn's results on the fixed reference splits.

use super::common::*;
use crate::models::Task;
use crate::train::{Algorithm, Optimizer, Params, Solver};

#[test]
fn diabetes_closed_form_matches_linear_regression_and_ridge() {
    let r = reference();
    let (_, m) = fit_reference(
        "diabetes",
        Task::Regression,
        Algorithm::LinearRegression,
        Params::default(),
    );
    let want = ref_metric(&r, "diabetes", "linear_regression", "r2");
    println!("ols r2 {} ref {want}", m["r2"]);
    assert!((m["r2"] - want).abs() < 1e-6);
    assert!((m["mse"] - ref_metric(&r, "diabetes", "linear_regression", "mse")).abs() < 1e-4);
    let p = Params {
        l2: Some(l2_unit(&r, "diabetes")),
        ..Params::default()
    };
    let (_, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
    let want = ref_metric(&r, "diabetes", "ridge", "r2");
    println!("ridge r2 {} ref {want}", m["r2"]);
    assert!((m["r2"] - want).abs() < 1e-4);
}

#[test]
fn diabetes_gradient_descent_close_to_reference() {
    let r = reference();
    let want = ref_metric(&r, "diabetes", "linear_regression", "r2");
    for opt in [
        Optimizer::Adam,
        Optimizer::Gd,
        Optimizer::Momentum,
        Optimizer::Minibatch,
        Optimizer::Sgd,
    ] {
        let p = Params {
            solver: Some(Solver::Gd),
            optimizer: Some(opt),
            ..Params::default()
        };
        let (f, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
        println!(
            "diabetes {opt:?}: r2 {} (ref {want}), epochs {}",
            m["r2"], f.epochs_run
        );
        assert!((m["r2"] - want).abs() < 0.02, "{opt:?}");
    }
}

#[test]
fn breast_cancer_logistic_matches_reference() {
    let r = reference();
    let want = ref_metric(&r, "breast_cancer", "logistic_regression", "accuracy");
    let p = Params {
        l2: Some(l2_unit(&r, "breast_cancer")),
        ..Params::default()
    };
    let (f, m) = fit_reference(
        "breast_cancer",
        Task::Classification,
        Algorithm::LogisticRegression,
        p,
    );
    println!(
        "breast_cancer logistic: {m:?} ref acc {want}; epochs {}",
        f.epochs_run
    );
    assert!((m["accuracy"] - want).abs() <= 0.02 + 1e-12);
}

#[test]
fn breast_cancer_every_optimizer_reaches_quality() {
    let r = reference();
    for opt in [
        Optimizer::Gd,
        Optimizer::Sgd,
        Optimizer::Minibatch,
        Optimizer::Momentum,
        Optimizer::Adam,
    ] {
        let p = Params {
            optimizer: Some(opt),
            l2: Some(l2_unit(&r, "breast_cancer")),
            ..Params::default()
        };
        let (f, m) = fit_reference(
            "breast_cancer",
            Task::Classification,
            Algorithm::LogisticRegression,
            p,
        );
        println!(
            "breast_cancer {opt:?}: acc {} f1 {} final loss {}",
            m["accuracy"],
            m["f1"],
            f.history.last().unwrap().train_loss
        );
        assert!(m["accuracy"] >= 0.95, "{opt:?}");
    }
}

#[test]
fn iris_softmax_matches_reference() {
    let r = reference();
    let want = ref_metric(&r, "iris", "logistic_regression", "accuracy");
    let p = Params {
        l2: Some(l2_unit(&r, "iris")),
        ..Params::default()
    };
    let (f, m) = fit_reference(
        "iris",
        Task::Classification,
        Algorithm::SoftmaxRegression,
        p,
    );
    println!(
        "iris softmax: {m:?} ref acc {want}; final loss {}",
        f.history.last().unwrap().train_loss
    );
    assert!((m["accuracy"] - want).abs() <= 0.02 + 1e-12);
}

/// Converged weights should be close to scikit-learn's lbfgs solution
/// (which itself stops at tol 1e-4), and test predictions identical.
#[test]
fn logistic_and_softmax_weights_close_to_sklearn() {
    use crate::models::Artifact;
    let r = reference();
    for (ds, alg) in [
        ("breast_cancer", Algorithm::LogisticRegression),
        ("iris", Algorithm::SoftmaxRegression),
    ] {
        let p = Params {
            l2: Some(l2_unit(&r, ds)),
            ..Params::default()
        };
        let (f, _) = fit_reference(ds, Task::Classification, alg, p);
        let fitted = &r["datasets"][ds]["models"]["logistic_regression"]["fitted"];
        let want: Vec<f64> = fitted["coef"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        let got: Vec<f64> = match f.model.to_artifact() {
            Artifact::LogisticRegression(m) => m.weights,
            Artifact::SoftmaxRegression(m) => m.weights.concat(),
            other => panic!("unexpected {:?}", other.family()),
        };
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("{ds}: max |coef - sklearn| = {max_diff}");
        assert!(max_diff < 0.05, "{ds}: {max_diff}");
        let test = indices(&r, ds, "test_indices");
        let data = dataset(ds, Task::Classification).select(&test).unwrap();
        let pred = f.model.predict(data.x.view()).unwrap().predictions;
        let want_pred: Vec<f64> = r["datasets"][ds]["models"]["logistic_regression"]
            ["test_predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(pred, want_pred, "{ds}");
    }
}

/// The grid searches' refitted best models: Ridge(alpha=10), LogisticRegression(C=0.1).
#[test]
fn grid_search_refits_match_reference() {
    let r = reference();
    let gs = |ds: &str, m: &str| {
        r["datasets"][ds]["grid_search"]["refit_best_test_metrics"][m]
            .as_f64()
            .unwrap()
    };
    let p = Params {
        l2: Some(10.0 * l2_unit(&r, "diabetes")),
        ..Params::default()
    };
    let (_, m) = fit_reference("diabetes", Task::Regression, Algorithm::LinearRegression, p);
    assert!((m["r2"] - gs("diabetes", "r2")).abs() < 1e-6, "{m:?}");
    let p = Params {
        l2: Some(10.0 * l2_unit(&r, "breast_cancer")),
        ..Params::default()
    };
    let (_, m) = fit_reference(
        "breast_cancer",
        Task::Classification,
        Algorithm::LogisticRegression,
        p,
    );
    assert!(
        (m["accuracy"] - gs("breast_cancer", "accuracy")).abs() < 1e-9,
        "{m:?}"
    );
}
