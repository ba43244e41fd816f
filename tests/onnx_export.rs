//! ONNX export: every native family exported, imported back through the upload endpoint,
//! predicts what the original predicts (within 1e-6), keeps its names, and bad requests
//! are refused.
#![cfg(feature = "onnx")]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

async fn export(app: &TestApp, uri: &str) -> (StatusCode, Vec<u8>) {
    let res = app
        .router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn exported_models_round_trip_through_import() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let cases = [
        ("softmax_regression", "iris"),
        ("logistic_regression", "breast_cancer"),
        ("linear_regression", "diabetes"),
        ("mlp_classifier", "iris"),
        ("mlp_regressor", "diabetes"),
    ];
    for (algorithm, data_name) in cases {
        let csv = std::fs::read_to_string(fixture(&format!("data/{data_name}.csv"))).unwrap();
        // One model per case: the name says what it is.
        let dataset = format!("{data_name}-{}", algorithm.replace('_', "-"));
        let job = app
            .train(
                &dataset,
                json!({"algorithm": algorithm, "data": {"csv": csv, "target": "target"}}),
            )
            .await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let (status, bytes) = export(
            &app,
            &format!("/v1/models/{dataset}/versions/1/export?format=onnx"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let req = Request::post(format!("/v1/models/{dataset}-onnx/versions"))
            .header("content-type", "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap();
        let r = app.request(req).await;
        assert_eq!(r.status, StatusCode::CREATED, "{algorithm}: {}", r.text);

        let data = read_csv(&fixture(&format!("data/{data_name}.csv")));
        let rows: Vec<Vec<f64>> = data.rows.iter().step_by(7).cloned().collect();
        let a = app
            .post(
                &format!("/v1/models/{dataset}/predict"),
                json!({"instances": rows}),
            )
            .await;
        let b = app
            .post(
                &format!("/v1/models/{dataset}-onnx/predict"),
                json!({"instances": rows}),
            )
            .await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.text);
        assert_eq!(
            a.body["classes"], b.body["classes"],
            "class names travel in the file"
        );
        if a.body["probabilities"].is_array() {
            assert_eq!(a.body["predictions"], b.body["predictions"], "{algorithm}");
            for (x, y) in floats(&a.body["probabilities"])
                .iter()
                .zip(floats(&b.body["probabilities"]))
            {
                assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(1e-9),
                    "{algorithm}: {x} vs {y}"
                );
            }
        } else {
            for (x, y) in floats(&a.body["predictions"])
                .iter()
                .zip(floats(&b.body["predictions"]))
            {
                assert!((x - y).abs() <= 1e-6 * x.abs(), "{algorithm}: {x} vs {y}");
            }
        }
        let fa = app.get(&format!("/v1/models/{dataset}/versions/1")).await;
        let fb = app
            .get(&format!("/v1/models/{dataset}-onnx/versions/1"))
            .await;
        assert_eq!(
            fa.body["schema"]["feature_names"],
            fb.body["schema"]["feature_names"]
        );
        // Same V2 tensor names; the export is FP64.
        let m = app.get(&format!("/v2/models/{dataset}-onnx")).await;
        assert_eq!(m.body["inputs"][0]["name"], "input");
        assert_eq!(m.body["inputs"][0]["datatype"], "FP64");
    }
    // An imported version exports its original bytes.
    let (status, bytes) = export(
        &app,
        "/v1/models/iris-softmax-regression-onnx/versions/1/export?format=onnx",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bytes,
        std::fs::read(
            dir.path()
                .join("models/iris-softmax-regression-onnx/1/model.onnx")
        )
        .unwrap()
    );

    let r = app
        .get("/v1/models/iris/versions/1/export?format=pmml")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"].as_str().unwrap().contains("format=onnx"));
    assert_eq!(
        app.get("/v1/models/iris/versions/9/export?format=onnx")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/models/iris/versions/1/export").await.status,
        StatusCode::BAD_REQUEST
    );
}
