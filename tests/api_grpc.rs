//! The gRPC service called in-process (no socket, no client channel): its answers equal
//! REST's, each failure has its OIP status code and REST's message, deadlines hold and
//! the repository extension indexes, unloads and loads.

mod common;

use modeld::api::grpc::generated::inference::grpc_inference_service_server::GrpcInferenceService;
use modeld::api::grpc::generated::inference::model_infer_request::InferInputTensor;
use modeld::api::grpc::generated::inference::model_repository_parameter::ParameterChoice;
use modeld::api::grpc::generated::inference::{
    InferTensorContents, ModelInferRequest, ModelMetadataRequest, ModelReadyRequest,
    ModelRepositoryParameter, RepositoryIndexRequest, RepositoryIndexResponse,
    RepositoryModelLoadRequest, RepositoryModelUnloadRequest, ServerLiveRequest,
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

#[tokio::test]
async fn a_deadline_shorter_than_the_call_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let oip = Oip {
        guard: Guard::new(app.state.clone()),
    };
    // 20,000 rows: above the inline size, so the model runs on the blocking pool and the
    // call waits for it, which a one-nanosecond deadline cannot outlast.
    let rows = 20_000;
    let bytes: Vec<u8> = (0..rows)
        .flat_map(|_| rows_bytes()[..32].to_vec())
        .collect();
    let request = |timeout: &str| {
        let mut req = Request::new(raw_request("iris", vec![rows, 4], bytes.clone()));
        req.metadata_mut()
            .insert("grpc-timeout", timeout.parse().unwrap());
        req
    };
    let e = oip.model_infer(request("1n")).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert_eq!(
        e.message(),
        modeld::api::error::ApiError::Timeout.to_string()
    );
    let ok = oip.model_infer(request("30S")).await.unwrap().into_inner();
    assert_eq!(ok.raw_output_contents[0].len(), rows as usize * 8);
}

#[tokio::test]
async fn the_repository_extension_indexes_unloads_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let oip = Oip {
        guard: Guard::new(app.state.clone()),
    };
    let index = |ready: bool| RepositoryIndexRequest {
        repository_name: String::new(),
        ready,
    };
    let load = |name: &str| RepositoryModelLoadRequest {
        model_name: name.into(),
        ..Default::default()
    };
    let entries = |r: RepositoryIndexResponse| -> Vec<(String, String, String, String)> {
        r.models
            .into_iter()
            .map(|m| (m.name, m.version, m.state, m.reason))
            .collect()
    };
    let got = oip.repository_index(Request::new(index(false))).await;
    let ready_iris = ("iris".into(), "1".into(), "READY".into(), String::new());
    assert_eq!(entries(got.unwrap().into_inner()), vec![ready_iris.clone()]);
    // The same entries as REST's index.
    let rest = app.post("/v2/repository/index", json!({})).await;
    assert_eq!(
        rest.body,
        json!([{"name": "iris", "version": "1", "state": "READY"}])
    );

    oip.repository_model_unload(Request::new(RepositoryModelUnloadRequest {
        model_name: "iris".into(),
        ..Default::default()
    }))
    .await
    .unwrap();
    let got = oip.repository_index(Request::new(index(false))).await;
    assert_eq!(
        entries(got.unwrap().into_inner()),
        vec![(
            "iris".into(),
            String::new(),
            "UNAVAILABLE".into(),
            "unloaded".into()
        )]
    );
    let got = oip.repository_index(Request::new(index(true))).await;
    assert!(got.unwrap().into_inner().models.is_empty());
    let e = oip
        .model_infer(Request::new(raw_request("iris", vec![2, 4], rows_bytes())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    oip.repository_model_load(Request::new(load("iris")))
        .await
        .unwrap();
    let got = oip.repository_index(Request::new(index(true))).await;
    assert_eq!(entries(got.unwrap().into_inner()), vec![ready_iris]);
    oip.model_infer(Request::new(raw_request("iris", vec![2, 4], rows_bytes())))
        .await
        .unwrap();

    // Refusals, with REST's message where REST has the case.
    let e = oip
        .repository_model_load(Request::new(load("nope")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let rest = app.post("/v2/repository/models/nope/load", json!({})).await;
    assert_eq!(rest.status.as_u16(), 404);
    assert_eq!(rest.body["error"], e.message());
    let mut other = load("iris");
    other.repository_name = "elsewhere".into();
    let e = oip
        .repository_model_load(Request::new(other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("elsewhere"), "{e:?}");
    let mut configured = load("iris");
    configured.parameters.insert(
        "config".into(),
        ModelRepositoryParameter {
            parameter_choice: Some(ParameterChoice::StringParam("{}".into())),
        },
    );
    let e = oip
        .repository_model_load(Request::new(configured))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("'config'"), "{e:?}");
}
