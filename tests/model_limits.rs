//! `[models] max_features` / `max_parameters` through the HTTP stack: a tiny ONNX file
//! declaring a huge input or huge initializers is a 422 naming the limit (it used to
//! abort the process on import), native models are held to the same bounds on
//! registration, and a stored version above them fails to load instead of serving.
#![cfg(feature = "onnx")]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use prost::Message;
use serde_json::json;
use tract_onnx::pb;

async fn upload(app: &TestApp, name: &str, bytes: Vec<u8>) -> Reply {
    let req = Request::post(format!("/v1/models/{name}/versions"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.request(req).await
}

fn float_tensor(name: &str, width: i64) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = vec![
        Dimension {
            value: Some(Value::DimParam("N".into())),
            ..Default::default()
        },
        Dimension {
            value: Some(Value::DimValue(width)),
            ..Default::default()
        },
    ];
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `y = Identity(x)` with x declared `[N, width]`, plus `initializers` (dims only).
fn identity_graph(width: i64, initializers: Vec<pb::TensorProto>) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(pb::GraphProto {
            node: vec![pb::NodeProto {
                input: vec!["x".into()],
                output: vec!["y".into()],
                op_type: "Identity".into(),
                ..Default::default()
            }],
            initializer: initializers,
            input: vec![float_tensor("x", width)],
            output: vec![float_tensor("y", width)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[tokio::test]
async fn an_onnx_file_declaring_a_huge_model_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    // [N, 2^50] aborted the process building 2^50 feature names.
    let bytes = identity_graph(1 << 50, Vec::new());
    assert!(bytes.len() < 200, "{} bytes", bytes.len());
    let r = upload(&app, "wide", bytes).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_input");
    let msg = r.body["error"].as_str().unwrap();
    assert!(msg.contains("models.max_features = 10000"), "{msg}");
    assert!(msg.contains("1125899906842624"), "{msg}");
    // Initializers are counted from their declared dims, before tract builds them.
    let huge = pb::TensorProto {
        name: "w".into(),
        dims: vec![1 << 20, 1 << 20],
        data_type: pb::tensor_proto::DataType::Float as i32,
        ..Default::default()
    };
    let r = upload(&app, "heavy", identity_graph(1, vec![huge])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let msg = r.body["error"].as_str().unwrap();
    assert!(msg.contains("models.max_parameters = 50000000"), "{msg}");
    // Nothing was stored, and the server is alive: an honest graph imports and serves.
    assert_eq!(
        app.get("/v1/models/wide").await.status,
        StatusCode::NOT_FOUND
    );
    let r = upload(&app, "small", identity_graph(1, Vec::new())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post("/v1/models/small/predict", json!({"instances": [[2.5]]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["predictions"], json!([2.5]));
}

#[tokio::test]
async fn native_models_are_held_to_the_limits_on_register_and_on_load() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app(dir.path()).await;
        train_iris(&app, "iris", None).await;
    }
    // Softmax on iris has (4 + 1) x 3 = 15 parameters.
    let mut cfg = config(dir.path());
    cfg.models.max_parameters = 10;
    let app = app_with(cfg).await;
    let r = app.get("/v1/models/iris/versions").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["versions"][0]["status"], "failed", "{}", r.text);
    let reason = r.body["versions"][0]["error"].as_str().unwrap();
    assert!(reason.contains("models.max_parameters = 10"), "{reason}");
    let r = app
        .post(
            "/v1/models/iris/predict",
            json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        )
        .await;
    // Its only version failed to load: nothing serves it.
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // A freshly trained one is refused at registration: the job fails saying why.
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let job = app
        .train(
            "iris2",
            json!({"algorithm": "softmax_regression", "data": {"csv": csv, "target": "target"}}),
        )
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("models.max_parameters = 10"), "{error}");
    assert_eq!(
        app.get("/v1/models/iris2").await.status,
        StatusCode::NOT_FOUND
    );
}
