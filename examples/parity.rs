//! Quality parity with scikit-learn: trains every algorithm on the reference
//! train split of iris, breast_cancer and diabetes (tests/fixtures/data/reference.json)
//! and prints modeld's test metrics beside scikit-learn's.
//!
//! `cargo run --release --example parity [-- path/to/data]` (default: tests/fixtures/data)

use std::ops::ControlFlow;
use std::path::PathBuf;

use modeld::models::Task;
use modeld::train::{evaluate, fit_rows, load, Algorithm, DataSpec, Params, TrainSpec};
use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data"));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json"))?)?;
    // (dataset, task, metric, modeld algorithm + params, reference model)
    let cases: Vec<(&str, Task, &str, Algorithm, Value, &str)> = vec![
        (
            "iris",
            Task::Classification,
            "accuracy",
            Algorithm::SoftmaxRegression,
            json!({"l2": "C=1"}),
            "logistic_regression",
        ),
        (
            "iris",
            Task::Classification,
            "accuracy",
            Algorithm::SoftmaxRegression,
            json!({"optimizer": "sgd", "l2": 0.0001, "epochs": 20}),
            "sgd_classifier",
        ),
        (
            "iris",
            Task::Classification,
            "accuracy",
            Algorithm::MlpClassifier,
            json!({"activation": "tanh", "l2": "C=1"}),
            "logistic_regression",
        ),
        (
            "breast_cancer",
            Task::Classification,
            "accuracy",
            Algorithm::LogisticRegression,
            json!({"l2": "C=1"}),
            "logistic_regression",
        ),
        (
            "breast_cancer",
            Task::Classification,
            "accuracy",
            Algorithm::LogisticRegression,
            json!({"optimizer": "sgd", "l2": 0.0001, "epochs": 20}),
            "sgd_classifier",
        ),
        (
            "breast_cancer",
            Task::Classification,
            "accuracy",
            Algorithm::MlpClassifier,
            json!({"l2": 0.03}),
            "logistic_regression",
        ),
        (
            "diabetes",
            Task::Regression,
            "r2",
            Algorithm::LinearRegression,
            json!({}),
            "linear_regression",
        ),
        (
            "diabetes",
            Task::Regression,
            "r2",
            Algorithm::LinearRegression,
            json!({"l2": "alpha=1"}),
            "ridge",
        ),
        (
            "diabetes",
            Task::Regression,
            "r2",
            Algorithm::LinearRegression,
            json!({"optimizer": "sgd", "l2": 0.0001, "epochs": 20}),
            "sgd_regressor",
        ),
        (
            "diabetes",
            Task::Regression,
            "r2",
            Algorithm::MlpRegressor,
            json!({"hidden_layers": [16], "activation": "tanh", "epochs": 100, "l2": "alpha=10"}),
            "linear_regression",
        ),
    ];
    println!(
        "| dataset | modeld algorithm | params | metric | modeld test | scikit-learn | diff |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (ds, task, metric, alg, mut params, reference) in cases {
        let split = &r["datasets"][ds]["split"];
        let idx = |k: &str| -> Vec<usize> {
            split[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_u64())
                        .map(|v| v as usize)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (train, test) = (idx("train_indices"), idx("test_indices"));
        // sklearn's C / alpha → modeld's per-row l2: l2 = 1/(C·n) = alpha/n.
        let n = train.len() as f64;
        if let Some(s) = params["l2"].as_str() {
            let v: f64 = s.split('=').nth(1).unwrap_or("1").parse()?;
            params["l2"] = json!(if s.starts_with("C=") {
                1.0 / (v * n)
            } else {
                v / n
            });
        }
        let spec = TrainSpec {
            algorithm: alg,
            params: serde_json::from_value::<Params>(params.clone())?,
            validation_split: 0.0,
        };
        let data = load(
            &DataSpec::Path {
                path: format!("{ds}.csv"),
                target: "target".into(),
                class_names: None,
            },
            task,
            &dir,
            &modeld::train::source::NoDatasets,
        )?;
        let fitted = fit_rows(&spec, &data, &train, &[], &mut |_, _| {
            ControlFlow::Continue(())
        })?;
        let t = data.select(&test)?;
        let m = evaluate(fitted.model.as_ref(), t.x.view(), &t.y)?;
        let want = r["datasets"][ds]["models"][reference]["test_metrics"][metric]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "| {ds} | {} | `{}` | {metric} | {:.6} | {want:.6} ({reference}) | {:+.4} |",
            alg.family(),
            params,
            m[metric],
            m[metric] - want
        );
    }
    Ok(())
}
