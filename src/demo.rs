//! Demo models for a first start: `iris` (softmax regression, class names) and `diabetes`
//! (linear regression), trained from datasets compiled into the binary when the store does
//! not hold a model of that name yet. Later starts simply load them from the store.

use crate::registry::{Registry, RegistryError, PRODUCTION};
use crate::train::{self, dataset::DataSpec, Algorithm, Params, TrainSpec};

const IRIS_CSV: &str = include_str!("../data/datasets/iris.csv");
const DIABETES_CSV: &str = include_str!("../data/datasets/diabetes.csv");

struct Demo {
    name: &'static str,
    csv: &'static str,
    algorithm: Algorithm,
    class_names: Option<Vec<String>>,
}

/// Trains and registers each missing demo model with the `production` alias.
/// Blocking; returns the names it created.
pub fn ensure(registry: &Registry, data_dir: &std::path::Path, profile_bins: usize) -> Vec<String> {
    let demos = [
        Demo {
            name: "iris",
            csv: IRIS_CSV,
            algorithm: Algorithm::SoftmaxRegression,
            class_names: Some(vec![
                "setosa".into(),
                "versicolor".into(),
                "virginica".into(),
            ]),
        },
        Demo {
            name: "diabetes",
            csv: DIABETES_CSV,
            algorithm: Algorithm::LinearRegression,
            class_names: None,
        },
    ];
    let mut created = Vec::new();
    for demo in demos {
        if registry.snapshot().models.contains_key(demo.name) {
            continue;
        }
        match train_demo(registry, data_dir, &demo, profile_bins) {
            Ok(version) => {
                tracing::info!(model = demo.name, version, "demo model trained");
                created.push(demo.name.to_string());
            }
            // A store that cannot be written (KServe mounts /mnt/models read-only) must
            // not stop start-up: the models already in it are still served.
            Err(e) if is_store_write_error(e.as_ref()) => {
                tracing::warn!(model = demo.name, error = %e,
                    "demo models skipped: the model store cannot be written");
                break;
            }
            Err(e) => tracing::error!(model = demo.name, error = %e, "demo model failed"),
        }
    }
    created
}

fn train_demo(
    registry: &Registry,
    data_dir: &std::path::Path,
    demo: &Demo,
    profile_bins: usize,
) -> Result<u64, Box<dyn std::error::Error>> {
    let spec = TrainSpec {
        algorithm: demo.algorithm,
        params: Params {
            seed: Some(42),
            ..Params::default()
        },
        validation_split: 0.2,
    };
    let data = DataSpec::Csv {
        csv: demo.csv.to_string(),
        target: "target".into(),
        class_names: demo.class_names.clone(),
    };
    let task = demo.algorithm.family().task();
    let dataset = train::source::load(&data, task, data_dir, &train::source::NoDatasets)?;
    let started = std::time::Instant::now();
    let fitted = train::fit(&spec, &dataset, &mut |_, _| {
        std::ops::ControlFlow::Continue(())
    })?;
    let meta = crate::jobs::version_meta(
        &fitted,
        "demo",
        &spec,
        &dataset,
        started.elapsed().as_secs_f64(),
        &format!("bundled:{}.csv", demo.name),
        profile_bins,
    );
    Ok(registry.register(demo.name, meta, fitted.model, Some(PRODUCTION))?)
}

fn is_store_write_error(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        e.downcast_ref::<RegistryError>(),
        Some(RegistryError::Store(_) | RegistryError::ReadOnly(_))
    )
}
