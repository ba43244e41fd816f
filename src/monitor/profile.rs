//! The training feature profile ([`FeatureProfile`]): each column's mean and std over
//! every row, and quantile bin edges from an evenly spaced sample of at most
//! [`EDGE_SAMPLE_ROWS`] rows, with each bin's share counted over every row in the same
//! single pass as the sums. Sorting a sample instead of every column keeps the profile of
//! a million-row training set one row-major pass plus the sample's rows (it used to sort
//! each column in full, more time than an OLS fit).

use ndarray::{s, ArrayView2};

use super::drift::{bin_of, FeatureProfile, FeatureStats};

/// Rows sorted for the bin edges; up to this many rows the edges are exact quantiles.
pub const EDGE_SAMPLE_ROWS: usize = 65_536;

impl FeatureProfile {
    /// Profiles each column of `x` with `bins` quantile bins.
    pub fn from_matrix(x: ArrayView2<f64>, names: &[String], bins: usize) -> Self {
        let bins = bins.max(2);
        let (n, d) = x.dim();
        let d = d.min(names.len());
        if n == 0 {
            let features = names
                .iter()
                .take(d)
                .map(|name| FeatureStats {
                    name: name.clone(),
                    mean: 0.0,
                    std: 0.0,
                    edges: Vec::new(),
                    expected: vec![0.0],
                })
                .collect();
            return FeatureProfile { rows: 0, features };
        }
        // Each column's sample sorted gives its edges; its mean is the shift of the pass
        // below, close enough to the true mean that the shifted sums lose nothing to
        // cancellation (the sample is every row up to EDGE_SAMPLE_ROWS).
        let (edges, shifts) = edges_and_shifts(x, d, bins);
        let mut columns: Vec<Accumulated> = edges
            .iter()
            .zip(&shifts)
            .map(|(e, &shift)| Accumulated {
                shift,
                sum: 0.0,
                squares: 0.0,
                counts: vec![0; e.len() + 1],
            })
            .collect();
        for row in x.rows() {
            for ((c, e), v) in columns.iter_mut().zip(&edges).zip(row.iter()) {
                let centred = v - c.shift;
                c.sum += centred;
                c.squares += centred * centred;
                if let Some(count) = c.counts.get_mut(bin_of(e, *v)) {
                    *count += 1;
                }
            }
        }
        let features = names
            .iter()
            .zip(edges)
            .zip(columns)
            .map(|((name, edges), c)| {
                let mean_offset = c.sum / n as f64;
                let variance = (c.squares / n as f64 - mean_offset * mean_offset).max(0.0);
                FeatureStats {
                    name: name.clone(),
                    mean: c.shift + mean_offset,
                    std: variance.sqrt(),
                    edges,
                    expected: c.counts.iter().map(|k| *k as f64 / n as f64).collect(),
                }
            })
            .collect();
        FeatureProfile { rows: n, features }
    }
}

/// One column's sums around its shift, and its bin counts.
struct Accumulated {
    shift: f64,
    sum: f64,
    squares: f64,
    counts: Vec<usize>,
}

/// Sampled values held at once while finding the edges: 32 MiB of f64.
const SAMPLE_CELLS: usize = 4 << 20;

/// Each of the first `d` columns' quantile edges and mean over the sample: every row when
/// there are at most [`EDGE_SAMPLE_ROWS`], else that many evenly spaced rows. The sampled
/// rows are read once per group of columns (all of them but on very wide data), not once
/// per column, and only one group's values are held at a time.
fn edges_and_shifts(x: ArrayView2<f64>, d: usize, bins: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = x.nrows();
    let taken = n.min(EDGE_SAMPLE_ROWS);
    let group = (SAMPLE_CELLS / taken.max(1)).max(1);
    let (mut edges, mut shifts) = (Vec::with_capacity(d), Vec::with_capacity(d));
    for first in (0..d).step_by(group) {
        let last = (first + group).min(d);
        let mut columns: Vec<Vec<f64>> = (first..last).map(|_| Vec::with_capacity(taken)).collect();
        let block = x.slice(s![.., first..last]);
        for i in 0..taken {
            for (column, v) in columns.iter_mut().zip(block.row(i * n / taken)) {
                column.push(*v);
            }
        }
        for column in columns {
            shifts.push(column.iter().sum::<f64>() / column.len().max(1) as f64);
            edges.push(quantile_edges(column, bins));
        }
    }
    (edges, shifts)
}

/// The inner quantile edges at `i/bins` of a column's sample, duplicates removed.
fn quantile_edges(mut sorted: Vec<f64>, bins: usize) -> Vec<f64> {
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len();
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|i| sorted.get((i * m / bins).min(m.saturating_sub(1))).copied())
        .collect();
    edges.dedup();
    edges
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    fn names(d: usize) -> Vec<String> {
        (0..d).map(|j| format!("f{j}")).collect()
    }

    #[test]
    fn small_sets_get_exact_deciles_mean_and_std() {
        // 0..1000 in a scrambled order: the deciles are 100, 200, ... whatever the order.
        let x = Array2::from_shape_fn((1000, 1), |(i, _)| ((i * 7919) % 1000) as f64);
        let p = FeatureProfile::from_matrix(x.view(), &names(1), 10);
        let f = &p.features[0];
        let expect: Vec<f64> = (1..10).map(|i| (i * 100) as f64).collect();
        assert_eq!(f.edges, expect);
        assert!((f.mean - 499.5).abs() < 1e-9);
        assert!(
            (f.std - (999_999.0f64 / 12.0).sqrt()).abs() < 1e-9,
            "{}",
            f.std
        );
        // Bin i holds (edge[i-1], edge[i]]: 101 values in the first bin, 100 after, 99 last.
        assert!((f.expected[0] - 0.101).abs() < 1e-12, "{:?}", f.expected);
        assert!((f.expected[9] - 0.099).abs() < 1e-12, "{:?}", f.expected);
    }

    #[test]
    fn large_sets_sample_the_edges_and_count_every_row() {
        let n = 1_000_003;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            let u = ((i * 2_654_435_761) % n) as f64 / n as f64;
            if j == 0 {
                u
            } else {
                u * u
            }
        });
        let p = FeatureProfile::from_matrix(x.view(), &names(2), 10);
        assert_eq!(p.rows, n);
        for (f, quantile) in p.features.iter().zip([|q: f64| q, |q: f64| q * q]) {
            assert_eq!(f.edges.len(), 9);
            for (i, e) in f.edges.iter().enumerate() {
                let exact = quantile((i + 1) as f64 / 10.0);
                assert!(
                    (e - exact).abs() < 0.01,
                    "{} edge {i}: {e} vs {exact}",
                    f.name
                );
            }
            let total: f64 = f.expected.iter().sum();
            assert!((total - 1.0).abs() < 1e-12);
            assert!(
                f.expected.iter().all(|e| (e - 0.1).abs() < 0.01),
                "{:?}",
                f.expected
            );
        }
        assert!((p.features[0].mean - 0.5).abs() < 1e-3);
        assert!((p.features[1].mean - 1.0 / 3.0).abs() < 1e-3);
    }

    #[test]
    fn an_empty_matrix_has_a_profile_without_edges() {
        let x = Array2::<f64>::zeros((0, 2));
        let p = FeatureProfile::from_matrix(x.view(), &names(2), 10);
        assert_eq!(p.rows, 0);
        assert_eq!(p.features.len(), 2);
        assert!(p.features.iter().all(|f| f.edges.is_empty()));
    }
}
