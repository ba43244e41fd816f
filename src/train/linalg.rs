//! Small dense linear solves for the normal equations (d×d, d = number of
//! features), without a LAPACK dependency: Cholesky first, pivoted Gaussian
//! elimination as fallback, and a tiny ridge jitter as the last resort for
//! singular systems (e.g. duplicated or constant columns).

use ndarray::{Array1, Array2};

/// Relative pivot size below which a matrix is treated as singular.
const PIVOT_TOL: f64 = 1e-12;

/// Solves A·x = b for symmetric positive (semi-)definite A.
///
/// Tries Cholesky (A = L·Lᵀ), then Gaussian elimination with partial pivoting;
/// if A is singular, solves (A + εI)·x = b with ε = 1e-10·max(mean diag, 1),
/// which approximates the minimum-norm least-squares solution.
/// Returns `None` only for non-square / mismatched input or non-finite values.
/// (All solvers here return `None` on mismatched shapes instead of panicking.)
pub fn solve_symmetric(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let d = a.nrows();
    if a.ncols() != d || b.len() != d || !a.iter().chain(b.iter()).all(|v| v.is_finite()) {
        return None;
    }
    if let Some(x) = cholesky_solve(a, b).or_else(|| gauss_solve(a, b)) {
        return Some(x);
    }
    let eps = 1e-10 * (a.diag().sum() / d.max(1) as f64).max(1.0);
    let jittered = a + &(Array2::<f64>::eye(d) * eps);
    cholesky_solve(&jittered, b).or_else(|| gauss_solve(&jittered, b))
}

/// Cholesky factorisation and two triangular solves; `None` if A is not
/// (numerically) positive definite.
pub fn cholesky_solve(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let d = a.nrows();
    if a.ncols() != d || b.len() != d {
        return None;
    }
    let max_diag = a.diag().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let row_j = l.row(j).slice_move(ndarray::s![..j]).to_owned();
        let diag = a[[j, j]] - row_j.dot(&row_j);
        if diag <= PIVOT_TOL * max_diag.max(f64::MIN_POSITIVE) {
            return None;
        }
        let ljj = diag.sqrt();
        l[[j, j]] = ljj;
        for i in (j + 1)..d {
            let s = l.row(i).slice(ndarray::s![..j]).dot(&row_j);
            l[[i, j]] = (a[[i, j]] - s) / ljj;
        }
    }
    // Forward solve L·y = b, then back solve Lᵀ·x = y.
    let mut y = Array1::<f64>::zeros(d);
    for i in 0..d {
        let s = l
            .row(i)
            .slice(ndarray::s![..i])
            .dot(&y.slice(ndarray::s![..i]));
        y[i] = (b[i] - s) / l[[i, i]];
    }
    let mut x = Array1::<f64>::zeros(d);
    for i in (0..d).rev() {
        let s = l
            .column(i)
            .slice(ndarray::s![i + 1..])
            .dot(&x.slice(ndarray::s![i + 1..]));
        x[i] = (y[i] - s) / l[[i, i]];
    }
    Some(x)
}

/// Gaussian elimination with partial pivoting; `None` if a pivot is
/// negligible relative to the largest entry.
pub fn gauss_solve(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let d = a.nrows();
    if a.ncols() != d || b.len() != d {
        return None;
    }
    let scale = a
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let mut m = a.clone();
    let mut rhs = b.clone();
    for col in 0..d {
        let (p, pv) = (col..d)
            .map(|r| (r, m[[r, col]].abs()))
            .fold(
                (col, -1.0),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
        if pv <= PIVOT_TOL * scale {
            return None;
        }
        if p != col {
            for c in 0..d {
                m.swap([p, c], [col, c]);
            }
            rhs.swap(p, col);
        }
        let pivot_row = m.row(col).to_owned();
        for r in (col + 1)..d {
            let f = m[[r, col]] / pivot_row[col];
            if f != 0.0 {
                m.row_mut(r).scaled_add(-f, &pivot_row);
                rhs[r] -= f * rhs[col];
            }
        }
    }
    let mut x = Array1::<f64>::zeros(d);
    for i in (0..d).rev() {
        let s = m
            .row(i)
            .slice(ndarray::s![i + 1..])
            .dot(&x.slice(ndarray::s![i + 1..]));
        x[i] = (rhs[i] - s) / m[[i, i]];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn solves_spd_and_general_and_singular() {
        let a = array![[4.0, 2.0], [2.0, 3.0]];
        let b = array![2.0, 1.0];
        let x = cholesky_solve(&a, &b).unwrap();
        assert!((a.dot(&x) - &b).iter().all(|e| e.abs() < 1e-12));
        let g = gauss_solve(&array![[0.0, 1.0], [1.0, 0.0]], &b).unwrap();
        assert_eq!(g, array![1.0, 2.0]);
        // Singular: duplicated column. Jitter gives the symmetric solution.
        let s = array![[1.0, 1.0], [1.0, 1.0]];
        assert!(cholesky_solve(&s, &b).is_none());
        let x = solve_symmetric(&s, &array![2.0, 2.0]).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6);
        assert!(solve_symmetric(&array![[f64::NAN]], &array![1.0]).is_none());
    }
}
