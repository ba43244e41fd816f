//! Walking a parsed [`Ensemble`] and aggregating the leaves as onnxruntime does
//! (tree_ensemble_aggregator.h): sums and averages in the threshold type (f32 for a
//! float model, f64 for a double one), scores without any leaf are kept apart from zero
//! scores because onnxruntime's binary and MIN/MAX rules depend on the difference.

use super::transform::{write_scores, PostTransform, SecondClass};
use super::trees::{Aggregate, Ensemble, Mode, Node, Step, Weight};

/// The arithmetic type of an evaluation: onnxruntime's `ThresholdType`.
pub trait Real:
    Copy + PartialOrd + Send + Sync + std::ops::Add<Output = Self> + std::ops::Div<Output = Self>
{
    const ZERO: Self;
    fn steps(e: &Ensemble) -> &[Step<Self>];
    fn weight(w: &Weight) -> Self;
    fn from_f64(v: f64) -> Self;
    fn from_usize(v: usize) -> Self;
    fn to_f32(self) -> f32;
    fn is_nan(self) -> bool;
    fn neg(self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    fn steps(e: &Ensemble) -> &[Step<Self>] {
        &e.steps32
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
    fn steps(e: &Ensemble) -> &[Step<Self>] {
        &e.steps64
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

/// Rows walked together per tree, and the score cells a block may hold: 64 rows of a
/// few columns, fewer rows when there are many columns, so the block's scores stay small.
const MAX_BLOCK_ROWS: usize = 64;
const BLOCK_CELLS: usize = 4096;
/// A large batch is shared out in pieces of this many rows.
const PIECE_ROWS: usize = 8;
/// Below this many rows, or this many tree walks in all, sharing a batch costs more
/// (waking another thread, a few µs) than it saves.
const PARALLEL_MIN_ROWS: usize = 32;
const PARALLEL_MIN_WALKS: usize = 1024;

/// One piece of a shared batch: its rows, their outputs and their labels.
type Piece<'a, T> = (&'a [T], &'a mut [f32], &'a mut [i64]);

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
    /// The leaf a row reaches from `root`, going to `yes` where `goes_yes` says.
    /// Parsing proved every walk ends at a leaf.
    #[inline(always)]
    fn leaf<T: Real>(
        &self,
        root: usize,
        row: &[T],
        goes_yes: impl Fn(&Step<T>, T) -> bool,
    ) -> Option<&Node> {
        let steps = T::steps(self);
        let mut at = root;
        loop {
            let step = steps.get(at)?;
            if step.mode == Mode::Leaf {
                return self.nodes.get(at);
            }
            let v = *row.get(step.feature as usize)?;
            let yes = goes_yes(step, v) || (step.missing_true && v.is_nan());
            at = if yes { step.yes } else { step.no } as usize;
        }
    }

    fn leaf_weights(&self, leaf: &Node) -> &[Weight] {
        self.weights
            .get(leaf.w_start..leaf.w_start + leaf.w_len)
            .unwrap_or_default()
    }

    /// Scores `rows` rows of `x` (row-major, `cols` wide) into `out` (`rows × columns`)
    /// and, for a classifier, `labels` (`rows`). Tree-major over blocks of rows: one tree's
    /// nodes stay in cache while every row of the block walks it, where row-major would
    /// stream the whole forest through the cache once per row. Each score still takes
    /// its leaves in tree order, so the sums are onnxruntime's to the bit.
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
        self.eval_shared(x, cols, out, labels)
    }

    /// A large batch is cut into pieces that this thread and one of rayon's (one thread
    /// per core) take in turn until none is left, as onnxruntime's session spreads a
    /// batch over its intra-op threads. This thread starts at once and the other joins
    /// when it has woken (tens of µs on a VM), so its wake-up delays the batch by half
    /// of that at most, where a fixed half each would wait for it in full. Rows are
    /// independent, so each row's answer is the same either way.
    fn eval_shared<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
    ) -> Result<(), String> {
        let rows = x.len().checked_div(cols).unwrap_or(0);
        if rows < PARALLEL_MIN_ROWS
            || rows.saturating_mul(self.roots.len()) < PARALLEL_MIN_WALKS
            || rayon::current_num_threads() < 2
            || out.len() < rows * self.columns
        {
            return self.eval_rows(x, cols, out, labels);
        }
        let mut no_labels = Vec::new();
        let labels = if labels.len() >= rows {
            labels
        } else {
            no_labels.resize(rows, 0);
            &mut no_labels[..]
        };
        let pieces: Vec<std::sync::Mutex<Option<Piece<T>>>> = x
            .chunks(PIECE_ROWS * cols)
            .zip(out.chunks_mut(PIECE_ROWS * self.columns))
            .zip(labels.chunks_mut(PIECE_ROWS))
            .map(|((x, out), labels)| std::sync::Mutex::new(Some((x, out, labels))))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let take_pieces = || -> Result<(), String> {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(slot) = pieces.get(i) else {
                    return Ok(());
                };
                let piece = slot.lock().map_err(|_| "a scoring thread failed")?.take();
                if let Some((x, out, labels)) = piece {
                    self.eval_rows(x, cols, out, labels)?;
                }
            }
        };
        let mut other = Ok(());
        let here = rayon::in_place_scope(|scope| {
            scope.spawn(|_| other = take_pieces());
            take_pieces()
        });
        here.and(other)
    }

    /// One comparison for the whole ensemble when every branch uses it (every
    /// converter's export does), so the walk makes no per-node jump on the mode.
    fn eval_rows<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
    ) -> Result<(), String> {
        match self.branch {
            Some(Mode::Leq) => self.eval_rows_by(x, cols, out, labels, |s, v| v <= s.threshold),
            Some(Mode::Lt) => self.eval_rows_by(x, cols, out, labels, |s, v| v < s.threshold),
            Some(Mode::Gte) => self.eval_rows_by(x, cols, out, labels, |s, v| v >= s.threshold),
            Some(Mode::Gt) => self.eval_rows_by(x, cols, out, labels, |s, v| v > s.threshold),
            _ => self.eval_rows_by(x, cols, out, labels, |s, v| s.mode.test(v, s.threshold)),
        }
    }

    fn eval_rows_by<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
        goes_yes: impl Fn(&Step<T>, T) -> bool + Copy,
    ) -> Result<(), String> {
        let rows = x.len().checked_div(cols).unwrap_or(0);
        let block = (BLOCK_CELLS / self.columns.max(1)).clamp(1, MAX_BLOCK_ROWS);
        let empty = Score {
            score: T::ZERO,
            has: false,
        };
        let mut scores = vec![empty; block * self.columns];
        let mut buffer = vec![0f32; self.columns.max(2)];
        for first in (0..rows).step_by(block) {
            let n = block.min(rows - first);
            let block_x = x.get(first * cols..(first + n) * cols).unwrap_or_default();
            let block_out = out
                .get_mut(first * self.columns..(first + n) * self.columns)
                .ok_or("output buffer too small")?;
            if self.classes.is_none() && self.columns == 1 {
                self.one_target_block(block_x, cols, block_out, goes_yes);
                continue;
            }
            let scores = scores.get_mut(..n * self.columns).unwrap_or_default();
            scores.iter_mut().for_each(|s| *s = empty);
            for &root in &self.roots {
                for (row, row_scores) in block_x
                    .chunks_exact(cols)
                    .zip(scores.chunks_exact_mut(self.columns))
                {
                    let Some(leaf) = self.leaf(root, row, goes_yes) else {
                        continue;
                    };
                    for w in self.leaf_weights(leaf) {
                        if let Some(s) = row_scores.get_mut(w.column) {
                            *s = s.merge(self.aggregate, T::weight(w));
                        }
                    }
                }
            }
            for (i, (row_scores, o)) in scores
                .chunks_exact_mut(self.columns)
                .zip(block_out.chunks_exact_mut(self.columns))
                .enumerate()
            {
                let label = match &self.classes {
                    Some(c) => Some(self.finish_classes(row_scores, c, &mut buffer)?),
                    None => {
                        self.finish_targets(row_scores, &mut buffer);
                        None
                    }
                };
                o.iter_mut().zip(&buffer).for_each(|(o, b)| *o = *b);
                if let (Some(l), Some(slot)) = (label, labels.get_mut(first + i)) {
                    *slot = l;
                }
            }
        }
        Ok(())
    }

    /// onnxruntime's single-target path: each leaf's value is its (one) weight, a leaf
    /// without weight counting as 0, and only PROBIT applies.
    fn one_target_block<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        goes_yes: impl Fn(&Step<T>, T) -> bool + Copy,
    ) {
        let origin = match self.base.as_slice() {
            [b] => T::from_f64(*b),
            _ => T::ZERO,
        };
        let mut sums = [Score {
            score: T::ZERO,
            has: false,
        }; MAX_BLOCK_ROWS];
        for &root in &self.roots {
            for (row, s) in x.chunks_exact(cols).zip(sums.iter_mut()) {
                let Some(leaf) = self.leaf(root, row, goes_yes) else {
                    continue;
                };
                let v = self
                    .leaf_weights(leaf)
                    .iter()
                    .fold(T::ZERO, |sum, w| sum + T::weight(w));
                *s = s.merge(self.aggregate, v);
            }
        }
        for (s, o) in sums.iter().zip(out.iter_mut()) {
            let v = match self.aggregate {
                Aggregate::Sum => s.score + origin,
                Aggregate::Average => s.score / T::from_usize(self.roots.len()) + origin,
                Aggregate::Min | Aggregate::Max if s.has => s.score + origin,
                Aggregate::Min | Aggregate::Max => origin,
            };
            *o = if self.post == PostTransform::Probit {
                super::transform::probit(v.to_f32())
            } else {
                v.to_f32()
            };
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
