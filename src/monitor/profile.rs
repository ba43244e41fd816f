//! The training feature profile ([`FeatureProfile`]): each column's mean and std over
//! every row, and quantile bin edges from an evenly spaced sample of at most
//! [`EDGE_SAMPLE_ROWS`] rows, with each bin's share counted over every row again. Sorting a
//! sample instead of every column keeps the profile of a million-row training set a few
//! row-major passes (it used to sort each column in full, more time than an OLS fit).

use ndarray::ArrayView2;

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
        let edges: Vec<Vec<f64>> = (0..d).map(|j| quantile_edges(x, j, bins)).collect();
        let mut sums = vec![0.0; d];
        for row in x.rows() {
            for (s, v) in sums.iter_mut().zip(row.iter()) {
                *s += v;
            }
        }
        let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        let mut squares = vec![0.0; d];
        let mut counts: Vec<Vec<usize>> = edges.iter().map(|e| vec![0; e.len() + 1]).collect();
        for row in x.rows() {
            for (j, v) in row.iter().take(d).enumerate() {
                squares[j] += (v - means[j]).powi(2);
                counts[j][bin_of(&edges[j], *v)] += 1;
            }
        }
        let features = names
            .iter()
            .zip(edges)
            .zip(counts)
            .enumerate()
            .map(|(j, ((name, edges), counts))| FeatureStats {
                name: name.clone(),
                mean: means[j],
                std: (squares[j] / n as f64).sqrt(),
                edges,
                expected: counts.iter().map(|c| *c as f64 / n as f64).collect(),
            })
            .collect();
        FeatureProfile { rows: n, features }
    }
}

/// Column `j`'s inner quantile edges at `i/bins`, duplicates removed, from every row when
/// there are at most [`EDGE_SAMPLE_ROWS`], else from that many evenly spaced rows.
fn quantile_edges(x: ArrayView2<f64>, j: usize, bins: usize) -> Vec<f64> {
    let n = x.nrows();
    let taken = n.min(EDGE_SAMPLE_ROWS);
    let col = x.column(j);
    let mut sorted: Vec<f64> = (0..taken)
        .filter_map(|i| col.get(i * n / taken).copied())
        .collect();
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
