//! /metrics after known traffic: exact counts, route templates, quality gauges.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn metrics_count_known_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let version = train_iris(&app, "iris", Some("production")).await;
    let v = version.to_string();

    // 3 good predict calls of 2 rows, 2 bad ones, one unknown path, one /predict call.
    let row = json!([5.1, 3.5, 1.4, 0.2]);
    for _ in 0..3 {
        let r = app
            .post("/v1/models/iris/predict", json!({"instances": [row, row]}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for _ in 0..2 {
        let r = app
            .post("/v1/models/iris/predict", json!({"instances": [[1.0]]}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.post("/predict", json!({"model": "iris", "instances": [row]}))
        .await;
    app.get("/wp-admin/setup.php").await;
    app.get("/openapi.json").await;
    app.get("/v1/models/iris").await;

    let text = app.metrics().await;
    let route = "/v1/models/{name}/predict";
    // Every route is labelled by its template, `/openapi.json` (not in the document
    // itself) included.
    for (template, method) in [
        ("/predict", "POST"),
        ("/openapi.json", "GET"),
        ("/v1/models/{name}", "GET"),
    ] {
        assert_eq!(
            sample(
                &text,
                "modeld_http_requests_total",
                &[("method", method), ("route", template), ("status", "200")]
            ),
            Some(1.0),
            "{template}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "modeld_http_requests_total",
            &[("method", "POST"), ("route", route), ("status", "200")]
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            "modeld_http_requests_total",
            &[("route", route), ("status", "422")]
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "modeld_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("wp-admin"),
        "raw paths must not become labels"
    );
    assert_eq!(
        sample(
            &text,
            "modeld_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", route)]
        ),
        Some(5.0)
    );
    // A sub-millisecond bucket exists.
    assert!(text.contains("modeld_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/models/{name}/predict\",le=\"0.0005\"}"));
    // 3×2 rows + 1 row predicted; failed requests predicted nothing.
    assert_eq!(
        sample(
            &text,
            "modeld_predictions_total",
            &[("model", "iris"), ("version", &v)]
        ),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            "modeld_prediction_duration_seconds_count",
            &[("model", "iris"), ("version", &v)]
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            "modeld_model_info",
            &[
                ("model", "iris"),
                ("version", &v),
                ("family", "softmax_regression")
            ]
        ),
        Some(1.0)
    );
    // Quality gauges equal the version's stored metrics.
    let meta = app.get(&format!("/v1/models/iris/versions/{v}")).await.body;
    for split in ["train", "validation"] {
        for metric in ["accuracy", "precision", "recall", "f1"] {
            let stored = meta["metrics"][split][metric].as_f64().unwrap();
            let exported = sample(
                &text,
                &format!("modeld_model_{metric}"),
                &[("model", "iris"), ("version", &v), ("split", split)],
            );
            assert_eq!(exported, Some(stored), "{metric} {split}");
        }
    }
    assert_eq!(
        sample(&text, "modeld_training_jobs", &[("state", "succeeded")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "modeld_training_duration_seconds_count", &[]),
        Some(1.0)
    );
    #[cfg(target_os = "linux")]
    assert!(sample(&text, "process_resident_memory_bytes", &[]).unwrap() > 0.0);

    // Every sample line parses as `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad sample line: {line}"));
    }
    assert!(text.contains("# TYPE modeld_http_requests_total counter"));
    assert!(text.contains("# TYPE modeld_http_request_duration_seconds histogram"));

    // Deleting a version removes its gauges.
    train_iris(&app, "iris", Some("production")).await;
    let del = app
        .call("DELETE", &format!("/v1/models/iris/versions/{v}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let text = app.metrics().await;
    assert_eq!(
        sample(
            &text,
            "modeld_model_info",
            &[("model", "iris"), ("version", &v)]
        ),
        None
    );
    assert_eq!(
        sample(
            &text,
            "modeld_model_accuracy",
            &[("model", "iris"), ("version", &v)]
        ),
        None
    );
}

#[tokio::test]
async fn health_readiness_version_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    assert_eq!(app.get("/healthz").await.body, json!({"status": "ok"}));
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let v = app.get("/version").await.body;
    assert_eq!(v["name"], "modeld");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    app.state.lifecycle.start_draining();
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["status"], "draining");

    let doc = app.get("/openapi.json").await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/version",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/versions",
        "/v1/models/{name}/versions/{version}",
        "/v1/models/{name}/aliases/{alias}",
        "/v1/models/{name}/predict",
        "/predict",
        "/v1/models/{name}/train",
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/models/{name}/reload",
        "/v1/reload",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from openapi.json"
        );
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let req = axum::http::Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.request(req).await.headers["x-request-id"], "abc-123");
    let generated = app.get("/healthz").await.headers["x-request-id"].clone();
    assert_eq!(generated.to_str().unwrap().len(), 36);
}

/// A deleted version's counters and histograms leave /metrics (they used to stay, one set
/// per version ever served: bench/RESULTS.md, soak); the live version's stay.
#[tokio::test]
async fn a_deleted_versions_series_leave_the_exposition() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let v1 = train_iris(&app, "iris", None).await.to_string();
    let v2 = train_iris(&app, "iris", None).await.to_string();
    let row = json!([5.1, 3.5, 1.4, 0.2]);
    for v in [&v1, &v2] {
        let r = app
            .post(
                &format!("/v1/models/iris/predict?version={v}"),
                json!({"instances": [row]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let f = app
            .post(
                "/v1/models/iris/feedback",
                json!({"request_id": r.body["request_id"], "actual": [0]}),
            )
            .await;
        assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    }
    let series = |text: &str, v: &str| {
        [
            "modeld_predictions_total",
            "modeld_prediction_duration_seconds_count",
            "modeld_feedback_total",
        ]
        .map(|name| sample(text, name, &[("model", "iris"), ("version", v)]))
    };
    let before = app.metrics().await;
    assert_eq!(series(&before, &v1), [Some(1.0); 3], "{before}");

    let r = app
        .call("DELETE", &format!("/v1/models/iris/versions/{v1}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let after = app.metrics().await;
    assert_eq!(series(&after, &v1), [None; 3], "{after}");
    assert_eq!(series(&after, &v2), [Some(1.0); 3], "{after}");
}
