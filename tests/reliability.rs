//! Hostile sizes and values through the HTTP stack: a V2 shape no body can hold, an
//! ONNX file declaring a huge input, an input whose prediction is not finite, and a
//! training request with no budget. Each is a 4xx naming the limit, and the server
//! goes on serving.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

const IRIS_ROW: [f64; 4] = [5.1, 3.5, 1.4, 0.2];

fn assert_invalid(r: &Reply, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_input", "{}", r.text);
    let msg = r.body["error"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "'{needle}' not in: {msg}");
}

/// V2 infer with one binary FP32 input: the JSON header, then `tail`.
async fn infer_binary(app: &TestApp, shape: Value, tail: &[u8]) -> Reply {
    let header = json!({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
        "parameters": {"binary_data_size": tail.len()}}]})
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(tail);
    let req = Request::post("/v2/models/iris/infer")
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len().to_string())
        .body(Body::from(body))
        .unwrap();
    app.request(req).await
}

#[tokio::test]
async fn a_v2_shape_larger_than_its_body_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    // 4e15 values (32 PB as f64) used to abort the process; 2^61 x 4 overflowed capacity.
    for rows in [1_000_000_000_000_000_i64, 2_305_843_009_213_693_952] {
        let r = app
            .post(
                "/v2/models/iris/infer",
                json!({"inputs": [{"name": "input", "shape": [rows, 4], "datatype": "FP64",
                    "data": IRIS_ROW}]}),
            )
            .await;
        assert_invalid(&r, StatusCode::BAD_REQUEST, "input 'input'");
    }
    // Binary data: the declared shape must match binary_data_size, checked before use.
    let tail: Vec<u8> = IRIS_ROW
        .iter()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    let r = infer_binary(&app, json!([1_000_000_000_000_000_i64, 4]), &tail).await;
    assert_invalid(&r, StatusCode::BAD_REQUEST, "input 'input'");
    let r = infer_binary(&app, json!([2, 4]), &tail).await;
    assert_invalid(&r, StatusCode::BAD_REQUEST, "binary_data_size");
    // The server is alive and the honest requests still work.
    let r = infer_binary(&app, json!([1, 4]), &tail).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            "/v2/models/iris/infer",
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                "data": IRIS_ROW}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn train_diabetes(app: &TestApp) {
    let csv = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    let job = app
        .train(
            "diabetes",
            json!({"algorithm": "linear_regression", "data": {"csv": csv, "target": "target"}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
}

#[tokio::test]
async fn a_non_finite_prediction_is_refused_and_never_reaches_monitoring() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    train_diabetes(&app).await;
    let diabetes = read_csv(&fixture("data/diabetes.csv"));
    let d = diabetes.rows[0].len();
    let huge = |n: usize| vec![1e308; n];

    // Honest feedback first, so the online window has something to lose.
    let rows = diabetes.rows[..5].to_vec();
    let actual = &diabetes.targets[..5];
    let r = app
        .post(
            "/v1/models/diabetes/feedback",
            json!({"instances": rows, "actual": actual}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Regressor, classifier, V2: 422 naming the row, nothing logged under the id.
    let req = Request::post("/v1/models/diabetes/predict")
        .header("content-type", "application/json")
        .header("x-request-id", "extreme-1")
        .body(Body::from(
            json!({"instances": [diabetes.rows[0].clone(), huge(d)]}).to_string(),
        ))
        .unwrap();
    let r = app.request(req).await;
    assert_invalid(&r, StatusCode::UNPROCESSABLE_ENTITY, "row 1");
    let r = app
        .post(
            "/v1/models/diabetes/feedback",
            json!({"request_id": "extreme-1", "actual": [1.0, 1.0]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .post("/v1/models/iris/predict", json!({"instances": [huge(4)]}))
        .await;
    assert_invalid(&r, StatusCode::UNPROCESSABLE_ENTITY, "row 0");
    for model in ["iris", "diabetes"] {
        let n = if model == "iris" { 4 } else { d };
        let r = app
            .post(
                &format!("/v2/models/{model}/infer"),
                json!({"inputs": [{"name": "input", "shape": [1, n], "datatype": "FP64",
                    "data": huge(n)}]}),
            )
            .await;
        assert_invalid(&r, StatusCode::UNPROCESSABLE_ENTITY, "row 0");
    }

    // Feedback scoring such a row is refused too; the window keeps its honest rows.
    let r = app
        .post(
            "/v1/models/diabetes/feedback",
            json!({"instances": [huge(d)], "actual": [100.0]}),
        )
        .await;
    assert_invalid(&r, StatusCode::UNPROCESSABLE_ENTITY, "row 0");
    let m = app.get("/v1/models/diabetes/monitoring").await;
    assert_eq!(m.body["versions"][0]["window_rows"], 5, "{}", m.text);
    let online = m.body["versions"][0]["online"].as_object().unwrap();
    assert!(online
        .values()
        .all(|v| v.as_f64().is_some_and(f64::is_finite)));
    let text = app.metrics().await;
    assert!(!text.contains("NaN"), "NaN exported:\n{text}");
    let mse = sample(
        &text,
        "modeld_model_mse",
        &[("model", "diabetes"), ("split", "online")],
    );
    assert!(mse.is_some_and(f64::is_finite), "{mse:?}");
    // Still serving.
    let r = app
        .post("/v1/models/iris/predict", json!({"instances": [IRIS_ROW]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_training_request_above_the_budget_is_refused_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let data = json!({"csv": csv, "target": "target"});
    let mlp = |hidden: Value, epochs: u64| {
        json!({"algorithm": "mlp_classifier", "data": data,
            "params": {"hidden_layers": hidden, "epochs": epochs}})
    };
    // 2.1 GB of weights and optimiser state: (4+1)x4096 + 2 x 4097x4096 + 4097x3.
    let r = app
        .post(
            "/v1/models/big/train",
            mlp(json!([4096, 4096, 4096]), 1_000_000),
        )
        .await;
    assert_invalid(&r, StatusCode::UNPROCESSABLE_ENTITY, "33595395 parameters");
    assert_invalid(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "training_limits.max_parameters",
    );
    // Small enough, but for a million epochs: 8195 x 150 rows x 1e6.
    let r = app
        .post("/v1/models/big/train", mlp(json!([1024]), 1_000_000))
        .await;
    assert_invalid(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "1229250000000 units of work",
    );
    assert_invalid(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "training_limits.max_work",
    );
    // A grid search counts every fold of every combination.
    let r = app
        .post(
            "/v1/models/big/tune",
            json!({"algorithm": "mlp_classifier", "data": data,
                "params": {"hidden_layers": [1024]},
                "param_grid": {"epochs": [10, 200000]}, "folds": 5}),
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "training_limits.max_work",
    );
    // Nothing was queued, and a job within the budget still trains.
    assert_eq!(app.get("/v1/jobs").await.body["jobs"], json!([]));
    let job = app.train("small", mlp(json!([8]), 5)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
}
