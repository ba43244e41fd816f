//! Every error code of API.md from a real bad request, each leaving the state unchanged.

mod common;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

/// A request body that never arrives: holds a request open inside the server.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

fn stalled_predict() -> Request<Body> {
    Request::post("/v1/models/m/predict")
        .header("content-type", "application/json")
        .body(Body::new(Stalled))
        .unwrap()
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["code"], code, "{}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
    assert!(r.headers.contains_key("x-request-id"));
}

/// Everything a client can observe about the registry and jobs, plus the store on disk.
async fn observable_state(app: &TestApp, dir: &std::path::Path) -> (Value, Value, Vec<String>) {
    let models = app.get("/v1/models/m").await.body;
    let jobs = app.get("/v1/jobs").await.body;
    let mut files: Vec<String> = walk(&dir.join("models"));
    files.sort();
    (models, jobs, files)
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.push(format!("{} {}", p.display(), bytes.len()));
        }
    }
    out
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "m", Some("production")).await;
    train_iris(&app, "m", None).await;
    let before = observable_state(&app, dir.path()).await;
    let row = json!([5.1, 3.5, 1.4, 0.2]);

    // 400 invalid_json: broken syntax, or not JSON at all.
    let broken = Request::post("/v1/models/m/predict")
        .header("content-type", "application/json")
        .body(Body::from("{\"instances\": [[1,2"))
        .unwrap();
    assert_error(
        &app.request(broken).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    let no_type = Request::post("/v1/models/m/predict")
        .body(Body::from("{}"))
        .unwrap();
    assert_error(
        &app.request(no_type).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // 422 invalid_input: wrong feature count, empty batch, unknown field, wrong type,
    // unknown feature name, version and alias both given.
    let p = "/v1/models/m/predict";
    for body in [
        json!({"instances": [[1.0, 2.0, 3.0]]}),
        json!({"instances": []}),
        json!({"instances": [row], "colour": "red"}),
        json!({"instances": [["a", "b", "c", "d"]]}),
        json!({"instances": [{"petal": 1.0}]}),
        json!({"instances": [row], "version": 1, "alias": "production"}),
        json!({"instances": "nope"}),
    ] {
        assert_error(
            &app.post(p, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_error(
        &app.post("/predict", json!({"instances": [row]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let huge = Request::post(p)
        .header("content-type", "application/json")
        .body(Body::from("{\"instances\": [[1e999, 1, 1, 1]]}"))
        .unwrap();
    let r = app.request(huge).await;
    assert!(
        r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        r.text
    );

    // Training requests that are refused before any job exists.
    let iris = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    for body in [
        json!({"algorithm": "random_forest", "data": {"csv": iris}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris}, "params": {"learning_rate": -1.0}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris}, "params": {"epochs": 0}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris}, "params": {"flux": 1}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris}, "validation_split": 2.0}),
        json!({"algorithm": "logistic_regression", "data": {"csv": iris}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris, "target": "species"}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": "a,target\n1,0\nx,1\n"}}),
        json!({"algorithm": "softmax_regression", "data": {"path": "../../etc/passwd"}}),
        json!({"algorithm": "softmax_regression", "data": {"path": "/etc/passwd"}}),
        json!({"algorithm": "softmax_regression", "data": {"path": "missing.csv"}}),
        json!({"algorithm": "softmax_regression", "data": {"csv": iris}, "alias": "../x"}),
    ] {
        let r = app.post("/v1/models/m/train", body.clone()).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    let bad_cell = app
        .post("/v1/models/m/train", json!({"algorithm": "softmax_regression", "data": {"csv": "a,b,target\n1,2,0\n3,oops,1\n"}}))
        .await;
    assert!(
        bad_cell.body["error"].as_str().unwrap().contains("row 1"),
        "{}",
        bad_cell.text
    );
    assert!(
        bad_cell.body["error"].as_str().unwrap().contains('b'),
        "{}",
        bad_cell.text
    );

    // 404 not_found: model, version, alias, job, route.
    for (method, uri) in [
        ("POST", "/v1/models/nope/predict"),
        ("POST", "/v1/models/m/predict?version=9"),
        ("POST", "/v1/models/m/predict?alias=canary"),
        ("GET", "/v1/models/nope"),
        ("GET", "/v1/models/m/versions/9"),
        ("DELETE", "/v1/models/m/versions/9"),
        ("GET", "/v1/jobs/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/v1/jobs/00000000-0000-0000-0000-000000000000"),
        ("GET", "/no/such/route"),
    ] {
        let body = (method == "POST").then(|| json!({"instances": [row]}));
        assert_error(
            &app.call(method, uri, body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let alias_to_missing = app
        .call(
            "PUT",
            "/v1/models/m/aliases/staging",
            Some(json!({"version": 42})),
        )
        .await;
    assert_error(&alias_to_missing, StatusCode::NOT_FOUND, "not_found");

    // 409 conflict: deleting the version production points to.
    let del = app.call("DELETE", "/v1/models/m/versions/1", None).await;
    assert_error(&del, StatusCode::CONFLICT, "conflict");

    // 400 for malformed path/query values.
    assert_error(
        &app.get("/v1/models/m/versions/abc").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert_error(
        &app.get("/v1/models/m/versions?sort=nonsense").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );

    // 405 keeps the JSON shape.
    let r = app.call("DELETE", "/v1/models", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.body["code"].is_string(), "{}", r.text);

    assert_eq!(observable_state(&app, dir.path()).await, before);
    // And the server still serves.
    let ok = app.post(p, json!({"instances": [row]})).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.body_limit_bytes = 1024;
    let app = app_with(cfg).await;
    train_iris_small(&app).await;
    let rows: Vec<Value> = (0..200).map(|_| json!([5.1, 3.5, 1.4, 0.2])).collect();
    let r = app
        .post("/v1/models/m/predict", json!({"instances": rows}))
        .await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(r.body["error"].as_str().unwrap().contains("1024"));

    // Chunked bodies (no length up front) are counted as they arrive: split in small
    // pieces, a body under the limit is reassembled and one over it still gets 413.
    let chunked = |body: String| {
        let pieces: Vec<Result<Bytes, Infallible>> = body
            .into_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Request::post("/v1/models/m/predict")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures_util::stream::iter(pieces)))
            .unwrap()
    };
    let small = json!({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]});
    let whole = app.post("/v1/models/m/predict", small.clone()).await;
    let pieces = app.request(chunked(small.to_string())).await;
    assert_eq!(pieces.status, StatusCode::OK, "{}", pieces.text);
    assert_eq!(pieces.body["predictions"], whole.body["predictions"]);
    assert_eq!(pieces.body["predictions"].as_array().unwrap().len(), 2);
    let big = json!({"instances": rows}).to_string();
    assert!(big.len() > 1024);
    let r = app.request(chunked(big)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let ok = app
        .post(
            "/v1/models/m/predict",
            json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

/// With a 1 KiB body limit the CSV cannot be sent inline; train from a file instead.
async fn train_iris_small(app: &TestApp) {
    std::fs::copy(
        fixture("data/iris.csv"),
        app.state.cfg.data_dir.join("iris.csv"),
    )
    .unwrap();
    let job = app
        .train(
            "m",
            json!({"algorithm": "softmax_regression", "data": {"path": "iris.csv"}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
}

#[tokio::test]
async fn api_key_guards_everything_but_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.api_key = Some("s3cret-key".into());
    let app = app_with(cfg).await;
    assert_error(
        &app.get("/v1/models").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let wrong = Request::get("/v1/models")
        .header("authorization", "Bearer s3cret-kez")
        .body(Body::empty())
        .unwrap();
    assert_error(
        &app.request(wrong).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let right = Request::get("/v1/models")
        .header("authorization", "Bearer s3cret-key")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(right).await.status, StatusCode::OK);
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/metrics").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_full_server_sheds_load_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.concurrency_limit = 1;
    let app = app_with(cfg).await;
    let router = app.router.clone();
    let held = tokio::spawn(async move {
        use tower::ServiceExt;
        router.oneshot(stalled_predict()).await
    });
    let mut shed = None;
    for _ in 0..200 {
        let r = app.get("/healthz").await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = shed.expect("no request was shed while the only slot was taken");
    assert_error(&shed, StatusCode::SERVICE_UNAVAILABLE, "overloaded");
    held.abort();
    let _ = held.await;
    // The slot is free again.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_504() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.request_timeout_ms = 200;
    let app = app_with(cfg).await;
    let r = app.request(stalled_predict()).await;
    assert_error(&r, StatusCode::GATEWAY_TIMEOUT, "timeout");
}

#[tokio::test]
async fn a_full_training_queue_answers_429_and_cancel_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.training.max_concurrent_jobs = 1;
    cfg.training.queue_size = 0;
    let app = app_with(cfg).await;
    let csv = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    let long = json!({"algorithm": "linear_regression", "data": {"csv": csv},
        "params": {"solver": "gd", "optimizer": "sgd", "epochs": 1000000, "learning_rate": 0.001}});
    let first = app.post("/v1/models/slow/train", long.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let id = first.body["job_id"].as_str().unwrap().to_string();

    let second = app.post("/v1/models/slow/train", long).await;
    assert_error(&second, StatusCode::TOO_MANY_REQUESTS, "busy");

    // Wait until it really trains, then cancel.
    for _ in 0..500 {
        let j = app.get(&format!("/v1/jobs/{id}")).await;
        if j.body["epoch"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = app.call("DELETE", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let done = app.wait_job(&id).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert!(done["version"].is_null());
    assert_eq!(
        app.get("/v1/models/slow").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!dir.path().join("models/slow/1").exists());
    // The slot is free again.
    let csv = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    let ok = app
        .train(
            "slow",
            json!({"algorithm": "linear_regression", "data": {"csv": csv}}),
        )
        .await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
    assert_eq!(ok["version"], 1);
}
