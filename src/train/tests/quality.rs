//! Metric tests against hand-computed values.

use crate::train::quality::{classification_metrics, regression_metrics};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn classification_macro_averages() {
    // true 0,0,1,1,2,2 ; pred 0,1,1,1,0,0 — class 2 never predicted.
    let m = classification_metrics(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 0, 0], 3);
    assert!(close(m["accuracy"], 0.5));
    // P: c0 1/3, c1 2/3, c2 0 (zero_division=0). R: 1/2, 1, 0.
    assert!(close(m["precision"], (1.0 / 3.0 + 2.0 / 3.0) / 3.0));
    assert!(close(m["recall"], 0.5));
    let f0 = 2.0 * (1.0 / 3.0) * 0.5 / (1.0 / 3.0 + 0.5);
    let f1 = 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0);
    assert!(close(m["f1"], (f0 + f1) / 3.0));
    // A class absent from both vectors is left out of the macro average, as in
    // scikit-learn's f1_score([0, 1], [0, 1], average="macro") == 1.0.
    let m = classification_metrics(&[0, 1], &[0, 1], 3);
    assert!(close(m["accuracy"], 1.0) && close(m["precision"], 1.0) && close(m["f1"], 1.0));
    let m = classification_metrics(&[], &[], 2);
    assert_eq!(m["accuracy"], 0.0);
}

#[test]
fn regression_values_and_r2_edge_cases() {
    let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
    assert!(close(m["mse"], 4.0 / 3.0) && close(m["mae"], 2.0 / 3.0));
    assert!(close(m["r2"], 1.0 - 4.0 / 2.0));
    // Constant truth: perfect → 1, otherwise 0 (sklearn).
    assert_eq!(regression_metrics(&[2.0, 2.0], &[2.0, 2.0])["r2"], 1.0);
    assert_eq!(regression_metrics(&[2.0, 2.0], &[2.0, 3.0])["r2"], 0.0);
    // Predicting the mean gives 0.
    assert!(close(
        regression_metrics(&[1.0, 3.0], &[2.0, 2.0])["r2"],
        0.0
    ));
}
