//! Property-based fuzzing of the request decoders, called directly (no HTTP): native
//! `instances` and the predict body, V2 tensors in JSON and as binary data, and the
//! training data loader (inline rows, inline CSV, a CSV path). For any input each one
//! returns a value that keeps its invariants or a typed error that maps to a 4xx; none
//! panics, and none allocates by what the input declares rather than what it holds.
//! Deeper runs: scripts/fuzz.sh.

mod fuzzing;

use fuzzing::{apply_bytes, byte_edits, check, mutated_json, object};
use modeld::api::error::ApiError;
use modeld::api::instances::{to_matrix, Instances};
use modeld::api::predict::PredictRequest;
use modeld::api::v2::tensor::{self, InputTensor, Source};
use modeld::datasets::ingest::CsvIngest;
use modeld::models::{Schema, Task};
use modeld::train::{dataset, source, DataSpec, TrainError};
use proptest::prelude::*;
use serde_json::{json, Value};

fn iris_schema() -> Schema {
    Schema {
        feature_names: ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            .map(String::from)
            .to_vec(),
        target: "species".into(),
        classes: Some(
            ["setosa", "versicolor", "virginica"]
                .map(String::from)
                .to_vec(),
        ),
    }
}

/// A client's mistake is a 4xx; a 5xx from a decoder means it lost track of its input.
fn client_error(e: &ApiError) -> Result<(), TestCaseError> {
    let status = e.status();
    prop_assert!(status.is_client_error(), "{status} for {e:?}");
    Ok(())
}

fn predict_bodies() -> Vec<Value> {
    vec![
        json!({"instances": [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]}),
        json!({"instances": [{"sepal_length": 5.1, "sepal_width": 3.5,
            "petal_length": 1.4, "petal_width": 0.2}, [6.2, 2.9, 4.3, 1.3]]}),
        json!({"instances": [[5.1, 3.5, 1.4, 0.2]], "model": "iris", "version": 1}),
        json!({"instances": [[5.1, 3.5, 1.4, 0.2]], "alias": "production"}),
    ]
}

fn predict_body() -> impl Strategy<Value = Value> {
    prop::sample::select(predict_bodies()).prop_flat_map(mutated_json)
}

/// The predict body, from JSON to the matrix the model gets.
fn decode_predict(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(req) = serde_json::from_slice::<PredictRequest>(bytes) else {
        return Ok(());
    };
    let rows = req.instances.len();
    match to_matrix(req.instances, &iris_schema()) {
        Ok(m) => {
            prop_assert_eq!(m.dim(), (rows, 4));
            prop_assert!(m.iter().all(|v| v.is_finite()));
        }
        Err(e) => client_error(&e)?,
    }
    Ok(())
}

#[test]
fn predict_bodies_decode_to_a_matrix_or_a_client_error() {
    check("predict_json", 256, predict_body(), |body| {
        decode_predict(body.to_string().as_bytes())
    });
}

#[test]
fn predict_body_bytes_decode_to_a_matrix_or_a_client_error() {
    let bases: Vec<Vec<u8>> = predict_bodies()
        .iter()
        .map(|b| b.to_string().into_bytes())
        .collect();
    check(
        "predict_bytes",
        256,
        (any::<usize>(), byte_edits()),
        |(base, edits)| decode_predict(&fuzzing::mutate(&bases, base, &edits)),
    );
}

#[test]
fn instances_rows_of_any_width_or_record_shape_are_placed_or_refused() {
    // Every mix of rows and records, of any width, with names from the schema or not.
    let cell = prop_oneof![
        prop::collection::vec(-1e3f64..1e3, 0..7).prop_map(|r| json!(r)),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "sepal_length",
                    "sepal_width",
                    "petal_length",
                    "petal_width",
                    "x",
                    ""
                ]),
                -1e3f64..1e3
            ),
            0..6
        )
        .prop_map(|kv| {
            Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect(),
            )
        }),
    ];
    check(
        "instances_shapes",
        256,
        prop::collection::vec(cell, 0..8),
        |rows| {
            let text = Value::Array(rows.clone()).to_string();
            let instances: Instances = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let all_full_rows = !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.as_array().is_some_and(|a| a.len() == 4));
            match to_matrix(instances, &iris_schema()) {
                Ok(m) => prop_assert_eq!(m.nrows(), rows.len()),
                Err(e) => {
                    prop_assert!(!all_full_rows, "rows of the schema's width refused: {e}");
                    client_error(&e)?;
                }
            }
            Ok(())
        },
    );
}

fn infer_bodies() -> Vec<Value> {
    let input = |datatype: &str, shape: Value, data: Value| {
        object(&[
            ("name", json!("input")),
            ("datatype", json!(datatype)),
            ("shape", shape),
            ("data", data),
        ])
    };
    vec![
        json!({"inputs": [input("FP64", json!([2, 4]), json!([5.1, 3.5, 1.4, 0.2, 6.2, 2.9, 4.3, 1.3]))]}),
        json!({"inputs": [input("FP32", json!([2, 4]), json!([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]))],
            "outputs": [{"name": "probabilities"}], "id": "a"}),
        json!({"inputs": [input("INT32", json!([1, 4]), json!([5, 3, 1, 0]))]}),
        json!({"inputs": [input("INT64", json!([1, 4]), json!([[5, 3, 1, 0]]))], "parameters": {}}),
    ]
}

const BODY_LIMIT: usize = 1 << 20;

/// One V2 input tensor to the matrix the model gets.
fn decode_tensor(t: &InputTensor, source: Source<'_>) -> Result<(), TestCaseError> {
    match tensor::to_matrix(t, 4, source, BODY_LIMIT) {
        Ok(m) => {
            prop_assert_eq!(m.ncols(), 4);
            prop_assert_eq!(Some(m.nrows() as i64), t.shape.first().copied());
        }
        Err(e) => client_error(&e)?,
    }
    Ok(())
}

#[test]
fn v2_json_tensors_decode_to_a_matrix_or_a_client_error() {
    check(
        "v2_json",
        256,
        prop::sample::select(infer_bodies()).prop_flat_map(mutated_json),
        |body| {
            let text = body.to_string();
            let Ok(req) = serde_json::from_str::<modeld::api::v2::infer::InferRequest>(&text)
            else {
                return Ok(());
            };
            for t in &req.inputs {
                if let Err(e) = tensor::binary_size(t) {
                    client_error(&e)?;
                }
                let source = Source::Json {
                    header_bytes: text.len(),
                };
                decode_tensor(t, source)?;
            }
            Ok(())
        },
    );
}

#[test]
fn v2_binary_tensors_decode_to_a_matrix_or_a_client_error() {
    // A declared shape and datatype against raw bytes of any length.
    let datatype = prop::sample::select(vec!["FP32", "FP64", "INT32", "INT64", "BYTES"]);
    let dim = prop_oneof![
        0i64..6,
        Just(-1i64),
        Just(i64::MAX),
        Just(1i64 << 32),
        Just(1i64 << 61)
    ];
    check(
        "v2_binary",
        256,
        (
            datatype,
            prop::collection::vec(dim, 0..4),
            prop::collection::vec(any::<u8>(), 0..200),
        ),
        |(datatype, shape, bytes)| {
            let t = InputTensor {
                name: "input".into(),
                shape,
                datatype: datatype.into(),
                parameters: Some(
                    [("binary_data_size".to_string(), json!(bytes.len()))]
                        .into_iter()
                        .collect(),
                ),
                data: None,
            };
            decode_tensor(&t, Source::Binary(&bytes))
        },
    );
}

fn iris_csv_head() -> String {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data/iris.csv"),
    )
    .unwrap();
    // The header and rows of all three classes, in few enough bytes that edits land
    // everywhere.
    text.lines()
        .enumerate()
        .filter(|(i, _)| *i <= 4 || (60..63).contains(i) || (120..123).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// Text edits a CSV reader meets: separators, quotes, blank cells and odd numbers.
fn csv_piece() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        ",", "\n", "\r\n", "\"", "\"\"", ",,", "", " ", "NaN", "inf", "-inf", "1e999", "1e-999",
        "0x10", "+", "-", ".", "target", "\u{feff}", "é", "\0",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

fn check_dataset(d: &dataset::Dataset) -> Result<(), TestCaseError> {
    prop_assert!(d.validate().is_ok(), "{:?}", d.validate());
    Ok(())
}

/// A client's data problem is a typed error that maps to 4xx.
fn data_error(e: TrainError) -> Result<(), TestCaseError> {
    client_error(&ApiError::from(e))
}

#[test]
fn csv_text_parses_to_a_valid_dataset_or_a_data_error() {
    let base = iris_csv_head().into_bytes();
    let edits = prop_oneof![
        3 => byte_edits(),
        2 => prop::collection::vec((any::<usize>(), csv_piece()), 1..5).prop_map(|ins| {
            ins.into_iter()
                .map(|(at, bytes)| fuzzing::ByteEdit::Insert { at, bytes })
                .collect()
        }),
    ];
    let task = prop::sample::select(vec![Task::Classification, Task::Regression]);
    let target = prop::sample::select(vec!["target", "sepal_length", "", "missing"]);
    let class_names = prop_oneof![
        Just(None),
        Just(Some(vec!["a".to_string(), "b".into(), "c".into()])),
        Just(Some(vec!["a".to_string(), "a".into(), "c".into()])),
        Just(Some(vec![])),
    ];
    check(
        "csv",
        256,
        (edits, task, target, class_names),
        |(edits, task, target, class_names)| {
            let mut bytes = base.clone();
            for e in &edits {
                apply_bytes(&mut bytes, e, &[]);
            }
            let text = String::from_utf8_lossy(&bytes);
            match dataset::parse_csv(&text, target, class_names.as_deref(), task) {
                Ok(d) => check_dataset(&d),
                Err(e) => data_error(e),
            }
        },
    );
}

#[test]
fn dataset_uploads_give_one_answer_whatever_the_chunking() {
    let base = iris_csv_head().into_bytes();
    let edits = prop_oneof![
        3 => byte_edits(),
        2 => prop::collection::vec((any::<usize>(), csv_piece()), 1..5).prop_map(|ins| {
            ins.into_iter()
                .map(|(at, bytes)| fuzzing::ByteEdit::Insert { at, bytes })
                .collect()
        }),
    ];
    check(
        "dataset_upload",
        256,
        (edits, 1usize..64),
        |(edits, chunk)| {
            let mut body = base.clone();
            for e in &edits {
                apply_bytes(&mut body, e, &[]);
            }
            let whole = {
                let mut ingest = CsvIngest::new();
                ingest.feed(&body).and_then(|()| ingest.finish())
            };
            let mut pieces = CsvIngest::new();
            let chunked = body
                .chunks(chunk)
                .try_for_each(|c| pieces.feed(c))
                .and_then(|()| pieces.finish());
            // A body with two faults may be refused for either one first, depending on
            // where the chunks end; but never accepted one way and refused the other.
            match (&whole, &chunked) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "whole {:?} vs chunked {:?}", whole, chunked),
            }
            if let Ok(summary) = whole {
                prop_assert_eq!(summary.bytes, body.len() as u64);
                prop_assert!(summary.columns.len() >= 2);
            }
            Ok(())
        },
    );
}

#[test]
fn data_specs_load_to_a_valid_dataset_or_a_data_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iris.csv"), iris_csv_head()).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let bases = vec![
        json!({"rows": [[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]], "targets": [0, 1, 1],
            "feature_names": ["a", "b"], "class_names": ["no", "yes"]}),
        json!({"rows": [[1.0], [2.0], [3.0]], "targets": ["x", "y", "x"]}),
        json!({"csv": "a,b,target\n1,2,3\n4,5,6\n", "target": "target"}),
        json!({"path": "iris.csv", "target": "target"}),
        json!({"path": "sub/../iris.csv"}),
    ];
    let task = prop::sample::select(vec![Task::Classification, Task::Regression]);
    check(
        "data_spec",
        256,
        (
            prop::sample::select(bases).prop_flat_map(mutated_json),
            task,
        ),
        |(doc, task)| {
            let Ok(spec) = serde_json::from_value::<DataSpec>(doc) else {
                return Ok(());
            };
            match source::load(&spec, task, dir.path(), &source::NoDatasets) {
                Ok(d) => check_dataset(&d),
                Err(e) => data_error(e),
            }
        },
    );
}
