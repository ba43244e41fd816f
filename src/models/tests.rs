//! Model-level tests: artifacts, validation of corrupt artifacts, input checks.

use ndarray::array;

use super::linear::LinearModel;
use super::logistic::LogisticModel;
use super::scaler::Scaler;
use super::softmax::SoftmaxModel;
use super::*;

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<LinearModel>();
    assert_send_sync::<LogisticModel>();
    assert_send_sync::<SoftmaxModel>();
    assert_send_sync::<Arc<dyn Model>>();
    assert_send_sync::<Artifact>();
};

fn schema(classes: Option<Vec<&str>>) -> Schema {
    Schema {
        feature_names: vec!["a".into(), "b".into()],
        target: "t".into(),
        classes: classes.map(|c| c.into_iter().map(String::from).collect()),
    }
}

fn scaler() -> Scaler {
    Scaler {
        mean: vec![1.0, 2.0],
        scale: vec![2.0, 0.5],
    }
}

fn models() -> Vec<Arc<dyn Model>> {
    vec![
        Arc::new(LinearModel::new(schema(None), scaler(), vec![1.5, -2.0], 3.0).unwrap()),
        Arc::new(
            LogisticModel::new(schema(Some(vec!["n", "y"])), scaler(), vec![0.7, -1.1], 0.2)
                .unwrap(),
        ),
        Arc::new(
            SoftmaxModel::new(
                schema(Some(vec!["a", "b", "c"])),
                scaler(),
                vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![-1.0, -1.0]],
                vec![0.1, 0.2, 0.3],
            )
            .unwrap(),
        ),
    ]
}

#[test]
fn artifact_json_round_trip_predicts_identically() {
    let x = array![[1.0, 2.0], [3.5, -1.0], [-7.0, 40.0]];
    for m in models() {
        let json = serde_json::to_string(&m.to_artifact()).unwrap();
        assert!(json.contains(&format!("\"family\":\"{}\"", m.family().as_str())));
        let back: Artifact = serde_json::from_str(&json).unwrap();
        assert_eq!(back.family(), m.family());
        let m2 = back.into_model().unwrap();
        let (a, b) = (m.predict(x.view()).unwrap(), m2.predict(x.view()).unwrap());
        assert_eq!(a, b);
        assert_eq!(m.n_parameters(), m2.n_parameters());
    }
}

#[test]
fn predictions_have_expected_shape_and_values() {
    let ms = models();
    let x = array![[3.0, 2.5]]; // standardised: [1, 1]
    let lin = ms[0].predict(x.view()).unwrap();
    assert_eq!(
        (lin.predictions, lin.probabilities),
        (vec![1.5 - 2.0 + 3.0], None)
    );
    let log = ms[1].predict(x.view()).unwrap();
    let p = log.probabilities.unwrap();
    let want = 1.0 / (1.0 + (-(0.7 - 1.1 + 0.2f64)).exp());
    assert!((p[[0, 1]] - want).abs() < 1e-12 && (p[[0, 0]] - (1.0 - want)).abs() < 1e-12);
    assert_eq!(log.predictions, vec![0.0]);
    let soft = ms[2].predict(x.view()).unwrap();
    assert_eq!(soft.predictions, vec![1.0]);
    let p = soft.probabilities.unwrap();
    assert_eq!(p.dim(), (1, 3));
    assert!((p.sum() - 1.0).abs() < 1e-12);
    assert_eq!(ms[2].n_parameters(), 9);
}

/// Narrow models standardise into a stack buffer, wide ones into a heap one; both give
/// the plain formula's answer for every row.
#[test]
fn linear_predictions_are_the_same_for_narrow_and_wide_models() {
    for width in [3, 64, 65, 200] {
        let names: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
        let schema = Schema {
            feature_names: names,
            target: "t".into(),
            classes: None,
        };
        let mean: Vec<f64> = (0..width).map(|i| i as f64 * 0.5).collect();
        let scale: Vec<f64> = (0..width).map(|i| 1.0 + i as f64 * 0.25).collect();
        let weights: Vec<f64> = (0..width)
            .map(|i| if i % 2 == 0 { 0.5 } else { -1.0 })
            .collect();
        let model = LinearModel::new(
            schema,
            Scaler {
                mean: mean.clone(),
                scale: scale.clone(),
            },
            weights.clone(),
            7.0,
        )
        .unwrap();
        let x = ndarray::Array2::from_shape_fn((3, width), |(r, c)| (r * width + c) as f64);
        let got = model.predict(x.view()).unwrap().predictions;
        for (r, row) in x.outer_iter().enumerate() {
            let want: f64 = 7.0
                + row
                    .iter()
                    .zip(&mean)
                    .zip(&scale)
                    .zip(&weights)
                    .map(|(((x, m), s), w)| (x - m) / s * w)
                    .sum::<f64>();
            assert!(
                (got[r] - want).abs() < 1e-9 * want.abs().max(1.0),
                "width {width} row {r}: {} vs {want}",
                got[r]
            );
        }
    }
}

#[test]
fn predict_checks_shape_and_finiteness() {
    for m in models() {
        assert!(matches!(
            m.predict(array![[1.0, 2.0, 3.0]].view()),
            Err(ModelError::ShapeMismatch {
                expected: 2,
                got: 3
            })
        ));
        assert!(matches!(
            m.predict(array![[1.0, 2.0], [f64::NAN, 1.0]].view()),
            Err(ModelError::NonFinite { row: 1, col: 0 })
        ));
        assert_eq!(
            m.predict(ndarray::Array2::zeros((0, 2)).view())
                .unwrap()
                .predictions
                .len(),
            0
        );
    }
}

#[test]
fn corrupt_artifacts_are_rejected() {
    let mut bad = Vec::new();
    for m in models() {
        let mut v = serde_json::to_value(m.to_artifact()).unwrap();
        let w = if v.get("intercepts").is_some() {
            &mut v["weights"][0]
        } else {
            &mut v["weights"]
        };
        w.as_array_mut().unwrap().push(1.0.into());
        bad.push(v);
    }
    let mut v = serde_json::to_value(models()[0].to_artifact()).unwrap();
    v["scaler"]["scale"][0] = 0.0.into();
    bad.push(v);
    let mut v = serde_json::to_value(models()[2].to_artifact()).unwrap();
    v["intercepts"].as_array_mut().unwrap().pop();
    bad.push(v);
    let mut v = serde_json::to_value(models()[1].to_artifact()).unwrap();
    v["schema"]["classes"] = serde_json::json!(["a", "b", "c"]);
    bad.push(v);
    let mut v = serde_json::to_value(models()[0].to_artifact()).unwrap();
    v["schema"]["classes"] = serde_json::json!(["a", "b"]);
    bad.push(v);
    for v in bad {
        let a: Artifact = serde_json::from_value(v.clone()).unwrap();
        assert!(
            matches!(a.into_model(), Err(ModelError::InvalidArtifact(_))),
            "{v}"
        );
    }
    // Non-finite JSON cannot be represented; a direct struct edit is caught at predict.
    let mut m = LinearModel::new(schema(None), scaler(), vec![1.0, 1.0], 0.0).unwrap();
    m.weights.push(2.0);
    assert!(matches!(
        m.predict(array![[1.0, 2.0]].view()),
        Err(ModelError::InvalidArtifact(_))
    ));
    assert!(serde_json::from_str::<Artifact>(r#"{"family": "mlp"}"#).is_err());
}

#[test]
fn values_are_checked_once_and_lengths_before_every_prediction() {
    // A non-finite parameter cannot panic, so predicting does not rescan every value
    // (O(parameters) per request for an MLP); validation, which loading and
    // registering run, still rejects it.
    let mut m = LinearModel::new(schema(None), scaler(), vec![1.0, 1.0], 0.0).unwrap();
    m.weights[1] = f64::NAN;
    let out = m.predict(array![[1.0, 2.0]].view()).unwrap();
    assert!(out.predictions[0].is_nan());
    assert!(matches!(
        m.to_artifact().validate(),
        Err(ModelError::InvalidArtifact(msg)) if msg == "weights[1] is not a finite number"
    ));
    m.weights[1] = 1.0;
    m.to_artifact().validate().unwrap();
    m.scaler.scale[0] = -1.0;
    assert!(matches!(
        m.to_artifact().validate(),
        Err(ModelError::InvalidArtifact(msg)) if msg == "scaler.scale[0] must be positive"
    ));
    for good in models() {
        good.to_artifact().validate().unwrap();
    }
    // A wrong length is still refused at prediction, as ndarray would panic on it.
    let mut short = models()[2].to_artifact();
    if let Artifact::SoftmaxRegression(s) = &mut short {
        s.weights[2].pop();
        assert!(matches!(
            s.predict(array![[1.0, 2.0]].view()),
            Err(ModelError::InvalidArtifact(_))
        ));
    } else {
        panic!("models()[2] is the softmax model");
    }
}

#[test]
fn family_names() {
    for (f, s, t) in [
        (
            Family::LinearRegression,
            "linear_regression",
            Task::Regression,
        ),
        (
            Family::LogisticRegression,
            "logistic_regression",
            Task::Classification,
        ),
        (
            Family::SoftmaxRegression,
            "softmax_regression",
            Task::Classification,
        ),
    ] {
        assert_eq!((f.as_str(), f.task()), (s, t));
        assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(s));
    }
}

#[test]
fn predicting_chosen_rows_equals_predicting_their_copy_bit_for_bit() {
    let x = ndarray::Array2::from_shape_fn((9_000, 2), |(i, j)| {
        ((i * 7 + j * 13) % 101) as f64 / 9.0 - 5.0 + (i % 3) as f64 * 1e-9
    });
    // Out of order, repeated, and more than one block of the default path.
    let rows: Vec<usize> = (0..8_500).map(|i| (i * 37) % 9_000).collect();
    for m in models() {
        let copied = rows::gather(x.view(), &rows);
        let expected = m.predict(copied.view()).unwrap().predictions;
        let got = m.predict_rows(x.view(), &rows).unwrap();
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected), "{:?}", m.family());
        assert!(m.predict_rows(x.view(), &[0, 9_000]).is_err());
        let mut bad = x.clone();
        bad[[5, 1]] = f64::NAN;
        let err = m.predict_rows(bad.view(), &[4, 5]).unwrap_err();
        assert!(
            matches!(err, ModelError::NonFinite { row: 5, col: 1 }),
            "{err}"
        );
        let narrow = ndarray::Array2::<f64>::zeros((3, 1));
        assert!(m.predict_rows(narrow.view(), &[0]).is_err());
    }
}
