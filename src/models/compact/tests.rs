//! The compact form computes what the model it was made from computes; int8 and CSR
//! storage round-trip within their precision; corrupt stored forms are refused.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};

use super::weights::{quantize, to_csr, Kernel, Weights, INT8_MAX};
use super::*;
use crate::models::linear::LinearModel;
use crate::models::logistic::LogisticModel;
use crate::models::mlp::MlpModel;
use crate::models::softmax::SoftmaxModel;

fn schema(d: usize, classes: Option<usize>) -> Schema {
    Schema {
        feature_names: (0..d).map(|i| format!("x{i}")).collect(),
        target: "t".into(),
        classes: classes.map(|k| (0..k).map(|c| format!("c{c}")).collect()),
    }
}

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.random_range(-2.0..2.0))
}

fn scaler(d: usize) -> Scaler {
    Scaler {
        mean: vec![0.5; d],
        scale: vec![1.5; d],
    }
}

fn mlp(d: usize, hidden: usize, classes: Option<usize>) -> MlpModel {
    let out = classes.unwrap_or(1);
    let sizes = vec![d, hidden, out];
    MlpModel::new(MlpModel {
        schema: schema(d, classes),
        scaler: scaler(d),
        activation: Activation::Tanh,
        weights: vec![
            random(d, hidden, 1).into_iter().collect(),
            random(hidden, out, 2).into_iter().collect(),
        ],
        biases: vec![vec![0.1; hidden], vec![-0.2; out]],
        sizes,
        target_mean: 3.0,
        target_scale: 2.0,
    })
    .unwrap()
}

fn natives() -> Vec<Arc<dyn Model>> {
    vec![
        Arc::new(LinearModel::new(schema(3, None), scaler(3), vec![1.0, -2.0, 0.5], 0.3).unwrap()),
        Arc::new(
            LogisticModel::new(schema(3, Some(2)), scaler(3), vec![0.7, -1.1, 0.2], 0.2).unwrap(),
        ),
        Arc::new(
            SoftmaxModel::new(
                schema(3, Some(3)),
                scaler(3),
                vec![
                    vec![1.0, 0.0, 0.3],
                    vec![0.0, 1.0, -0.4],
                    vec![-1.0, -1.0, 0.1],
                ],
                vec![0.1, 0.2, 0.3],
            )
            .unwrap(),
        ),
        Arc::new(mlp(3, 8, Some(4))),
        Arc::new(mlp(3, 8, None)),
    ]
}

fn assert_close(a: &Output, b: &Output, tol: f64) {
    for (x, y) in a.predictions.iter().zip(&b.predictions) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }
    match (&a.probabilities, &b.probabilities) {
        (Some(p), Some(q)) => {
            for (x, y) in p.iter().zip(q) {
                assert!((x - y).abs() <= tol, "{x} vs {y}");
            }
        }
        (None, None) => {}
        _ => panic!("one output has probabilities, the other not"),
    }
}

#[test]
fn the_dense_compact_form_predicts_what_the_model_predicts() {
    let x = random(50, 3, 9);
    for model in natives() {
        let compact = from_model(model.as_ref()).unwrap();
        assert_eq!(compact.family(), model.family());
        assert_eq!(compact.n_parameters(), model.n_parameters());
        assert_close(
            &compact.predict(x.view()).unwrap(),
            &model.predict(x.view()).unwrap(),
            1e-12,
        );
        // Through the stored form and back.
        let json = serde_json::to_string(&compact.to_artifact()).unwrap();
        assert!(json.contains("\"family\":\"compressed\""), "{json}");
        let back: Artifact = serde_json::from_str(&json).unwrap();
        assert_eq!(back.family(), model.family());
        let back = back.into_model().unwrap();
        assert_close(
            &back.predict(x.view()).unwrap(),
            &model.predict(x.view()).unwrap(),
            1e-12,
        );
    }
}

#[test]
fn int8_weights_are_within_half_a_step_of_the_originals() {
    let w = random(40, 6, 3);
    let q = quantize(w.view());
    let Weights::Int8 { scales, .. } = &q else {
        panic!("not int8")
    };
    assert_eq!(scales.len(), 6);
    let restored = q.kernel(40, 6).unwrap().to_dense();
    for ((i, j), v) in w.indexed_iter() {
        let step = f64::from(scales[j]);
        assert!(
            (restored[(i, j)] - v).abs() <= step / 2.0 + 1e-12,
            "{i},{j}"
        );
        let column_max = w.column(j).iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!((step * INT8_MAX - column_max).abs() <= column_max * 1e-6);
    }
}

#[test]
fn the_sparse_kernel_computes_what_the_dense_one_does() {
    let mut w = random(30, 20, 4);
    w.mapv_inplace(|v| if v.abs() < 1.5 { 0.0 } else { v });
    let sparse = to_csr(w.view()).unwrap().kernel(30, 20).unwrap();
    assert!(matches!(sparse, Kernel::Sparse(..)));
    let dense = Weights::Dense {
        values: w.iter().copied().collect(),
    }
    .kernel(30, 20)
    .unwrap();
    for rows in [1, 5, 64] {
        let x = random(rows, 30, rows as u64);
        let (mut a, mut b) = (Array2::ones((rows, 20)), Array2::ones((rows, 20)));
        sparse.mul_add(x.view(), &mut a);
        dense.mul_add(x.view(), &mut b);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-12);
        }
    }
}

#[test]
fn corrupt_stored_weights_are_refused_before_anything_is_sized_by_them() {
    let bad = |w: Weights, n_in: usize, n_out: usize| {
        let e = w.kernel(n_in, n_out).unwrap_err();
        assert!(matches!(e, ModelError::InvalidArtifact(_)), "{e}");
    };
    let q = quantize(random(4, 3, 5).view());
    bad(q.clone(), 4, 4);
    // A layer claiming 2^62 weights with a few bytes of data.
    bad(q.clone(), 1 << 31, 1 << 31);
    bad(q.clone(), usize::MAX, 2);
    if let Weights::Int8 { q: data, .. } = &q {
        bad(
            Weights::Int8 {
                q: data.clone(),
                scales: vec![0.0, 1.0, 1.0],
            },
            4,
            3,
        );
        bad(
            Weights::Int8 {
                q: "!!!!".repeat(data.len() / 4),
                scales: vec![1.0; 3],
            },
            4,
            3,
        );
    }
    let csr = |row_ptr: Vec<u32>, cols: Vec<u32>, values: Vec<f64>| Weights::Csr {
        row_ptr,
        cols,
        values,
    };
    bad(csr(vec![0, 1, 1], vec![5], vec![1.0]), 2, 3);
    bad(csr(vec![0, 2, 1], vec![0, 1], vec![1.0, 2.0]), 2, 3);
    bad(csr(vec![0, 1, 2], vec![0, 1], vec![1.0, f64::NAN]), 2, 3);
    bad(csr(vec![0, 1], vec![0], vec![1.0]), 2, 3);
    bad(
        Weights::Dense {
            values: vec![1.0; 5],
        },
        2,
        3,
    );
    // A whole artifact whose layers do not chain.
    let mut spec = from_model(&mlp(3, 8, Some(4))).unwrap().spec().clone();
    spec.layers[1].n_in = 7;
    assert!(CompactModel::try_from(spec).is_err());
}

#[test]
fn a_compressed_model_is_its_own_compact_form() {
    let compact = from_model(&mlp(3, 4, None)).unwrap();
    let again = from_model(&compact).unwrap();
    assert_eq!(again, compact);
    let x: ArrayView2<f64> = ArrayView2::from_shape((1, 3), &[0.0, 1.0, 2.0]).unwrap();
    assert!(again.predict(x).is_ok());
}
