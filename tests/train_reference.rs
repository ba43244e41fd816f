//! Training quality against scikit-learn's reference numbers: train through the API on
//! exactly the reference training rows, predict the test rows, compare test metrics.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

async fn fit_and_predict(
    dataset: &str,
    algorithm: &str,
    params: Value,
) -> (Vec<f64>, Vec<f64>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = read_csv(&fixture(&format!("data/{dataset}.csv")));
    let reference = reference();
    let split = &reference["datasets"][dataset]["split"];
    let train = indices(&split["train_indices"]);
    let test = indices(&split["test_indices"]);
    let job = app
        .train(
            "m",
            json!({"algorithm": algorithm, "data": rows_data(&csv, &train),
                   "params": params, "validation_split": 0.0}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let rows: Vec<Vec<f64>> = test.iter().map(|&i| csv.rows[i].clone()).collect();
    let p = app
        .post("/v1/models/m/predict", json!({"instances": rows}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let predicted: Vec<f64> = p.body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let truth: Vec<f64> = test.iter().map(|&i| csv.targets[i]).collect();
    (
        predicted,
        truth,
        reference["datasets"][dataset]["models"].clone(),
    )
}

fn r2(y: &[f64], p: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

fn accuracy(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

#[tokio::test]
async fn linear_regression_on_diabetes_matches_scikit_learn() {
    let (p, y, models) = fit_and_predict("diabetes", "linear_regression", json!({})).await;
    let want = models["linear_regression"]["test_metrics"]["r2"]
        .as_f64()
        .unwrap();
    let got = r2(&y, &p);
    assert!((got - want).abs() < 0.02, "R² {got} vs scikit-learn {want}");
    // Closed form is exact: the predictions themselves agree.
    let reference: Vec<f64> = models["linear_regression"]["test_predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (a, b) in p.iter().zip(&reference) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[tokio::test]
async fn gradient_descent_linear_regression_on_diabetes_is_close() {
    let (p, y, models) = fit_and_predict(
        "diabetes",
        "linear_regression",
        json!({"solver": "gd", "optimizer": "gd", "epochs": 3000, "learning_rate": 0.1}),
    )
    .await;
    let want = models["linear_regression"]["test_metrics"]["r2"]
        .as_f64()
        .unwrap();
    let got = r2(&y, &p);
    assert!((got - want).abs() < 0.02, "R² {got} vs scikit-learn {want}");
}

#[tokio::test]
async fn logistic_regression_on_breast_cancer_matches_scikit_learn() {
    // scikit-learn's C = 1 is l2 = 1 / n_train in modeld's mean-loss objective.
    let (p, y, models) = fit_and_predict(
        "breast_cancer",
        "logistic_regression",
        json!({"l2": 1.0 / 455.0}),
    )
    .await;
    let want = models["logistic_regression"]["test_metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    let got = accuracy(&y, &p);
    assert!(
        (got - want).abs() < 0.02,
        "accuracy {got} vs scikit-learn {want}"
    );
}

#[tokio::test]
async fn softmax_regression_on_iris_matches_scikit_learn() {
    let (p, y, models) =
        fit_and_predict("iris", "softmax_regression", json!({"l2": 1.0 / 120.0})).await;
    let want = models["logistic_regression"]["test_metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    let got = accuracy(&y, &p);
    assert!(
        (got - want).abs() < 0.02,
        "accuracy {got} vs scikit-learn {want}"
    );
}
