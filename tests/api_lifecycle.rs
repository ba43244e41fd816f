//! The whole cycle through the HTTP stack: train → predict → reload → restart, version
//! and alias selection, deletion.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

const SETOSA: [f64; 4] = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA: [f64; 4] = [6.7, 3.0, 5.2, 2.3];

#[tokio::test]
async fn train_predict_reload_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let version = train_iris(&app, "flowers", Some("production")).await;
    assert_eq!(version, 1);

    let job_list = app.get("/v1/jobs").await;
    assert_eq!(job_list.body["jobs"][0]["state"], "succeeded");
    assert!(
        job_list.body["jobs"][0]["metrics"]["validation"]["accuracy"]
            .as_f64()
            .unwrap()
            > 0.85
    );

    let p = app
        .post(
            "/v1/models/flowers/predict",
            json!({"instances": [SETOSA, VIRGINICA]}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["model"], "flowers");
    assert_eq!(p.body["version"], 1);
    assert_eq!(p.body["predictions"], json!([0, 2]));
    assert_eq!(
        p.body["classes"],
        json!(["setosa", "versicolor", "virginica"])
    );
    let probs = p.body["probabilities"].as_array().unwrap();
    for row in probs {
        let s: f64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((s - 1.0).abs() < 1e-9);
    }
    // The request id in the body is the one in the header.
    let rid = p.headers["x-request-id"].to_str().unwrap();
    assert_eq!(p.body["request_id"], rid);

    // Records by feature name give the same answer as rows.
    let names = [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ];
    let record: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(VIRGINICA)
        .map(|(n, v)| (n.to_string(), json!(v)))
        .collect();
    let by_name = app
        .post(
            "/predict",
            json!({"model": "flowers", "instances": [record]}),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    assert_eq!(by_name.body["probabilities"][0], p.body["probabilities"][1]);

    // Reload swaps in what is on disk: same answers.
    let r = app.post("/v1/models/flowers/reload", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["versions"][0]["status"], "ready");
    let after_reload = app
        .post(
            "/v1/models/flowers/predict",
            json!({"instances": [SETOSA, VIRGINICA]}),
        )
        .await;
    assert_eq!(after_reload.body["probabilities"], p.body["probabilities"]);

    // A restart (a new app over the same store) still has the model and predicts the same.
    drop(app);
    let restarted = common::app(dir.path()).await;
    let again = restarted
        .post(
            "/v1/models/flowers/predict",
            json!({"instances": [SETOSA, VIRGINICA]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["probabilities"], p.body["probabilities"]);
    let m = restarted.get("/v1/models/flowers").await;
    assert_eq!(m.body["aliases"]["production"], 1);
    assert!(
        m.body["versions"][0]["metrics"]["train"]["accuracy"]
            .as_f64()
            .unwrap()
            > 0.9
    );
}

#[tokio::test]
async fn versions_and_aliases_select_what_serves() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let v1 = train_iris(&app, "m", Some("production")).await;
    let v2 = train_iris(&app, "m", Some("staging")).await;
    assert_eq!((v1, v2), (1, 2));

    let list = app.get("/v1/models").await;
    assert_eq!(
        list.body,
        json!({"models": [{"name": "m", "versions": [1, 2],
            "aliases": {"production": 1, "staging": 2}, "default_version": 1}]})
    );

    let body = json!({"instances": [SETOSA]});
    let version_of = |r: &Reply| r.body["version"].as_u64().unwrap();
    assert_eq!(
        version_of(&app.post("/v1/models/m/predict", body.clone()).await),
        1
    );
    assert_eq!(
        version_of(
            &app.post("/v1/models/m/predict?version=2", body.clone())
                .await
        ),
        2
    );
    assert_eq!(
        version_of(
            &app.post("/v1/models/m/predict?alias=staging", body.clone())
                .await
        ),
        2
    );
    let by_body = app
        .post(
            "/predict",
            json!({"model": "m", "alias": "staging", "instances": [SETOSA]}),
        )
        .await;
    assert_eq!(version_of(&by_body), 2);

    // Promote v2: the default follows production.
    let put = app
        .call(
            "PUT",
            "/v1/models/m/aliases/production",
            Some(json!({"version": 2})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(
        version_of(&app.post("/v1/models/m/predict", body.clone()).await),
        2
    );

    // v1 has no alias now: it can be deleted, and the deletion survives a restart.
    let del = app.call("DELETE", "/v1/models/m/versions/1", None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.text);
    let gone = app
        .post("/v1/models/m/predict?version=1", body.clone())
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    drop(app);
    let restarted = common::app(dir.path()).await;
    let m = restarted.get("/v1/models/m").await;
    assert_eq!(m.body["aliases"], json!({"production": 2, "staging": 2}));
    assert_eq!(m.body["versions"].as_array().unwrap().len(), 1);
    // A new version never reuses a deleted number.
    assert_eq!(train_iris(&restarted, "m", None).await, 3);
}

/// The predict route is served by the edge directly (src/api/edge/hot.rs, `Direct`) except
/// for a percent-encoded name, which goes through axum's router: both must answer alike.
#[tokio::test]
async fn predict_answers_alike_with_and_without_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "m", Some("production")).await;
    train_iris(&app, "m", None).await;
    let body = json!({"instances": [SETOSA, VIRGINICA]});
    let without = |r: &Reply| {
        let mut b = r.body.clone();
        b.as_object_mut().unwrap().remove("request_id");
        b
    };
    for query in ["", "?version=2", "?alias=production"] {
        let direct = app
            .post(&format!("/v1/models/m/predict{query}"), body.clone())
            .await;
        // "%6D" is "m".
        let routed = app
            .post(&format!("/v1/models/%6D/predict{query}"), body.clone())
            .await;
        assert_eq!(direct.status, StatusCode::OK, "{}", direct.text);
        assert_eq!(without(&direct), without(&routed), "{query}");
        assert_eq!(direct.body["model"], "m");
        assert_eq!(direct.body["predictions"], json!([0, 2]));
    }
    // The same errors either way.
    for path in ["/v1/models/m/predict", "/v1/models/%6D/predict"] {
        let r = app.post(&format!("{path}?version=9"), body.clone()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        let r = app.post(&format!("{path}?colour=red"), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(r.body["code"], "invalid_input");
        let r = app.post(path, json!({"instances": [[1.0]]})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.text
        );
        let r = app.get(path).await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {}",
            r.text
        );
    }
    // A name that is not UTF-8 once decoded is the router's 400.
    let r = app.post("/v1/models/%FF/predict", body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_input");
    let metrics = app.metrics().await;
    let served = sample(
        &metrics,
        "modeld_http_requests_total",
        &[
            ("method", "POST"),
            ("route", "/v1/models/{name}/predict"),
            ("status", "200"),
        ],
    );
    assert_eq!(served, Some(6.0));
}

#[tokio::test]
async fn runs_table_sorts_and_filters_by_metric() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let csv = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    for l2 in [0.0, 10.0, 1.0] {
        let job = app
            .train(
                "d",
                json!({"algorithm": "linear_regression", "data": {"csv": csv},
                       "params": {"l2": l2}}),
            )
            .await;
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let r = app
        .get("/v1/models/d/versions?sort=validation.r2&order=desc")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body["versions"].as_array().unwrap();
    let r2: Vec<f64> = rows
        .iter()
        .map(|v| v["metrics"]["validation"]["r2"].as_f64().unwrap())
        .collect();
    assert_eq!(r2.len(), 3);
    assert!(r2.windows(2).all(|w| w[0] >= w[1]), "{r2:?}");
    assert!(rows[0]["params"]["l2"].is_number());
    let none = app
        .get("/v1/models/d/versions?family=softmax_regression")
        .await;
    assert_eq!(none.body["versions"], json!([]));
    let detail = app.get("/v1/models/d/versions/2").await;
    assert_eq!(detail.body["training"]["algorithm"], "linear_regression");
    assert_eq!(detail.body["training"]["n_features"], 10);
    assert_eq!(
        detail.body["training"]["n_train"].as_u64().unwrap()
            + detail.body["training"]["n_validation"].as_u64().unwrap(),
        442
    );
}

#[tokio::test]
async fn a_version_copied_in_by_another_process_appears_after_reload() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let a = app(src.path()).await;
    train_iris(&a, "ext", None).await;
    let b = app(dst.path()).await;
    assert_eq!(b.get("/v1/models/ext").await.status, StatusCode::NOT_FOUND);
    // Another process drops a version folder into b's store.
    let from = src.path().join("models/ext/1");
    let to = dst.path().join("models/ext/1");
    std::fs::create_dir_all(&to).unwrap();
    for f in ["model.json", "meta.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    let r = b.post("/v1/reload", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["failed"], json!([]));
    let p = b
        .post("/v1/models/ext/predict", json!({"instances": [SETOSA]}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["predictions"], json!([0]));
}

#[tokio::test]
async fn a_corrupt_version_is_reported_and_the_rest_still_serves() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    train_iris(&app, "ok", None).await;
    train_iris(&app, "broken", None).await;
    train_iris(&app, "broken", None).await;
    // Truncate v2's weights and write garbage into another version folder.
    let v2 = dir.path().join("models/broken/2/model.json");
    let text = std::fs::read_to_string(&v2).unwrap();
    std::fs::write(&v2, &text[..text.len() / 2]).unwrap();
    std::fs::create_dir_all(dir.path().join("models/broken/7")).unwrap();
    std::fs::write(dir.path().join("models/broken/7/meta.json"), b"{not json").unwrap();

    drop(app);
    let app = common::app(dir.path()).await;
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let m = app.get("/v1/models/broken").await;
    assert_eq!(m.status, StatusCode::OK);
    let versions = m.body["versions"].as_array().unwrap();
    let status: Vec<(u64, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(status, vec![(1, "ready"), (2, "failed"), (7, "failed")]);
    assert!(versions[1]["error"]
        .as_str()
        .unwrap()
        .contains("model.json"));
    // The default is the highest *ready* version; the failed one answers 503 by number.
    let p = app
        .post("/v1/models/broken/predict", json!({"instances": [SETOSA]}))
        .await;
    assert_eq!(p.body["version"], 1);
    let f = app
        .post(
            "/v1/models/broken/predict?version=2",
            json!({"instances": [SETOSA]}),
        )
        .await;
    assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE);
    let ok = app
        .post("/v1/models/ok/predict", json!({"instances": [SETOSA]}))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn demo_models_are_trained_once_and_then_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.demo.enabled = true;
    let app = app_with(cfg.clone()).await;
    let list = app.get("/v1/models").await;
    let names: Vec<&str> = list.body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["diabetes", "iris"]);
    let p = app
        .post(
            "/v1/models/iris/predict",
            json!({"instances": [SETOSA, VIRGINICA]}),
        )
        .await;
    assert_eq!(p.body["predictions"], json!([0, 2]));
    let d = app
        .post("/v1/models/diabetes/predict", json!({"instances": [[0.038, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, -0.002, 0.02, -0.018]]}))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert!(d.body["predictions"][0].as_f64().unwrap() > 100.0);
    drop(app);
    // Second start: loaded, not retrained (still version 1).
    let again = app_with(cfg).await;
    assert_eq!(
        again.get("/v1/models/iris").await.body["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
