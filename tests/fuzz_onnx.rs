//! Property-based fuzzing of the ONNX loader with mutated copies of the fixture graphs
//! (tests/fixtures/models/*.onnx): raw byte edits (bit flips, truncations, splices from
//! another fixture, insertions, rewritten protobuf varints and lengths) and edits of one
//! decoded field (a dim, an element type, an initializer's data, an operator, an
//! attribute, an edge) re-encoded, which get past protobuf decoding into tract.
//!
//! Property: loading gives a model or a typed [`ModelError`] (`InvalidArtifact`,
//! `TooLarge`), never a panic (not even one the loader's `catch_unwind` turns into
//! "... crashed") and never an abort; a model that loads predicts two rows of its width
//! or refuses them with a typed error. Deeper runs: scripts/fuzz.sh.
#![cfg(feature = "onnx")]

mod fuzzing;

use std::cell::{Cell, RefCell};
use std::sync::Once;

use fuzzing::{byte_edits, check, mutate};
use modeld::models::onnx::{load, OnnxArtifact};
use modeld::models::{Limits, ModelError};
use ndarray::Array2;
use proptest::prelude::*;
use prost::Message;
use tract_onnx::pb;

/// The files mutated: the first five in this order (the regression tests below pick
/// them by index), then a tree classifier, a tree regressor, a ZipMap export, a double export, and
/// SVMs and boosted trees (modeld's own ops).
const FIXTURE_STEMS: [&str; 13] = [
    "linreg_diabetes",
    "logreg_breast_cancer",
    "logreg_multinomial_iris",
    "mlp_classifier_iris",
    "mlp_regressor_diabetes",
    "rf_binary_breast_cancer",
    "gbr_diabetes",
    "logreg_iris_zipmap",
    "logreg_breast_cancer_f64",
    "svc_rbf_iris",
    "gbc_binary_breast_cancer",
    "xgb_regressor_diabetes",
    "svr_rbf_diabetes",
];

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
    FIXTURE_STEMS
        .iter()
        .map(|stem| std::fs::read(dir.join(format!("{stem}.onnx"))).unwrap())
        .collect()
}

/// Limits well under the defaults, so a graph that declares a large model is refused
/// by the check rather than by the machine running out of memory.
const LIMITS: Limits = Limits {
    max_features: 1_000,
    max_parameters: 100_000,
};

thread_local! {
    /// Where the panics on this thread since the last [`take_panics`] happened.
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Panics inside tract the loader's guard turned into a refusal, for the report.
    static CONTAINED: Cell<usize> = const { Cell::new(0) };
    /// Panics inside tract while a loaded model predicted, answered as `Runtime`.
    static RUN_CONTAINED: Cell<usize> = const { Cell::new(0) };
}

/// Records each panic's location; tract's are not printed (the guard catches them, so
/// their messages would be noise). Installed once per test binary.
fn record_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let mut at = info
                .location()
                .map_or_else(|| "?".to_string(), |l| format!("{}:{}", l.file(), l.line()));
            // An arithmetic panic is located in core: blame the first caller that is
            // tract or modeld.
            if at.starts_with("/rustc/") {
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                let caller = trace
                    .lines()
                    .find(|l| l.contains("tract_") || l.contains("modeld::"))
                    .unwrap_or("?");
                at = format!("{at} called from {}", caller.trim());
            }
            if !in_tract(&at) {
                default(info);
            }
            PANICS.with(|p| p.borrow_mut().push(format!("{at}: {}", payload(info))));
        }));
    });
}

fn payload(info: &std::panic::PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

fn take_panics() -> Vec<String> {
    PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// A panic inside tract itself (a dependency's assertion on a graph it failed to check),
/// not in modeld.
fn in_tract(at: &str) -> bool {
    at.contains("/tract-") || at.contains("called from") && at.contains("tract_")
}

/// The property, for one file: no panic in modeld's own code; a panic inside tract is
/// contained by the guard, as a refusal of the graph while loading or as a
/// `ModelError::Runtime` while predicting; a model that loads predicts two rows of its
/// width or refuses them with a typed error.
fn load_and_predict(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    record_panics();
    take_panics();
    let loaded = load(OnnxArtifact::new(bytes), &LIMITS);
    let at_load = take_panics();
    prop_assert!(
        at_load.iter().all(|p| in_tract(p)),
        "panic in modeld: {at_load:?}"
    );
    match loaded {
        Ok(model) => {
            prop_assert!(at_load.is_empty(), "loaded after a panic: {at_load:?}");
            let d = model.schema().n_features();
            prop_assert!(d <= LIMITS.max_features);
            // Other values than the loader's trial rows.
            let x = Array2::from_shape_fn((2, d), |(i, j)| ((i * 5 + j * 13) % 17) as f64 - 6.5);
            let out = model.predict(x.view());
            let at_run = take_panics();
            prop_assert!(
                at_run.iter().all(|p| in_tract(p)),
                "panic in modeld: {at_run:?}"
            );
            match out {
                Ok(out) => prop_assert_eq!(out.predictions.len(), 2),
                Err(e) if at_run.is_empty() => {
                    prop_assert!(!e.to_string().contains("crashed"), "{e}")
                }
                // The runtime's fault on rows the model accepted: a 500 for that request.
                Err(e) => {
                    prop_assert!(matches!(e, ModelError::Runtime(_)), "{e:?}");
                    RUN_CONTAINED.with(|c| c.set(c.get() + 1));
                }
            }
        }
        Err(e) if at_load.is_empty() => {
            prop_assert!(!e.to_string().contains("crashed"), "{e}");
        }
        Err(e) => {
            prop_assert!(matches!(e, ModelError::InvalidArtifact(_)), "{e:?}");
            CONTAINED.with(|c| c.set(c.get() + 1));
        }
    }
    Ok(())
}

#[test]
fn every_fixture_loads_unmutated() {
    for bytes in fixtures() {
        let model = load(OnnxArtifact::new(bytes), &LIMITS).unwrap();
        assert!(model.schema().n_features() > 0);
    }
}

#[test]
fn mutated_onnx_bytes_load_or_give_a_typed_error() {
    let bases = fixtures();
    check(
        "onnx_bytes",
        96,
        (any::<usize>(), byte_edits()),
        |(base, edits)| load_and_predict(mutate(&bases, base, &edits)),
    );
    report_contained("onnx_bytes");
}

/// One change to a decoded graph.
#[derive(Debug, Clone)]
enum GraphEdit {
    /// Sets dim `dim` of the `which`-th declared tensor (inputs, outputs, initializers).
    Dim {
        which: usize,
        dim: usize,
        to: i64,
    },
    /// Sets the element type of the `which`-th declared tensor.
    ElemType {
        which: usize,
        to: i32,
    },
    /// Keeps `keep` bytes of an initializer's raw data, or `keep` of its floats.
    InitData {
        which: usize,
        keep: usize,
    },
    OpType {
        node: usize,
        to: String,
    },
    DropNode {
        node: usize,
    },
    /// Points input `slot` of a node at another node's output (possibly its own).
    Rewire {
        node: usize,
        slot: usize,
        from: usize,
    },
    AttrInt {
        node: usize,
        attr: usize,
        to: i64,
    },
    AttrInts {
        node: usize,
        attr: usize,
        to: Vec<i64>,
    },
    Opset {
        to: i64,
    },
    DropGraphInput,
    DropGraphOutput,
}

fn graph_edit() -> impl Strategy<Value = GraphEdit> {
    let i = any::<usize>();
    let dim = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(3),
        Just(1 << 31),
        Just(1 << 50),
        Just(i64::MAX),
        Just(i64::MIN),
    ];
    let op = prop::sample::select(vec![
        "Identity",
        "MatMul",
        "Gemm",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Sigmoid",
        "Softmax",
        "ArgMax",
        "Cast",
        "Reshape",
        "Concat",
        "Transpose",
        "Flatten",
        "LinearClassifier",
        "LinearRegressor",
        "Scaler",
        "ZipMap",
        "Unknown",
        "",
    ]);
    let int = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(2),
        Just(7),
        Just(1000),
        Just(i64::MAX),
        Just(i64::MIN),
        any::<i64>(),
    ];
    prop_oneof![
        3 => (i, i, dim.clone()).prop_map(|(which, dim, to)| GraphEdit::Dim { which, dim, to }),
        2 => (i, -2i32..20).prop_map(|(which, to)| GraphEdit::ElemType { which, to }),
        2 => (i, 0usize..64).prop_map(|(which, keep)| GraphEdit::InitData { which, keep }),
        2 => (i, op).prop_map(|(node, to)| GraphEdit::OpType { node, to: to.into() }),
        1 => i.prop_map(|node| GraphEdit::DropNode { node }),
        2 => (i, i, i).prop_map(|(node, slot, from)| GraphEdit::Rewire { node, slot, from }),
        2 => (i, i, int.clone()).prop_map(|(node, attr, to)| GraphEdit::AttrInt { node, attr, to }),
        1 => (i, i, prop::collection::vec(dim, 0..4))
            .prop_map(|(node, attr, to)| GraphEdit::AttrInts { node, attr, to }),
        1 => int.prop_map(|to| GraphEdit::Opset { to }),
        1 => Just(GraphEdit::DropGraphInput),
        1 => Just(GraphEdit::DropGraphOutput),
    ]
}

fn pick<T>(v: &mut [T], i: usize) -> Option<&mut T> {
    let n = v.len();
    if n == 0 {
        None
    } else {
        v.get_mut(i % n)
    }
}

/// The `which`-th declared tensor of `g`: a graph input, output or value_info (its
/// type), or an initializer.
enum Declared<'a> {
    Value(&'a mut pb::type_proto::Tensor),
    Initializer(&'a mut pb::TensorProto),
}

fn declared(g: &mut pb::GraphProto, which: usize) -> Option<Declared<'_>> {
    let n_values = g.input.len() + g.output.len() + g.value_info.len();
    let n = n_values + g.initializer.len();
    if n == 0 {
        return None;
    }
    let which = which % n;
    if which >= n_values {
        return g
            .initializer
            .get_mut(which - n_values)
            .map(Declared::Initializer);
    }
    let v = g
        .input
        .iter_mut()
        .chain(g.output.iter_mut())
        .chain(g.value_info.iter_mut())
        .nth(which)?;
    let pb::type_proto::Value::TensorType(t) = v.r#type.as_mut()?.value.as_mut()?;
    Some(Declared::Value(t))
}

fn set_dim(d: Declared<'_>, dim: usize, to: i64) {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    match d {
        Declared::Initializer(t) => match pick(&mut t.dims, dim) {
            Some(x) => *x = to,
            None => t.dims.push(to),
        },
        Declared::Value(t) => {
            let shape = t.shape.get_or_insert_with(Default::default);
            let new = Dimension {
                value: Some(Value::DimValue(to)),
                ..Default::default()
            };
            match pick(&mut shape.dim, dim) {
                Some(x) => *x = new,
                None => shape.dim.push(new),
            }
        }
    }
}

fn apply(model: &mut pb::ModelProto, edit: &GraphEdit) {
    if let GraphEdit::Opset { to } = edit {
        if let Some(o) = pick(&mut model.opset_import, 0) {
            o.version = *to;
        }
        return;
    }
    let Some(g) = model.graph.as_mut() else {
        return;
    };
    let outputs: Vec<String> = g.node.iter().flat_map(|n| n.output.clone()).collect();
    match edit {
        GraphEdit::Dim { which, dim, to } => {
            if let Some(d) = declared(g, *which) {
                set_dim(d, *dim, *to);
            }
        }
        GraphEdit::ElemType { which, to } => match declared(g, *which) {
            Some(Declared::Value(t)) => t.elem_type = *to,
            Some(Declared::Initializer(t)) => t.data_type = *to,
            None => {}
        },
        GraphEdit::InitData { which, keep } => {
            if let Some(t) = pick(&mut g.initializer, *which) {
                t.raw_data.truncate(*keep);
                t.float_data.truncate(*keep);
                t.int64_data.truncate(*keep);
                t.double_data.truncate(*keep);
            }
        }
        GraphEdit::OpType { node, to } => {
            if let Some(n) = pick(&mut g.node, *node) {
                n.op_type = to.clone();
            }
        }
        GraphEdit::DropNode { node } => {
            if !g.node.is_empty() {
                let i = node % g.node.len();
                g.node.remove(i);
            }
        }
        GraphEdit::Rewire { node, slot, from } => {
            let Some(src) = outputs.get(from % outputs.len().max(1)).cloned() else {
                return;
            };
            if let Some(n) = pick(&mut g.node, *node) {
                match pick(&mut n.input, *slot) {
                    Some(i) => *i = src,
                    None => n.input.push(src),
                }
            }
        }
        GraphEdit::AttrInt { node, attr, to } => {
            if let Some(a) = pick(&mut g.node, *node).and_then(|n| pick(&mut n.attribute, *attr)) {
                a.i = *to;
                if let Some(x) = pick(&mut a.ints, 0) {
                    *x = *to;
                }
            }
        }
        GraphEdit::AttrInts { node, attr, to } => {
            if let Some(a) = pick(&mut g.node, *node).and_then(|n| pick(&mut n.attribute, *attr)) {
                a.ints = to.clone();
            }
        }
        GraphEdit::DropGraphInput => {
            g.input.pop();
        }
        GraphEdit::DropGraphOutput => {
            g.output.pop();
        }
        GraphEdit::Opset { .. } => {}
    }
}

#[test]
fn onnx_graphs_with_one_field_changed_load_or_give_a_typed_error() {
    let bases: Vec<pb::ModelProto> = fixtures()
        .iter()
        .map(|b| pb::ModelProto::decode(b.as_slice()).unwrap())
        .collect();
    check(
        "onnx_graph",
        96,
        (0..bases.len(), prop::collection::vec(graph_edit(), 1..4)),
        |(base, edits)| {
            let mut model = bases[base].clone();
            for e in &edits {
                apply(&mut model, e);
            }
            load_and_predict(model.encode_to_vec())
        },
    );
    report_contained("onnx_graph");
}

/// Prints how many cases tract panicked on (contained by the loader's guard).
fn report_contained(target: &str) {
    println!(
        "fuzz target {target}: {} graphs refused after a panic inside tract, \
         {} predictions answered as a runtime error after one",
        CONTAINED.with(Cell::get),
        RUN_CONTAINED.with(Cell::get)
    );
}

/// Found by `onnx_graph`: a graph output that nothing produces made tract panic on a
/// missing map key while building its graph; the loader now refuses it first.
#[test]
fn a_graph_output_nothing_produces_is_refused_without_a_panic() {
    let mut model = pb::ModelProto::decode(fixtures()[0].as_slice()).unwrap();
    model.graph.as_mut().unwrap().output[0].name = "nosuch".into();
    record_panics();
    take_panics();
    let e = load(OnnxArtifact::new(model.encode_to_vec()), &LIMITS).unwrap_err();
    assert_eq!(take_panics(), Vec::<String>::new());
    assert!(
        e.to_string()
            .contains("output 'nosuch' is not produced by any node"),
        "{e}"
    );
}

/// Found by `onnx_graph` (seed in proptest-regressions/onnx_graph.txt): the MLP
/// classifier with its ArgMax rewired ran the loader's all-zero trial row, then tract's
/// Gather indexed out of bounds on other rows and the caught panic was answered as the
/// client's fault (422). The loader now also runs varied rows, so the graph is refused.
#[test]
fn a_classifier_that_indexes_out_of_its_labels_is_refused_at_load() {
    let mut model = pb::ModelProto::decode(fixtures()[3].as_slice()).unwrap();
    let g = model.graph.as_mut().unwrap();
    let outputs: Vec<String> = g.node.iter().flat_map(|n| n.output.clone()).collect();
    let node = 17571282907802573576usize % g.node.len();
    let from = outputs[205542022418895672usize % outputs.len()].clone();
    g.node[node].input[0] = from;
    record_panics();
    take_panics();
    let e = load(OnnxArtifact::new(model.encode_to_vec()), &LIMITS).unwrap_err();
    assert!(matches!(e, ModelError::InvalidArtifact(_)), "{e:?}");
}

/// Found by `onnx_graph` on the tree fixtures: a branch pointing back at its tree's root
/// made tract's walk loop forever at import. Refused before any walk (modeld's tree op
/// checks that no walk meets a node twice).
#[test]
fn a_tree_whose_branch_points_back_at_its_root_is_refused() {
    let mut model = pb::ModelProto::decode(fixtures()[6].as_slice()).unwrap();
    let g = model.graph.as_mut().unwrap();
    let tree = &mut g.node[0];
    assert_eq!(tree.op_type, "TreeEnsembleRegressor");
    let trues = tree
        .attribute
        .iter_mut()
        .find(|a| a.name == "nodes_truenodeids")
        .unwrap();
    trues.ints[0] = 0;
    let e = load(OnnxArtifact::new(model.encode_to_vec()), &LIMITS).unwrap_err();
    assert!(
        matches!(&e, ModelError::InvalidArtifact(m) if m.contains("is reached twice")),
        "{e:?}"
    );
}
