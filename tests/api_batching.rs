//! Adaptive batching through the HTTP stack: concurrent requests for an MLP are answered
//! by one model call, each gets exactly its own rows' answer, and families left out of
//! `[batching]` are never batched.

mod common;

use common::{app_with, config, fixture, read_csv, sample, TestApp};
use futures_util::future::join_all;
use serde_json::{json, Value};

const ROWS: usize = 8;

fn batched_config(dir: &std::path::Path) -> modeld::Config {
    let mut cfg = config(dir);
    // The batch closes as soon as ROWS rows are in, so the long delay is never waited
    // out unless a request is lost, which the row count below would then show.
    cfg.batching.max_batch_rows = ROWS;
    cfg.batching.max_delay_us = 1_000_000;
    cfg
}

async fn train_mlp(app: &TestApp) {
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let job = app
        .train(
            "flowers",
            json!({"algorithm": "mlp_classifier",
                   "data": {"csv": csv, "target": "target"},
                   "params": {"hidden_layers": [8], "epochs": 50, "seed": 3}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
}

fn iris_rows() -> Vec<Vec<f64>> {
    let csv = read_csv(&fixture("data/iris.csv"));
    // Spread over the three classes so the answers differ from row to row.
    csv.rows
        .iter()
        .step_by(150 / ROWS)
        .take(ROWS)
        .cloned()
        .collect()
}

async fn predict_each_concurrently(app: &TestApp, rows: &[Vec<f64>]) -> Vec<Value> {
    let calls = rows.iter().map(|r| {
        app.post(
            "/v1/models/flowers/predict",
            json!({"instances": [r.clone()]}),
        )
    });
    join_all(calls)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        })
        .collect()
}

#[tokio::test]
async fn concurrent_requests_share_one_model_call_and_get_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(batched_config(dir.path())).await;
    train_mlp(&app).await;
    let rows = iris_rows();

    let answers = predict_each_concurrently(&app, &rows).await;

    // Reference: the same rows in one request to a server with batching off.
    let mut plain = config(dir.path());
    plain.batching.families.clear();
    let reference = app_with(plain).await;
    let all = reference
        .post("/v1/models/flowers/predict", json!({"instances": rows}))
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["predictions"][0], all.body["predictions"][i], "row {i}");
        assert_eq!(
            a["probabilities"][0], all.body["probabilities"][i],
            "row {i}"
        );
        assert_eq!(a["probabilities"].as_array().unwrap().len(), 1);
    }
    let distinct: std::collections::HashSet<String> = answers
        .iter()
        .map(|a| a["predictions"][0].to_string())
        .collect();
    assert!(distinct.len() > 1, "rows should not all get one answer");

    let text = app.metrics().await;
    let labels = [("model", "flowers"), ("version", "1")];
    assert_eq!(
        sample(&text, "modeld_batch_rows_count", &labels),
        Some(1.0),
        "{ROWS} concurrent one-row requests make one model call"
    );
    assert_eq!(
        sample(&text, "modeld_batch_rows_sum", &labels),
        Some(ROWS as f64)
    );
    // Every request is still counted as its own prediction.
    assert_eq!(
        sample(&text, "modeld_predictions_total", &labels),
        Some(ROWS as f64)
    );
    assert!(reference
        .metrics()
        .await
        .lines()
        .all(|l| !l.starts_with("modeld_batch_rows")));
}

#[tokio::test]
async fn a_request_larger_than_a_batch_runs_alone_and_linear_models_are_not_batched() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(batched_config(dir.path())).await;
    train_mlp(&app).await;
    common::train_iris(&app, "linear", None).await;
    let csv = read_csv(&fixture("data/iris.csv"));
    let big: Vec<Vec<f64>> = csv.rows.iter().take(ROWS * 2 + 1).cloned().collect();

    let r = app
        .post("/v1/models/flowers/predict", json!({"instances": big}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["predictions"].as_array().unwrap().len(), big.len());
    let r = app
        .post("/v1/models/linear/predict", json!({"instances": [big[0]]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let text = app.metrics().await;
    let flowers = [("model", "flowers"), ("version", "1")];
    assert_eq!(
        sample(&text, "modeld_batch_rows_count", &flowers),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "modeld_batch_rows_count", &[("model", "linear")]),
        None
    );
}
