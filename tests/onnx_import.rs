//! ONNX import through tract: the five scikit-learn files in tests/fixtures/models served on
//! the native and V2 APIs with outputs equal to onnxruntime's (expected.json), bad files
//! refused with 422 and no trace, and graphs placed in the store by hand.
#![cfg(feature = "onnx")]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

/// Imports tract alone cannot serve right: tree ensembles and SVMs (modeld's own ops,
/// with onnxruntime's semantics) and a double-precision export (f64 Sigmoid).
const TREE_FILES: [&str; 18] = [
    "rf_binary_breast_cancer",
    "dt_binary_breast_cancer",
    "rf_multiclass_iris",
    "dt_regressor_diabetes",
    "rf_regressor_diabetes",
    "gbr_diabetes",
    "logreg_breast_cancer_f64",
    "svc_rbf_iris",
    "svc_rbf_breast_cancer",
    "svc_minmax_iris",
    "svr_rbf_diabetes",
    "gbc_binary_breast_cancer",
    "gbc_multiclass_iris",
    "et_regressor_diabetes",
    "xgb_classifier_iris",
    "xgb_regressor_diabetes",
    "lgbm_classifier_breast_cancer",
    "lgbm_regressor_diabetes",
];

const FILES: [&str; 5] = [
    "linreg_diabetes",
    "logreg_breast_cancer",
    "logreg_multinomial_iris",
    "mlp_classifier_iris",
    "mlp_regressor_diabetes",
];

fn onnx_bytes(stem: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("models/{stem}.onnx"))).unwrap()
}

fn expected(stem: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("models/{stem}.expected.json"))).unwrap(),
    )
    .unwrap()
}

/// Whether the model's input (and so its float outputs) is double precision.
fn is_double(e: &Value) -> bool {
    e["inputs"][0]["dtype"] == "tensor(double)"
}

/// Sample rows as expected.json wrote them: as f32 for a float model (widened to f64),
/// as they are for a double one.
fn sample_rows(e: &Value) -> Vec<Vec<f64>> {
    let double = is_double(e);
    e["samples"]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .map(|v| if double { v } else { v as f32 as f64 })
                .collect()
        })
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

pub async fn upload(app: &TestApp, name: &str, bytes: Vec<u8>) -> Reply {
    let req = Request::post(format!("/v1/models/{name}/versions"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.request(req).await
}

fn close(got: &[f64], want: &[f64], abs: f64, rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= abs.max(rel * w.abs()),
            "{what}: got {g}, want {w}"
        );
    }
}

/// Checks native and V2 answers of `name` against the expected outputs of `stem`.
async fn check_outputs(app: &TestApp, name: &str, stem: &str) {
    let e = expected(stem);
    let rows = sample_rows(&e);
    let n = rows.len();
    let d = rows[0].len();
    let dt = if is_double(&e) { "FP64" } else { "FP32" };
    let native = app
        .post(
            &format!("/v1/models/{name}/predict"),
            json!({"instances": rows}),
        )
        .await;
    assert_eq!(native.status, StatusCode::OK, "{stem}: {}", native.text);
    let v2 = app
        .post(
            &format!("/v2/models/{name}/infer"),
            json!({"inputs": [{"name": "input", "shape": [n, d], "datatype": dt, "data": rows}]}),
        )
        .await;
    assert_eq!(v2.status, StatusCode::OK, "{stem}: {}", v2.text);
    let meta = app.get(&format!("/v2/models/{name}")).await;
    assert_eq!(meta.body["platform"], "onnx_tract");
    assert_eq!(
        meta.body["inputs"],
        json!([{"name": "input", "datatype": dt, "shape": [-1, d]}])
    );
    let out = &e["expected_outputs"];
    if e["task"] == "classification" {
        let k = e["classes"].as_array().unwrap().len();
        assert_eq!(native.body["predictions"], out["label"], "{stem}: labels");
        close(
            &floats(&native.body["probabilities"]),
            &floats(&out["probabilities"]),
            1e-5,
            0.0,
            stem,
        );
        assert_eq!(
            meta.body["outputs"],
            json!([{"name": "label", "datatype": "INT64", "shape": [-1]},
                   {"name": "probabilities", "datatype": dt, "shape": [-1, k]}])
        );
        assert_eq!(
            v2.body["outputs"][0]["data"], out["label"],
            "{stem}: V2 labels"
        );
        assert_eq!(v2.body["outputs"][1]["shape"], json!([n, k]));
        close(
            &floats(&v2.body["outputs"][1]["data"]),
            &floats(&out["probabilities"]),
            1e-5,
            0.0,
            stem,
        );
    } else {
        let want = floats(&out["variable"]);
        close(
            &floats(&native.body["predictions"]),
            &want,
            1e-3,
            1e-5,
            stem,
        );
        assert_eq!(
            meta.body["outputs"],
            json!([{"name": "variable", "datatype": "FP32", "shape": [-1, 1]}])
        );
        assert_eq!(v2.body["outputs"][0]["shape"], json!([n, 1]));
        close(
            &floats(&v2.body["outputs"][0]["data"]),
            &want,
            1e-3,
            1e-5,
            stem,
        );
    }
}

#[tokio::test]
async fn all_five_sklearn_files_match_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    for stem in FILES {
        let name = stem.replace('_', "-");
        let r = upload(&app, &name, onnx_bytes(stem)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{stem}: {}", r.text);
        assert_eq!(r.body, json!({"version": 1}));
        check_outputs(&app, &name, stem).await;
        let v = app.get(&format!("/v1/models/{name}/versions/1")).await;
        assert_eq!(v.body["family"], "onnx");
        assert_eq!(v.body["status"], "ready");
    }
    // Stored as model.onnx + a stub: a restart over the same store serves them again.
    assert!(dir
        .path()
        .join("models/linreg-diabetes/1/model.onnx")
        .is_file());
    let stub: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("models/linreg-diabetes/1/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stub, json!({"family": "onnx", "file": "model.onnx"}));
    let again = common::app(dir.path()).await;
    for stem in FILES {
        check_outputs(&again, &stem.replace('_', "-"), stem).await;
    }
}

/// Tree ensembles exported by skl2onnx, binary and multiclass classifiers and
/// regressors, and a double export: onnxruntime's answers on every sample row (tract
/// alone answers wrong labels for binary classifiers, with the right probabilities, and
/// refuses the regressors and the f64 Sigmoid).
#[tokio::test]
async fn tree_ensembles_and_doubles_answer_as_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    for stem in TREE_FILES {
        let name = stem.replace('_', "-");
        let r = upload(&app, &name, onnx_bytes(stem)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{stem}: {}", r.text);
        check_outputs(&app, &name, stem).await;
    }
}

/// skl2onnx's default classifier export ends in a ZipMap (a sequence of maps): modeld
/// serves the probabilities tensor it reads instead, with onnxruntime's labels.
#[tokio::test]
async fn default_zipmap_exports_answer_the_probability_table() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    for stem in ["logreg_iris_zipmap", "rf_binary_breast_cancer_zipmap"] {
        let e = expected(stem);
        let name = stem.replace('_', "-");
        let r = upload(&app, &name, onnx_bytes(stem)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{stem}: {}", r.text);
        let rows = sample_rows(&e);
        let native = app
            .post(
                &format!("/v1/models/{name}/predict"),
                json!({"instances": rows}),
            )
            .await;
        assert_eq!(native.status, StatusCode::OK, "{stem}: {}", native.text);
        let out = &e["expected_outputs"];
        assert_eq!(native.body["predictions"], out["label"], "{stem}: labels");
        close(
            &floats(&native.body["probabilities"]),
            &floats(&out["probabilities"]),
            1e-5,
            0.0,
            stem,
        );
        let k = e["classes"].as_array().unwrap().len();
        let meta = app.get(&format!("/v2/models/{name}")).await;
        let outputs = meta.body["outputs"].as_array().unwrap();
        assert_eq!(outputs[0]["name"], "output_label", "{stem}: {}", meta.text);
        assert_eq!(outputs[1]["datatype"], "FP32", "{stem}: {}", meta.text);
        assert_eq!(outputs[1]["shape"], json!([-1, k]), "{stem}: {}", meta.text);
    }
}

#[tokio::test]
async fn broken_files_get_422_and_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    assert_eq!(
        upload(&app, "good", onnx_bytes("logreg_multinomial_iris"))
            .await
            .status,
        StatusCode::CREATED
    );
    let mlp = onnx_bytes("mlp_classifier_iris");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"definitely not protobuf".to_vec(), "not an ONNX file"),
        (mlp[..mlp.len() / 2].to_vec(), "ONNX"),
        (Vec::new(), "empty"),
        // Imports and runs, but would answer the least probable class as the label.
        (
            onnx_bytes("label_contradicts_probabilities"),
            "output 'label' contradicts output 'probabilities'",
        ),
        // A tree whose branches point past its nodes.
        (
            onnx_bytes("tree_regressor_bad_node_ids"),
            "TreeEnsembleRegressor node 0",
        ),
        // Support vectors whose total length is not vectors × features.
        (onnx_bytes("svm_bad_support_vectors"), "SVMClassifier node"),
        // Imports and runs, but answers inf / NaN for every row.
        (
            onnx_bytes("non_finite_output"),
            "output 'variable' is not a finite number",
        ),
    ];
    for (bytes, want) in cases {
        let r = upload(&app, "bad", bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let msg = r.body["error"].as_str().unwrap();
        assert!(msg.contains(want), "'{msg}' lacks '{want}'");
    }
    // Wrong content type.
    let r = app.post("/v1/models/bad/versions", json!({"x": 1})).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert_eq!(r.body["code"], "unsupported_media_type", "{}", r.text);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("application/octet-stream"));
    assert!(!dir.path().join("models/bad").exists(), "nothing stored");
    assert_eq!(
        app.get("/v1/models/bad").await.status,
        StatusCode::NOT_FOUND
    );
    check_outputs(&app, "good", "logreg_multinomial_iris").await;
}

#[tokio::test]
async fn a_graph_dropped_into_the_store_loads_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let folder = dir.path().join("models/dropped/3");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("model.onnx"),
        onnx_bytes("mlp_regressor_diabetes"),
    )
    .unwrap();
    let r = app.call("POST", "/v1/models/dropped/reload", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    check_outputs(&app, "dropped", "mlp_regressor_diabetes").await;
    let m = app.get("/v1/models/dropped").await;
    assert_eq!(m.body["versions"][0]["version"], 3);
    assert_eq!(m.body["versions"][0]["family"], "onnx");
    assert_eq!(m.body["versions"][0]["schema"]["feature_names"][9], "x9");
    // A broken graph placed the same way shows as a failed version with the reason.
    let folder = dir.path().join("models/dropped/4");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("model.onnx"), b"garbage").unwrap();
    app.call("POST", "/v1/models/dropped/reload", None).await;
    let m = app.get("/v1/models/dropped/versions/4").await;
    assert_eq!(m.body["status"], "failed");
    assert!(
        m.body["error"]
            .as_str()
            .unwrap()
            .contains("not an ONNX file"),
        "{}",
        m.text
    );
    check_outputs(&app, "dropped", "mlp_regressor_diabetes").await;
}
