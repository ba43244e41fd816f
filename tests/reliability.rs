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
