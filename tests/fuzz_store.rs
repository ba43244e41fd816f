//! Property-based fuzzing of the model store's readers: a version folder whose
//! `meta.json` or `model.json` has one to three parts changed (or its bytes edited), a
//! model folder with a changed `aliases.json` or `policy.json`, or a bare `model.onnx`
//! with edited bytes, loaded at start-up by an in-process app and then used through
//! the API (model listing, one model, predict with rows of the model's width, V2
//! metadata and infer, monitoring). Property: start-up loads whatever it can (a bad
//! version is `failed`, never a crash), and every answer after it is JSON with a status
//! other than 500. Deeper runs: scripts/fuzz.sh.

mod common;
mod fuzzing;

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use common::*;
use fuzzing::{byte_edits, check, mutate, mutated_json};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The files of a trained version, read once from a real store.
#[derive(Debug, Clone)]
struct Version {
    meta: Value,
    model: Value,
}

struct Bases {
    versions: Vec<Version>,
    onnx: Vec<Vec<u8>>,
}

/// Trains the native families on small data through the API and reads their store files.
fn bases() -> Bases {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let versions = rt.block_on(async {
        let app = app(dir.path()).await;
        train_iris(&app, "softmax", None).await;
        let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
        let small: String = csv.lines().take(101).map(|l| format!("{l}\n")).collect();
        for (name, algorithm, data) in [
            (
                "mlp",
                "mlp_classifier",
                json!({"csv": csv, "target": "target"}),
            ),
            (
                "logistic",
                "logistic_regression",
                json!({"csv": small, "target": "target"}),
            ),
            (
                "linear",
                "linear_regression",
                json!({"csv": csv, "target": "petal width (cm)"}),
            ),
        ] {
            let mut params = json!({"seed": 3});
            if algorithm == "mlp_classifier" {
                params["hidden_layers"] = json!([3]);
                params["epochs"] = json!(5);
            }
            let job = app
                .train(
                    name,
                    json!({"algorithm": algorithm, "data": data, "params": params}),
                )
                .await;
            assert_eq!(job["state"], "succeeded", "{job}");
        }
        let store = app.state.cfg.store_dir().unwrap();
        ["softmax", "mlp", "logistic", "linear"]
            .iter()
            .map(|name| {
                let read = |f: &str| -> Value {
                    let p = store.join(name).join("1").join(f);
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
                };
                Version {
                    meta: read("meta.json"),
                    model: read("model.json"),
                }
            })
            .collect()
    });
    let onnx_dir = fixture("models");
    let onnx = ["linreg_diabetes.onnx", "logreg_multinomial_iris.onnx"]
        .iter()
        .map(|f| std::fs::read(onnx_dir.join(f)).unwrap())
        .collect();
    Bases { versions, onnx }
}

/// What one case writes into the store before start-up.
#[derive(Debug, Clone)]
enum StoreCase {
    Meta {
        base: usize,
        doc: Value,
    },
    Model {
        base: usize,
        doc: Value,
    },
    MetaBytes {
        base: usize,
        edits: Vec<fuzzing::ByteEdit>,
    },
    ModelBytes {
        base: usize,
        edits: Vec<fuzzing::ByteEdit>,
    },
    Aliases {
        base: usize,
        doc: Value,
    },
    Policy {
        base: usize,
        doc: Value,
    },
    BareOnnx {
        base: usize,
        edits: Vec<fuzzing::ByteEdit>,
    },
}

fn store_case(b: &Bases) -> impl Strategy<Value = StoreCase> {
    let n = b.versions.len();
    let metas: Vec<Value> = b.versions.iter().map(|v| v.meta.clone()).collect();
    let models: Vec<Value> = b.versions.iter().map(|v| v.model.clone()).collect();
    let i = 0..n;
    prop_oneof![
        3 => (i.clone(), prop::sample::select(metas).prop_flat_map(mutated_json))
            .prop_map(|(base, doc)| StoreCase::Meta { base, doc }),
        3 => (i.clone(), prop::sample::select(models).prop_flat_map(mutated_json))
            .prop_map(|(base, doc)| StoreCase::Model { base, doc }),
        1 => (i.clone(), byte_edits()).prop_map(|(base, edits)| StoreCase::MetaBytes { base, edits }),
        1 => (i.clone(), byte_edits()).prop_map(|(base, edits)| StoreCase::ModelBytes { base, edits }),
        1 => (i.clone(), mutated_json(json!({"production": 1, "staging": 2})))
            .prop_map(|(base, doc)| StoreCase::Aliases { base, doc }),
        1 => (i, prop_oneof![
                Just(json!({"latest": {"num_versions": 1}})),
                Just(json!({"specific": {"versions": [1]}})),
                Just(json!({"all": {}})),
            ].prop_flat_map(mutated_json))
            .prop_map(|(base, doc)| StoreCase::Policy { base, doc }),
        1 => (0usize..2, byte_edits()).prop_map(|(base, edits)| StoreCase::BareOnnx { base, edits }),
    ]
}

fn write(path: PathBuf, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Lays out model `m` with version 1 (and an untouched copy as version 2) as the case says.
fn lay_out(store: &Path, b: &Bases, case: &StoreCase) {
    let v = |base: usize| &b.versions[base % b.versions.len()];
    let version = |n: u64, meta: Vec<u8>, model: Vec<u8>| {
        let dir = store.join("m").join(n.to_string());
        write(dir.join("meta.json"), &meta);
        write(dir.join("model.json"), &model);
    };
    let with_version = |meta: &Value, n: u64| {
        let mut meta = meta.clone();
        meta["version"] = json!(n);
        json_bytes(&meta)
    };
    let intact = |base: usize| {
        version(
            1,
            with_version(&v(base).meta, 1),
            json_bytes(&v(base).model),
        );
        version(
            2,
            with_version(&v(base).meta, 2),
            json_bytes(&v(base).model),
        );
    };
    let text = |base: usize| [json_bytes(&v(base).meta), json_bytes(&v(base).model)];
    match case {
        StoreCase::Meta { base, doc } => version(1, json_bytes(doc), json_bytes(&v(*base).model)),
        StoreCase::Model { base, doc } => version(1, json_bytes(&v(*base).meta), json_bytes(doc)),
        StoreCase::MetaBytes { base, edits } => {
            let [meta, model] = text(*base);
            version(1, mutate(&[meta], 0, edits), model)
        }
        StoreCase::ModelBytes { base, edits } => {
            let [meta, model] = text(*base);
            version(1, meta, mutate(&[model], 0, edits))
        }
        StoreCase::Aliases { base, doc } => {
            intact(*base);
            write(store.join("m/aliases.json"), &json_bytes(doc));
        }
        StoreCase::Policy { base, doc } => {
            intact(*base);
            write(store.join("m/policy.json"), &json_bytes(doc));
        }
        StoreCase::BareOnnx { base, edits } => {
            write(store.join("m/1/model.onnx"), &mutate(&b.onnx, *base, edits));
        }
    }
}

/// The property for one reply: JSON, and a 500 only if nothing the store holds caused it.
fn answered(what: &str, r: &Reply) -> Result<(), TestCaseError> {
    prop_assert_ne!(
        r.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}: {}",
        what,
        r.text
    );
    prop_assert!(
        !r.body.is_null(),
        "{what}: {} not JSON: {}",
        r.status,
        r.text
    );
    Ok(())
}

#[test]
fn a_store_with_one_file_changed_loads_and_serves_or_refuses_cleanly() {
    let b = bases();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check("store", 48, store_case(&b), |case| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        lay_out(&cfg.store_dir().unwrap(), &b, &case);
        rt.block_on(async {
            let app = app_with(cfg).await;
            let list = app.get("/v1/models").await;
            answered("list", &list)?;
            let model = app.get("/v1/models/m").await;
            answered("model", &model)?;
            let width = model.body["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["schema"]["feature_names"].as_array())
                .map(Vec::len)
                .next()
                .unwrap_or(4)
                .min(64);
            let row: Vec<f64> = (0..width).map(|j| j as f64 * 0.25).collect();
            for (what, uri) in [
                ("predict v1", "/v1/models/m/predict?version=1"),
                ("predict", "/v1/models/m/predict"),
            ] {
                let r = app.post(uri, json!({"instances": [row, row]})).await;
                answered(what, &r)?;
            }
            let infer = json!({"inputs": [{"name": "input", "shape": [1, width],
                "datatype": "FP64", "data": row}]});
            answered("infer", &app.post("/v2/models/m/infer", infer).await)?;
            answered("v2 metadata", &app.get("/v2/models/m").await)?;
            answered("monitoring", &app.get("/v1/models/m/monitoring").await)?;
            answered("versions", &app.get("/v1/models/m/versions").await)?;
            answered("version 1", &app.get("/v1/models/m/versions/1").await)?;
            Ok(())
        })
    });
}
