//! Walking a parsed [`Ensemble`] and aggregating the leaves as onnxruntime does
//! (tree_ensemble_aggregator.h): sums and averages in the threshold type (f32 for a
//! float model, f64 for a double one), scores without any leaf are kept apart from zero
//! scores because onnxruntime's binary and MIN/MAX rules depend on the difference.

use super::transform::{write_scores, PostTransform, SecondClass};
use super::trees::{Aggregate, Ensemble, Mode, Node, Weight};

/// The arithmetic type of an evaluation: onnxruntime's `ThresholdType`.
pub trait Real:
    Copy + PartialOrd + std::ops::Add<Output = Self> + std::ops::Div<Output = Self>
{
    const ZERO: Self;
    fn threshold(node: &Node) -> Self;
    fn weight(w: &Weight) -> Self;
    fn from_f64(v: f64) -> Self;
    fn from_usize(v: usize) -> Self;
    fn to_f32(self) -> f32;
    fn is_nan(self) -> bool;
    fn neg(self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    fn threshold(node: &Node) -> Self {
        node.thr32
    }
    fn weight(w: &Weight) -> Self {
        w.w32
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_usize(v: usize) -> Self {
        v as f32
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn neg(self) -> Self {
        -self
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    fn threshold(node: &Node) -> Self {
        node.thr64
    }
    fn weight(w: &Weight) -> Self {
        w.w64
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_usize(v: usize) -> Self {
        v as f64
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn neg(self) -> Self {
        -self
    }
}

#[derive(Clone, Copy)]
struct Score<T> {
    score: T,
    has: bool,
}

impl<T: Real> Score<T> {
    /// One leaf's weight into the score; MIN and MAX take the first weight as it is.
    fn merge(self, aggregate: Aggregate, v: T) -> Self {
        let score = match aggregate {
            Aggregate::Sum | Aggregate::Average => self.score + v,
            Aggregate::Min if !self.has || v < self.score => v,
            Aggregate::Max if !self.has || v > self.score => v,
            Aggregate::Min | Aggregate::Max => self.score,
        };
        Score { score, has: true }
    }

    fn value(self) -> T {
        if self.has {
            self.score
        } else {
            T::ZERO
        }
    }
}

impl Ensemble {
    /// The leaf a row reaches from `root`. Parsing proved every walk ends at a leaf.
    fn leaf<T: Real>(&self, root: usize, row: &[T]) -> Option<&Node> {
        let mut node = self.nodes.get(root)?;
        while node.mode != Mode::Leaf {
            let v = *row.get(node.feature)?;
            let t = T::threshold(node);
            let yes = match node.mode {
                Mode::Leq => v <= t,
                Mode::Lt => v < t,
                Mode::Gte => v >= t,
                Mode::Gt => v > t,
                Mode::Eq => v == t,
                Mode::Neq => v != t,
                Mode::Leaf => true,
            } || (node.missing_true && v.is_nan());
            node = self.nodes.get(if yes { node.yes } else { node.no })?;
        }
        Some(node)
    }

    fn leaf_weights(&self, leaf: &Node) -> &[Weight] {
        self.weights
            .get(leaf.w_start..leaf.w_start + leaf.w_len)
            .unwrap_or_default()
    }

    /// Scores `rows` rows of `x` (row-major, `cols` wide) into `out` (`rows × columns`)
    /// and, for a classifier, `labels` (`rows`).
    pub fn eval<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
    ) -> Result<(), String> {
        if cols < self.features {
            return Err(format!(
                "the trees read feature {}, the input has {cols}",
                self.features.saturating_sub(1)
            ));
        }
        let mut scores = vec![
            Score {
                score: T::ZERO,
                has: false
            };
            self.columns
        ];
        let mut buffer = vec![0f32; self.columns.max(2)];
        let rows = x.len().checked_div(cols).unwrap_or(0);
        for r in 0..rows {
            let row = x.get(r * cols..(r + 1) * cols).unwrap_or_default();
            let o = out
                .get_mut(r * self.columns..(r + 1) * self.columns)
                .ok_or("output buffer too small")?;
            if self.classes.is_none() && self.columns == 1 {
                o.iter_mut().for_each(|v| *v = self.one_target(row));
                continue;
            }
            scores.iter_mut().for_each(|s| {
                *s = Score {
                    score: T::ZERO,
                    has: false,
                }
            });
            for &root in &self.roots {
                let Some(leaf) = self.leaf(root, row) else {
                    continue;
                };
                for w in self.leaf_weights(leaf) {
                    let Some(s) = scores.get_mut(w.column) else {
                        continue;
                    };
                    let v = T::weight(w);
                    *s = s.merge(self.aggregate, v);
                }
            }
            let label = match &self.classes {
                Some(c) => Some(self.finish_classes(&mut scores, c, &mut buffer)?),
                None => {
                    self.finish_targets(&mut scores, &mut buffer);
                    None
                }
            };
            o.iter_mut().zip(&buffer).for_each(|(o, b)| *o = *b);
            if let (Some(l), Some(slot)) = (label, labels.get_mut(r)) {
                *slot = l;
            }
        }
        Ok(())
    }

    /// onnxruntime's single-target path: each leaf's value is its (one) weight, a leaf
    /// without weight counting as 0, and only PROBIT applies.
    fn one_target<T: Real>(&self, row: &[T]) -> f32 {
        let origin = match self.base.as_slice() {
            [b] => T::from_f64(*b),
            _ => T::ZERO,
        };
        let mut s = Score {
            score: T::ZERO,
            has: false,
        };
        for &root in &self.roots {
            let Some(leaf) = self.leaf(root, row) else {
                continue;
            };
            let v = self
                .leaf_weights(leaf)
                .iter()
                .fold(T::ZERO, |sum, w| sum + T::weight(w));
            s = s.merge(self.aggregate, v);
        }
        let v = match self.aggregate {
            Aggregate::Sum => s.score + origin,
            Aggregate::Average => s.score / T::from_usize(self.roots.len()) + origin,
            Aggregate::Min | Aggregate::Max if s.has => s.score + origin,
            Aggregate::Min | Aggregate::Max => origin,
        };
        if self.post == PostTransform::Probit {
            super::transform::probit(v.to_f32())
        } else {
            v.to_f32()
        }
    }

    fn finish_targets<T: Real>(&self, scores: &mut [Score<T>], buffer: &mut [f32]) {
        let use_base = self.base.len() == scores.len();
        let n_trees = T::from_usize(self.roots.len());
        for (j, s) in scores.iter_mut().enumerate() {
            let base = if use_base {
                T::from_f64(self.base.get(j).copied().unwrap_or_default())
            } else {
                T::ZERO
            };
            s.score = match self.aggregate {
                Aggregate::Sum => s.score + base,
                Aggregate::Average => s.score / n_trees + base,
                Aggregate::Min | Aggregate::Max => base + s.value(),
            };
        }
        let mut values: Vec<f32> = scores.iter().map(|s| s.value().to_f32()).collect();
        write_scores(&mut values, self.post, SecondClass::No, buffer);
    }

    fn finish_classes<T: Real>(
        &self,
        scores: &mut [Score<T>],
        c: &super::trees::Classes,
        buffer: &mut [f32],
    ) -> Result<i64, String> {
        let base = |k: usize| T::from_f64(self.base.get(k).copied().unwrap_or_default());
        let label_at = |k: usize| c.labels.get(k).copied().unwrap_or_default();
        let mut second = SecondClass::No;
        let mut kept = scores.len();
        let label = if scores.len() > 2 {
            for (k, s) in scores.iter_mut().enumerate().take(self.base.len()) {
                s.score = if s.has { s.score + base(k) } else { base(k) };
                s.has = true;
            }
            let mut best: Option<(usize, T)> = None;
            for (k, s) in scores.iter().enumerate() {
                if s.has && best.is_none_or(|(_, b)| s.score > b) {
                    best = Some((k, s.score));
                }
            }
            label_at(best.map_or(0, |(k, _)| k))
        } else {
            let [s0, s1] = scores else {
                return Err("a binary classifier needs two score columns".into());
            };
            match self.base.len() {
                2 if s1.has => {
                    s1.score = base(1) + s0.score;
                    s0.score = s1.score.neg();
                }
                2 => {
                    s1.score = s1.score + base(1);
                    s0.score = s0.score + base(0);
                }
                1 => {
                    s0.score = s0.score + base(0);
                    if !s1.has {
                        kept = 1;
                    }
                }
                _ => {
                    second = SecondClass::Negate;
                    if !s1.has {
                        kept = 1;
                    }
                }
            }
            let positive = if kept == 2 && s1.has {
                s1.score
            } else if s0.has {
                s0.score
            } else {
                T::ZERO
            };
            if c.binary {
                let half = T::from_f64(0.5);
                let (second_now, wins) = if c.all_positive {
                    (SecondClass::Complement, positive > half)
                } else {
                    (SecondClass::Negate, positive > T::ZERO)
                };
                second = second_now;
                label_at(usize::from(wins))
            } else {
                // onnxruntime answers the literal labels 1 and 0 here, not the class list's.
                i64::from(positive > T::ZERO)
            }
        };
        let mut values: Vec<f32> = scores
            .iter()
            .take(kept)
            .map(|s| s.value().to_f32())
            .collect();
        buffer.iter_mut().for_each(|b| *b = 0.0);
        write_scores(&mut values, self.post, second, buffer);
        Ok(label)
    }
}
