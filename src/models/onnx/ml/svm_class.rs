//! The classifier half of [`Svm`]: one-vs-one scores and votes, Platt probabilities and
//! onnxruntime's choice of label and score layout.

use super::svm::{Classes, Svm};
use super::transform::{self, PostTransform};

impl Svm {
    /// Writes one row's scores into `o` and answers its label.
    pub(super) fn classify(
        &self,
        c: &Classes,
        row: &[f32],
        kernels: &[f32],
        o: &mut [f32],
    ) -> Result<i64, String> {
        let k = c.labels.len();
        let have_proba = !c.prob_a.is_empty();
        let (maxclass, max_weight, batch, second);
        if self.linear_form() {
            let rho = self.rho.first().copied().unwrap_or_default();
            for (class, slot) in o.iter_mut().enumerate().take(k) {
                let w = self
                    .coefficients
                    .get(class * self.features..(class + 1) * self.features)
                    .unwrap_or_default();
                *slot = self.kernel(row, w, rho);
            }
            let (best, weight) = first_max(o.get(..k).unwrap_or_default());
            (maxclass, max_weight, batch, second) = (best, weight, k, None);
        } else {
            let pairs = k * (k - 1) / 2;
            let mut votes = vec![0usize; k];
            let mut scores = vec![0f32; pairs];
            let mut idx = 0;
            for i in 0..k.saturating_sub(1) {
                for j in i + 1..k {
                    let mut sum = 0f64;
                    for (class, row_of) in [(i, j - 1), (j, i)] {
                        let start = c.starts.get(class).copied().unwrap_or_default();
                        let n = c.per_class.get(class).copied().unwrap_or_default();
                        let offset = row_of * self.vectors + start;
                        let coef = self
                            .coefficients
                            .get(offset..offset + n)
                            .unwrap_or_default();
                        let kern = kernels.get(start..start + n).unwrap_or_default();
                        sum += coef
                            .iter()
                            .zip(kern)
                            .map(|(a, b)| f64::from(a * b))
                            .sum::<f64>();
                    }
                    sum += f64::from(self.rho.get(idx).copied().unwrap_or_default());
                    if let Some(s) = scores.get_mut(idx) {
                        *s = sum as f32;
                    }
                    if let Some(v) = votes.get_mut(if sum > 0.0 { i } else { j }) {
                        *v += 1;
                    }
                    idx += 1;
                }
            }
            let best = votes
                .iter()
                .enumerate()
                .fold(0, |b, (i, v)| if *v > votes[b] { i } else { b });
            if have_proba {
                let mut r = vec![0f32; k * k];
                let mut index = 0;
                for i in 0..k.saturating_sub(1) {
                    for j in i + 1..k {
                        let s = scores.get(index).copied().unwrap_or_default();
                        let a = c.prob_a.get(index).copied().unwrap_or_default();
                        let b = c.prob_b.get(index).copied().unwrap_or_default();
                        let p = (1.0 - transform::logistic(s * a + b)).clamp(1.0e-7, 1.0 - 1.0e-7);
                        if let Some(v) = r.get_mut(i * k + j) {
                            *v = p;
                        }
                        if let Some(v) = r.get_mut(j * k + i) {
                            *v = 1.0 - p;
                        }
                        index += 1;
                    }
                }
                multiclass_probability(k, &r, o);
                (maxclass, max_weight, batch, second) = (best, 0.0, k, None);
            } else {
                o.iter_mut().zip(&scores).for_each(|(o, s)| *o = *s);
                let negate = (k <= 2).then_some(self.post == PostTransform::None);
                (maxclass, max_weight, batch, second) = (best, 0.0, pairs, negate);
            }
        }
        let label_at = |i: usize| c.labels.get(i).copied().unwrap_or_default();
        let label = if k == 2 && !have_proba {
            if (c.all_positive && max_weight >= 0.5) || (max_weight > 0.0 && !c.all_positive) {
                label_at(1)
            } else {
                label_at(maxclass)
            }
        } else {
            label_at(maxclass)
        };
        self.transform(o, batch, second);
        Ok(label)
    }

    /// onnxruntime's `batched_update_scores_inplace` for one row of `batch` scores;
    /// `second` is `Some(negate)` when a single score gets a second column.
    fn transform(&self, o: &mut [f32], batch: usize, second: Option<bool>) {
        if batch > 1 {
            let Some(s) = o.get_mut(..batch) else { return };
            match self.post {
                PostTransform::Probit => s.iter_mut().for_each(|v| *v = transform::probit(*v)),
                PostTransform::Logistic => s.iter_mut().for_each(|v| *v = transform::logistic(*v)),
                PostTransform::Softmax => transform::softmax(s),
                PostTransform::SoftmaxZero => transform::softmax_zero(s),
                PostTransform::None => {}
            }
            return;
        }
        let Some(&s) = o.first() else { return };
        let pair = if self.post == PostTransform::Probit {
            [transform::probit(s), o.get(1).copied().unwrap_or_default()]
        } else {
            match second {
                Some(true) => [-s, s],
                Some(false) => [1.0 - s, s],
                None => return,
            }
        };
        o.iter_mut().zip(pair).for_each(|(o, p)| *o = p);
    }
}

fn first_max(v: &[f32]) -> (usize, f32) {
    let mut best = (0, v.first().copied().unwrap_or_default());
    for (i, x) in v.iter().enumerate() {
        if *x > best.1 {
            best = (i, *x);
        }
    }
    best
}

/// Pairwise coupling of the `k × k` pairwise probabilities `r` into `k` class
/// probabilities (Wu, Lin and Weng's method, as libsvm and onnxruntime iterate it).
pub(super) fn multiclass_probability(k: usize, r: &[f32], p: &mut [f32]) {
    let at = |m: &[f32], i: usize, j: usize| m.get(i * k + j).copied().unwrap_or_default();
    let mut q = vec![0f32; k * k];
    let mut qp = vec![0f32; k];
    let eps = 0.005 / k as f32;
    let max_iter = k.max(100);
    for i in 0..k {
        if let Some(v) = p.get_mut(i) {
            *v = 1.0 / k as f32;
        }
        let mut diag = 0f32;
        for j in 0..i {
            diag += at(r, j, i) * at(r, j, i);
            let v = at(&q, j, i);
            if let Some(x) = q.get_mut(i * k + j) {
                *x = v;
            }
        }
        for j in i + 1..k {
            diag += at(r, j, i) * at(r, j, i);
            let v = -at(r, j, i) * at(r, i, j);
            if let Some(x) = q.get_mut(i * k + j) {
                *x = v;
            }
        }
        if let Some(x) = q.get_mut(i * k + i) {
            *x += diag;
        }
    }
    let pj = |p: &[f32], j: usize| p.get(j).copied().unwrap_or_default();
    for _ in 0..max_iter {
        let mut pqp = 0f32;
        for i in 0..k {
            let v: f32 = (0..k).map(|j| at(&q, i, j) * pj(p, j)).sum();
            if let Some(x) = qp.get_mut(i) {
                *x = v;
            }
            pqp += pj(p, i) * v;
        }
        let max_error = qp.iter().fold(0f32, |m, v| m.max((v - pqp).abs()));
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let qii = at(&q, i, i);
            let qpi = pj(&qp, i);
            let diff = (-qpi + pqp) / qii;
            if let Some(x) = p.get_mut(i) {
                *x += diff;
            }
            pqp = (pqp + diff * (diff * qii + 2.0 * qpi)) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                let qij = at(&q, i, j);
                if let Some(x) = qp.get_mut(j) {
                    *x = (*x + diff * qij) / (1.0 + diff);
                }
                if let Some(x) = p.get_mut(j) {
                    *x /= 1.0 + diff;
                }
            }
        }
    }
}
