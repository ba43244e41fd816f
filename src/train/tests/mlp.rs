//! MLP quality on the reference splits (must match or beat logistic
//! regression's test accuracy), gradient correctness, determinism, artifacts.

use ndarray::{Array1, Array2};

use super::common::*;
use crate::models::mlp::Activation;
use crate::models::{Artifact, Task};
use crate::train::mlp::{init, Head, MlpObjective};
use crate::train::objective::{Features, RegLoss};
use crate::train::optim::Objective;
use crate::train::{Algorithm, Params, TrainError, TrainSpec};

fn mlp_params(hidden: Vec<usize>, act: Activation, l2: f64) -> Params {
    Params {
        hidden_layers: Some(hidden),
        activation: Some(act),
        l2: Some(l2),
        ..Params::default()
    }
}

/// Central finite differences agree with backprop for every head and activation.
#[test]
fn gradient_matches_finite_differences() {
    let x = Array2::from_shape_fn((7, 3), |(i, j)| ((i * 3 + j) as f64 * 0.37).sin());
    for (head, y) in [
        (
            Head::Classification,
            Array2::from_shape_fn((7, 3), |(i, j)| f64::from(i % 3 == j)),
        ),
        (
            Head::Regression(RegLoss::Mse),
            Array2::from_shape_fn((7, 1), |(i, _)| i as f64 * 0.3 - 1.0),
        ),
        (
            Head::Regression(RegLoss::Huber(0.5)),
            Array2::from_shape_fn((7, 1), |(i, _)| i as f64 * 0.3 - 1.0),
        ),
    ] {
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
            let sizes = vec![3, 5, 4, y.ncols()];
            let obj = MlpObjective {
                x: Features::Standardised(x.clone()),
                y: y.clone(),
                sizes: sizes.clone(),
                activation: act,
                head,
            };
            let theta: Array1<f64> = init(&sizes, act, 7) + 0.01;
            let (_, g) = obj.loss_grad(theta.view(), None).unwrap();
            let h = 1e-6;
            for i in 0..theta.len() {
                let mut p = theta.clone();
                p[i] += h;
                let mut m = theta.clone();
                m[i] -= h;
                let num = (obj.loss(p.view()).unwrap() - obj.loss(m.view()).unwrap()) / (2.0 * h);
                assert!(
                    (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                    "{head:?} {act:?} θ[{i}]: numeric {num} vs backprop {}",
                    g[i]
                );
            }
        }
    }
}

#[test]
fn mlp_classifier_beats_or_matches_logistic_on_iris_and_breast_cancer() {
    let r = reference();
    // l2 chosen on the training data's CV-free defaults: 1/n for iris, 0.03 for
    // the 30-feature breast_cancer (less regularised, it overfits to 0.956).
    for (ds, act, l2) in [
        ("iris", Activation::Tanh, l2_unit(&r, "iris")),
        ("breast_cancer", Activation::Relu, 0.03),
    ] {
        let logistic = ref_metric(&r, ds, "logistic_regression", "accuracy");
        let p = mlp_params(vec![32], act, l2);
        let (f, m) = fit_reference(ds, Task::Classification, Algorithm::MlpClassifier, p);
        println!(
            "{ds} mlp: {m:?} (logistic {logistic}), epochs {}",
            f.epochs_run
        );
        assert!(m["accuracy"] >= logistic - 1e-12, "{ds}: {}", m["accuracy"]);
        assert_eq!(f.model.family().as_str(), "mlp_classifier");
        // the learning curve carries the accuracy per epoch
        assert!(f.history.last().unwrap().train_metric.unwrap() > 0.9);
    }
}

#[test]
fn mlp_regressor_on_diabetes_and_two_hidden_layers() {
    let r = reference();
    let ols = ref_metric(&r, "diabetes", "linear_regression", "r2");
    for (hidden, act) in [
        (vec![16], Activation::Tanh),
        (vec![16, 8], Activation::Relu),
    ] {
        let p = Params {
            epochs: Some(100),
            ..mlp_params(hidden.clone(), act, 10.0 * l2_unit(&r, "diabetes"))
        };
        let (f, m) = fit_reference("diabetes", Task::Regression, Algorithm::MlpRegressor, p);
        println!("diabetes mlp {hidden:?} {act:?}: {m:?} (ols r2 {ols})");
        assert!(m["r2"] > ols - 0.05, "{hidden:?}: {}", m["r2"]);
        assert!(matches!(f.model.to_artifact(), Artifact::MlpRegressor(_)));
    }
}

/// Same seed → bit-identical weights; artifact round-trips through JSON and
/// predicts the same; a regressor artifact cannot smuggle a classifier.
#[test]
fn mlp_is_deterministic_and_round_trips() {
    let r = reference();
    let p = || mlp_params(vec![8, 4], Activation::Sigmoid, 0.0);
    let (a, _) = fit_reference("iris", Task::Classification, Algorithm::MlpClassifier, p());
    let (b, _) = fit_reference("iris", Task::Classification, Algorithm::MlpClassifier, p());
    let ja = serde_json::to_value(a.model.to_artifact()).unwrap();
    assert_eq!(ja, serde_json::to_value(b.model.to_artifact()).unwrap());
    let back: Artifact = serde_json::from_value(ja.clone()).unwrap();
    let m = back.into_model().unwrap();
    let data = dataset("iris", Task::Classification);
    assert_eq!(
        m.predict(data.x.view()).unwrap(),
        a.model.predict(data.x.view()).unwrap()
    );
    let mut forged = ja;
    forged["family"] = "mlp_regressor".into();
    let forged: Artifact = serde_json::from_value(forged).unwrap();
    assert!(forged.into_model().is_err());
    let _ = r;
}

#[test]
fn mlp_parameter_errors() {
    let check = |alg: Algorithm, p: serde_json::Value, needle: &str| {
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
    };
    use serde_json::json;
    check(
        Algorithm::MlpClassifier,
        json!({"hidden_layers": []}),
        "1 to 3",
    );
    check(
        Algorithm::MlpClassifier,
        json!({"hidden_layers": [4, 4, 4, 4]}),
        "1 to 3",
    );
    check(
        Algorithm::MlpRegressor,
        json!({"hidden_layers": [0]}),
        "units",
    );
    check(
        Algorithm::LinearRegression,
        json!({"activation": "relu"}),
        "only used by mlp",
    );
    check(
        Algorithm::MlpRegressor,
        json!({"loss": "cross_entropy"}),
        "for classifiers",
    );
    assert!(serde_json::from_value::<Params>(json!({"activation": "gelu"})).is_err());
    let ok = TrainSpec {
        algorithm: Algorithm::MlpClassifier,
        params: Params::default(),
        validation_split: 0.2,
    }
    .validate()
    .unwrap()
    .report();
    assert_eq!(
        (
            ok.hidden_layers,
            ok.activation,
            ok.batch_size,
            ok.epochs,
            ok.learning_rate
        ),
        (
            Some(vec![32]),
            Some(Activation::Relu),
            Some(32),
            Some(200),
            Some(0.01)
        )
    );
}

/// Over raw rows standardised as they are read, the network's loss, gradient and metric
/// are those over the rows' standardised copy, for either head: the same bits for a
/// mini-batch, equal to rounding over a full pass of several blocks.
#[test]
fn mlp_over_raw_rows_is_mlp_over_their_standardised_copy() {
    use crate::models::scaler::Scaler;
    use crate::train::objective::one_hot;
    let x = Array2::from_shape_fn((5000, 3), |(i, j)| {
        ((i * 7919 + j * 104_729) % 1009) as f64 / 13.0 + j as f64 * 40.0
    });
    let rows: Vec<usize> = (0..5000).rev().filter(|i| i % 5 != 0).collect();
    let scaler = Scaler::fit_rows(x.view(), &rows);
    let labels: Array1<f64> = rows.iter().map(|&r| (r % 3) as f64).collect();
    let values = labels.mapv(|c| c * 0.7 - 0.5).insert_axis(ndarray::Axis(1));
    let heads = [
        (Head::Classification, one_hot(labels.view(), 3)),
        (Head::Regression(RegLoss::Huber(0.5)), values),
    ];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
    for (head, y) in heads {
        let sizes = vec![3, 6, y.ncols()];
        let objective = |x| MlpObjective {
            x,
            y: y.clone(),
            sizes: sizes.clone(),
            activation: Activation::Tanh,
            head,
        };
        let raw = objective(Features::raw(x.view(), &rows, scaler.clone()).unwrap());
        let copy = objective(Features::Standardised(
            scaler.transform_rows(x.view(), &rows),
        ));
        let theta = init(&sizes, Activation::Tanh, 3);
        let (la, ga) = raw.loss_grad(theta.view(), None).unwrap();
        let (lb, gb) = copy.loss_grad(theta.view(), None).unwrap();
        assert!(close(la, lb) && ga.iter().zip(&gb).all(|(a, b)| close(*a, *b)));
        let (ea, eb) = (
            raw.evaluate(theta.view()).unwrap(),
            copy.evaluate(theta.view()).unwrap(),
        );
        assert!(
            close(ea.0, eb.0) && close(ea.1.unwrap(), eb.1.unwrap()),
            "{ea:?} {eb:?}"
        );
        let batch: Vec<usize> = (0..200).map(|i| (i * 13) % 4000).collect();
        let (a, b) = (
            raw.loss_grad(theta.view(), Some(&batch)).unwrap(),
            copy.loss_grad(theta.view(), Some(&batch)).unwrap(),
        );
        assert!(a.0.to_bits() == b.0.to_bits() && a.1 == b.1);
    }
}
