//! Compression over HTTP: quantize, prune and distill a trained version, read the job's
//! report, serve the result, and refuse bad requests without registering anything.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

/// A data directory holding breast_cancer.csv and diabetes.csv.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["breast_cancer.csv", "diabetes.csv"] {
        std::fs::copy(fixture(&format!("data/{f}")), dir.path().join(f)).unwrap();
    }
    dir
}

fn diabetes() -> Value {
    json!({"path": "diabetes.csv", "target": "target"})
}

fn cancer() -> Value {
    json!({"path": "breast_cancer.csv", "target": "target"})
}

async fn train_mlp(app: &TestApp, name: &str, hidden: &[usize]) -> u64 {
    let job = app
        .train(
            name,
            json!({"algorithm": "mlp_classifier", "data": cancer(),
                   "params": {"hidden_layers": hidden, "epochs": 60, "seed": 3}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["version"].as_u64().unwrap()
}

/// An MLP regressor on diabetes.csv, version 1 of `diab`.
async fn train_diabetes_mlp(app: &TestApp) {
    let job = app
        .train(
            "diab",
            json!({"algorithm": "mlp_regressor", "data": diabetes(),
                   "params": {"hidden_layers": [32], "epochs": 100, "seed": 2}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
}

async fn compress(app: &TestApp, name: &str, version: u64, body: Value) -> Value {
    let r = app
        .post(
            &format!("/v1/models/{name}/versions/{version}/compress"),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(r.headers.get("location").is_some());
    app.wait_job(r.body["job_id"].as_str().unwrap()).await
}

/// Predicted labels of `version` for every row of breast_cancer.csv.
async fn labels(app: &TestApp, name: &str, version: u64) -> Vec<Value> {
    let csv = read_csv(&fixture("data/breast_cancer.csv"));
    let r = app
        .post(
            &format!("/v1/models/{name}/predict?version={version}"),
            json!({"instances": csv.rows}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["predictions"].as_array().unwrap().clone()
}

fn share_equal(a: &[Value], b: &[Value]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn quantize_stores_int8_serves_and_reports_honestly() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    let v1 = train_mlp(&app, "bc", &[64, 32]).await;
    let job = compress(
        &app,
        "bc",
        v1,
        json!({"method": "quantize", "params": {"bits": 8}, "data": cancer(),
               "max_metric_drop": 0.05, "alias": "small"}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let report = &job["report"];
    let v2 = job["version"].as_u64().unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(report["method"], "quantize");
    assert_eq!(report["kept"], true);
    assert_eq!(report["metric"], "accuracy");
    assert_eq!(report["layers"], json!(["int8", "int8", "int8"]));
    // 20% of each class (212 and 357 rows), rounded.
    assert_eq!(report["n_eval"], 42 + 71);
    let (before, after) = (f(&report["bytes_before"]), f(&report["bytes_after"]));
    assert!(after * 3.5 < before, "{report}");
    assert!(
        (f(&report["before"]) - f(&report["after"])).abs() <= 0.02,
        "{report}"
    );
    assert!(f(&report["agreement"]) >= 0.97, "{report}");
    for side in ["before", "after"] {
        for batch in ["batch_1", "batch_64"] {
            let l = &report["latency_us"][side][batch];
            assert!(
                f(&l["p50"]) > 0.0 && f(&l["p99"]) >= f(&l["p50"]),
                "{report}"
            );
        }
    }

    // The new version is served under its source family, with its provenance.
    let detail = app.get(&format!("/v1/models/bc/versions/{v2}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    let text = detail.text.clone();
    assert!(text.contains("\"compressed_from\""), "{text}");
    assert!(text.contains("mlp_classifier"), "{text}");
    let aliases = app.get("/v1/models/bc").await;
    assert_eq!(aliases.body["aliases"]["small"], v2, "{}", aliases.text);
    let (original, quantized) = (labels(&app, "bc", v1).await, labels(&app, "bc", v2).await);
    assert!(share_equal(&original, &quantized) >= 0.97);

    // Every version's stored size is a gauge, equal to what the report measured.
    let metrics = app.metrics().await;
    let size = |v: u64| {
        sample(
            &metrics,
            "modeld_model_size_bytes",
            &[("model", "bc"), ("version", &v.to_string())],
        )
    };
    assert_eq!(size(v1), Some(before), "{metrics}");
    assert_eq!(size(v2), Some(after), "{metrics}");
    let on_disk: u64 = std::fs::read_dir(dir.path().join(format!("models/bc/{v2}")))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() == "model.json")
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(on_disk as f64, after);

    // Deleted like any other version; its gauge goes with it.
    let r = app
        .call("DELETE", "/v1/models/bc/aliases/small", None)
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .call("DELETE", &format!("/v1/models/bc/versions/{v2}"), None)
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let metrics = app.metrics().await;
    assert!(sample(
        &metrics,
        "modeld_model_size_bytes",
        &[("model", "bc"), ("version", "1")]
    )
    .is_some());
    assert_eq!(
        sample(
            &metrics,
            "modeld_model_size_bytes",
            &[("model", "bc"), ("version", &v2.to_string())]
        ),
        None
    );
}

#[tokio::test]
async fn prune_stores_sparse_layers_and_fine_tunes_the_survivors() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    let v1 = train_mlp(&app, "bc", &[64, 32]).await;
    let job = compress(
        &app,
        "bc",
        v1,
        json!({"method": "prune", "params": {"sparsity": 0.8, "fine_tune_epochs": 5},
               "data": cancer()}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let report = &job["report"];
    assert!((f(&report["sparsity"]) - 0.8).abs() < 0.01, "{report}");
    assert!(
        report["layers"].as_array().unwrap().contains(&json!("csr")),
        "{report}"
    );
    assert!(
        f(&report["bytes_after"]) * 2.0 < f(&report["bytes_before"]),
        "{report}"
    );
    assert!(
        f(&report["before"]) - f(&report["after"]) <= 0.05,
        "{report}"
    );
    // Fine-tuning ran its epochs and recorded them.
    assert_eq!(job["history"].as_array().unwrap().len(), 5, "{job}");
    let v2 = job["version"].as_u64().unwrap();
    let (original, pruned) = (labels(&app, "bc", v1).await, labels(&app, "bc", v2).await);
    assert!(share_equal(&original, &pruned) >= 0.9);
}

#[tokio::test]
async fn distill_trains_a_smaller_student_on_the_teachers_outputs() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    let v1 = train_mlp(&app, "bc", &[128, 64]).await;
    let job = compress(
        &app,
        "bc",
        v1,
        json!({"method": "distill", "data": cancer(), "target_model": "bc-small",
               "params": {"algorithm": "mlp_classifier", "temperature": 2.0,
                          "params": {"hidden_layers": [4], "epochs": 80, "seed": 1,
                                     "early_stopping": {"patience": 10}}}}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let report = &job["report"];
    assert!(
        f(&report["bytes_after"]) * 8.0 < f(&report["bytes_before"]),
        "{report}"
    );
    // Trained on probabilities softened at T = 2, served at T = 1: as confident as the
    // teacher, not flattened.
    let confidence = |body: &Value| {
        let rows = body["probabilities"].as_array().unwrap();
        rows.iter()
            .map(|r| r.as_array().unwrap().iter().map(f).fold(0.0, f64::max))
            .sum::<f64>()
            / rows.len() as f64
    };
    let rows = json!({"instances": read_csv(&fixture("data/breast_cancer.csv")).rows});
    let teacher = app
        .post(&format!("/v1/models/bc/predict?version={v1}"), rows.clone())
        .await;
    let student = app
        .post("/v1/models/bc-small/predict?version=1", rows)
        .await;
    let (t, s) = (confidence(&teacher.body), confidence(&student.body));
    assert!(s > t - 0.03, "student {s} vs teacher {t}");
    assert!(f(&report["agreement"]) >= 0.9, "{report}");
    assert!(
        f(&report["before"]) - f(&report["after"]) <= 0.05,
        "{report}"
    );
    // Registered under the target model, with its learning curve.
    assert_eq!(job["model"], "bc-small");
    let v = job["version"].as_u64().unwrap();
    assert_eq!(v, 1);
    let detail = app.get("/v1/models/bc-small/versions/1").await;
    assert_eq!(
        detail.body["compressed_from"],
        json!({"model": "bc", "version": v1, "method": "distill"}),
        "{}",
        detail.text
    );
    assert_eq!(detail.body["compression"]["method"], "distill");
    assert!(!job["history"].as_array().unwrap().is_empty());

    // A regressor distils into a linear student; agreement is R² against the teacher.
    train_diabetes_mlp(&app).await;
    let job = compress(
        &app,
        "diab",
        1,
        json!({"method": "distill", "data": diabetes(),
               "params": {"algorithm": "linear_regression"}}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["report"]["metric"], "r2");
    assert!(f(&job["report"]["agreement"]) > 0.5, "{job}");
}

#[tokio::test]
async fn the_gate_refuses_a_result_that_loses_too_much_and_registers_nothing() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    train_diabetes_mlp(&app).await;
    let job = compress(
        &app,
        "diab",
        1,
        json!({"method": "prune", "params": {"sparsity": 0.95},
               "data": diabetes(), "max_metric_drop": 0.0}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["report"]["kept"], false, "{job}");
    assert!(
        f(&job["report"]["before"]) > f(&job["report"]["after"]),
        "{job}"
    );
    assert!(job["version"].is_null(), "{job}");
    let model = app.get("/v1/models/diab").await;
    assert_eq!(
        model.body["versions"].as_array().unwrap().len(),
        1,
        "{}",
        model.text
    );
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_problem() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    let v1 = train_mlp(&app, "bc", &[8]).await;
    let uri = format!("/v1/models/bc/versions/{v1}/compress");
    let cases = [
        (
            json!({"method": "quantize", "data": cancer()}),
            "/v1/models/bc/versions/9/compress",
            404,
            "version 9",
        ),
        (
            json!({"method": "quantize", "data": cancer()}),
            "/v1/models/nope/versions/1/compress",
            404,
            "nope",
        ),
        (
            json!({"method": "shrink", "data": cancer()}),
            uri.as_str(),
            422,
            "method",
        ),
        (
            json!({"method": "quantize", "params": {"bits": 4}, "data": cancer()}),
            uri.as_str(),
            422,
            "bits",
        ),
        (
            json!({"method": "prune", "params": {"sparsity": 0.99}, "data": cancer()}),
            uri.as_str(),
            422,
            "sparsity",
        ),
        (
            json!({"method": "prune", "params": {"sparsity": -0.1}, "data": cancer()}),
            uri.as_str(),
            422,
            "sparsity",
        ),
        (
            json!({"method": "distill", "params": {"algorithm": "linear_regression"}, "data": cancer()}),
            uri.as_str(),
            422,
            "algorithm",
        ),
        (
            json!({"method": "quantize", "data": cancer(), "max_metric_drop": -1}),
            uri.as_str(),
            422,
            "max_metric_drop",
        ),
        (
            json!({"method": "quantize", "data": diabetes()}),
            uri.as_str(),
            422,
            "no column `mean radius`",
        ),
    ];
    for (body, uri, status, needle) in cases {
        let r = app.post(uri, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert!(r.text.contains(needle), "{body}: {}", r.text);
    }
    // An imported ONNX graph has no weights modeld can compress.
    let exported = app
        .request(
            axum::http::Request::get(format!("/v1/models/bc/versions/{v1}/export?format=onnx"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(exported.status, StatusCode::OK);
    let exported_bytes = exported.raw.clone();
    let r = app
        .request(
            axum::http::Request::post("/v1/models/imported/versions")
                .header("content-type", "application/octet-stream")
                .body(axum::body::Body::from(exported_bytes))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let imported = r.body["version"].as_u64().unwrap();
    let r = app
        .post(
            &format!("/v1/models/imported/versions/{imported}/compress"),
            json!({"method": "quantize", "data": cancer()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("only natively trained models"),
        "{}",
        r.text
    );
    let versions = app.get("/v1/models/bc").await;
    assert_eq!(
        versions.body["versions"].as_array().unwrap().len(),
        1,
        "nothing was registered"
    );
}

#[tokio::test]
async fn a_compress_job_can_be_cancelled_and_registers_nothing() {
    let dir = data_dir();
    let app = app(dir.path()).await;
    let v1 = train_mlp(&app, "bc", &[8]).await;
    let r = app
        .post(
            &format!("/v1/models/bc/versions/{v1}/compress"),
            json!({"method": "distill", "data": cancer(),
                   "params": {"algorithm": "mlp_classifier",
                              "params": {"hidden_layers": [256], "epochs": 1000, "batch_size": 1}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    // Cancelled while it trains, not while it waits in the queue.
    for _ in 0..3000 {
        let j = app.get(&format!("/v1/jobs/{id}")).await;
        if j.body["state"] == "running" && j.body["epoch"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let c = app.call("DELETE", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let job = app.wait_job(&id).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(job["version"].is_null());
    let versions = app.get("/v1/models/bc").await;
    assert_eq!(versions.body["versions"].as_array().unwrap().len(), 1);
}
