//! Property-based fuzzing of the predict and V2 infer endpoints through the whole
//! in-process HTTP stack (edge, extractors, serving, model): valid bodies with one to
//! three parts changed, raw byte edits of them, odd queries, and binary tensor requests
//! with a wrong `Inference-Header-Content-Length` or `binary_data_size`. Property: the
//! status is 2xx or 4xx, never 5xx, and every error body is JSON with a `code`; the
//! model keeps answering a valid request afterwards. Deeper runs: scripts/fuzz.sh.

mod common;
mod fuzzing;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use fuzzing::{byte_edits, check, mutate, mutated_json};
use proptest::prelude::*;
use serde_json::{json, Value};

const ROWS: [[f64; 4]; 2] = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]];

fn predict_bodies() -> Vec<Value> {
    vec![
        json!({"instances": ROWS}),
        json!({"instances": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
            "petal length (cm)": 1.4, "petal width (cm)": 0.2}, ROWS[1]]}),
        json!({"instances": ROWS, "model": "iris", "version": 1}),
        json!({"instances": ROWS, "model": "iris", "alias": "production"}),
    ]
}

fn infer_bodies() -> Vec<Value> {
    vec![
        json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64",
            "data": ROWS.concat()}]}),
        json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": ROWS}],
            "outputs": [{"name": "probabilities"}, {"name": "label"}], "id": "r1"}),
        json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "INT64",
            "data": [5, 3, 1, 0]}], "parameters": {}}),
    ]
}

const PREDICT_PATHS: [&str; 3] = [
    "/v1/models/iris/predict",
    "/predict",
    "/v1/models/nosuch/predict",
];
const INFER_PATHS: [&str; 4] = [
    "/v2/models/iris/infer",
    "/v2/models/iris/versions/1/infer",
    "/v2/models/iris/versions/0/infer",
    "/v2/models/nosuch/infer",
];
const QUERIES: [&str; 6] = [
    "",
    "?version=1",
    "?alias=production",
    "?version=-1",
    "?version=1&alias=x",
    "?nosuch=1",
];

/// One app with a trained iris classifier, driven from the property's synchronous
/// closure.
struct Server {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let app = rt.block_on(async {
            let app = app(dir.path()).await;
            train_iris(&app, "iris", Some("production")).await;
            app
        });
        Self { rt, app, _dir: dir }
    }

    fn send(&self, req: Request<Body>) -> Reply {
        self.rt.block_on(self.app.request(req))
    }

    /// The property for one reply.
    fn answered(&self, r: &Reply) -> Result<(), TestCaseError> {
        prop_assert!(
            r.status.is_success() || r.status.is_client_error(),
            "{}: {}",
            r.status,
            r.text
        );
        if !r.status.is_success() {
            prop_assert!(r.body["code"].is_string(), "{}: {}", r.status, r.text);
        }
        Ok(())
    }

    /// The model still answers a valid request the same way.
    fn still_serves(&self) -> Result<(), TestCaseError> {
        let r = self.send(post(
            "/v1/models/iris/predict",
            json!({"instances": ROWS}).to_string().into_bytes(),
            None,
        ));
        prop_assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        prop_assert_eq!(&r.body["predictions"], &json!([0, 1]));
        Ok(())
    }
}

fn post(uri: &str, body: Vec<u8>, header_len: Option<String>) -> Request<Body> {
    let b = Request::post(uri);
    let b = match header_len {
        Some(len) => b
            .header("content-type", "application/octet-stream")
            .header("inference-header-content-length", len),
        None => b.header("content-type", "application/json"),
    };
    b.body(Body::from(body)).unwrap()
}

#[test]
fn predict_answers_2xx_or_4xx_with_a_code() {
    let server = Server::start();
    let body = prop_oneof![
        3 => prop::sample::select(predict_bodies()).prop_flat_map(mutated_json)
            .prop_map(|v| v.to_string().into_bytes()),
        1 => (any::<usize>(), byte_edits()).prop_map(|(base, edits)| {
            let bases: Vec<Vec<u8>> =
                predict_bodies().iter().map(|b| b.to_string().into_bytes()).collect();
            mutate(&bases, base, &edits)
        }),
    ];
    check(
        "http_predict",
        64,
        (
            prop::sample::select(PREDICT_PATHS.to_vec()),
            prop::sample::select(QUERIES.to_vec()),
            body,
        ),
        |(path, query, body)| {
            let r = server.send(post(&format!("{path}{query}"), body, None));
            server.answered(&r)?;
            server.still_serves()
        },
    );
}

#[test]
fn v2_infer_answers_2xx_or_4xx_with_a_code() {
    let server = Server::start();
    check(
        "http_infer",
        64,
        (
            prop::sample::select(INFER_PATHS.to_vec()),
            prop::sample::select(infer_bodies()).prop_flat_map(mutated_json),
        ),
        |(path, body)| {
            let r = server.send(post(path, body.to_string().into_bytes(), None));
            server.answered(&r)?;
            server.still_serves()
        },
    );
}

/// A binary tensor request: the JSON header (declaring `binary_data_size`, possibly
/// changed), the raw FP32 rows (possibly cut or extended) and the header-length header
/// (right, off by some bytes, or not a number).
#[derive(Debug, Clone)]
struct BinaryCase {
    header: Value,
    tail: Vec<u8>,
    header_len: Option<String>,
}

fn binary_case() -> impl Strategy<Value = BinaryCase> {
    let header = json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
        "parameters": {"binary_data_size": 32}}]});
    let tail: Vec<u8> = ROWS
        .iter()
        .flatten()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    let len_edit = prop_oneof![
        4 => Just(0i64),
        1 => -40i64..40,
        1 => Just(i64::MAX),
    ];
    let len_text = prop_oneof![
        6 => len_edit.prop_map(Some),
        1 => Just(None),
    ];
    (
        prop_oneof![
            1 => Just(header.clone()),
            3 => mutated_json(header),
        ],
        0usize..80,
        len_text,
        prop::sample::select(vec!["", " ", "x", "-1", "1e3", "99999999999999999999"]),
    )
        .prop_map(move |(header, cut, delta, junk)| {
            let text = header.to_string();
            let mut tail = tail.clone();
            tail.resize(cut.min(64), 0x7f);
            let header_len = match delta {
                Some(d) => Some((text.len() as i64).saturating_add(d).to_string()),
                None => Some(junk.to_string()),
            };
            BinaryCase {
                header,
                tail,
                header_len,
            }
        })
}

#[test]
fn v2_binary_infer_answers_2xx_or_4xx_with_a_code() {
    let server = Server::start();
    check(
        "http_binary",
        64,
        (
            prop::sample::select(INFER_PATHS[..2].to_vec()),
            binary_case(),
        ),
        |(path, case)| {
            let mut body = case.header.to_string().into_bytes();
            body.extend_from_slice(&case.tail);
            let r = server.send(post(path, body, case.header_len.clone()));
            server.answered(&r)?;
            server.still_serves()
        },
    );
}
