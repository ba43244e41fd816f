//! Learning-rate schedules: `params.schedule = {"kind": ..., ...}`.
//!
//! The rate of epoch e (1-based) for base rate η:
//! * `constant`: η.
//! * `step` (`step_size` 10, `gamma` 0.5): η·γ^⌊(e−1)/step_size⌋.
//! * `exponential` (`gamma` 0.99): η·γ^(e−1).
//! * `inverse_scaling` (`power_t` 0.5): η / e^power_t (scikit-learn's `invscaling`
//!   with epochs as t). The default for stochastic optimisers (sgd, minibatch, and
//!   momentum/adam with a `batch_size`): the noise of small batches needs a decaying
//!   step to converge instead of hovering around the optimum.
//! * `warmup` (`warmup_epochs` 5, `then` constant): rises linearly η·e/(w+1) for
//!   e ≤ w, then follows `then` (any non-warmup schedule) counted from epoch w+1.
//! * `plateau` (`factor` 0.5, `patience` 5, `min_lr` 1e-6, `threshold` 1e-4): the
//!   rate is multiplied by `factor` (not below `min_lr`) once the validation loss (the
//!   training loss without a validation split) has not improved by a relative
//!   `threshold` for `patience` epochs (PyTorch's `ReduceLROnPlateau`, mode "rel").

use serde::{Deserialize, Serialize};

use super::TrainError;

/// A learning-rate schedule as sent by clients; all fields but `kind` optional.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    Step {
        #[serde(default = "d_step_size")]
        step_size: usize,
        #[serde(default = "d_step_gamma")]
        gamma: f64,
    },
    Exponential {
        #[serde(default = "d_exp_gamma")]
        gamma: f64,
    },
    InverseScaling {
        #[serde(default = "d_power_t")]
        power_t: f64,
    },
    Warmup {
        #[serde(default = "d_warmup")]
        warmup_epochs: usize,
        /// Schedule after the warm-up; default constant.
        #[serde(default)]
        then: Option<Box<Schedule>>,
    },
    Plateau {
        #[serde(default = "d_factor")]
        factor: f64,
        #[serde(default = "d_patience")]
        patience: usize,
        #[serde(default = "d_min_lr")]
        min_lr: f64,
        #[serde(default = "d_threshold")]
        threshold: f64,
    },
}

fn d_step_size() -> usize {
    10
}
fn d_step_gamma() -> f64 {
    0.5
}
fn d_exp_gamma() -> f64 {
    0.99
}
fn d_power_t() -> f64 {
    0.5
}
fn d_warmup() -> usize {
    5
}
fn d_factor() -> f64 {
    0.5
}
fn d_patience() -> usize {
    5
}
fn d_min_lr() -> f64 {
    1e-6
}
fn d_threshold() -> f64 {
    1e-4
}

impl Schedule {
    /// The default when no schedule is given: inverse scaling (η/√e) for
    /// mini-batch training, constant for full batch.
    pub fn default_for(stochastic: bool) -> Schedule {
        if stochastic {
            Schedule::InverseScaling {
                power_t: d_power_t(),
            }
        } else {
            Schedule::Constant
        }
    }

    /// Checks every field's range; messages name the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |name: &'static str, reason: String| Err(TrainError::param(name, reason));
        let unit = |name: &'static str, g: f64| {
            if g.is_finite() && g > 0.0 && g <= 1.0 {
                Ok(())
            } else {
                bad(name, format!("must be in (0, 1], got {g}"))
            }
        };
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                if *step_size == 0 {
                    return bad("schedule.step_size", "must be at least 1".into());
                }
                unit("schedule.gamma", *gamma)
            }
            Schedule::Exponential { gamma } => unit("schedule.gamma", *gamma),
            Schedule::InverseScaling { power_t } => {
                if power_t.is_finite() && *power_t >= 0.0 && *power_t <= 10.0 {
                    Ok(())
                } else {
                    bad(
                        "schedule.power_t",
                        format!("must be in [0, 10], got {power_t}"),
                    )
                }
            }
            Schedule::Warmup { then, .. } => match then.as_deref() {
                Some(Schedule::Warmup { .. } | Schedule::Plateau { .. }) => bad(
                    "schedule.then",
                    "must be constant, step, exponential or inverse_scaling".into(),
                ),
                Some(s) => s.validate(),
                None => Ok(()),
            },
            Schedule::Plateau {
                factor,
                patience,
                min_lr,
                threshold,
            } => {
                if !(factor.is_finite() && *factor > 0.0 && *factor < 1.0) {
                    return bad(
                        "schedule.factor",
                        format!("must be in (0, 1), got {factor}"),
                    );
                }
                if *patience == 0 {
                    return bad("schedule.patience", "must be at least 1".into());
                }
                if !(min_lr.is_finite() && *min_lr >= 0.0) {
                    return bad("schedule.min_lr", format!("must be >= 0, got {min_lr}"));
                }
                if !(threshold.is_finite() && *threshold >= 0.0) {
                    return bad(
                        "schedule.threshold",
                        format!("must be >= 0, got {threshold}"),
                    );
                }
                Ok(())
            }
        }
    }
}

/// A schedule being run: yields the rate per epoch and observes the monitored loss.
pub struct Scheduler {
    schedule: Schedule,
    base: f64,
    /// Plateau state: current rate, best loss, epochs without improvement.
    current: f64,
    best: f64,
    bad_epochs: usize,
}

impl Scheduler {
    pub fn new(schedule: Schedule, base: f64) -> Self {
        Scheduler {
            schedule,
            base,
            current: base,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// Rate for 1-based `epoch`.
    pub fn rate(&self, epoch: usize) -> f64 {
        match &self.schedule {
            Schedule::Plateau { .. } => self.current,
            s => closed_rate(s, self.base, epoch),
        }
    }

    /// Reports the monitored loss after an epoch (only plateau reacts).
    pub fn observe(&mut self, loss: f64) {
        if let Schedule::Plateau {
            factor,
            patience,
            min_lr,
            threshold,
        } = self.schedule
        {
            if loss < self.best * (1.0 - threshold) || !self.best.is_finite() {
                self.best = loss;
                self.bad_epochs = 0;
            } else {
                self.bad_epochs += 1;
                if self.bad_epochs > patience {
                    self.current = (self.current * factor).max(min_lr);
                    self.bad_epochs = 0;
                }
            }
        }
    }
}

/// Rate of the stateless schedules at 1-based `epoch`.
fn closed_rate(s: &Schedule, base: f64, epoch: usize) -> f64 {
    let e = epoch.max(1);
    match s {
        Schedule::Constant | Schedule::Plateau { .. } => base,
        Schedule::Step { step_size, gamma } => {
            base * gamma.powi(((e - 1) / (*step_size).max(1)).min(i32::MAX as usize) as i32)
        }
        Schedule::Exponential { gamma } => base * gamma.powf((e - 1) as f64),
        Schedule::InverseScaling { power_t } => base / (e as f64).powf(*power_t),
        Schedule::Warmup {
            warmup_epochs,
            then,
        } => {
            if e <= *warmup_epochs {
                base * e as f64 / (*warmup_epochs + 1) as f64
            } else {
                match then.as_deref() {
                    Some(t) => closed_rate(t, base, e - warmup_epochs),
                    None => base,
                }
            }
        }
    }
}
