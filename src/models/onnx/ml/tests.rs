//! Evaluator tests with hand-computed answers for each post transform, aggregate, node
//! mode and missing-value rule, and the refusals of inconsistent attributes.

use tract_onnx::pb::{self, attribute_proto::AttributeType};

use super::svm::Svm;
use super::trees::{parse, Ensemble};

fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn floats(name: &str, v: &[f32]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v.to_vec(),
        ..Default::default()
    }
}

fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn strings(name: &str, v: &[&str]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Strings as i32,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// `trees` stumps on feature 0: node 0 `mode` threshold 0.5, true → node 1, false →
/// node 2; tree t's leaves weigh `leaves[t] = (true leaf, false leaf)` on column 0
/// (classifier: `column` for every weight).
fn stumps(mode: &str, leaves: &[(f32, f32)], prefix: &str, column: i64) -> Vec<pb::AttributeProto> {
    let n = leaves.len() as i64;
    let per = |v: [i64; 3]| (0..n).flat_map(move |_| v).collect::<Vec<_>>();
    let tree_ids: Vec<i64> = (0..n).flat_map(|t| [t, t, t]).collect();
    let modes: Vec<&str> = (0..n).flat_map(|_| [mode, "LEAF", "LEAF"]).collect();
    vec![
        ints("nodes_treeids", &tree_ids),
        ints("nodes_nodeids", &per([0, 1, 2])),
        ints("nodes_featureids", &per([0, 0, 0])),
        ints("nodes_truenodeids", &per([1, 0, 0])),
        ints("nodes_falsenodeids", &per([2, 0, 0])),
        floats(
            "nodes_values",
            &(0..n).flat_map(|_| [0.5, 0.0, 0.0]).collect::<Vec<_>>(),
        ),
        strings("nodes_modes", &modes),
        ints(
            &format!("{prefix}_treeids"),
            &(0..n).flat_map(|t| [t, t]).collect::<Vec<_>>(),
        ),
        ints(
            &format!("{prefix}_nodeids"),
            &(0..n).flat_map(|_| [1, 2]).collect::<Vec<_>>(),
        ),
        ints(&format!("{prefix}_ids"), &vec![column; (2 * n) as usize]),
        floats(
            &format!("{prefix}_weights"),
            &leaves
                .iter()
                .flat_map(|(a, b)| [*a, *b])
                .collect::<Vec<_>>(),
        ),
    ]
}

fn node(op: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

fn run(e: &Ensemble, x: &[f32]) -> (Vec<f32>, Vec<i64>) {
    let mut out = vec![0.0; x.len() * e.columns];
    let mut labels = vec![0; x.len()];
    e.eval(x, 1, &mut out, &mut labels).unwrap();
    (out, labels)
}

fn regressor(extra: Vec<pb::AttributeProto>, mode: &str, leaves: &[(f32, f32)]) -> Ensemble {
    let mut a = stumps(mode, leaves, "target", 0);
    a.extend(extra);
    parse(&node("TreeEnsembleRegressor", a), false).unwrap()
}

#[test]
fn modes_and_missing_values() {
    // x = 0.5 sits on the threshold: true for LEQ, GTE, EQ; false for LT, GT, NEQ.
    for (mode, want) in [
        ("BRANCH_LEQ", 1.0),
        ("BRANCH_LT", 3.0),
        ("BRANCH_GTE", 1.0),
        ("BRANCH_GT", 3.0),
        ("BRANCH_EQ", 1.0),
        ("BRANCH_NEQ", 3.0),
    ] {
        let e = regressor(vec![], mode, &[(1.0, 3.0)]);
        assert_eq!(run(&e, &[0.5]).0, [want], "{mode}");
    }
    let e = regressor(vec![], "BRANCH_LEQ", &[(1.0, 3.0)]);
    assert_eq!(run(&e, &[f32::NAN]).0, [3.0], "NaN compares false");
    let e = regressor(
        vec![ints("nodes_missing_value_tracks_true", &[1, 0, 0])],
        "BRANCH_LEQ",
        &[(1.0, 3.0)],
    );
    assert_eq!(run(&e, &[f32::NAN]).0, [1.0], "NaN tracks true");
}

#[test]
fn a_batch_split_over_threads_answers_as_row_by_row() {
    // 40 trees × 100 rows: above the sharing threshold, in pieces over two threads.
    let leaves: Vec<(f32, f32)> = (0..40).map(|i| (i as f32, -(i as f32) / 3.0)).collect();
    let e = regressor(vec![], "BRANCH_LEQ", &leaves);
    let x: Vec<f32> = (0..100).map(|i| i as f32 / 50.0 - 1.0).collect();
    let single: Vec<f32> = x.iter().flat_map(|v| run(&e, &[*v]).0).collect();
    assert_eq!(run(&e, &x).0, single);
    assert!(
        single.iter().any(|v| *v != single[0]),
        "rows on both sides of the split"
    );
}

#[test]
fn aggregates_and_base_values() {
    let leaves = [(1.0, 3.0), (2.0, 6.0)];
    for (agg, want) in [
        ("SUM", 13.0),
        ("AVERAGE", 11.5),
        ("MIN", 11.0),
        ("MAX", 12.0),
    ] {
        let e = regressor(
            vec![
                string("aggregate_function", agg),
                floats("base_values", &[10.0]),
            ],
            "BRANCH_LEQ",
            &leaves,
        );
        assert_eq!(run(&e, &[0.0]).0, [want], "{agg}");
    }
    // A single-target regressor ignores LOGISTIC (onnxruntime's one-output path).
    let e = regressor(
        vec![string("post_transform", "LOGISTIC")],
        "BRANCH_LEQ",
        &leaves,
    );
    assert_eq!(run(&e, &[0.0]).0, [3.0]);
    let e = regressor(
        vec![string("post_transform", "PROBIT")],
        "BRANCH_LEQ",
        &[(0.5, 0.5)],
    );
    assert!(run(&e, &[0.0]).0[0].abs() < 1e-6);
}

#[test]
fn two_targets_take_every_transform() {
    // Tree 0 scores target 0, tree 1 target 1 (via the classifier-style column helper).
    let mut a = stumps("BRANCH_LEQ", &[(1.0, 3.0), (2.0, 6.0)], "target", 0);
    for attr in a.iter_mut().filter(|a| a.name == "target_ids") {
        attr.ints = vec![0, 0, 1, 1];
    }
    a.push(pb::AttributeProto {
        name: "n_targets".into(),
        r#type: AttributeType::Int as i32,
        i: 2,
        ..Default::default()
    });
    let base = |post: &str| {
        let mut a = a.clone();
        a.push(string("post_transform", post));
        a.push(floats("base_values", &[0.5, -0.5]));
        parse(&node("TreeEnsembleRegressor", a), false).unwrap()
    };
    assert_eq!(run(&base("NONE"), &[0.0]).0, [1.5, 1.5]);
    let l = run(&base("LOGISTIC"), &[1.0]).0; // [3.5, 5.5]
    assert!((l[0] - 1.0 / (1.0 + (-3.5f32).exp())).abs() < 1e-6);
    let s = run(&base("SOFTMAX"), &[1.0]).0;
    assert!((s[1] - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
}

fn classifier(leaves: &[(f32, f32)], column: i64, extra: Vec<pb::AttributeProto>) -> Ensemble {
    let mut a = stumps("BRANCH_LEQ", leaves, "class", column);
    a.push(ints("classlabels_int64s", &[4, 7]));
    a.extend(extra);
    parse(&node("TreeEnsembleClassifier", a), true).unwrap()
}

#[test]
fn binary_with_one_weight_column() {
    // Mixed signs, base 0.1: s = 0.1 - 0.4 = -0.3 → [-s, s], label of class 0.
    let e = classifier(&[(-0.4, 0.9)], 0, vec![floats("base_values", &[0.1])]);
    let (p, l) = run(&e, &[0.0, 1.0]);
    assert!(
        (p[0] - 0.3).abs() < 1e-6 && (p[1] + 0.3).abs() < 1e-6,
        "{p:?}"
    );
    assert_eq!(l, [4, 7]);
    // LOGISTIC: [σ(-s), σ(s)].
    let e = classifier(
        &[(-0.4, 0.9)],
        0,
        vec![string("post_transform", "LOGISTIC")],
    );
    let (p, _) = run(&e, &[1.0]);
    assert!((p[1] - 1.0 / (1.0 + (-0.9f32).exp())).abs() < 1e-6);
    // All weights positive: [1 - s, s], class 1 above 0.5.
    let e = classifier(&[(0.2, 0.8)], 0, vec![]);
    let (p, l) = run(&e, &[0.0, 1.0]);
    assert!(
        (p[0] - 0.8).abs() < 1e-6 && (p[3] - 0.8).abs() < 1e-6,
        "{p:?}"
    );
    assert_eq!(l, [4, 7]);
}

#[test]
fn multiclass_softmax_and_labels() {
    let mut a = stumps("BRANCH_LEQ", &[(1.0, 2.0)], "class", 1);
    a.push(ints("classlabels_int64s", &[10, 20, 30]));
    a.push(floats("base_values", &[0.0, 0.0, 1.5]));
    a.push(string("post_transform", "SOFTMAX"));
    let e = parse(&node("TreeEnsembleClassifier", a), true).unwrap();
    let (p, l) = run(&e, &[0.0, 1.0]);
    assert_eq!(l, [30, 20]);
    let z = 1.0 + (1.0f32).exp() + (1.5f32).exp();
    assert!((p[2] - (1.5f32).exp() / z).abs() < 1e-6);
}

#[test]
fn inconsistent_trees_are_refused() {
    let mut a = stumps("BRANCH_LEQ", &[(1.0, 3.0)], "target", 0);
    for attr in a.iter_mut().filter(|a| a.name == "nodes_truenodeids") {
        attr.ints = vec![100_000, 0, 0];
    }
    let e = parse(&node("TreeEnsembleRegressor", a.clone()), false).unwrap_err();
    assert!(e.contains("branches to node 100000"), "{e}");
    for attr in a.iter_mut().filter(|a| a.name == "nodes_truenodeids") {
        attr.ints = vec![0, 0, 0];
    }
    let e = parse(&node("TreeEnsembleRegressor", a.clone()), false).unwrap_err();
    assert!(e.contains("reached twice"), "{e}");
    a.retain(|x| x.name != "nodes_modes");
    let e = parse(&node("TreeEnsembleRegressor", a), false).unwrap_err();
    assert!(e.contains("nodes_modes has 0 entries"), "{e}");
}

#[test]
fn linear_svm_and_bad_sizes() {
    let svr = Svm::parse(
        &node(
            "SVMRegressor",
            vec![floats("coefficients", &[1.0, 2.0]), floats("rho", &[0.5])],
        ),
        false,
    )
    .unwrap();
    let mut out = [0.0];
    svr.eval(&[1.0f32, 1.0], 2, &mut out, &mut []).unwrap();
    assert_eq!(out, [3.5]);
    let bad = Svm::parse(
        &node(
            "SVMClassifier",
            vec![
                ints("classlabels_ints", &[0, 1]),
                ints("vectors_per_class", &[1, 1]),
                floats("support_vectors", &[1.0, 2.0, 3.0]),
                floats("coefficients", &[1.0, -1.0]),
                floats("rho", &[0.0]),
            ],
        ),
        true,
    )
    .unwrap_err();
    assert!(bad.contains("support_vectors has 3 values"), "{bad}");
}

#[test]
fn double_inputs_and_tensor_thresholds() {
    // A threshold given as a double (opset 3) is compared in f64, even for a float input.
    let mut a = stumps("BRANCH_LEQ", &[(1.0, 3.0)], "target", 0);
    a.retain(|x| x.name != "nodes_values");
    a.push(pb::AttributeProto {
        name: "nodes_values_as_tensor".into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(pb::TensorProto {
            dims: vec![3],
            data_type: pb::tensor_proto::DataType::Double as i32,
            double_data: vec![0.1, 0.0, 0.0],
            ..Default::default()
        }),
        ..Default::default()
    });
    let e = parse(&node("TreeEnsembleRegressor", a), false).unwrap();
    assert!(e.wide);
    let mut out = [0.0f32; 2];
    // 0.1f32 widened is above 0.1f64: the false branch, as onnxruntime compares.
    e.eval(&[f64::from(0.1f32), 0.1f64], 1, &mut out, &mut [])
        .unwrap();
    assert_eq!(out, [3.0, 1.0]);
}
