//! Row splitting: the seeded train/validation split used by `fit`, and
//! scikit-learn-compatible unshuffled K-fold / stratified K-fold for
//! cross-validation.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::models::Task;

/// Splits rows 0..n into (train, validation), both sorted ascending.
///
/// Deterministic for a given `seed` (ChaCha8). Regression: a shuffled
/// `round(fraction·n)` rows go to validation. Classification (`y` holds class
/// indices): each class is shuffled and split separately with
/// `round(fraction·n_c)` validation rows, keeping at least one row of every
/// class in train. `fraction` ≤ 0 (or n = 0) gives all rows in train. At least
/// one row always stays in train. `y` shorter than n: missing labels count as
/// class 0 (callers pass y of length n).
pub fn train_validation_split(
    n: usize,
    y: &[f64],
    task: Task,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    if fraction.is_nan() || fraction <= 0.0 || n == 0 {
        return ((0..n).collect(), Vec::new());
    }
    let fraction = fraction.min(1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let groups: Vec<Vec<usize>> = match task {
        Task::Regression => vec![(0..n).collect()],
        Task::Classification => {
            let label = |i: usize| y.get(i).map_or(0, |v| v.max(0.0) as usize);
            let k = (0..n).map(label).max().map_or(0, |m| m + 1);
            let mut g = vec![Vec::new(); k];
            for i in 0..n {
                if let Some(bucket) = g.get_mut(label(i)) {
                    bucket.push(i);
                }
            }
            g
        }
    };
    // Marked, then collected in order: both sides come out sorted without sorting them.
    let mut in_validation = vec![false; n];
    for mut rows in groups {
        rows.shuffle(&mut rng);
        let n_val =
            ((fraction * rows.len() as f64).round() as usize).min(rows.len().saturating_sub(1));
        for &r in rows.get(..n_val).unwrap_or_default() {
            if let Some(mark) = in_validation.get_mut(r) {
                *mark = true;
            }
        }
    }
    let n_val = in_validation.iter().filter(|&&v| v).count();
    let mut train = Vec::with_capacity(n - n_val);
    let mut val = Vec::with_capacity(n_val);
    for (r, &v) in in_validation.iter().enumerate() {
        if v {
            val.push(r)
        } else {
            train.push(r)
        }
    }
    (train, val)
}

/// scikit-learn `KFold(k, shuffle=False)`: contiguous folds over positions
/// 0..n, the first `n % k` folds one larger. Returns (train, validation)
/// position lists per fold, both ascending. Empty if k < 2 or k > n.
pub fn kfold(n: usize, k: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    if k < 2 || k > n {
        return Vec::new();
    }
    let mut folds = Vec::with_capacity(k);
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        let val: Vec<usize> = (start..start + size).collect();
        let train = (0..start).chain(start + size..n).collect();
        folds.push((train, val));
        start += size;
    }
    folds
}

/// scikit-learn `StratifiedKFold(k, shuffle=False)` (≥ 0.24 algorithm) over
/// positions 0..y.len(): classes are ordered by first appearance; the sorted
/// label vector is dealt round-robin to folds to get per-fold class counts;
/// then each class's rows, in order, fill folds 0, 1, … with those counts.
/// Empty if k < 2 or k > n.
pub fn stratified_kfold(y: &[usize], k: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = y.len();
    if k < 2 || k > n {
        return Vec::new();
    }
    // Encode labels by order of first appearance.
    let mut first_seen: Vec<usize> = Vec::new();
    let encoded: Vec<usize> = y
        .iter()
        .map(|label| match first_seen.iter().position(|l| l == label) {
            Some(p) => p,
            None => {
                first_seen.push(*label);
                first_seen.len() - 1
            }
        })
        .collect();
    let n_classes = first_seen.len();
    let mut sorted = encoded.clone();
    sorted.sort_unstable();
    // counts[c][f] = number of class-c entries among sorted[f], sorted[f+k], …
    let mut counts = vec![vec![0usize; k]; n_classes];
    for (i, &c) in sorted.iter().enumerate() {
        counts[c][i % k] += 1;
    }
    let mut test_fold = vec![0usize; n];
    for (c, per_fold) in counts.iter().enumerate() {
        let folds_for_class = per_fold
            .iter()
            .enumerate()
            .flat_map(|(f, &m)| std::iter::repeat_n(f, m));
        let rows = (0..n).filter(|&i| encoded[i] == c);
        for (row, f) in rows.zip(folds_for_class) {
            test_fold[row] = f;
        }
    }
    (0..k)
        .map(|f| {
            let (val, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| test_fold[i] == f);
            (train, val)
        })
        .collect()
}
