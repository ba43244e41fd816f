//! Respond at once: a data file or stored dataset (for a train or a tune) above `SYNC_PARSE_BYTES` is read and parsed by the job
//! (the `loading` phase, with the bytes read), not by the request; what needs no parse (the
//! path, the header, the params, the memory the load would take) is still a 422 at once,
//! and what does (a ragged row) fails the job with the same message a small file gets as a
//! 422.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app, app_with, config, TestApp};
use modeld::api::train::SYNC_PARSE_BYTES;
use serde_json::{json, Value};

/// A regression CSV of at least `min_bytes`, with a ragged row at `ragged_at` if given.
fn csv(min_bytes: u64, ragged_at: Option<usize>) -> String {
    let mut text = String::from("a,b,c,y\n");
    let mut i = 0usize;
    while (text.len() as u64) < min_bytes {
        let (a, b, c) = (i as f64 * 0.001, (i % 13) as f64 * 0.25, (i % 7) as f64);
        if ragged_at == Some(i) {
            text.push_str(&format!("{a},{b}\n"));
        } else {
            text.push_str(&format!("{a},{b},{c},{}\n", 2.0 * a - b + 0.5 * c + 3.0));
        }
        i += 1;
    }
    text
}

/// Posts a job that must be accepted (202) and waits for it to finish.
async fn finished_job(app: &TestApp, uri: &str, body: Value) -> Value {
    let accepted = app.post(uri, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    app.wait_job(accepted.body["job_id"].as_str().unwrap())
        .await
}

fn body(path: &str, target: &str) -> Value {
    json!({"algorithm": "linear_regression", "data": {"path": path, "target": target}})
}

#[tokio::test]
async fn a_large_file_is_loaded_by_the_job_and_trains_what_a_parse_in_the_request_trains() {
    let dir = tempfile::tempdir().unwrap();
    let text = csv(SYNC_PARSE_BYTES + (1 << 20), None);
    std::fs::write(dir.path().join("large.csv"), &text).unwrap();
    let app = app(dir.path()).await;

    let job = finished_job(&app, "/v1/models/large/train", body("large.csv", "y")).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["phase"], "training", "{job}");
    let size = text.len() as u64;
    assert_eq!(
        job["loading"],
        json!({"bytes_read": size, "bytes_total": size})
    );

    // The same rows sent inline are parsed by the request: the same model comes out.
    let inline = app
        .train(
            "inline",
            json!({"algorithm": "linear_regression", "data": {"csv": text, "target": "y"}}),
        )
        .await;
    assert_eq!(inline["state"], "succeeded", "{inline}");
    assert!(inline.get("loading").is_none(), "{inline}");
    assert_eq!(job["metrics"], inline["metrics"]);
    let r2 = job["metrics"]["validation"]["r2"].as_f64().unwrap();
    assert!(r2 > 0.999_999, "{r2}");

    // Trained again, the file comes from the parse cache in the request: nothing to load.
    let again = app.train("large", body("large.csv", "y")).await;
    assert_eq!(again["state"], "succeeded", "{again}");
    assert!(again.get("loading").is_none(), "{again}");
    assert_eq!(again["metrics"], job["metrics"]);

    // A tune on a file of its own loads it in the job too, and searches it.
    std::fs::copy(dir.path().join("large.csv"), dir.path().join("copy.csv")).unwrap();
    let mut tune = body("copy.csv", "y");
    tune["param_grid"] = json!({"l2": [0.0, 0.01]});
    tune["folds"] = json!(2);
    let tuned = finished_job(&app, "/v1/models/tuned/tune", tune).await;
    assert_eq!(tuned["state"], "succeeded", "{tuned}");
    assert_eq!(tuned["loading"]["bytes_read"], json!(size), "{tuned}");
    assert_eq!(tuned["best_params"]["l2"], json!(0.0), "{tuned}");

    // A stored dataset as large is loaded by its job too, and trains the same model.
    let put = Request::builder()
        .method("PUT")
        .uri("/v1/datasets/stored")
        .header("content-type", "text/csv")
        .body(Body::from(text.clone()))
        .unwrap();
    assert_eq!(app.request(put).await.status, StatusCode::CREATED);
    let stored = json!({"algorithm": "linear_regression",
        "data": {"dataset": "stored", "target": "y"}});
    let from_store = finished_job(&app, "/v1/models/stored/train", stored.clone()).await;
    assert_eq!(from_store["state"], "succeeded", "{from_store}");
    assert_eq!(
        from_store["loading"],
        json!({"bytes_read": size, "bytes_total": size})
    );
    assert_eq!(from_store["metrics"], job["metrics"]);
    let mut wrong = stored;
    wrong["data"]["target"] = json!("price");
    let r = app.post("/v1/models/stored/train", wrong).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("target column `price` not found"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn what_needs_no_parse_is_refused_at_once_and_a_bad_row_fails_the_job_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ragged.csv"),
        csv(SYNC_PARSE_BYTES + (1 << 20), Some(70_000)),
    )
    .unwrap();
    std::fs::write(dir.path().join("small.csv"), csv(10_000, Some(30))).unwrap();
    let app = app(dir.path()).await;

    // No target column: the header is read in the request.
    let r = app
        .post("/v1/models/m/train", body("ragged.csv", "price"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("target column `price` not found"),
        "{}",
        r.text
    );
    // A missing file, a path out of the data directory, bad params: 4xx, no job.
    for (data, params) in [
        (json!({"path": "absent.csv", "target": "y"}), json!({})),
        (json!({"path": "../x.csv", "target": "y"}), json!({})),
        (
            json!({"path": "ragged.csv", "target": "y"}),
            json!({"l2": -1.0}),
        ),
    ] {
        let r = app
            .post(
                "/v1/models/m/train",
                json!({"algorithm": "linear_regression", "data": data, "params": params}),
            )
            .await;
        assert!(r.status.is_client_error(), "{data} {params}: {}", r.text);
    }
    assert_eq!(app.get("/v1/jobs").await.body["jobs"], json!([]));

    // A ragged row is found by the parse: in the job for the large file, with the message
    // the small file gets as a 422.
    let small = app.post("/v1/models/m/train", body("small.csv", "y")).await;
    assert_eq!(
        small.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        small.text
    );
    assert!(
        small.text.contains("CSV row 30 has 2 fields, expected 4"),
        "{}",
        small.text
    );
    let job = finished_job(&app, "/v1/models/m/train", body("ragged.csv", "y")).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("CSV row 70000 has 2 fields, expected 4"),
        "{error}"
    );
    assert_eq!(app.get("/v1/models/m").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_file_above_the_memory_budget_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 2 MB of text is about 60,000 rows of 4 values: about 4 MB loaded.
    std::fs::write(dir.path().join("big.csv"), csv(2 << 20, None)).unwrap();
    let mut cfg = config(dir.path());
    cfg.training_limits.max_dataset_bytes = 3 << 20;
    let app = app_with(cfg).await;
    for path in ["/v1/models/m/train", "/v1/models/m/tune"] {
        let mut req = body("big.csv", "y");
        if path.ends_with("tune") {
            req["param_grid"] = json!({"l2": [0.0, 0.1]});
        }
        let r = app.post(path, req).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.text
        );
        assert!(
            r.text.contains("training_limits.max_dataset_bytes = 3 MB"),
            "{path}: {}",
            r.text
        );
    }
    assert_eq!(app.get("/v1/jobs").await.body["jobs"], json!([]));

    // Long rows first, short ones after: the request's estimate from the head passes, and
    // the exact count before the parse refuses.
    let long = format!("{},", "1.".to_string() + &"0".repeat(98));
    let mut text = String::from("a,b,c,y\n");
    while text.len() < (64 << 10) {
        text.push_str(&format!("{long}{long}{long}1\n"));
    }
    while text.len() < (2 << 20) {
        text.push_str("1,2,3,4\n");
    }
    let rows = text.matches('\n').count() + 1;
    std::fs::write(dir.path().join("uneven.csv"), text).unwrap();
    let r = app
        .post("/v1/models/m/train", body("uneven.csv", "y"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let counted = format!("about {rows} rows of 4 values");
    assert!(
        r.text.contains(&counted),
        "the rows are counted: {}",
        r.text
    );
    assert!(
        r.text.contains("training_limits.max_dataset_bytes = 3 MB"),
        "{}",
        r.text
    );
}
