//! Resource bounds under hostile or broken clients, through the whole HTTP stack: request
//! ids and the prediction log's memory, stalled bodies, and the store's leftovers.

mod common;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const ROW: [f64; 4] = [5.1, 3.5, 1.4, 0.2];

fn predict_with_id(id: &str) -> Request<Body> {
    Request::post("/v1/models/iris/predict")
        .header("content-type", "application/json")
        .header("x-request-id", id)
        .body(Body::from(json!({"instances": [ROW]}).to_string()))
        .unwrap()
}

async fn log_usage(app: &TestApp) -> Value {
    let m = app.get("/v1/models/iris/monitoring").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    m.body["prediction_log"].clone()
}

fn assert_invalid_input(r: &Reply) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_input", "{}", r.text);
    assert!(
        r.body["error"].as_str().unwrap().contains("128"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn an_overlong_request_id_is_refused_before_the_handler_and_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "iris", None).await;

    let long = "a".repeat(129);
    let r = app.request(predict_with_id(&long)).await;
    assert_invalid_input(&r);
    // The response carries a generated id, not the refused one.
    let echoed = r.headers["x-request-id"].to_str().unwrap();
    assert!(echoed.len() <= 128 && echoed != long, "{echoed}");
    // Refused whatever the route, before the handler (here: not even a JSON body).
    let r = app
        .request(
            Request::post("/v1/models/absent/predict")
                .header("x-request-id", "b".repeat(60_000))
                .body(Body::from("not json"))
                .unwrap(),
        )
        .await;
    assert_invalid_input(&r);
    // A V2 request's own id has the same bound.
    let infer = json!({"id": long, "inputs": [{"name": "input", "shape": [1, 4],
        "datatype": "FP64", "data": [ROW]}]});
    assert_invalid_input(&app.post("/v2/models/iris/infer", infer).await);
    assert_eq!(log_usage(&app).await["entries"], 0);

    // 128 bytes is still an id.
    let ok = "c".repeat(128);
    let r = app.request(predict_with_id(&ok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers["x-request-id"], ok.as_str());
    assert_eq!(log_usage(&app).await["entries"], 1);
}

#[tokio::test]
async fn the_prediction_log_stays_within_its_byte_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let bound = 64 * 1024;
    cfg.monitoring.prediction_log_rows = 1_000_000;
    cfg.monitoring.prediction_log_bytes = bound;
    let app = app_with(cfg).await;
    train_iris(&app, "iris", None).await;

    let id = |i: usize| format!("{i:0>128}");
    for i in 0..2000 {
        let r = app.request(predict_with_id(&id(i))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let usage = log_usage(&app).await;
    let bytes = usage["bytes"].as_u64().unwrap();
    assert!(bytes > 0 && bytes <= bound as u64, "{usage}");
    assert_eq!(usage["capacity_bytes"], bound);
    // The bound is shared by one part of the log per worker thread; this test's
    // runtime has one thread, so one part (about 75 of these requests) does the work.
    let entries = usage["entries"].as_u64().unwrap();
    assert!((50..2000).contains(&entries), "{usage}");
    // The newest requests are the ones kept: feedback still joins the last one.
    let r = app
        .post(
            "/v1/models/iris/feedback",
            json!({"request_id": id(1999), "actual": [0]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            "/v1/models/iris/feedback",
            json!({"request_id": id(0), "actual": [0]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

/// A request whose body sends its first bytes and then never ends.
fn stalled(uri: &str) -> Request<Body> {
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        b"{\"instances\": [[5.1, ",
    ))]);
    let body = Body::from_stream(first.chain(futures_util::stream::pending()));
    Request::post(uri)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn stalled_bodies_time_out_with_408_and_give_their_slots_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.concurrency_limit = 2;
    cfg.server.body_timeout_ms = 200;
    let app = app_with(cfg).await;
    train_iris(&app, "iris", None).await;

    let started = Instant::now();
    // One on the edge's direct predict path, one on V2 infer's body read: both slots.
    let calls = ["/v1/models/iris/predict", "/v2/models/iris/infer"].map(|uri| {
        let router = app.router.clone();
        tokio::spawn(router.oneshot(stalled(uri)))
    });
    for call in calls {
        let res = call.await.unwrap().unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "timeout", "{body}");
    }
    // Far sooner than the request deadline (30 s); generous for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(app.router.in_flight(), 0);
    let r = app
        .post("/v1/models/iris/predict", json!({"instances": [ROW]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Sets `path`'s modification time `secs` from now (negative: in the past).
fn touch(path: &std::path::Path, secs: i64) {
    let now = std::time::SystemTime::now();
    let at = if secs < 0 {
        now - Duration::from_secs(secs.unsigned_abs())
    } else {
        now + Duration::from_secs(secs.unsigned_abs())
    };
    std::fs::File::open(path).unwrap().set_modified(at).unwrap();
}

#[tokio::test]
async fn the_store_janitor_removes_leftovers_of_interrupted_writes_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = app(dir.path()).await;
    train_iris(&first, "iris", None).await;
    drop(first);

    // What a crash leaves: half-written version folders and files, versions renamed away
    // but not deleted, and a model folder holding nothing else.
    let models = dir.path().join("models");
    let iris = models.join("iris");
    let old = [
        iris.join(".tmp-0a1b"),
        iris.join(".tmp-2c3d"),
        iris.join(".deleted-1-4e5f"),
        models.join(".tmp-6a7b"),
        models.join("ghost/.deleted-2-8c9d"),
    ];
    for (i, path) in old.iter().enumerate() {
        if i % 2 == 0 {
            std::fs::create_dir_all(path).unwrap();
            std::fs::write(path.join("model.json"), "{").unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{").unwrap();
        }
        touch(path, -3600);
    }
    touch(&models.join("ghost"), -3600);
    // Newer than the start (another process's write in progress), and not a leftover.
    let fresh = iris.join(".tmp-fresh");
    std::fs::write(&fresh, "{").unwrap();
    touch(&fresh, 3600);
    let notes = iris.join("notes.txt");
    std::fs::write(&notes, "mine").unwrap();
    touch(&notes, -3600);

    let app = app(dir.path()).await;
    for path in &old {
        assert!(!path.exists(), "{} is left", path.display());
    }
    assert!(
        !models.join("ghost").exists(),
        "the emptied model folder is left"
    );
    assert!(fresh.exists() && notes.exists() && iris.join("1/model.json").exists());
    let r = app
        .post("/v1/models/iris/predict", json!({"instances": [ROW]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/v1/models").await;
    assert_eq!(
        r.body["models"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn deleting_the_last_version_removes_the_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let models = dir.path().join("models");
    train_iris(&app, "iris", Some("production")).await;
    assert!(models.join("iris/aliases.json").exists());
    let r = app
        .call("DELETE", "/v1/models/iris/aliases/production", None)
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app.call("DELETE", "/v1/models/iris/versions/1", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(!models.join("iris").exists(), "the model folder is left");
    assert_eq!(
        app.get("/v1/models/iris").await.status,
        StatusCode::NOT_FOUND
    );

    // A folder with a file of the operator's (its version policy) is kept, without the
    // aliases that now point nowhere.
    train_iris(&app, "kept", Some("staging")).await;
    std::fs::write(models.join("kept/policy.json"), r#"{"all": {}}"#).unwrap();
    app.call("DELETE", "/v1/models/kept/aliases/staging", None)
        .await;
    let r = app.call("DELETE", "/v1/models/kept/versions/1", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(models.join("kept/policy.json").exists());
    assert!(!models.join("kept/aliases.json").exists());
    assert!(!models.join("kept/1").exists());

    drop(app);
    let restarted = common::app(dir.path()).await;
    let r = restarted.get("/v1/models").await;
    assert_eq!(r.body["models"], json!([]), "{}", r.text);
}
