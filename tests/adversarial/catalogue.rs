//! Property 1: a catalogue of bad requests over every route of docs/API.md. Each gets
//! its documented status and a JSON `{"error","code"}` body with a listed code, leaves
//! the models, versions, aliases and jobs as they were, and leaves the server alive.

use serde_json::json;

use crate::client::{check_error, iris_predict, iris_train, Server};
use crate::support::fixture_path;

/// The catalogue's server refuses bodies past this many bytes.
const BODY_LIMIT: usize = 64 * 1024;
const JSON: &str = "application/json";

pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    pub code: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
        status,
        code,
    }
}

impl Case {
    /// A body sent as `application/json`, whatever it holds.
    fn json(self, body: impl ToString) -> Case {
        self.typed(JSON, body.to_string().into_bytes())
    }

    fn typed(mut self, content_type: &'static str, body: Vec<u8>) -> Case {
        self.headers
            .push(("Content-Type", content_type.to_string()));
        self.body = body;
        self
    }

    fn untyped(mut self, body: &str) -> Case {
        self.body = body.as_bytes().to_vec();
        self
    }

    fn header(mut self, name: &'static str, value: impl ToString) -> Case {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// V2 infer with a binary tensor of `tail` after a JSON header of `header_len` bytes
/// (the `Inference-Header-Content-Length` the client claims).
fn binary_infer(name: &'static str, claimed_len: Option<&str>, size: usize, tail: &[u8]) -> Case {
    let header = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
        "parameters": {"binary_data_size": size}}]})
    .to_string();
    let len = claimed_len.map_or(header.len().to_string(), str::to_string);
    let mut body = header.into_bytes();
    body.extend_from_slice(tail);
    case(name, "POST", "/v2/models/m/infer", 400, "invalid_input")
        .typed("application/octet-stream", body)
        .header("Inference-Header-Content-Length", len)
}

/// Every case, against model `m` (versions 1 and 2, `production` → 1), job `job`.
pub fn catalogue() -> Vec<Case> {
    let p = "/v1/models/m/predict";
    let row = json!([5.1, 3.5, 1.4, 0.2]);
    let ok = iris_predict();
    let iris = std::fs::read_to_string(fixture_path("data/iris.csv")).unwrap();
    let train = |extra: serde_json::Value| {
        let mut body =
            json!({"algorithm": "softmax_regression", "data": {"csv": iris, "target": "target"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let onnx = std::fs::read(fixture_path("models/logreg_multinomial_iris.onnx")).unwrap();
    let f32s: Vec<u8> = [5.1f32, 3.5, 1.4, 0.2]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let zero_job = "/v1/jobs/00000000-0000-0000-0000-000000000000";
    let huge_rows = json!({"instances": vec![row.clone(); BODY_LIMIT / 10]});
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        // Native predict: the body.
        case("truncated json", "POST", p, 400, "invalid_json").json("{\"instances\": [[1,2"),
        case("not json", "POST", p, 400, "invalid_json").json("hello"),
        case("empty body", "POST", p, 400, "invalid_json").json(""),
        case("bare NaN token", "POST", p, 400, "invalid_json").json("{\"instances\": [[NaN, 1, 1, 1]]}"),
        case("nesting 5000 deep", "POST", p, 422, "invalid_input").json(&deep),
        case("no content type", "POST", p, 415, "unsupported_media_type").untyped(&ok.to_string()),
        case("text/plain body", "POST", p, 415, "unsupported_media_type")
            .typed("text/plain", ok.to_string().into_bytes()),
        case("instances a string", "POST", p, 422, "invalid_input").json(json!({"instances": "nope"})),
        case("rows of strings", "POST", p, 422, "invalid_input").json(json!({"instances": [["a", "b", "c", "d"]]})),
        case("NaN-like strings", "POST", p, 422, "invalid_input").json(json!({"instances": [["NaN", "inf", "1", "1"]]})),
        case("number past f64", "POST", p, 400, "invalid_json").json("{\"instances\": [[1e999, 1, 1, 1]]}"),
        case("unknown field", "POST", p, 422, "invalid_input").json(json!({"instances": [row], "colour": "red"})),
        case("too few features", "POST", p, 422, "invalid_input").json(json!({"instances": [[1.0, 2.0, 3.0]]})),
        case("ragged rows", "POST", p, 422, "invalid_input").json(json!({"instances": [row, [1.0, 2.0]]})),
        case("empty batch", "POST", p, 422, "invalid_input").json(json!({"instances": []})),
        case("unknown feature name", "POST", p, 422, "invalid_input").json(json!({"instances": [{"petal": 1.0}]})),
        case("version and alias", "POST", p, 422, "invalid_input")
            .json(json!({"instances": [row], "version": 1, "alias": "production"})),
        case("body past the limit", "POST", p, 413, "payload_too_large").json(&huge_rows),
        case("request id of 200 bytes", "POST", p, 400, "invalid_input")
            .json(&ok)
            .header("X-Request-Id", "r".repeat(200)),
        // Native predict: the path and query.
        case("unknown model", "POST", "/v1/models/nope/predict", 404, "not_found").json(&ok),
        case("traversal name", "POST", "/v1/models/..%2F..%2Fetc/predict", 404, "not_found").json(&ok),
        case("NUL in name", "POST", "/v1/models/m%00x/predict", 404, "not_found").json(&ok),
        case("non-ASCII name", "POST", "/v1/models/m%C3%A9/predict", 404, "not_found").json(&ok),
        case("name of 4000 bytes", "POST", &format!("/v1/models/{}/predict", "n".repeat(4000)), 404, "not_found").json(&ok),
        case("version 0", "POST", &format!("{p}?version=0"), 404, "not_found").json(&ok),
        case("version -1", "POST", &format!("{p}?version=-1"), 400, "invalid_input").json(&ok),
        case("version 1.5", "POST", &format!("{p}?version=1.5"), 400, "invalid_input").json(&ok),
        case("version past u64", "POST", &format!("{p}?version=99999999999999999999999"), 400, "invalid_input").json(&ok),
        case("version abc", "POST", &format!("{p}?version=abc"), 400, "invalid_input").json(&ok),
        case("unknown version", "POST", &format!("{p}?version=9"), 404, "not_found").json(&ok),
        case("unknown alias", "POST", &format!("{p}?alias=canary"), 404, "not_found").json(&ok),
        case("version and alias in query", "POST", &format!("{p}?version=1&alias=production"), 422, "invalid_input").json(&ok),
        case("malformed query", "POST", &format!("{p}?version=%ZZ"), 400, "invalid_input").json(&ok),
        // Predict by body.
        case("/predict without model", "POST", "/predict", 422, "invalid_input").json(&ok),
        case("/predict model a number", "POST", "/predict", 422, "invalid_input").json(json!({"model": 5, "instances": [row]})),
        case("/predict unknown model", "POST", "/predict", 404, "not_found").json(json!({"model": "nope", "instances": [row]})),
        case("/predict traversal model", "POST", "/predict", 404, "not_found").json(json!({"model": "../m", "instances": [row]})),
        case("/predict version -3", "POST", "/predict", 422, "invalid_input").json(json!({"model": "m", "version": -3, "instances": [row]})),
        // Models, versions, runs table, export.
        case("unknown model info", "GET", "/v1/models/nope", 404, "not_found"),
        case("version abc", "GET", "/v1/models/m/versions/abc", 400, "invalid_input"),
        case("version -1", "GET", "/v1/models/m/versions/-1", 400, "invalid_input"),
        case("version 1.5", "GET", "/v1/models/m/versions/1.5", 400, "invalid_input"),
        case("version 0", "GET", "/v1/models/m/versions/0", 404, "not_found"),
        case("version past u64", "GET", "/v1/models/m/versions/99999999999999999999999", 400, "invalid_input"),
        case("sort by nonsense", "GET", "/v1/models/m/versions?sort=nonsense", 400, "invalid_input"),
        case("order sideways", "GET", "/v1/models/m/versions?order=sideways", 400, "invalid_input"),
        case("export as pmml", "GET", "/v1/models/m/versions/1/export?format=pmml", 400, "invalid_input"),
        case("export unknown version", "GET", "/v1/models/m/versions/9/export?format=onnx", 404, "not_found"),
        case("delete unknown version", "DELETE", "/v1/models/m/versions/9", 404, "not_found"),
        case("delete of unknown model", "DELETE", "/v1/models/nope/versions/1", 404, "not_found"),
        case("delete the production version", "DELETE", "/v1/models/m/versions/1", 409, "conflict"),
        case("reload unknown model", "POST", "/v1/models/nope/reload", 404, "not_found"),
        case("monitoring of unknown model", "GET", "/v1/models/nope/monitoring", 404, "not_found"),
        // Aliases.
        case("alias to missing version", "PUT", "/v1/models/m/aliases/staging", 404, "not_found").json(json!({"version": 42})),
        case("alias version a string", "PUT", "/v1/models/m/aliases/staging", 422, "invalid_input").json(json!({"version": "1"})),
        case("alias version -1", "PUT", "/v1/models/m/aliases/staging", 422, "invalid_input").json(json!({"version": -1})),
        case("alias version 1.5", "PUT", "/v1/models/m/aliases/staging", 422, "invalid_input").json(json!({"version": 1.5})),
        case("alias without version", "PUT", "/v1/models/m/aliases/staging", 422, "invalid_input").json(json!({})),
        case("alias truncated json", "PUT", "/v1/models/m/aliases/staging", 400, "invalid_json").json("{\"version\": "),
        case("traversal alias", "PUT", "/v1/models/m/aliases/..%2Fx", 400, "invalid_input").json(json!({"version": 1})),
        case("alias of unknown model", "PUT", "/v1/models/nope/aliases/staging", 404, "not_found").json(json!({"version": 1})),
        // Training and tuning, refused before any job exists.
        case("unknown algorithm", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"algorithm": "random_forest"}))),
        case("empty algorithm", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"algorithm": ""}))),
        case("no data", "POST", "/v1/models/m/train", 422, "invalid_input").json(json!({"algorithm": "softmax_regression"})),
        case("negative learning rate", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"params": {"learning_rate": -1.0}}))),
        case("zero epochs", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"params": {"epochs": 0}}))),
        case("epochs 1e300", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"params": {"epochs": 1e300}}))),
        case("unknown param", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"params": {"flux": 1}}))),
        case("hidden layer of 0", "POST", "/v1/models/m/train", 422, "invalid_input")
            .json(train(json!({"algorithm": "mlp_classifier", "params": {"hidden_layers": [0]}}))),
        case("validation split 2", "POST", "/v1/models/m/train", 422, "invalid_input").json(train(json!({"validation_split": 2.0}))),
        case("data path traversal", "POST", "/v1/models/m/train", 422, "invalid_input")
            .json(json!({"algorithm": "softmax_regression", "data": {"path": "../../etc/passwd"}})),
        case("missing data file", "POST", "/v1/models/m/train", 422, "invalid_input")
            .json(json!({"algorithm": "softmax_regression", "data": {"path": "missing.csv"}})),
        case("garbage csv", "POST", "/v1/models/m/train", 422, "invalid_input")
            .json(json!({"algorithm": "softmax_regression", "data": {"csv": "a,target\n1,0\nx,1\n"}})),
        case("train truncated json", "POST", "/v1/models/m/train", 400, "invalid_json").json("{\"algorithm\": \"softm"),
        case("train traversal name", "POST", "/v1/models/..%2Fetc/train", 400, "invalid_input").json(iris_train(1, None)),
        case("tune with 1 fold", "POST", "/v1/models/m/tune", 422, "invalid_input")
            .json(train(json!({"param_grid": {"l2": [0.1, 1.0]}, "folds": 1}))),
        case("tune unknown grid param", "POST", "/v1/models/m/tune", 422, "invalid_input")
            .json(train(json!({"param_grid": {"flux": [1, 2]}}))),
        case("tune unknown scoring", "POST", "/v1/models/m/tune", 422, "invalid_input")
            .json(train(json!({"param_grid": {"l2": [0.1]}, "scoring": "vibes"}))),
        // Jobs.
        case("unknown job", "GET", zero_job, 404, "not_found"),
        case("cancel unknown job", "DELETE", zero_job, 404, "not_found"),
        case("job id not a uuid", "GET", "/v1/jobs/..%2F..%2Fx", 404, "not_found"),
        // Feedback.
        case("feedback for unknown request", "POST", "/v1/models/m/feedback", 404, "not_found")
            .json(json!({"request_id": "never-seen", "actual": [0]})),
        case("feedback without anything", "POST", "/v1/models/m/feedback", 422, "invalid_input").json(json!({})),
        case("feedback actual a string", "POST", "/v1/models/m/feedback", 422, "invalid_input")
            .json(json!({"instances": [row], "actual": "setosa"})),
        case("feedback rows of 3", "POST", "/v1/models/m/feedback", 422, "invalid_input")
            .json(json!({"instances": [[1.0, 2.0, 3.0]], "actual": [0]})),
        case("feedback class 7", "POST", "/v1/models/m/feedback", 422, "invalid_input")
            .json(json!({"instances": [row], "actual": [7]})),
        // ONNX import.
        case("garbage onnx", "POST", "/v1/models/u/versions", 422, "invalid_input")
            .typed("application/octet-stream", b"\x08\x07garbage, not a protobuf model \xff\xfe".to_vec()),
        case("empty onnx", "POST", "/v1/models/u/versions", 422, "invalid_input").typed("application/octet-stream", Vec::new()),
        case("truncated onnx", "POST", "/v1/models/u/versions", 422, "invalid_input")
            .typed("application/octet-stream", onnx[..onnx.len() / 2].to_vec()),
        case("onnx sent as json", "POST", "/v1/models/u/versions", 415, "unsupported_media_type").typed(JSON, onnx.clone()),
        case("onnx past the limit", "POST", "/v1/models/u/versions", 413, "payload_too_large")
            .typed("application/octet-stream", vec![0u8; BODY_LIMIT + 1]),
        // Open Inference Protocol.
        case("v2 shape and data disagree", "POST", "/v2/models/m/infer", 400, "invalid_input")
            .json(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]})),
        case("v2 unknown datatype", "POST", "/v2/models/m/infer", 400, "invalid_input")
            .json(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP99", "data": row}]})),
        case("v2 negative dimension", "POST", "/v2/models/m/infer", 400, "invalid_input")
            .json(json!({"inputs": [{"name": "input", "shape": [-1, 4], "datatype": "FP64", "data": row}]})),
        case("v2 shape of 1e15 rows", "POST", "/v2/models/m/infer", 400, "invalid_input")
            .json(json!({"inputs": [{"name": "input", "shape": [1_000_000_000_000_000_i64, 4], "datatype": "FP64", "data": row}]})),
        case("v2 five features", "POST", "/v2/models/m/infer", 400, "invalid_input")
            .json(json!({"inputs": [{"name": "input", "shape": [1, 5], "datatype": "FP64", "data": [1.0, 2.0, 3.0, 4.0, 5.0]}]})),
        case("v2 no inputs", "POST", "/v2/models/m/infer", 400, "invalid_input").json(json!({"inputs": []})),
        case("v2 truncated json", "POST", "/v2/models/m/infer", 400, "invalid_json").json("{\"inputs\": [{"),
        binary_infer("v2 header length past the body", Some("100000"), 16, &f32s),
        binary_infer("v2 header length not a number", Some("twelve"), 16, &f32s),
        binary_infer("v2 binary size that lies", None, 64, &f32s),
        case("v2 unknown model", "POST", "/v2/models/nope/infer", 404, "not_found")
            .json(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": row}]})),
        case("v2 unknown version", "POST", "/v2/models/m/versions/9/infer", 404, "not_found")
            .json(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": row}]})),
        // The OIP: a version string that cannot name a version is not found (v1 keeps 400).
        case("v2 version abc", "GET", "/v2/models/m/versions/abc", 404, "not_found"),
        case("v2 version v10 ready", "GET", "/v2/models/m/versions/v10/ready", 404, "not_found"),
        case("v2 load unknown model", "POST", "/v2/repository/models/nope/load", 404, "not_found"),
        // Methods and paths.
        case("DELETE the model list", "DELETE", "/v1/models", 405, "method_not_allowed"),
        case("GET predict", "GET", p, 405, "method_not_allowed"),
        case("PATCH healthz", "PATCH", "/healthz", 405, "method_not_allowed"),
        case("unknown path", "GET", "/no/such/route", 404, "not_found"),
        case("path past a version", "GET", "/v1/models/m/versions/1/nope", 404, "not_found"),
    ]
}

#[test]
fn bad_requests_get_their_documented_error_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let limit = BODY_LIMIT.to_string();
    let server = Server::start(dir.path(), &[("MODELD_SERVER__BODY_LIMIT_BYTES", &limit)]);
    let first = server.train("m", &iris_train(1, Some("production")));
    assert_eq!(first["state"], "succeeded", "{first}");
    let second = server.train("m", &iris_train(2, None));
    assert_eq!(second["state"], "succeeded", "{second}");
    let before = server.snapshot();

    let cases = catalogue();
    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for c in &cases {
        assert!(
            names.insert((c.method, c.name)),
            "duplicate case {}",
            c.name
        );
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = server.send(c.method, &c.path, &headers, &c.body);
        if let Err(e) = check_error(&r, c.status, c.code) {
            failures.push(format!(
                "{} {} ({}): {e}",
                c.method,
                c.name,
                c.path.chars().take(80).collect::<String>()
            ));
        }
        assert!(server.alive(), "the server died after '{}'", c.name);
        assert_eq!(server.snapshot(), before, "'{}' changed the state", c.name);
    }
    eprintln!(
        "catalogue: {} cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // And it still serves what it served.
    let r = server.json("POST", "/v1/models/m/predict", &iris_predict());
    assert_eq!(r.status, 200, "{}", r.text());
}
