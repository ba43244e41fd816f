//! Shared helpers for the training tests.

use std::ops::ControlFlow;
use std::path::PathBuf;

use crate::models::Task;
use crate::train::{
    evaluate, fit_rows, load, Algorithm, DataSpec, Dataset, Fitted, Metrics, Params, TrainSpec,
};

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
}

pub fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn dataset(name: &str, task: Task) -> Dataset {
    let spec = DataSpec::Path {
        path: format!("{name}.csv"),
        target: "target".into(),
        class_names: None,
    };
    load(&spec, task, &data_dir(), &crate::train::source::NoDatasets).unwrap()
}

pub fn indices(r: &serde_json::Value, ds: &str, key: &str) -> Vec<usize> {
    r["datasets"][ds]["split"][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

pub fn ref_metric(r: &serde_json::Value, ds: &str, model: &str, metric: &str) -> f64 {
    r["datasets"][ds]["models"][model]["test_metrics"][metric]
        .as_f64()
        .unwrap()
}

/// Trains on the reference train split (in order) and scores the test split.
pub fn fit_reference(
    ds: &str,
    task: Task,
    algorithm: Algorithm,
    params: Params,
) -> (Fitted, Metrics) {
    let r = reference();
    let data = dataset(ds, task);
    let train = indices(&r, ds, "train_indices");
    let test = indices(&r, ds, "test_indices");
    let spec = TrainSpec {
        algorithm,
        params,
        validation_split: 0.0,
    };
    let fitted = fit_rows(&spec, &data, &train, &[], &mut |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap();
    let t = data.select(&test).unwrap();
    let m = evaluate(fitted.model.as_ref(), t.x.view(), &t.y).unwrap();
    (fitted, m)
}

/// l2 equivalent to scikit-learn's C = 1 / Ridge alpha = 1 on the reference split.
pub fn l2_unit(r: &serde_json::Value, ds: &str) -> f64 {
    1.0 / r["datasets"][ds]["split"]["n_train"].as_f64().unwrap()
}
