//! Training requests through the HTTP stack: lenient parameter forms and how
//! refused requests are answered.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

/// `early_stopping` without `min_delta` trains, and the stored parameters
/// show the default 0.
#[tokio::test]
async fn early_stopping_with_patience_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let job = app
        .train(
            "es",
            json!({
                "algorithm": "softmax_regression",
                "data": {"csv": csv, "target": "target"},
                "params": {"early_stopping": {"patience": 10}, "epochs": 5000},
            }),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["epoch"].as_u64().unwrap() < 5000, "{job}");
    let v = job["version"].as_u64().unwrap();
    let meta = app.get(&format!("/v1/models/es/versions/{v}")).await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    assert_eq!(
        meta.body["params"]["early_stopping"],
        json!({"patience": 10, "min_delta": 0.0})
    );
}

/// Data problems are the client's (422) and say what is wrong.
#[tokio::test]
async fn data_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    for (data, algorithm, needle) in [
        (
            json!({"csv": csv}),
            "logistic_regression",
            "exactly 2 classes",
        ),
        (
            json!({"path": "missing.csv"}),
            "softmax_regression",
            "not found",
        ),
        (json!({"path": "folder"}), "softmax_regression", "directory"),
        (
            json!({"rows": [[1.0], [2.0]], "targets": [1.0]}),
            "linear_regression",
            "2 rows but 1 targets",
        ),
    ] {
        let r = app
            .post(
                "/v1/models/m/train",
                json!({"algorithm": algorithm, "data": data}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["code"], "invalid_input", "{}", r.text);
        let msg = r.body["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}
