//! The gRPC service called in-process (no socket, no client channel): its answers equal
//! REST's, and each failure has its OIP status code and REST's message.

mod common;

use modeld::api::grpc::generated::inference::grpc_inference_service_server::GrpcInferenceService;
use modeld::api::grpc::generated::inference::model_infer_request::InferInputTensor;
use modeld::api::grpc::generated::inference::{
    InferTensorContents, ModelInferRequest, ModelMetadataRequest, ModelReadyRequest,
    ServerLiveRequest,
};
use modeld::api::grpc::guard::Guard;
use modeld::api::grpc::service::Oip;
use serde_json::json;
use tonic::{Code, Request};

const ROWS: [[f64; 4]; 2] = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];

fn raw_request(name: &str, shape: Vec<i64>, bytes: Vec<u8>) -> ModelInferRequest {
    ModelInferRequest {
        model_name: name.into(),
        inputs: vec![InferInputTensor {
            name: "input".into(),
            datatype: "FP64".into(),
            shape,
            ..Default::default()
        }],
        raw_input_contents: vec![bytes],
        ..Default::default()
    }
}

fn rows_bytes() -> Vec<u8> {
    ROWS.iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

#[tokio::test]
async fn infer_equals_rest_and_errors_have_oip_codes() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let oip = Oip {
        guard: Guard::new(app.state.clone()),
    };
    let rest = app
        .post("/v1/models/iris/predict", json!({"instances": ROWS}))
        .await;

    // Raw both ways.
    let res = oip
        .model_infer(Request::new(raw_request("iris", vec![2, 4], rows_bytes())))
        .await
        .unwrap()
        .into_inner();
    assert!(!res.id.is_empty(), "a generated id");
    assert_eq!(res.outputs[0].name, "label");
    let labels: Vec<f64> = res.raw_output_contents[0]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
        .collect();
    let want: Vec<f64> = rest.body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(labels, want);

    // Typed both ways, with the request's id.
    let mut typed = raw_request("iris", vec![2, 4], Vec::new());
    typed.raw_input_contents.clear();
    typed.id = "grpc-typed".into();
    typed.inputs[0].contents = Some(InferTensorContents {
        fp64_contents: ROWS.iter().flatten().copied().collect(),
        ..Default::default()
    });
    let res = oip
        .model_infer(Request::new(typed.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.id, "grpc-typed");
    assert!(res.raw_output_contents.is_empty());
    let probs = &res.outputs[1].contents.as_ref().unwrap().fp64_contents;
    let want: Vec<f64> = rest.body["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    assert_eq!(probs, &want);

    let mut both = typed.clone();
    both.raw_input_contents = vec![rows_bytes()];
    let mut short = raw_request("iris", vec![2, 4], rows_bytes());
    short.raw_input_contents[0].truncate(60);
    let mut versioned = raw_request("iris", vec![2, 4], rows_bytes());
    versioned.model_version = "v10".into();
    let cases = [
        (
            raw_request("nope", vec![2, 4], rows_bytes()),
            Code::NotFound,
            "nope",
        ),
        (versioned, Code::NotFound, "v10"),
        (
            raw_request("iris", vec![2, 3], rows_bytes()),
            Code::InvalidArgument,
            "features",
        ),
        (short, Code::InvalidArgument, "bytes"),
        (both, Code::InvalidArgument, "not both"),
        (
            raw_request("iris", vec![1 << 40, 4], rows_bytes()),
            Code::InvalidArgument,
            "limit",
        ),
    ];
    for (req, code, text) in cases {
        let e = oip.model_infer(Request::new(req)).await.unwrap_err();
        assert_eq!(e.code(), code, "{e:?}");
        assert!(e.message().contains(text), "{e:?}");
    }
    let e = oip
        .model_ready(Request::new(ModelReadyRequest {
            name: "nope".into(),
            version: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let md = oip
        .model_metadata(Request::new(ModelMetadataRequest {
            name: "iris".into(),
            version: "1".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(md.inputs[0].shape, vec![-1, 4]);
    // Counted under the method's name.
    let metrics = app.metrics().await;
    assert!(metrics.contains("route=\"/inference.GRPCInferenceService/ModelInfer\""));
}

#[tokio::test]
async fn the_api_key_is_required_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path());
    cfg.server.api_key = Some(modeld::config::Secret::new("grpc-secret-key"));
    let app = common::app_with(cfg).await;
    let oip = Oip {
        guard: Guard::new(app.state.clone()),
    };
    let e = oip
        .server_live(Request::new(ServerLiveRequest {}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let mut req = Request::new(ServerLiveRequest {});
    req.metadata_mut()
        .insert("authorization", "Bearer grpc-secret-key".parse().unwrap());
    assert!(oip.server_live(req).await.unwrap().into_inner().live);
    let mut req = Request::new(ServerLiveRequest {});
    req.metadata_mut()
        .insert("grpc-timeout", "1x".parse().unwrap());
    req.metadata_mut()
        .insert("authorization", "Bearer grpc-secret-key".parse().unwrap());
    assert_eq!(
        oip.server_live(req).await.unwrap_err().code(),
        Code::InvalidArgument
    );
}
