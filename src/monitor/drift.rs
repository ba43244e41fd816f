//! Feature drift: each version keeps the quantile-bin profile of its training features;
//! live inputs are binned the same way over a sliding window, and the Population
//! Stability Index compares the two.
//!
//! PSI = Σ_bins (a − e) · ln(a / e), with a and e the live and training fractions of a
//! bin, each floored at [`EPSILON`] so empty bins stay finite. Usual reading: < 0.1 no
//! shift, 0.1–0.25 moderate, > 0.25 significant.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Floor for bin fractions in the PSI sum.
pub const EPSILON: f64 = 1e-4;

/// Training distribution of one feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FeatureStats {
    pub name: String,
    pub mean: f64,
    pub std: f64,
    /// Inner bin edges (training quantiles, duplicates removed); `edges.len() + 1` bins.
    pub edges: Vec<f64>,
    /// Fraction of training rows in each bin.
    pub expected: Vec<f64>,
}

/// The training feature profile stored with a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FeatureProfile {
    pub rows: usize,
    pub features: Vec<FeatureStats>,
}

/// Bin of `x` given sorted inner `edges`: bin i holds values in (edges[i-1], edges[i]].
pub(super) fn bin_of(edges: &[f64], x: f64) -> usize {
    // For the usual ten bins a branch-free count (which the compiler vectorises) beats a
    // binary search's unpredictable branches; over sorted edges both give the same bin.
    if edges.len() <= 32 {
        edges.iter().filter(|e| **e < x).count()
    } else {
        edges.partition_point(|e| *e < x)
    }
}

/// PSI between live bin counts and training fractions.
pub fn psi(counts: &[usize], expected: &[f64]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .zip(expected)
        .map(|(c, e)| {
            let a = (*c as f64 / total as f64).max(EPSILON);
            let e = e.max(EPSILON);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Live inputs of one version: the bins of the last `window` rows, in a flat ring buffer
/// (`window × features` bin indices) so observing a row allocates nothing. Bin counts are
/// not kept up to date per row: they are counted from the ring when a report asks (a
/// scrape or the drift endpoint, `window × features` cells), so a predict only writes
/// each value's bin, and never touches the two counters that keeping counts would cost
/// per value (the old bin's and the new one's).
#[derive(Debug)]
pub struct LiveDrift {
    window: usize,
    width: usize,
    ring: Vec<u16>,
    /// Next slot to write, and how many slots hold rows.
    next: usize,
    filled: usize,
    bins: Vec<usize>,
    /// Each feature's edges padded with +∞ to [`PADDED_EDGES`], when every feature has
    /// that few: a fixed-width count the compiler turns into a few vector compares, where
    /// the slice count of [`bin_of`] loops (the profile's usual 9 edges).
    padded: Option<Vec<[f64; PADDED_EDGES]>>,
}

const PADDED_EDGES: usize = 16;

/// [`bin_of`] over padded edges (+∞ is never below a value, so the padding counts
/// nothing): a branch-free binary search, four dependent compares where counting below
/// all sixteen edges takes sixteen; the row's other features fill the wait.
fn padded_bin_of(edges: &[f64; PADDED_EDGES], x: f64) -> u16 {
    let below = |i: usize| edges.get(i).is_some_and(|e| *e < x);
    let mut at = 0;
    for step in [8, 4, 2, 1] {
        at += step * usize::from(below(at + step - 1));
    }
    // `at` edges of the first fifteen are below x; the sixteenth can only be when all are.
    (at + usize::from(below(at))) as u16
}

impl LiveDrift {
    pub fn new(profile: &FeatureProfile, window: usize) -> Self {
        let width = profile.features.len();
        let window = window.max(1);
        Self {
            window,
            width,
            ring: vec![0; window * width],
            next: 0,
            filled: 0,
            bins: profile.features.iter().map(|f| f.expected.len()).collect(),
            padded: profile
                .features
                .iter()
                .map(|f| {
                    let mut padded = [f64::INFINITY; PADDED_EDGES];
                    padded.get_mut(..f.edges.len())?.copy_from_slice(&f.edges);
                    Some(padded)
                })
                .collect(),
        }
    }

    /// Adds rows (already validated to the profile's width), dropping the oldest beyond
    /// the window.
    pub fn observe(&mut self, profile: &FeatureProfile, x: ArrayView2<f64>) {
        if x.ncols() != self.width {
            return;
        }
        for row in x.rows() {
            let start = self.next * self.width;
            let Some(slot) = self.ring.get_mut(start..start + self.width) else {
                return;
            };
            if let Some(padded) = &self.padded {
                for ((cell, v), edges) in slot.iter_mut().zip(row.iter()).zip(padded) {
                    *cell = padded_bin_of(edges, *v);
                }
            } else {
                for ((cell, v), f) in slot.iter_mut().zip(row.iter()).zip(&profile.features) {
                    // At most `drift_bins` (≤ 1000) bins: the index fits.
                    *cell = bin_of(&f.edges, *v) as u16;
                }
            }
            self.next = (self.next + 1) % self.window;
            self.filled = (self.filled + 1).min(self.window);
        }
    }

    pub fn rows(&self) -> usize {
        self.filled
    }

    /// Live rows per bin, per feature, over the rows the window holds.
    fn counts(&self) -> Vec<Vec<usize>> {
        let mut counts: Vec<Vec<usize>> = self.bins.iter().map(|n| vec![0; *n]).collect();
        // Slots below `filled` hold rows whether or not the ring has wrapped.
        let held = self
            .ring
            .get(..self.filled * self.width)
            .unwrap_or_default();
        for row in held.chunks_exact(self.width.max(1)) {
            for (cell, feature) in row.iter().zip(counts.iter_mut()) {
                if let Some(c) = feature.get_mut(usize::from(*cell)) {
                    *c += 1;
                }
            }
        }
        counts
    }

    /// PSI per feature, in schema order.
    pub fn psi(&self, profile: &FeatureProfile) -> Vec<f64> {
        self.counts()
            .iter()
            .zip(&profile.features)
            .map(|(c, f)| psi(c, &f.expected))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data(shift: f64) -> Array2<f64> {
        Array2::from_shape_fn((500, 2), |(i, j)| ((i * 7 + j * 13) % 100) as f64 + shift)
    }

    #[test]
    fn bins_are_the_same_by_count_and_by_binary_search() {
        for n_edges in [1usize, 9, 32, 33, 99] {
            // Sorted, with repeated edges as quantiles of tied data give.
            let edges: Vec<f64> = (0..n_edges).map(|i| (i / 2) as f64).collect();
            for k in -4..=(2 * n_edges as i32 + 4) {
                let x = f64::from(k) * 0.25;
                assert_eq!(
                    bin_of(&edges, x),
                    edges.partition_point(|e| *e < x),
                    "{n_edges} edges, x = {x}"
                );
            }
        }
    }

    #[test]
    fn training_data_has_zero_psi_and_a_shift_has_a_large_one() {
        let names = vec!["a".to_string(), "b".to_string()];
        let train = data(0.0);
        let profile = FeatureProfile::from_matrix(train.view(), &names, 10);
        assert_eq!(profile.features[0].edges.len(), 9);
        let sum: f64 = profile.features[0].expected.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);

        let mut live = LiveDrift::new(&profile, 1000);
        live.observe(&profile, train.view());
        assert_eq!(live.psi(&profile), vec![0.0, 0.0]);

        let mut shifted = LiveDrift::new(&profile, 1000);
        shifted.observe(&profile, data(60.0).view());
        assert!(shifted.psi(&profile).iter().all(|p| *p > 1.0));
    }

    #[test]
    fn the_window_slides() {
        let names = vec!["a".to_string(), "b".to_string()];
        let profile = FeatureProfile::from_matrix(data(0.0).view(), &names, 10);
        let mut live = LiveDrift::new(&profile, 500);
        live.observe(&profile, data(60.0).view());
        assert!(live.psi(&profile)[0] > 1.0);
        // 500 in-distribution rows push every shifted row out of the window.
        live.observe(&profile, data(0.0).view());
        assert_eq!(live.rows(), 500);
        assert_eq!(live.psi(&profile), vec![0.0, 0.0]);
    }

    #[test]
    fn counts_cover_exactly_the_rows_held() {
        let names = vec!["a".to_string(), "b".to_string()];
        let profile = FeatureProfile::from_matrix(data(0.0).view(), &names, 10);
        let mut live = LiveDrift::new(&profile, 300);
        let rows = |n: usize, shift: f64| data(shift).slice(ndarray::s![..n, ..]).to_owned();
        live.observe(&profile, rows(200, 200.0).view());
        let total = |live: &LiveDrift| live.counts()[0].iter().sum::<usize>();
        assert_eq!((live.rows(), total(&live)), (200, 200));
        // Every shifted value is above the last training edge: the top bin holds them.
        assert_eq!(live.counts()[0].last(), Some(&200));
        // 200 more wrap the ring: 100 shifted rows are pushed out, 100 stay.
        live.observe(&profile, rows(200, 0.0).view());
        assert_eq!((live.rows(), total(&live)), (300, 300));
        assert_eq!(live.counts()[0].last().map(|c| *c >= 100), Some(true));
        assert_eq!(live.counts()[1].iter().sum::<usize>(), 300);
    }

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // a = [0.5, 0.5], e = [0.25, 0.75]
        let got = psi(&[5, 5], &[0.25, 0.75]);
        let want = 0.25 * (2.0f64).ln() + (-0.25) * (0.5f64 / 0.75).ln();
        assert!((got - want).abs() < 1e-12);
    }

    #[test]
    fn padded_bins_equal_the_slice_count() {
        let sixteen: Vec<f64> = (0..16).map(|i| f64::from(i) * 0.5).collect();
        for edges in [vec![-1.0, 0.0, 0.0, 2.5, 7.0, 1e300], sixteen.clone()] {
            let mut padded = [f64::INFINITY; PADDED_EDGES];
            padded[..edges.len()].copy_from_slice(&edges);
            let grid = (-2..20).map(|i| f64::from(i) * 0.5 - 0.25);
            for x in [
                f64::NEG_INFINITY,
                -2.0,
                -1.0,
                -0.5,
                0.0,
                1.0,
                2.5,
                3.0,
                7.0,
                1e300,
                1e308,
                f64::INFINITY,
                f64::NAN,
            ]
            .into_iter()
            .chain(grid)
            .chain(sixteen.iter().copied())
            {
                assert_eq!(
                    usize::from(padded_bin_of(&padded, x)),
                    bin_of(&edges, x),
                    "{x} over {edges:?}"
                );
            }
        }
    }
}
