//! Per-row compute time of an imported ONNX graph in modeld (tract, behind the `Model`
//! trait, exactly as serving calls it), for bench/onnx_speed.sh. No HTTP: the figure is
//! the model call alone, comparable with an onnxruntime session's `run`.
//! Usage: onnx_speed MODEL.onnx ROWS.csv BATCH [REPEATS]

use std::time::Instant;

use modeld::models::limits::{DEFAULT_MAX_FEATURES, DEFAULT_MAX_PARAMETERS};
use modeld::models::onnx::{load, OnnxArtifact};
use modeld::models::Limits;
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, csv, batch, rest @ ..] = args.as_slice() else {
        return Err("usage: onnx_speed MODEL.onnx ROWS.csv BATCH [REPEATS]".into());
    };
    let batch: usize = batch.parse()?;
    let repeats: usize = rest.first().map_or(Ok(2000), |r| r.parse())?;
    let limits = Limits {
        max_features: DEFAULT_MAX_FEATURES,
        max_parameters: DEFAULT_MAX_PARAMETERS,
    };
    let model = load(OnnxArtifact::new(std::fs::read(model)?), &limits)?;
    let text = std::fs::read_to_string(csv)?;
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(str::parse)
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<_, _>>()?;
    let d = model.schema().n_features();
    let flat: Vec<f64> = (0..batch)
        .flat_map(|i| rows[i % rows.len()][..d].to_vec())
        .collect();
    let x = Array2::from_shape_vec((batch, d), flat)?;
    for _ in 0..repeats / 10 + 1 {
        model.predict(x.view())?;
    }
    let mut per_row_us: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            let _ = model.predict(x.view());
            t.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    per_row_us.sort_by(f64::total_cmp);
    println!(
        "modeld batch {batch}: median {:.3} us/row over {repeats} calls",
        per_row_us[repeats / 2]
    );
    Ok(())
}
