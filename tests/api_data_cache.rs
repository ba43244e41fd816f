//! Parse once: a second training, and a tune, on the same CSV file or stored dataset
//! reuse its parsed copy (`modeld_training_data_loads_total{outcome="hit"}`) and train
//! exactly the same model; a rewritten file or a replaced dataset is parsed again; a cache
//! of size 0 parses every time.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app, app_with, config, prices_csv as csv, sample, TestApp};
use serde_json::{json, Value};

/// (hit, miss) counts of `modeld_training_data_loads_total`.
async fn loads(app: &TestApp) -> (f64, f64) {
    let [hit, miss, _] = outcomes(app).await;
    (hit, miss)
}

/// hit, miss and uncached counts.
async fn outcomes(app: &TestApp) -> [f64; 3] {
    let text = app.metrics().await;
    ["hit", "miss", "uncached"].map(|outcome| {
        sample(
            &text,
            "modeld_training_data_loads_total",
            &[("outcome", outcome)],
        )
        .unwrap_or(-1.0)
    })
}

fn body(data: Value) -> Value {
    json!({"algorithm": "linear_regression", "data": data})
}

async fn trained_weights(app: &TestApp, model: &str, data: Value) -> Value {
    let job = app.train(model, body(data)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["metrics"].clone()
}

#[tokio::test]
async fn a_file_is_parsed_once_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), csv(500, 3.0)).unwrap();
    let app = app(dir.path()).await;
    let data = json!({"path": "prices.csv", "target": "y"});
    assert_eq!(loads(&app).await, (0.0, 0.0));

    let first = trained_weights(&app, "prices", data.clone()).await;
    assert_eq!(loads(&app).await, (0.0, 1.0));
    let second = trained_weights(&app, "prices", data.clone()).await;
    assert_eq!(
        loads(&app).await,
        (1.0, 1.0),
        "the second training reused the parse"
    );
    assert_eq!(first, second, "the same data trains the same model");
    let bytes = sample(
        &app.metrics().await,
        "modeld_training_data_cache_bytes",
        &[],
    )
    .unwrap();
    // 500 rows × (2 features + 1 target) × 8 bytes, plus the names.
    assert_eq!(bytes, (500 * 3 * 8 + 2) as f64);

    // A tune on the same file: one load for all its folds, from the cache.
    let r = app
        .post(
            "/v1/models/prices/tune",
            json!({"algorithm": "linear_regression", "data": data,
                   "params": {"solver": "gd", "epochs": 3}, "param_grid": {"l2": [0.0, 0.1]},
                   "folds": 3, "scoring": "r2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let job = app.wait_job(r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(loads(&app).await, (2.0, 1.0));

    // Rewritten (another size): parsed again, and the new rows are what trains.
    std::fs::write(dir.path().join("prices.csv"), csv(400, -2.0)).unwrap();
    let third = trained_weights(&app, "prices", data).await;
    assert_eq!(loads(&app).await, (2.0, 2.0));
    assert_ne!(third, first);
    let j = app.get("/v1/models/prices/versions/4").await;
    assert_eq!(
        j.body["training"]["n_train"].as_u64().unwrap()
            + j.body["training"]["n_validation"].as_u64().unwrap(),
        400
    );
}

#[tokio::test]
async fn a_replaced_dataset_is_parsed_again_and_inline_data_never_cached() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let put = |text: String| {
        Request::builder()
            .method("PUT")
            .uri("/v1/datasets/prices")
            .header("content-type", "text/csv")
            .body(Body::from(text))
            .unwrap()
    };
    assert_eq!(
        app.request(put(csv(300, 3.0))).await.status,
        StatusCode::CREATED
    );
    let data = json!({"dataset": "prices", "target": "y"});
    let first = trained_weights(&app, "p", data.clone()).await;
    let again = trained_weights(&app, "p", data.clone()).await;
    assert_eq!(loads(&app).await, (1.0, 1.0));
    assert_eq!(first, again);

    // The same name, other bytes: a new content id, so a new parse.
    let replaced = app.request(put(csv(300, -1.0))).await;
    assert!(replaced.status.is_success(), "{}", replaced.text);
    let other = trained_weights(&app, "p", data).await;
    assert_eq!(loads(&app).await, (1.0, 2.0));
    assert_ne!(other, first);

    trained_weights(&app, "p", json!({"csv": csv(50, 1.0), "target": "y"})).await;
    assert_eq!(outcomes(&app).await, [1.0, 2.0, 1.0]);
}

#[tokio::test]
async fn a_cache_of_size_zero_parses_every_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.csv"), csv(100, 3.0)).unwrap();
    let mut cfg = config(dir.path());
    cfg.training.dataset_cache_bytes = 0;
    let app = app_with(cfg).await;
    let data = json!({"path": "prices.csv", "target": "y"});
    trained_weights(&app, "prices", data.clone()).await;
    trained_weights(&app, "prices", data).await;
    assert_eq!(outcomes(&app).await, [0.0, 0.0, 2.0]);
}
