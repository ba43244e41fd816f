//! The OpenAPI document against the server it describes: what schemathesis
//! (scripts/schemathesis.sh) found, pinned here through the HTTP stack. A body without the
//! documented media type is 415 and changes nothing; the document lists the answers the
//! edge gives on every route, puts query parameters in the query, and states the name and
//! version rules the server applies.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app, train_iris, Reply, TestApp};
use serde_json::{json, Value};

async fn send(app: &TestApp, method: &str, uri: &str, ctype: Option<&str>, body: &str) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    app.request(req.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn a_json_body_without_its_content_type_is_415_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let v1 = train_iris(&app, "iris", Some("production")).await;
    let v2 = train_iris(&app, "iris", None).await;
    let row = r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;
    let cases = [
        ("POST", "/v1/models/iris/predict", row.to_string()),
        ("POST", "/predict", r#"{"model": "iris", "instances": [[5.1, 3.5, 1.4, 0.2]]}"#.into()),
        ("PUT", "/v1/models/iris/aliases/production", format!(r#"{{"version": {v2}}}"#)),
        ("POST", "/v1/models/iris/feedback", r#"{"instances": [[5.1, 3.5, 1.4, 0.2]], "actual": [0]}"#.into()),
        ("POST", "/v1/models/other/train", r#"{"algorithm": "linear_regression", "data": {"rows": [[1.0], [2.0]], "targets": [1.0, 2.0]}}"#.into()),
    ];
    for (method, uri, body) in &cases {
        for ctype in [None, Some("text/plain")] {
            let r = send(&app, method, uri, ctype, body).await;
            assert_eq!(
                r.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {uri} {ctype:?}: {}",
                r.text
            );
            assert_eq!(r.body["code"], "unsupported_media_type", "{}", r.text);
            assert!(r.body["error"]
                .as_str()
                .unwrap()
                .contains("application/json"));
        }
    }
    // Nothing moved, nothing was trained or recorded.
    let model = app.get("/v1/models/iris").await.body;
    assert_eq!(model["aliases"]["production"], v1, "{model}");
    assert_eq!(
        app.get("/v1/jobs").await.body["jobs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.get("/v1/models/other").await.status,
        StatusCode::NOT_FOUND
    );
    let metrics = app.metrics().await;
    let feedback = common::sample(&metrics, "modeld_feedback_total", &[("model", "iris")]);
    assert_eq!(feedback.unwrap_or(0.0), 0.0, "feedback recorded");
    // The same bodies with the media type go through.
    let r = send(
        &app,
        "POST",
        "/v1/models/iris/predict",
        Some("application/json"),
        row,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn an_onnx_upload_with_another_media_type_is_415_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let onnx = std::fs::read(common::fixture("models/linreg_diabetes.onnx")).unwrap();
    for ctype in [None, Some("application/json")] {
        let mut req = Request::post("/v1/models/up/versions");
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        let r = app
            .request(req.body(Body::from(onnx.clone())).unwrap())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{ctype:?}: {}",
            r.text
        );
        assert_eq!(r.body["code"], "unsupported_media_type");
    }
    assert!(!dir.path().join("models/up").exists());
    assert_eq!(app.get("/v1/models/up").await.status, StatusCode::NOT_FOUND);
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_operation_documents_the_edge_answers_and_the_shared_parameter_rules() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let doc = app.get("/openapi.json").await.body;
    let ops = operations(&doc);
    assert!(ops.len() > 30, "{}", ops.len());
    for (method, path, op) in &ops {
        let responses = op["responses"].as_object().unwrap();
        let has = |s: &str| responses.contains_key(s);
        for status in ["400", "500", "503", "504"] {
            assert!(has(status), "{method} {path} lacks {status}");
        }
        let open = ["/healthz", "/readyz", "/metrics"].contains(&path.as_str());
        assert_eq!(has("401"), !open, "{method} {path}");
        let body = op.get("requestBody").is_some();
        for status in ["408", "413", "415", "422"] {
            assert!(!body || has(status), "{method} {path} lacks {status}");
        }
        assert_eq!(
            responses["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        for p in op["parameters"].as_array().into_iter().flatten() {
            let (name, place, schema) = (&p["name"], &p["in"], &p["schema"]);
            if place == "path" {
                assert!(
                    path.contains(&format!("{{{}}}", name.as_str().unwrap())),
                    "{method} {path}: {p}"
                );
            }
            if name == "version" {
                assert_eq!(schema["type"], "integer", "{method} {path}: {p}");
                assert_eq!(schema["minimum"], 1, "{method} {path}: {p}");
            }
            if place == "path" && (name == "name" || name == "alias") {
                assert_eq!(
                    schema["pattern"],
                    modeld::registry::NAME_PATTERN,
                    "{method} {path}"
                );
            }
        }
    }
    // The query parameters of predict, the runs table, import and export are in the query.
    let predict = &doc["paths"]["/v1/models/{name}/predict"]["post"]["parameters"];
    let places: Vec<(&str, &str)> = predict
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(
        places,
        [("name", "path"), ("version", "query"), ("alias", "query")]
    );
    // `instances` is a non-empty list of non-empty rows or records; `algorithm` an enum.
    let schemas = &doc["components"]["schemas"];
    let instances = &schemas["PredictRequest"]["properties"]["instances"];
    assert_eq!(instances["minItems"], 1, "{instances}");
    assert_eq!(instances["items"]["oneOf"][0]["minItems"], 1, "{instances}");
    let algorithms = &schemas["TrainRequest"]["properties"]["algorithm"]["enum"];
    assert_eq!(algorithms.as_array().map(Vec::len), Some(5), "{algorithms}");
}

/// The documented rules are the server's: a name the pattern admits is looked up (404),
/// one it refuses is 400; version 0 is never a version.
#[tokio::test]
async fn the_documented_name_and_version_rules_are_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    for name in ["a", "A.b-c_9", &"x".repeat(128)] {
        let r = app.get(&format!("/v1/models/{name}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{name}: {}", r.text);
    }
    for name in ["-a", ".a", "%C2%B6", "a%20b", &"x".repeat(129)] {
        let r = app
            .post(&format!("/v1/models/{name}/reload"), json!(null))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text);
        assert_eq!(r.body["code"], "invalid_input");
    }
    train_iris(&app, "iris", None).await;
    for uri in ["/v1/models/iris/versions/0", "/v2/models/iris/versions/0"] {
        let r = app.get(uri).await;
        assert!(r.status.is_client_error(), "{uri}: {}", r.text);
    }
    let r = app.get("/v1/models/iris/versions/-1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.get("/v1/models/iris/versions/1.5").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}
