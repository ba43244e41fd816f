//! `/v1/datasets` through the whole router: an upload's rows, columns and SHA-256, the
//! `{"dataset": name}` form of training data, replacement and deletion, and the bad
//! bodies that must store nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app, app_with, config, fixture, Reply, TestApp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

async fn put(app: &TestApp, name: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
    let mut req = Request::builder()
        .method("PUT")
        .uri(format!("/v1/datasets/{name}"));
    if let Some(t) = content_type {
        req = req.header("content-type", t);
    }
    app.request(req.body(Body::from(body)).unwrap()).await
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files under the store's dataset folder, relative to it.
fn stored_files(dir: &std::path::Path) -> Vec<String> {
    let root = dir.join("models/_datasets");
    let mut out = Vec::new();
    for sub in ["", "objects"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_file() {
                let name = e.file_name().to_string_lossy().to_string();
                if name != ".lock" {
                    out.push(format!("{sub}/{name}"));
                }
            }
        }
    }
    out.sort();
    out
}

fn iris_train_body(data: Value) -> Value {
    json!({
        "algorithm": "softmax_regression",
        "data": data,
        "params": {"seed": 7},
    })
}

#[tokio::test]
async fn an_uploaded_dataset_trains_like_the_same_file_inline() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read(fixture("data/iris.csv")).unwrap();

    let r = put(&app, "iris", Some("text/csv"), csv.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["name"], "iris");
    assert_eq!(r.body["rows"], 150);
    assert_eq!(r.body["columns"], 5);
    assert_eq!(r.body["bytes"], csv.len());
    assert_eq!(r.body["sha256"], hex_sha256(&csv));
    assert_eq!(r.body["column_names"][4], "target");

    let listed = app.get("/v1/datasets").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["datasets"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["datasets"][0]["sha256"], r.body["sha256"]);
    let one = app.get("/v1/datasets/iris").await;
    assert_eq!(one.body, r.body);

    let classes = json!(["setosa", "versicolor", "virginica"]);
    let by_name = app
        .train(
            "flowers",
            iris_train_body(json!({"dataset": "iris", "target": "target", "class_names": classes})),
        )
        .await;
    assert_eq!(by_name["state"], "succeeded", "{by_name}");
    let text = String::from_utf8(csv).unwrap();
    let inline = app
        .train(
            "flowers",
            iris_train_body(json!({"csv": text, "target": "target", "class_names": classes})),
        )
        .await;
    assert_eq!(inline["state"], "succeeded", "{inline}");
    // The same bytes, the same seed: the same model.
    assert_eq!(by_name["metrics"], inline["metrics"]);
    let v = by_name["version"].as_u64().unwrap();
    let version = app.get(&format!("/v1/models/flowers/versions/{v}")).await;
    assert!(
        version.text.contains("dataset:iris"),
        "the version records its source: {}",
        version.text
    );
    let pred = app
        .post(
            "/v1/models/flowers/predict",
            json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        )
        .await;
    assert_eq!(pred.status, StatusCode::OK, "{}", pred.text);
    assert_eq!(pred.body["predictions"][0], 0, "{}", pred.text);
    assert_eq!(pred.body["classes"][0], "setosa", "{}", pred.text);

    let tune = app
        .post(
            "/v1/models/flowers-tuned/tune",
            json!({"algorithm": "softmax_regression", "data": {"dataset": "iris"},
                   "param_grid": {"l2": [0.01, 0.1]}, "folds": 3}),
        )
        .await;
    assert_eq!(tune.status, StatusCode::ACCEPTED, "{}", tune.text);
    let job = app.wait_job(tune.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["cv_results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_replaced_dataset_keeps_one_object_and_a_deleted_one_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let first = b"x,y\n1,2\n3,4\n".to_vec();
    let second = b"x,y\n1,2\n3,4\n5,6\n".to_vec();
    assert_eq!(
        put(&app, "d", None, first).await.status,
        StatusCode::CREATED
    );
    let r = put(&app, "d", Some("text/csv; charset=utf-8"), second.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["rows"], 3);
    assert_eq!(
        app.get("/v1/datasets/d").await.body["sha256"],
        hex_sha256(&second)
    );
    let files = stored_files(dir.path());
    assert_eq!(files.len(), 2, "the record and one object: {files:?}");

    let gone = app.call("DELETE", "/v1/datasets/d", None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_eq!(
        app.get("/v1/datasets/d").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call("DELETE", "/v1/datasets/d", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        stored_files(dir.path()).is_empty(),
        "{:?}",
        stored_files(dir.path())
    );
    let train = app
        .post(
            "/v1/models/m/train",
            json!({"algorithm": "linear_regression", "data": {"dataset": "d", "target": "y"}}),
        )
        .await;
    assert_eq!(
        train.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        train.text
    );
    assert!(
        train.text.contains("dataset `d` not found"),
        "{}",
        train.text
    );
}

/// Name, content type, body, the status it gets and what its message says.
type BadUpload = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn bad_bodies_get_clear_errors_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.server.dataset_limit_bytes = 64;
    let app = app_with(cfg).await;
    let good = b"a,b,c\n1,2,3\n".to_vec();
    assert_eq!(
        put(&app, "keep", None, good.clone()).await.status,
        StatusCode::CREATED
    );
    let before = stored_files(dir.path());

    let cases: Vec<BadUpload> = vec![
        (
            "keep",
            None,
            b"a,b,c\n1,2,3\n4,5\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line 3 has 2 field(s) where the header has 3",
        ),
        (
            "new",
            Some("text/csv"),
            vec![0x89, b'P', b'N', b'G', 0xff, 0x00],
            StatusCode::UNPROCESSABLE_ENTITY,
            "not UTF-8",
        ),
        (
            "new",
            None,
            b"only\n1\n2\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least two",
        ),
        (
            "new",
            None,
            b"a,b\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no data rows",
        ),
        (
            "new",
            None,
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty",
        ),
        (
            "new",
            Some("application/json"),
            good.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/csv",
        ),
        (
            "_hidden",
            None,
            good.clone(),
            StatusCode::BAD_REQUEST,
            "invalid dataset name",
        ),
        (
            "a..b%2F",
            None,
            good.clone(),
            StatusCode::BAD_REQUEST,
            "invalid dataset name",
        ),
        (
            "big",
            None,
            good.repeat(8),
            StatusCode::PAYLOAD_TOO_LARGE,
            "64 bytes",
        ),
    ];
    for (name, content_type, body, status, says) in cases {
        let r = put(&app, name, content_type, body).await;
        assert_eq!(r.status, status, "{name}: {}", r.text);
        assert!(
            r.body["error"].as_str().unwrap_or_default().contains(says),
            "{name}: {}",
            r.text
        );
        assert!(r.body["code"].is_string(), "{}", r.text);
    }
    assert_eq!(
        stored_files(dir.path()),
        before,
        "nothing stored, nothing replaced"
    );
    assert_eq!(app.get("/v1/datasets/keep").await.body["rows"], 1);
    assert_eq!(
        app.get("/v1/datasets/new").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/datasets/_x").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_start_up_janitor_removes_only_old_objects_no_record_names() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app(dir.path()).await;
        let r = put(&app, "keep", None, b"a,b\n1,2\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let objects = dir.path().join("models/_datasets/objects");
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    let age = |path: &std::path::Path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    };
    // The live object is old too: being named by a record is what keeps it.
    let live: Vec<_> = std::fs::read_dir(&objects)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(live.len(), 1);
    age(&live[0]);
    let orphan = objects.join("0123456789abcdef0123456789abcdef.csv");
    let fresh = objects.join("fedcba9876543210fedcba9876543210.csv");
    std::fs::write(&orphan, "x,y\n1,2\n").unwrap();
    age(&orphan);
    std::fs::write(&fresh, "x,y\n1,2\n").unwrap();

    let app = app(dir.path()).await;
    assert!(!orphan.exists(), "an old object no record names is removed");
    assert!(
        fresh.exists(),
        "a recent one may be an upload being committed"
    );
    assert!(live[0].exists());
    assert_eq!(app.get("/v1/datasets/keep").await.body["rows"], 1);
}
