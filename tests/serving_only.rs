//! `training.enabled = false`, a pure serving tier: train and tune are refused with 403
//! `training_disabled` before their body is read and nothing is queued, while predict,
//! ONNX import and alias moves work as on any replica.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::json;

const ROWS: [[f64; 1]; 6] = [[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];

fn linear_body() -> serde_json::Value {
    json!({"algorithm": "linear_regression",
           "data": {"rows": ROWS, "targets": [2, 4, 6, 8, 10, 12], "feature_names": ["x"]},
           "params": {"solver": "closed_form"}})
}

fn tune_body() -> serde_json::Value {
    json!({"algorithm": "linear_regression",
           "data": {"rows": ROWS, "targets": [2, 4, 6, 8, 10, 12], "feature_names": ["x"]},
           "param_grid": {"l2": [0.0, 0.1]}, "folds": 2})
}

fn serving_only(dir: &std::path::Path) -> modeld::Config {
    let mut cfg = config(dir);
    cfg.training.enabled = false;
    cfg
}

#[tokio::test]
async fn a_serving_only_replica_refuses_training_and_serves_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    // The default trains: the store gets a model the serving-only replica then serves.
    let trainer = app(dir.path()).await;
    let job = trainer.train("m", linear_body()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["version"], 1);

    let app = app_with(serving_only(dir.path())).await;
    for (path, body) in [
        ("/v1/models/m/train", linear_body()),
        ("/v1/models/m/tune", tune_body()),
        ("/v1/models/new/train", linear_body()),
    ] {
        let r = app.post(path, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.body["code"], "training_disabled", "{}", r.text);
        let msg = r.body["error"].as_str().unwrap();
        assert!(
            msg.contains("training.enabled = false") && msg.contains("training replica"),
            "{msg}"
        );
    }
    // Refused before the body is parsed: a body that is not JSON gets the same 403,
    // not 400 invalid_json.
    let garbage = Request::post("/v1/models/m/train")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let r = app.request(garbage).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body["code"], "training_disabled");

    let jobs = app.get("/v1/jobs").await;
    assert_eq!(jobs.status, StatusCode::OK);
    assert_eq!(jobs.body, json!({"jobs": []}));
    assert!(!dir.path().join("models/new").exists());
    let versions = app.get("/v1/models/m").await;
    assert_eq!(versions.body["versions"].as_array().map(Vec::len), Some(1));

    // y = 2x: the trained version predicts 14 at x = 7 on the serving replica.
    let p = app
        .post("/v1/models/m/predict", json!({"instances": [[7.0]]}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let y = p.body["predictions"][0].as_f64().unwrap();
    assert!((y - 14.0).abs() < 1e-6, "{}", p.text);

    let moved = app
        .call(
            "PUT",
            "/v1/models/m/aliases/production",
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(
        app.get("/v1/models/m").await.body["aliases"]["production"],
        1
    );

    let onnx = std::fs::read(fixture("models/linreg_diabetes.onnx")).unwrap();
    let import = Request::post("/v1/models/imported/versions")
        .header("content-type", "application/octet-stream")
        .body(Body::from(onnx))
        .unwrap();
    let r = app.request(import).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body, json!({"version": 1}));
}

#[tokio::test]
async fn a_serving_only_replica_trains_no_demo_models() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = serving_only(dir.path());
    cfg.demo.enabled = true;
    let app = app_with(cfg).await;
    let models = app.get("/v1/models").await;
    assert_eq!(models.body, json!({"models": []}), "{}", models.text);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
}
