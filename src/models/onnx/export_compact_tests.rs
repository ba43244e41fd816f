//! Compressed models (dense, int8, csr) exported to ONNX and imported back through
//! modeld's own importer predict what the compressed model predicts.

use ndarray::Array2;
use prost::Message;
use tract_onnx::pb;

use crate::models::compact::{self, weights, CompactModel};
use crate::models::linear::LinearModel;
use crate::models::logistic::LogisticModel;
use crate::models::mlp::{Activation, MlpModel};
use crate::models::onnx::{export, OnnxArtifact};
use crate::models::scaler::Scaler;
use crate::models::{Artifact, Family, Model, Schema};

/// Deterministic values in (-amp, amp).
fn values(n: usize, seed: f64, amp: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + 1.0) * 12.9898 + seed * 78.233).sin() * amp)
        .collect()
}

fn schema(d: usize, classes: Option<usize>) -> Schema {
    Schema {
        feature_names: (0..d).map(|i| format!("f{i}")).collect(),
        target: "t".into(),
        classes: classes.map(|k| (0..k).map(|c| format!("c{c}")).collect()),
    }
}

fn scaler(d: usize) -> Scaler {
    Scaler {
        mean: values(d, 1.0, 3.0),
        scale: values(d, 2.0, 1.0).iter().map(|v| 0.5 + v.abs()).collect(),
    }
}

fn mlp(d: usize, hidden: &[usize], classes: Option<usize>, act: Activation) -> MlpModel {
    let sizes: Vec<usize> = std::iter::once(d)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(classes.unwrap_or(1)))
        .collect();
    let (weights, biases) = sizes
        .windows(2)
        .enumerate()
        .map(|(l, s)| {
            let amp = 2.0 / (s[0] as f64).sqrt();
            let w = values(s[0] * s[1], 10.0 + l as f64, amp);
            (w, values(s[1], 20.0 + l as f64, 0.5))
        })
        .unzip();
    MlpModel::new(MlpModel {
        schema: schema(d, classes),
        scaler: scaler(d),
        activation: act,
        sizes,
        weights,
        biases,
        target_mean: if classes.is_some() { 0.0 } else { 12.5 },
        target_scale: if classes.is_some() { 1.0 } else { 3.25 },
    })
    .unwrap()
}

fn models() -> Vec<(&'static str, Box<dyn Model>)> {
    vec![
        (
            "mlp_classifier",
            Box::new(mlp(5, &[8, 6], Some(3), Activation::Tanh)),
        ),
        (
            "mlp_classifier_sigmoid",
            Box::new(mlp(4, &[7], Some(2), Activation::Sigmoid)),
        ),
        (
            "mlp_regressor",
            Box::new(mlp(4, &[9], None, Activation::Relu)),
        ),
        (
            "logistic",
            Box::new(
                LogisticModel::new(schema(4, Some(2)), scaler(4), values(4, 3.0, 1.5), 0.3)
                    .unwrap(),
            ),
        ),
        (
            "linear",
            Box::new(
                LinearModel::new(schema(4, None), scaler(4), values(4, 4.0, 2.0), 7.0).unwrap(),
            ),
        ),
    ]
}

/// The model's three compressed forms: dense, int8, and csr with a third of the
/// weights zeroed.
fn variants(model: &dyn Model) -> Vec<(&'static str, CompactModel)> {
    let dense = compact::from_model(model).unwrap();
    let int8 = dense
        .restored(|_, w| Ok(weights::quantize(w.view())))
        .unwrap();
    let csr = dense
        .restored(|_, mut w| {
            w.indexed_iter_mut()
                .filter(|((i, j), _)| (i + 2 * j) % 3 == 0)
                .for_each(|(_, v)| *v = 0.0);
            weights::to_csr(w.view())
        })
        .unwrap();
    vec![("dense", dense), ("int8", int8), ("csr", csr)]
}

fn rows(d: usize, n: usize) -> Array2<f64> {
    let v = values(n * d, 5.0, 6.0);
    Array2::from_shape_vec((n, d), v).unwrap()
}

/// Relative to the larger magnitude, absolute below 1 (probabilities near 0).
fn assert_close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 * a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

fn import(bytes: Vec<u8>) -> std::sync::Arc<dyn Model> {
    Artifact::Onnx(OnnxArtifact::new(bytes))
        .into_model()
        .unwrap()
}

#[test]
fn every_compressed_form_round_trips_through_the_importer() {
    for (name, model) in models() {
        for (form, m) in variants(model.as_ref()) {
            let what = format!("{name} {form}");
            let bytes = export::export(&m).unwrap();
            let back = import(bytes);
            assert_eq!(back.family(), Family::Onnx, "{what}");
            assert_eq!(back.schema().feature_names, m.schema().feature_names);
            assert_eq!(back.schema().classes, m.schema().classes, "{what}");
            // 20 rows: a csr layer multiplies sparsely below 16 rows, densely above.
            for n in [3, 20] {
                let x = rows(m.schema().n_features(), n);
                let (want, got) = (
                    m.predict(x.view()).unwrap(),
                    back.predict(x.view()).unwrap(),
                );
                assert_eq!(want.predictions.len(), n, "{what}");
                match (&want.probabilities, &got.probabilities) {
                    (Some(pw), Some(pg)) => {
                        assert_eq!(want.predictions, got.predictions, "{what}");
                        assert_eq!(pw.dim(), pg.dim(), "{what}");
                        for (a, b) in pw.iter().zip(pg) {
                            assert_close(*a, *b, &what);
                        }
                    }
                    (None, None) => {
                        for (a, b) in want.predictions.iter().zip(&got.predictions) {
                            assert_close(*a, *b, &what);
                        }
                    }
                    _ => panic!("{what}: one is a classifier, the other not"),
                }
            }
        }
    }
}

#[test]
fn int8_export_keeps_int8_weights_and_is_much_smaller() {
    let model = mlp(64, &[128], Some(3), Activation::Relu);
    let forms = variants(&model);
    let size = |form: &str| {
        let (_, m) = forms.iter().find(|(f, _)| *f == form).unwrap();
        export::export(m).unwrap()
    };
    let (dense, int8) = (size("dense"), size("int8"));
    assert!(
        int8.len() * 4 < dense.len(),
        "int8 {} bytes, dense {} bytes",
        int8.len(),
        dense.len()
    );
    let graph = pb::ModelProto::decode(int8.as_slice())
        .unwrap()
        .graph
        .unwrap();
    let int8_inits = graph
        .initializer
        .iter()
        .filter(|t| t.data_type == pb::tensor_proto::DataType::Int8 as i32 && t.dims.len() == 2);
    let dims: Vec<_> = int8_inits.map(|t| t.dims.clone()).collect();
    assert_eq!(dims, vec![vec![64, 128], vec![128, 3]]);
    let dq = graph
        .node
        .iter()
        .filter(|n| n.op_type == "DequantizeLinear");
    assert_eq!(dq.count(), 2);
    // And it still predicts what the int8 model predicts.
    let (_, m) = &forms[1];
    let x = rows(64, 20);
    let (want, got) = (
        m.predict(x.view()).unwrap(),
        import(int8).predict(x.view()).unwrap(),
    );
    assert_eq!(want.predictions, got.predictions);
    for (a, b) in want
        .probabilities
        .unwrap()
        .iter()
        .zip(&got.probabilities.unwrap())
    {
        assert_close(*a, *b, "64×128 int8");
    }
}
