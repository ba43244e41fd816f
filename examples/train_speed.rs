//! Times one modeld fit on a CSV (all rows train, no validation) and prints
//! `{"seconds", "metric", "value"}` as JSON: used by bench/train_speed.sh.
//!
//! `train_speed <csv> <regression|classification> <algorithm> '<params json>'`
//! (`MODELD_TRAIN_THREADS=n` sets the training threads, default 1).

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use modeld::models::Task;
use modeld::train::{fit_rows_with, load, Algorithm, DataSpec, Params, Threads, TrainSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let [_, csv, task, alg, params] = &a[..] else {
        return Err(
            "usage: train_speed <csv> <regression|classification> <algorithm> <params>".into(),
        );
    };
    let task = if task == "regression" {
        Task::Regression
    } else {
        Task::Classification
    };
    let path = Path::new(csv);
    let spec = DataSpec::Path {
        path: path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_string(),
        target: "target".into(),
        class_names: None,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let data = load(&spec, task, dir, &modeld::train::source::NoDatasets)?;
    let spec = TrainSpec {
        algorithm: serde_json::from_value::<Algorithm>(serde_json::Value::String(alg.clone()))?,
        params: serde_json::from_str::<Params>(params)?,
        validation_split: 0.0,
    };
    let threads = match std::env::var("MODELD_TRAIN_THREADS") {
        Ok(v) => Threads::new(v.parse()?)?,
        Err(_) => Threads::sequential(),
    };
    let rows: Vec<usize> = (0..data.n_rows()).collect();
    // Timed: standardisation + optimisation + building the model + train metrics,
    // like a scikit-learn Pipeline(StandardScaler, model).fit plus one score.
    let t = Instant::now();
    let f = fit_rows_with(&spec, &data, &rows, &[], &threads, &mut |_, _| {
        ControlFlow::Continue(())
    })?;
    let secs = t.elapsed().as_secs_f64();
    let metric = if task == Task::Regression {
        "r2"
    } else {
        "accuracy"
    };
    println!(
        "{}",
        serde_json::json!({"seconds": secs, "metric": metric, "value": f.train_metrics[metric], "epochs": f.epochs_run})
    );
    Ok(())
}
