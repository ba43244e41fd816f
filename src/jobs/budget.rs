//! The training budget (`[training_limits]`): a job's model size and work, computed from
//! the request's resolved parameters and the dataset's shape at submit time, so a request
//! that would hold gigabytes or run for days is refused before it queues.
//!
//! Work is parameters × rows × epochs, one unit per multiply-add of a pass over the data
//! (up to a constant); the second-order solvers (`closed_form`, `newton`) cost another
//! factor of parameters per pass. A tuning job sums every combination over its folds and
//! adds its largest combination once more for the refit.

use super::{JobError, Work};
use crate::config::TrainingLimitsConfig;
use crate::train::checked::CheckedSpec;
use crate::train::{Algorithm, Dataset, ResolvedParams, Solver};

/// The size of one fit: parameters and work, `None` past `u128` (never in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub parameters: u128,
    pub work: u128,
}

/// Parameters of the model `p` trains on `d` features and `k` classes.
fn parameters(p: &ResolvedParams, d: usize, k: usize) -> u128 {
    let (d, k) = (d as u128, k as u128);
    match p.algorithm {
        Algorithm::LinearRegression | Algorithm::LogisticRegression => d + 1,
        Algorithm::SoftmaxRegression => (d + 1).saturating_mul(k),
        Algorithm::MlpRegressor | Algorithm::MlpClassifier => {
            let out = if p.algorithm == Algorithm::MlpClassifier {
                k
            } else {
                1
            };
            let hidden = p
                .hidden_layers
                .as_deref()
                .unwrap_or(&crate::train::params::DEFAULT_HIDDEN);
            let mut sizes = vec![d];
            sizes.extend(hidden.iter().map(|h| *h as u128));
            sizes.push(out);
            sizes
                .windows(2)
                .map(|s| (s[0] + 1).saturating_mul(s[1]))
                .fold(0u128, u128::saturating_add)
        }
    }
}

/// The cost of fitting `spec` on `data`.
pub fn cost(spec: &CheckedSpec, data: &Dataset) -> Cost {
    let p = spec.report();
    let k = data.classes.as_ref().map_or(1, Vec::len);
    let parameters = parameters(&p, data.x.ncols(), k);
    let passes = p.epochs.unwrap_or(1).max(1) as u128;
    let passes = match p.solver {
        Solver::ClosedForm | Solver::Newton => passes.saturating_mul(parameters),
        Solver::Gd => passes,
    };
    let work = parameters
        .saturating_mul(data.n_rows() as u128)
        .saturating_mul(passes);
    Cost { parameters, work }
}

/// Distillation costs its student's fit; pruning's fine-tuning the teacher's parameters
/// per row and epoch; quantisation one pass over the parameters.
fn compress_cost(c: &super::request::CompressWork, data: &Dataset) -> Cost {
    use crate::compress::Method;
    let teacher = c.teacher.n_parameters() as u128;
    let epochs = match &c.method {
        Method::Distill { student, .. } => return cost(student, data),
        Method::Prune {
            fine_tune: Some(ft),
            ..
        } => ft.epochs as u128,
        _ => 0,
    };
    Cost {
        parameters: teacher,
        work: teacher
            .saturating_mul(data.n_rows() as u128)
            .saturating_mul(epochs.max(1)),
    }
}

/// Refuses a job above the limits, naming the limit and the computed value.
pub fn check(limits: &TrainingLimitsConfig, work: &Work, data: &Dataset) -> Result<(), JobError> {
    let over = |what: &str, value: u128, limit: u128, hint: &str| {
        Err(JobError::OverBudget(format!(
            "the job needs {value} {what}, above the limit training_limits.{} = {limit}; {hint}",
            if what == "parameters" {
                "max_parameters"
            } else {
                "max_work"
            }
        )))
    };
    let costs: Vec<Cost> = match work {
        Work::Fit(spec) => vec![cost(spec, data)],
        Work::Tune(plan) => plan
            .candidates
            .iter()
            .map(|(_, spec)| cost(spec, data))
            .collect(),
        Work::Compress(c) => vec![compress_cost(c, data)],
    };
    let widest = costs.iter().map(|c| c.parameters).max().unwrap_or(0);
    if widest > limits.max_parameters as u128 {
        return over(
            "parameters",
            widest,
            limits.max_parameters as u128,
            "use smaller hidden_layers",
        );
    }
    let work = match work {
        Work::Fit(_) | Work::Compress(_) => {
            costs.iter().map(|c| c.work).fold(0, u128::saturating_add)
        }
        Work::Tune(plan) => {
            let folds = plan.folds as u128;
            let refit = costs.iter().map(|c| c.work).max().unwrap_or(0);
            costs
                .iter()
                .map(|c| c.work.saturating_mul(folds))
                .fold(refit, u128::saturating_add)
        }
    };
    if work > limits.max_work as u128 {
        return over(
            "units of work (parameters x rows x epochs)",
            work,
            limits.max_work as u128,
            "use fewer epochs, smaller hidden_layers or fewer rows",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{Params, TrainSpec};
    use ndarray::Array2;

    fn iris_like(rows: usize) -> Dataset {
        Dataset {
            x: Array2::zeros((rows, 4)),
            y: vec![0.0; rows],
            feature_names: (0..4).map(|i| format!("f{i}")).collect(),
            target: "t".into(),
            classes: Some(vec!["a".into(), "b".into(), "c".into()]),
            read_fingerprint: Default::default(),
        }
    }

    fn mlp(hidden: Vec<usize>, epochs: usize) -> CheckedSpec {
        let spec = TrainSpec {
            algorithm: Algorithm::MlpClassifier,
            params: Params {
                hidden_layers: Some(hidden),
                epochs: Some(epochs),
                ..Params::default()
            },
            validation_split: 0.2,
        };
        spec.validate().unwrap()
    }

    #[test]
    fn mlp_parameters_and_work_follow_the_layer_sizes() {
        let c = cost(&mlp(vec![8], 10), &iris_like(150));
        // (4 + 1) x 8 + (8 + 1) x 3
        assert_eq!(c.parameters, 67);
        assert_eq!(c.work, 67 * 150 * 10);
        let softmax = TrainSpec {
            algorithm: Algorithm::SoftmaxRegression,
            params: Params::default(),
            validation_split: 0.2,
        };
        let softmax = softmax.validate().unwrap();
        assert_eq!(cost(&softmax, &iris_like(150)).parameters, 15);
    }
}
