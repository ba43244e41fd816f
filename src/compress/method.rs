//! The compression a request asks for ([`Method`]), checked before a job exists: every
//! refusal names the parameter, so a bad request is a 422 and never a failed job.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::models::Task;
use crate::train::{Algorithm, CheckedSpec, Params, TrainError, TrainSpec};

/// Largest prune sparsity: beyond it a layer keeps too few weights to be useful.
pub const MAX_SPARSITY: f64 = 0.95;
/// Most fine-tuning epochs a prune job may ask for.
pub const MAX_FINE_TUNE_EPOCHS: usize = 1000;

#[derive(Clone, Debug)]
pub enum Method {
    /// int8 weights, one scale per output channel.
    Quantize,
    /// Zero the smallest `sparsity` share of each layer's weights, then optionally
    /// train the survivors a little more.
    Prune {
        sparsity: f64,
        fine_tune: Option<FineTune>,
    },
    /// Train `student` on the teacher's outputs.
    Distill {
        student: Box<CheckedSpec>,
        temperature: f64,
    },
}

/// Masked fine-tuning after pruning: Adam on mini-batches of the transfer rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FineTune {
    pub epochs: usize,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub seed: u64,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::Quantize => "quantize",
            Method::Prune { .. } => "prune",
            Method::Distill { .. } => "distill",
        }
    }

    /// The student's algorithm when distilling.
    pub fn student(&self) -> Option<Algorithm> {
        match self {
            Method::Distill { student, .. } => Some(student.algorithm()),
            _ => None,
        }
    }

    /// Parses `method` and its `params` for a teacher of `task`.
    pub fn parse(method: &str, params: &Value, task: Task) -> Result<Method, TrainError> {
        let empty = Map::new();
        let params = match params {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => return Err(TrainError::param("params", "must be a JSON object".into())),
        };
        match method {
            "quantize" => parse_quantize(params),
            "prune" => parse_prune(params),
            "distill" => parse_distill(params, task),
            other => Err(TrainError::param(
                "method",
                format!("'{other}' is not one of quantize, prune, distill"),
            )),
        }
    }
}

fn unknown(params: &Map<String, Value>, known: &[&str]) -> Result<(), TrainError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(TrainError::param(
            "params",
            format!("has an unknown field '{k}' (expected {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn number(
    params: &Map<String, Value>,
    name: &'static str,
    default: f64,
) -> Result<f64, TrainError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| TrainError::param(name, format!("must be a number, got {v}"))),
    }
}

fn count(params: &Map<String, Value>, name: &'static str, default: u64) -> Result<u64, TrainError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| TrainError::param(name, format!("must be a whole number ≥ 0, got {v}"))),
    }
}

fn parse_quantize(params: &Map<String, Value>) -> Result<Method, TrainError> {
    unknown(params, &["bits"])?;
    match count(params, "bits", 8) {
        Ok(8) => Ok(Method::Quantize),
        _ => Err(TrainError::param(
            "bits",
            format!(
                "must be 8 (int8 is the only width), got {}",
                params
                    .get("bits")
                    .map_or("nothing".into(), Value::to_string)
            ),
        )),
    }
}

fn parse_prune(params: &Map<String, Value>) -> Result<Method, TrainError> {
    unknown(
        params,
        &[
            "sparsity",
            "fine_tune_epochs",
            "learning_rate",
            "batch_size",
            "seed",
        ],
    )?;
    let Some(sparsity) = params.get("sparsity") else {
        return Err(TrainError::param(
            "sparsity",
            "is required (0 to 0.95)".into(),
        ));
    };
    let sparsity = sparsity
        .as_f64()
        .filter(|s| (0.0..=MAX_SPARSITY).contains(s))
        .ok_or_else(|| {
            TrainError::param(
                "sparsity",
                format!("must be between 0 and {MAX_SPARSITY}, got {sparsity}"),
            )
        })?;
    let epochs = count(params, "fine_tune_epochs", 0)?;
    if epochs > MAX_FINE_TUNE_EPOCHS as u64 {
        return Err(TrainError::param(
            "fine_tune_epochs",
            format!("must be at most {MAX_FINE_TUNE_EPOCHS}, got {epochs}"),
        ));
    }
    let learning_rate = number(params, "learning_rate", 1e-3)?;
    if !(learning_rate > 0.0 && learning_rate <= 10.0) {
        return Err(TrainError::param(
            "learning_rate",
            format!("must be in (0, 10], got {learning_rate}"),
        ));
    }
    let batch_size = count(params, "batch_size", 32)?;
    if !(1..=1_000_000).contains(&batch_size) {
        return Err(TrainError::param(
            "batch_size",
            format!("must be 1 to 1000000, got {batch_size}"),
        ));
    }
    let fine_tune = (epochs > 0).then_some(FineTune {
        epochs: epochs as usize,
        learning_rate,
        batch_size: batch_size as usize,
        seed: count(params, "seed", 42)?,
    });
    Ok(Method::Prune {
        sparsity,
        fine_tune,
    })
}

/// `{"algorithm", "params"?, "validation_split"?, "temperature"?}`.
fn parse_distill(params: &Map<String, Value>, task: Task) -> Result<Method, TrainError> {
    unknown(
        params,
        &["algorithm", "params", "validation_split", "temperature"],
    )?;
    let algorithm = params
        .get("algorithm")
        .ok_or_else(|| TrainError::param("algorithm", "is required (the student's)".into()))?;
    let algorithm = Algorithm::deserialize(algorithm).map_err(|_| {
        TrainError::param(
            "algorithm",
            format!(
                "{algorithm} is not one of linear_regression, logistic_regression, \
                 softmax_regression, mlp_regressor, mlp_classifier"
            ),
        )
    })?;
    let student_task = algorithm.family().task();
    if student_task != task {
        return Err(TrainError::param(
            "algorithm",
            format!(
                "'{}' is a {} algorithm but the teacher is a {}",
                algorithm.family(),
                task_name(student_task),
                task_name(task)
            ),
        ));
    }
    let student_params = match params.get("params") {
        None => Params::default(),
        Some(p) => Params::deserialize(p)
            .map_err(|e| TrainError::param("params.params", format!("are not valid: {e}")))?,
    };
    let spec = TrainSpec {
        algorithm,
        params: student_params,
        validation_split: number(params, "validation_split", 0.2)?,
    };
    let temperature = number(params, "temperature", 1.0)?;
    if !(temperature > 0.0 && temperature <= 100.0) {
        return Err(TrainError::param(
            "temperature",
            format!("must be in (0, 100], got {temperature}"),
        ));
    }
    Ok(Method::Distill {
        student: Box::new(spec.validate()?),
        temperature,
    })
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Regression => "regression",
        Task::Classification => "classification",
    }
}
