//! Feedback → online metrics, the sliding window, and drift, with hand-computed values.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[tokio::test]
async fn online_classification_metrics_equal_the_hand_computed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    let csv = read_csv(&fixture("data/iris.csv"));
    // Rows 0, 60, 120, 130: setosa, versicolor, virginica, virginica.
    let rows: Vec<Vec<f64>> = [0, 60, 120, 130]
        .iter()
        .map(|&i| csv.rows[i].clone())
        .collect();
    let p = app
        .post("/v1/models/iris/predict", json!({"instances": rows}))
        .await;
    let predicted: Vec<u64> = p.body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let id = p.body["request_id"].as_str().unwrap().to_string();
    // Ground truth that disagrees with the model on one row, given as labels and indices.
    let mut truth: Vec<u64> = predicted.clone();
    truth[1] = (truth[1] + 1) % 3;
    let actual: Vec<Value> = truth
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i % 2 == 0 {
                json!(t)
            } else {
                json!(["setosa", "versicolor", "virginica"][*t as usize])
            }
        })
        .collect();
    let r = app
        .post(
            "/v1/models/iris/feedback",
            json!({"request_id": id, "actual": actual}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["recorded"], 4);
    assert_eq!(f(&r.body["online"]["accuracy"]), 0.75);

    // Hand-computed macro precision/recall/F1 over the 3 classes.
    let (mut tp, mut fp, mut fn_) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    for (p, t) in predicted.iter().zip(&truth) {
        if p == t {
            tp[*p as usize] += 1.0;
        } else {
            fp[*p as usize] += 1.0;
            fn_[*t as usize] += 1.0;
        }
    }
    let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    let prec: Vec<f64> = (0..3).map(|c| div(tp[c], tp[c] + fp[c])).collect();
    let rec: Vec<f64> = (0..3).map(|c| div(tp[c], tp[c] + fn_[c])).collect();
    let f1: f64 = (0..3)
        .map(|c| div(2.0 * prec[c] * rec[c], prec[c] + rec[c]))
        .sum::<f64>()
        / 3.0;
    let online = &r.body["online"];
    assert!((f(&online["precision"]) - prec.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    assert!((f(&online["recall"]) - rec.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    assert!((f(&online["f1"]) - f1).abs() < 1e-12);

    // The same numbers reach /metrics and the monitoring JSON.
    let text = app.metrics().await;
    let labels = [("model", "iris"), ("version", "1"), ("split", "online")];
    assert_eq!(sample(&text, "modeld_model_accuracy", &labels), Some(0.75));
    assert!((sample(&text, "modeld_model_f1", &labels).unwrap() - f1).abs() < 1e-12);
    assert_eq!(
        sample(&text, "modeld_feedback_total", &[("model", "iris")]),
        Some(4.0)
    );
    let m = app.get("/v1/models/iris/monitoring").await;
    assert_eq!(f(&m.body["versions"][0]["online"]["accuracy"]), 0.75);
    assert_eq!(m.body["prediction_log"]["rows"], 4);

    // Rejected feedback records nothing: unknown id 404, repeat 409, count 422, type 422.
    let bad = [
        (
            json!({"request_id": "nope", "actual": [0]}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"request_id": id, "actual": [0, 0, 0, 0]}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"instances": [rows[0]], "actual": [0, 1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"instances": [rows[0]], "actual": ["tulip"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"instances": [rows[0]], "actual": [7]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"instances": [rows[0]], "actual": [0.5]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"actual": [0]}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, status) in bad {
        let r = app.post("/v1/models/iris/feedback", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    let m = app.get("/v1/models/iris/monitoring").await;
    assert_eq!(m.body["versions"][0]["window_rows"], 4);
    assert_eq!(m.body["versions"][0]["feedback_rows"], 4);
}

#[tokio::test]
async fn online_regression_metrics_and_the_sliding_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.monitoring.feedback_window = 4;
    let app = app_with(cfg).await;
    let csv = read_csv(&fixture("data/diabetes.csv"));
    let all: Vec<usize> = (0..csv.rows.len()).collect();
    let job = app
        .train(
            "d",
            json!({"algorithm": "linear_regression", "data": rows_data(&csv, &all)}),
        )
        .await;
    assert_eq!(job["state"], "succeeded");

    // Six rows with feedback given again as instances; the window keeps the last four.
    let rows: Vec<Vec<f64>> = (0..6).map(|i| csv.rows[i].clone()).collect();
    let p = app
        .post("/v1/models/d/predict", json!({"instances": rows}))
        .await;
    let pred: Vec<f64> = p.body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    let truth: Vec<f64> = (0..6).map(|i| csv.targets[i]).collect();
    let r = app
        .post(
            "/v1/models/d/feedback",
            json!({"instances": rows, "actual": truth}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["window_rows"], 4);
    let mse = (2..6).map(|i| (pred[i] - truth[i]).powi(2)).sum::<f64>() / 4.0;
    let mae = (2..6).map(|i| (pred[i] - truth[i]).abs()).sum::<f64>() / 4.0;
    assert!((f(&r.body["online"]["mse"]) - mse).abs() < 1e-9 * mse);
    assert!((f(&r.body["online"]["mae"]) - mae).abs() < 1e-9 * mae);
    let text = app.metrics().await;
    let got = sample(
        &text,
        "modeld_model_mse",
        &[("model", "d"), ("split", "online")],
    )
    .unwrap();
    assert!((got - mse).abs() < 1e-9 * mse);
}

#[tokio::test]
async fn drift_is_zero_for_the_training_distribution_and_large_when_shifted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = read_csv(&fixture("data/diabetes.csv"));
    let all: Vec<usize> = (0..csv.rows.len()).collect();
    let job = app
        .train(
            "d",
            json!({"algorithm": "linear_regression", "data": rows_data(&csv, &all)}),
        )
        .await;
    assert_eq!(job["state"], "succeeded");

    let p = app
        .post("/v1/models/d/predict", json!({"instances": csv.rows}))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let m = app.get("/v1/models/d/monitoring").await;
    let drift = &m.body["versions"][0]["drift"];
    assert_eq!(drift["window_rows"], 442);
    assert_eq!(drift["features"].as_array().unwrap().len(), 10);
    for feat in drift["features"].as_array().unwrap() {
        assert_eq!(f(&feat["psi"]), 0.0, "{feat}");
    }
    assert_eq!(drift["drifted"], false);

    // A second model version sees the same data shifted by +0.1 on bmi only.
    let job = app
        .train(
            "d",
            json!({"algorithm": "linear_regression", "data": rows_data(&csv, &all)}),
        )
        .await;
    let v2 = job["version"].as_u64().unwrap();
    let shifted: Vec<Vec<f64>> = csv
        .rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r[2] += 0.1;
            r
        })
        .collect();
    let p = app
        .post(
            &format!("/v1/models/d/predict?version={v2}"),
            json!({"instances": shifted}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let m = app.get("/v1/models/d/monitoring").await;
    let drift = &m.body["versions"][1]["drift"];
    let bmi = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["feature"] == "bmi")
        .unwrap();
    assert!(f(&bmi["psi"]) > 1.0, "{bmi}");
    assert_eq!(bmi["drifted"], true);
    let age = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["feature"] == "age")
        .unwrap();
    assert_eq!(f(&age["psi"]), 0.0);
    let text = app.metrics().await;
    let v = v2.to_string();
    let exported = sample(
        &text,
        "modeld_feature_drift_psi",
        &[("model", "d"), ("version", &v), ("feature", "bmi")],
    )
    .unwrap();
    assert_eq!(exported, f(&bmi["psi"]));
}
