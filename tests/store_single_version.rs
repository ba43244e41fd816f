//! The layout KServe's storage-initializer leaves at /mnt/models for a `storageUri` that
//! names one version, through the real binary: a folder holding only `model.onnx`, or a
//! copy of a modeld version folder, served as `store.model_name` version 1 (read-only);
//! without a name, start-up stops naming the setting.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{fixture_path, http, modeld, start};

fn call(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = http(addr, method, path, body);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Waits for a job and returns it finished.
fn wait_job(addr: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (_, job) = call(addr, "GET", &format!("/v1/jobs/{id}"), None);
        if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or("")) {
            return job;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("job {id} did not finish");
}

fn train(addr: &str, name: &str, body: &str) -> Value {
    let (status, accepted) = call(
        addr,
        "POST",
        &format!("/v1/models/{name}/train"),
        Some(body),
    );
    assert_eq!(status, 202, "{accepted}");
    wait_job(addr, accepted["job_id"].as_str().unwrap())
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

/// Every file under `dir` with its bytes, to show that nothing changed.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            out.extend(
                contents(&path)
                    .into_iter()
                    .map(|(n, b)| (format!("{name}/{n}"), b)),
            );
        } else {
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_folder_holding_only_model_onnx_is_served_under_the_model_name() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt-models");
    std::fs::create_dir(&mnt).unwrap();
    let stem = "logreg_multinomial_iris";
    std::fs::copy(
        fixture_path(&format!("models/{stem}.onnx")),
        mnt.join("model.onnx"),
    )
    .unwrap();
    // KServe's runtime passes both as flags.
    let server = start(
        modeld(dir.path())
            .arg(format!("--model-dir={}", mnt.display()))
            .arg("--model-name=iris"),
    );
    let (status, _) = call(
        &server.addr,
        "GET",
        "/v2/models/iris/versions/1/ready",
        None,
    );
    assert_eq!(status, 200);
    let (_, models) = call(&server.addr, "GET", "/v1/models", None);
    assert_eq!(models["models"][0]["name"], "iris", "{models}");
    assert_eq!(models["models"][0]["versions"], json!([1]), "{models}");

    let e: Value = serde_json::from_slice(
        &std::fs::read(fixture_path(&format!("models/{stem}.expected.json"))).unwrap(),
    )
    .unwrap();
    let rows: Vec<Vec<f64>> = e["samples"]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| floats(r).into_iter().map(|v| v as f32 as f64).collect())
        .collect();
    let infer = json!({"inputs": [{"name": "input", "shape": [rows.len(), 4],
                                   "datatype": "FP32", "data": rows}]});
    let (status, out) = call(
        &server.addr,
        "POST",
        "/v2/models/iris/versions/1/infer",
        Some(&infer.to_string()),
    );
    assert_eq!(status, 200, "{out}");
    let want = &e["expected_outputs"];
    assert_eq!(out["outputs"][0]["data"], want["label"], "{out}");
    let got = floats(&out["outputs"][1]["data"]);
    let probabilities = floats(&want["probabilities"]);
    assert_eq!(got.len(), probabilities.len());
    for (g, w) in got.iter().zip(&probabilities) {
        assert!((g - w).abs() <= 1e-5, "got {g}, want {w}");
    }
}

#[test]
fn a_copied_modeld_version_predicts_as_it_did_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let body = r#"{"algorithm": "mlp_regressor",
      "data": {"rows": [[1],[2],[3],[4],[5],[6],[7],[8]], "targets": [1,4,9,16,25,36,49,64],
               "feature_names": ["x"]},
      "params": {"hidden_layers": [4], "epochs": 30, "seed": 3}}"#;
    let predict = r#"{"instances": [[2.5], [9]]}"#;
    let original = {
        let trainer = start(modeld(dir.path()).env("MODELD_STORE__URI", &store));
        // Version 2, so the copy is renumbered as the one version it serves.
        for want in [1, 2] {
            let job = train(&trainer.addr, "sq", body);
            assert_eq!(job["version"], want, "{job}");
        }
        let (status, p) = call(
            &trainer.addr,
            "POST",
            "/v1/models/sq/predict?version=2",
            Some(predict),
        );
        assert_eq!(status, 200, "{p}");
        p["predictions"].clone()
    };
    let mnt = dir.path().join("mnt-models");
    std::fs::create_dir(&mnt).unwrap();
    for entry in std::fs::read_dir(store.join("sq/2")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, mnt.join(path.file_name().unwrap())).unwrap();
    }
    // An interrupted-write leftover the directory store's janitor would remove.
    std::fs::create_dir(mnt.join(".tmp-leftover")).unwrap();
    let before = contents(&mnt);
    std::thread::sleep(Duration::from_millis(50));

    let server = start(
        modeld(dir.path())
            .env("MODELD_STORE__URI", &mnt)
            .env("MODELD_STORE__MODEL_NAME", "squares"),
    );
    let (status, p) = call(
        &server.addr,
        "POST",
        "/v1/models/squares/predict",
        Some(predict),
    );
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["version"], 1, "{p}");
    assert_eq!(p["predictions"], original, "{p}");
    let (_, v) = call(&server.addr, "GET", "/v1/models/squares/versions/1", None);
    assert_eq!(v["family"], "mlp_regressor", "{v}");

    for (method, path, body) in [
        (
            "PUT",
            "/v1/models/squares/aliases/production",
            Some(r#"{"version": 1}"#),
        ),
        ("DELETE", "/v1/models/squares/versions/1", None),
    ] {
        let (status, err) = call(&server.addr, method, path, body);
        assert_eq!(status, 403, "{method} {path}: {err}");
        assert_eq!(err["code"], "read_only_store", "{err}");
        let msg = err["error"].as_str().unwrap();
        assert!(
            msg.contains("'squares'") && msg.contains("read-only"),
            "{msg}"
        );
    }
    let job = train(&server.addr, "squares", body);
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("read-only"),
        "{job}"
    );

    let (_, m) = call(&server.addr, "GET", "/v1/models/squares", None);
    assert_eq!(m["aliases"], json!({}), "{m}");
    assert_eq!(m["versions"].as_array().map(Vec::len), Some(1), "{m}");
    let (status, p) = call(
        &server.addr,
        "POST",
        "/v1/models/squares/predict",
        Some(predict),
    );
    assert_eq!((status, &p["predictions"]), (200, &original), "{p}");
    assert_eq!(contents(&mnt), before, "the folder changed");
}

#[test]
fn a_single_version_without_a_model_name_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt-models");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::copy(
        fixture_path("models/linreg_diabetes.onnx"),
        mnt.join("model.onnx"),
    )
    .unwrap();
    let out = modeld(dir.path())
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("MODELD_STORE__URI", &mnt)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("store.model_name") && err.contains("--model-name"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let mut files: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files.sort();
    assert_eq!(files, ["model.onnx"]);
}
