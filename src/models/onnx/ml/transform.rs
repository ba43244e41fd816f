//! onnxruntime's post transforms (ml_common.h): computed in f32 whatever the input type,
//! with its own inverse-erf approximation for PROBIT, so the numbers match it rather than
//! the exact functions.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    pub fn parse(s: &[u8]) -> Result<Self, String> {
        Ok(match s {
            b"" | b"NONE" => Self::None,
            b"SOFTMAX" => Self::Softmax,
            b"LOGISTIC" => Self::Logistic,
            b"SOFTMAX_ZERO" => Self::SoftmaxZero,
            b"PROBIT" => Self::Probit,
            other => {
                return Err(format!(
                    "unknown post_transform '{}'",
                    String::from_utf8_lossy(other)
                ))
            }
        })
    }
}

pub fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 {
        1.0 - e
    } else {
        e
    }
}

// onnxruntime's constants, 3.14159 included: the point is its numbers, not exact ones.
#[allow(clippy::approx_constant)]
fn erf_inv(x: f32) -> f32 {
    let sgn = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (3.14159f32 * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147f32 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sgn * v3.sqrt()
}

pub fn probit(v: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * v - 1.0)
}

pub fn softmax(values: &mut [f32]) {
    let max = values
        .iter()
        .fold(-f32::MAX, |m, v| if *v > m { *v } else { m });
    let mut sum = 0.0f32;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

/// Softmax where a (near) zero score stays (near) zero instead of weighing `exp(0)`.
pub fn softmax_zero(values: &mut [f32]) {
    let max = values
        .iter()
        .fold(-f32::MAX, |m, v| if *v > m { *v } else { m });
    let exp_neg_max = (-max).exp();
    let mut sum = 0.0f32;
    for v in values.iter_mut() {
        if *v > 0.000_000_1 || *v < -0.000_000_1 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v *= exp_neg_max;
        }
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

/// How a single binary score becomes two columns (onnxruntime's `add_second_class`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondClass {
    /// Write the one score only.
    No,
    /// Probability-like weights: `[1 - s, s]`.
    Complement,
    /// Signed margins: `[-s, s]`, or both sides through the logistic.
    Negate,
}

/// Writes `scores` (one per output column, or one for a binary model) into `out`,
/// transformed; `out` has room for at least two columns when `scores` has one.
pub fn write_scores(scores: &mut [f32], post: PostTransform, second: SecondClass, out: &mut [f32]) {
    if scores.len() >= 2 {
        match post {
            PostTransform::Probit => scores.iter_mut().for_each(|v| *v = probit(*v)),
            PostTransform::Logistic => scores.iter_mut().for_each(|v| *v = logistic(*v)),
            PostTransform::Softmax => softmax(scores),
            PostTransform::SoftmaxZero => softmax_zero(scores),
            PostTransform::None => {}
        }
        out.iter_mut().zip(scores.iter()).for_each(|(o, s)| *o = *s);
        return;
    }
    let Some(&s) = scores.first() else { return };
    let pair = if post == PostTransform::Probit {
        [probit(s), 0.0]
    } else {
        match second {
            SecondClass::Complement => [1.0 - s, s],
            SecondClass::Negate if post == PostTransform::Logistic => [logistic(-s), logistic(s)],
            SecondClass::Negate => [-s, s],
            SecondClass::No => [s, 0.0],
        }
    };
    let n = if second == SecondClass::No || post == PostTransform::Probit {
        1
    } else {
        2
    };
    out.iter_mut().zip(&pair[..n]).for_each(|(o, s)| *o = *s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_and_probit_match_hand_values() {
        assert!((logistic(0.0) - 0.5).abs() < 1e-7);
        assert!((logistic(2.0) - 0.880_797).abs() < 1e-6);
        assert!((logistic(-2.0) - 0.119_203).abs() < 1e-6);
        // probit(0.5) = 0; probit(0.975) ~ 1.96 within the approximation's error.
        assert!(probit(0.5).abs() < 1e-6);
        assert!((probit(0.975) - 1.96).abs() < 5e-3);
    }

    #[test]
    fn softmax_zero_keeps_zeros() {
        let mut v = [0.0, 1.0, 2.0];
        softmax_zero(&mut v);
        assert_eq!(v[0], 0.0);
        let e = (-1.0f32).exp();
        assert!((v[1] - e / (1.0 + e)).abs() < 1e-6);
        let mut w = [0.0, 1.0, 2.0];
        softmax(&mut w);
        assert!(w[0] > 0.05);
    }

    #[test]
    fn binary_second_class() {
        let mut out = [9.0; 2];
        write_scores(
            &mut [0.3],
            PostTransform::None,
            SecondClass::Complement,
            &mut out,
        );
        assert_eq!(out, [0.7, 0.3]);
        write_scores(
            &mut [0.3],
            PostTransform::None,
            SecondClass::Negate,
            &mut out,
        );
        assert_eq!(out, [-0.3, 0.3]);
        write_scores(
            &mut [0.0],
            PostTransform::Logistic,
            SecondClass::Negate,
            &mut out,
        );
        assert_eq!(out, [0.5, 0.5]);
    }
}
