//! The Open Inference Protocol (KServe V2) surface through the HTTP stack: metadata,
//! health, infer (JSON flat/nested, FP32/FP64/INT, binary extension) compared with the
//! native /predict answers, errors, and the repository extension.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

const ROWS: [[f64; 4]; 3] = [
    [5.1, 3.5, 1.4, 0.2],
    [6.0, 2.7, 5.1, 1.6],
    [6.7, 3.0, 5.2, 2.3],
];

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn flat(rows: &Value) -> Vec<f64> {
    rows.as_array().unwrap().iter().flat_map(f64s).collect()
}

#[tokio::test]
async fn server_metadata_and_health() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let r = app.get("/v2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "modeld");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(r.body["extensions"]
        .as_array()
        .unwrap()
        .contains(&json!("model_repository")));
    assert_eq!(app.get("/v2/health/live").await.status, StatusCode::OK);
    assert_eq!(app.get("/v2/health/ready").await.status, StatusCode::OK);
    // Every new route is in the OpenAPI document; import (POST) shares its path with the
    // runs table (GET).
    let doc = app.get("/openapi.json").await.body;
    for path in [
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v2/repository/index",
        "/v2/repository/models/{name}/load",
        "/v2/repository/models/{name}/unload",
        "/v1/models/{name}/versions/{version}/export",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }
    let versions = &doc["paths"]["/v1/models/{name}/versions"];
    assert!(versions["get"].is_object() && versions["post"].is_object());
    app.state.lifecycle.start_draining();
    assert_eq!(
        app.get("/v2/health/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn classifier_metadata_and_infer_match_native_predict() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    train_iris(&app, "iris", None).await;

    let m = app.get("/v2/models/iris").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(
        m.body,
        json!({"name": "iris", "versions": ["1", "2"], "platform": "modeld_softmax_regression",
            "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]}]})
    );
    let m1 = app.get("/v2/models/iris/versions/1").await;
    assert_eq!(m1.body["versions"], json!(["1"]));
    assert_eq!(
        app.get("/v2/models/iris/ready").await.body,
        json!({"name": "iris", "ready": true})
    );
    assert_eq!(
        app.get("/v2/models/iris/versions/2/ready").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v2/models/iris/versions/9/ready").await.status,
        StatusCode::NOT_FOUND
    );

    let native = app
        .post(
            "/v1/models/iris/predict?version=1",
            json!({"instances": ROWS}),
        )
        .await;
    assert_eq!(native.status, StatusCode::OK);

    // Nested FP64 data, id echoed, both outputs.
    let r = app
        .post(
            "/v2/models/iris/versions/1/infer",
            json!({"id": "req-7", "parameters": {"anything": 1},
                "inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": ROWS}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["model_name"], "iris");
    assert_eq!(r.body["model_version"], "1");
    assert_eq!(r.body["id"], "req-7");
    let out = r.body["outputs"].as_array().unwrap();
    assert_eq!(out[0]["name"], "label");
    assert_eq!(out[0]["datatype"], "INT64");
    assert_eq!(out[0]["shape"], json!([3]));
    assert_eq!(out[0]["data"], native.body["predictions"]);
    assert_eq!(out[1]["name"], "probabilities");
    assert_eq!(out[1]["datatype"], "FP64");
    assert_eq!(out[1]["shape"], json!([3, 3]));
    assert_eq!(f64s(&out[1]["data"]), flat(&native.body["probabilities"]));

    // Flat data, default version (2), only the requested output.
    let native2 = app
        .post("/v1/models/iris/predict", json!({"instances": ROWS}))
        .await;
    let r = app
        .post(
            "/v2/models/iris/infer",
            json!({"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64",
                "data": ROWS.iter().flatten().collect::<Vec<_>>()}],
                "outputs": [{"name": "probabilities", "parameters": {"binary_data": false}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["model_version"], "2");
    assert_eq!(r.body["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(
        f64s(&r.body["outputs"][0]["data"]),
        flat(&native2.body["probabilities"])
    );

    // INT64 input gives the same answer as the same integers in FP64.
    let ints = json!([[5, 3, 1, 0], [7, 3, 5, 2]]);
    let a = app
        .post("/v2/models/iris/infer", json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "INT64", "data": ints}]}))
        .await;
    let b = app
        .post("/v1/models/iris/predict", json!({"instances": ints}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["outputs"][0]["data"], b.body["predictions"]);
    assert_eq!(
        f64s(&a.body["outputs"][1]["data"]),
        flat(&b.body["probabilities"])
    );

    // FP32 input: values are rounded to f32 first, as a real FP32 tensor would be.
    let rounded: Vec<Vec<f64>> = ROWS
        .iter()
        .map(|r| r.iter().map(|v| *v as f32 as f64).collect())
        .collect();
    let native32 = app
        .post("/v1/models/iris/predict", json!({"instances": rounded}))
        .await;
    let r = app
        .post("/v2/models/iris/infer", json!({"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP32", "data": ROWS}]}))
        .await;
    assert_eq!(
        f64s(&r.body["outputs"][1]["data"]),
        flat(&native32.body["probabilities"])
    );

    // The binary tensor extension (tritonclient's default): JSON header, then raw FP32.
    let header = json!({"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP32",
        "parameters": {"binary_data_size": 48}}]})
    .to_string();
    let mut body = header.clone().into_bytes();
    for v in ROWS.iter().flatten() {
        body.extend_from_slice(&(*v as f32).to_le_bytes());
    }
    let req = Request::post("/v2/models/iris/infer")
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len().to_string())
        .body(Body::from(body))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        f64s(&r.body["outputs"][1]["data"]),
        flat(&native32.body["probabilities"])
    );
}

#[tokio::test]
async fn regressor_infer_matches_native_predict() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    let job = app
        .train(
            "diabetes",
            json!({"algorithm": "linear_regression", "data": {"csv": csv, "target": "target"}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let data = read_csv(&fixture("data/diabetes.csv"));
    let rows: Vec<Vec<f64>> = data.rows[..4].to_vec();
    let native = app
        .post("/v1/models/diabetes/predict", json!({"instances": rows}))
        .await;
    let m = app.get("/v2/models/diabetes").await;
    assert_eq!(
        m.body["outputs"],
        json!([{"name": "variable", "datatype": "FP64", "shape": [-1, 1]}])
    );
    let r = app
        .post("/v2/models/diabetes/infer", json!({"inputs": [{"name": "input", "shape": [4, 10], "datatype": "FP64", "data": rows}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outputs"][0]["shape"], json!([4, 1]));
    assert_eq!(
        f64s(&r.body["outputs"][0]["data"]),
        f64s(&native.body["predictions"])
    );
}

#[tokio::test]
async fn bad_requests_get_the_v2_error_body_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    let input = |name: &str, shape: Value, dt: &str, data: Value| json!({"inputs": [{"name": name, "shape": shape, "datatype": dt, "data": data}]});
    let cases = [
        (
            input("x", json!([1, 4]), "FP64", json!([1, 2, 3, 4])),
            "unknown input 'x'",
        ),
        (
            input("input", json!([1, 3]), "FP64", json!([1, 2, 3])),
            "takes 4 features",
        ),
        (
            input("input", json!([2, 4]), "FP64", json!([1, 2, 3, 4])),
            "needs 8 values",
        ),
        (
            input("input", json!([1, 4]), "BYTES", json!(["a"])),
            "datatype 'BYTES'",
        ),
        (
            input("input", json!([1, 4]), "INT32", json!([1.5, 2, 3, 4])),
            "not a valid INT32",
        ),
        (
            input("input", json!([0, 4]), "FP64", json!([])),
            "empty batch",
        ),
        (
            input("input", json!([4]), "FP64", json!([1, 2, 3, 4])),
            "shape must be [N, 4]",
        ),
        (
            input("input", json!([1, 4]), "FP64", json!([1, "a", 3, 4])),
            "must hold numbers",
        ),
        (json!({"inputs": []}), "exactly one input"),
        (
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],
            "outputs": [{"name": "nope"}]}),
            "unknown output 'nope'",
        ),
        (json!({"input": 1}), "invalid infer request"),
    ];
    // The edge calls infer itself; "ir%69s" ("iris") goes through the router instead.
    for path in ["/v2/models/iris/infer", "/v2/models/ir%69s/infer"] {
        for (body, want) in &cases {
            let r = app.post(path, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{path} {body} → {}",
                r.text
            );
            let msg = r.body["error"].as_str().unwrap();
            assert!(msg.contains(want), "{path} {body}: '{msg}' lacks '{want}'");
        }
    }
    let r = app
        .post(
            "/v2/models/nope/infer",
            input("input", json!([1, 4]), "FP64", json!([1, 2, 3, 4])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body["error"].as_str().unwrap().contains("nope"));
    let r = app.get("/v2/models/iris/versions/x").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call("POST", "/v2/models/iris/infer", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Still serving.
    let ok = app
        .post(
            "/v2/models/iris/infer",
            input("input", json!([1, 4]), "FP64", json!([1, 2, 3, 4])),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

/// Infer is served by the edge directly (src/api/edge/hot.rs, `Direct`) except for a
/// percent-encoded name, which goes through axum's router: both read the body to the
/// same limit and answer alike.
#[tokio::test]
async fn infer_answers_alike_with_and_without_the_router() {
    let dir = tempfile::tempdir().unwrap();
    // Trained with the default limit, then served from the same store with a small one.
    train_iris(&app(dir.path()).await, "iris", None).await;
    let mut cfg = config(dir.path());
    cfg.server.body_limit_bytes = 1024;
    let app = app_with(cfg).await;
    let data: Vec<f64> = ROWS.iter().flatten().copied().collect();
    let body =
        json!({"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": data}]});
    let mut direct = app.post("/v2/models/iris/infer", body.clone()).await;
    let mut routed = app.post("/v2/models/ir%69s/infer", body).await;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.text);
    // Each answer carries its own generated id (the request had none); the rest match.
    for r in [&mut direct, &mut routed] {
        let id = r.body["id"].take();
        assert_eq!(
            Some(id.as_str().unwrap()),
            r.headers["x-request-id"].to_str().ok()
        );
    }
    assert_eq!(direct.body, routed.body);
    assert_eq!(direct.body["model_name"], "iris");
    let big: Vec<f64> = (0..400).map(f64::from).collect();
    let too_big =
        json!({"inputs": [{"name": "input", "shape": [100, 4], "datatype": "FP64", "data": big}]});
    for path in ["/v2/models/iris/infer", "/v2/models/ir%69s/infer"] {
        let r = app.post(path, too_big.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.text
        );
        assert_eq!(r.body["code"], "payload_too_large", "{path}");
    }
}

#[tokio::test]
async fn repository_index_unload_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;
    let idx = app.post("/v2/repository/index", json!({})).await;
    assert_eq!(idx.status, StatusCode::OK);
    assert_eq!(
        idx.body,
        json!([{"name": "iris", "version": "1", "state": "READY"}])
    );

    let r = app
        .call("POST", "/v2/repository/models/iris/unload", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.get("/v2/models/iris/ready").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/v1/models/iris/predict", json!({"instances": [ROWS[0]]}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        dir.path().join("models/iris/1/model.json").is_file(),
        "unload keeps the files"
    );
    let idx = app.call("POST", "/v2/repository/index", None).await;
    assert_eq!(
        idx.body,
        json!([{"name": "iris", "state": "UNAVAILABLE", "reason": "unloaded"}])
    );
    let idx = app
        .post("/v2/repository/index", json!({"ready": true}))
        .await;
    assert_eq!(idx.body, json!([]));
    assert_eq!(
        app.call("POST", "/v2/repository/models/iris/unload", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let r = app
        .call("POST", "/v2/repository/models/iris/load", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.get("/v2/models/iris/ready").await.status,
        StatusCode::OK
    );
    let r = app
        .call("POST", "/v2/repository/models/ghost/load", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body["error"].as_str().unwrap().contains("ghost"));
}
