//! The one serving path under both APIs: V2 traffic is logged for feedback and feeds
//! drift as native traffic does; clients' float labels are accepted; and every error
//! answer carries a code from the one error table with that code's status.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

fn v2_input(rows: &[Vec<f64>]) -> Value {
    json!({"inputs": [{"name": "input", "shape": [rows.len(), 4], "datatype": "FP64", "data": rows}]})
}

#[tokio::test]
async fn v2_predictions_join_feedback_by_their_id_and_feed_drift() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    let csv = read_csv(&fixture("data/iris.csv"));
    let rows: Vec<Vec<f64>> = [0, 60, 120].iter().map(|&i| csv.rows[i].clone()).collect();

    // By the request's own `id`.
    let mut body = v2_input(&rows);
    body["id"] = json!("v2-req-1");
    let r = app.post("/v2/models/iris/infer", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], "v2-req-1");
    let labels: Vec<u64> = r.body["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(labels, [0, 1, 2]);
    // Ground truth as numpy-backed clients send it: integral floats. One row is wrong.
    let fb = app
        .post(
            "/v1/models/iris/feedback",
            json!({"request_id": "v2-req-1", "actual": [0.0, 1.0, 1.0]}),
        )
        .await;
    assert_eq!(fb.status, StatusCode::OK, "{}", fb.text);
    assert_eq!(fb.body["recorded"], 3);
    let accuracy = fb.body["online"]["accuracy"].as_f64().unwrap();
    assert!((accuracy - 2.0 / 3.0).abs() < 1e-12, "{accuracy}");

    // Without an `id`, by the `x-request-id` the client sent, which is echoed as `id`.
    let req = Request::post("/v2/models/iris/infer")
        .header("content-type", "application/json")
        .header("x-request-id", "hdr-7")
        .body(Body::from(v2_input(&rows[..1]).to_string()))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], "hdr-7");
    let fb = app
        .post(
            "/v1/models/iris/feedback",
            json!({"request_id": "hdr-7", "actual": ["setosa"]}),
        )
        .await;
    assert_eq!(fb.status, StatusCode::OK, "{}", fb.text);
    assert_eq!(fb.body["window_rows"], 4);

    // Drift counts every V2 row: 3 + 1 so far, then the whole dataset.
    let m = app.get("/v1/models/iris/monitoring").await;
    assert_eq!(m.body["versions"][0]["drift"]["window_rows"], 4);
    let r = app.post("/v2/models/iris/infer", v2_input(&csv.rows)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = app.get("/v1/models/iris/monitoring").await;
    let drift = &m.body["versions"][0]["drift"];
    assert_eq!(drift["window_rows"], 154);
    let text = app.metrics().await;
    let psi = sample(
        &text,
        "modeld_feature_drift_psi",
        &[("model", "iris"), ("feature", "petal length (cm)")],
    );
    let reported = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "petal length (cm)")
        .map(|f| f["psi"].as_f64().unwrap());
    assert!(psi.is_some());
    assert_eq!(psi, reported);
    let rows_counted = sample(&text, "modeld_predictions_total", &[("model", "iris")]);
    assert_eq!(rows_counted, Some(154.0));
}

#[tokio::test]
async fn class_indices_as_floats_must_be_whole_and_in_range() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    let row = read_csv(&fixture("data/iris.csv")).rows[0].clone();
    for (actual, want) in [
        (json!([0.5]), StatusCode::UNPROCESSABLE_ENTITY),
        (json!([3.0]), StatusCode::UNPROCESSABLE_ENTITY),
        (json!([-1.0]), StatusCode::UNPROCESSABLE_ENTITY),
        (json!([2.0]), StatusCode::OK),
    ] {
        let r = app
            .post(
                "/v1/models/iris/feedback",
                json!({"instances": [row.clone()], "actual": actual}),
            )
            .await;
        assert_eq!(r.status, want, "{actual}: {}", r.text);
    }
}

/// Each error answer: a JSON body whose code is in the table, with the table's status.
fn assert_coded(r: &Reply, what: &str) {
    let code = r.body["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {}", r.text));
    assert!(
        modeld::api::error::CODES.contains(&code),
        "{what}: unlisted code {code}"
    );
    assert!(r.body["error"].is_string(), "{what}: {}", r.text);
    let expected: &[u16] = match code {
        "invalid_json" => &[400],
        "invalid_input" => &[400, 422],
        "unauthorized" => &[401],
        "not_found" => &[404],
        "method_not_allowed" => &[405],
        "conflict" => &[409],
        "payload_too_large" => &[413],
        "unsupported_media_type" => &[415],
        "busy" => &[429],
        "internal" => &[500],
        "overloaded" | "unavailable" => &[503],
        "timeout" => &[504],
        _ => &[],
    };
    assert!(
        expected.contains(&r.status.as_u16()),
        "{what}: {code} answered with {}",
        r.status
    );
}

#[tokio::test]
async fn every_error_path_answers_a_code_from_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.body_limit_bytes = 4096;
    let app = app_with(cfg).await;
    train_iris(&app, "iris", Some("production")).await;
    let big = json!({"instances": vec![[1.0; 4]; 400]});
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/nowhere", None),
        ("DELETE", "/healthz", None),
        ("GET", "/v1/models/nope", None),
        (
            "POST",
            "/v1/models/iris/predict",
            Some(json!({"instances": [[1, 2]]})),
        ),
        ("POST", "/v1/models/iris/predict", Some(json!({"rows": []}))),
        (
            "POST",
            "/v1/models/iris/predict?version=x",
            Some(json!({"instances": []})),
        ),
        (
            "POST",
            "/v1/models/iris/predict?version=9",
            Some(json!({"instances": [[1, 2, 3, 4]]})),
        ),
        ("POST", "/v1/models/iris/predict", Some(big.clone())),
        (
            "POST",
            "/predict",
            Some(json!({"instances": [[1, 2, 3, 4]]})),
        ),
        ("POST", "/v2/models/iris/infer", Some(json!({"inputs": []}))),
        (
            "POST",
            "/v2/models/nope/infer",
            Some(v2_input(&[vec![1.0; 4]])),
        ),
        (
            "POST",
            "/v2/models/iris/versions/x/infer",
            Some(v2_input(&[vec![1.0; 4]])),
        ),
        ("POST", "/v2/models/iris/infer", Some(big)),
        ("DELETE", "/v1/models/iris/versions/1", None),
        (
            "PUT",
            "/v1/models/iris/aliases/staging",
            Some(json!({"version": 7})),
        ),
        (
            "POST",
            "/v1/models/iris/train",
            Some(json!({"algorithm": "nope"})),
        ),
        (
            "POST",
            "/v1/models/iris/feedback",
            Some(json!({"request_id": "none", "actual": [0]})),
        ),
        ("GET", "/v1/jobs/nope", None),
        ("POST", "/v1/models/iris/versions", None),
    ];
    for (method, uri, body) in cases {
        let r = app.call(method, uri, body).await;
        assert!(!r.status.is_success(), "{method} {uri}: {}", r.text);
        assert_coded(&r, &format!("{method} {uri}"));
    }
    // A body that is not JSON, and one sent with another media type.
    for content_type in ["application/json", "text/plain"] {
        let req = Request::post("/v1/models/iris/predict")
            .header("content-type", content_type)
            .body(Body::from("{not json"))
            .unwrap();
        let r = app.request(req).await;
        assert_coded(&r, content_type);
    }
}
