//! Parse once across restarts: the first training on a stored dataset keeps its parsed
//! form (with the data's fingerprint and profile) in the store, and a restarted server
//! trains from it without parsing the CSV or profiling the rows
//! (`modeld_training_data_loads_total{outcome="store"}`), to the same model. A damaged
//! form is passed over for the CSV; a replaced or deleted dataset takes its forms with
//! it; the forms together stay within `training.dataset_cache_bytes`; the start-up
//! janitor removes forms no dataset names. On S3 (moto), a replica trains from the parse
//! another replica kept in the bucket.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{app_with, config, prices_csv as csv, sample, TestApp};
use modeld::train::parsed_form;
use serde_json::{json, Value};

fn forms_dir(dir: &Path) -> PathBuf {
    dir.join("models/_datasets/parsed")
}

fn forms(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(forms_dir(dir))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "bin"));
    found.sort();
    found
}

/// Waits for the background write of the forms (the job does not wait for it).
fn wait_for_forms(dir: &Path, count: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = forms(dir);
        if found.len() == count || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn upload(app: &TestApp, name: &str, text: String) {
    let put = Request::builder()
        .method("PUT")
        .uri(format!("/v1/datasets/{name}"))
        .header("content-type", "text/csv")
        .body(Body::from(text))
        .unwrap();
    let reply = app.request(put).await;
    assert!(reply.status.is_success(), "{}", reply.text);
}

/// store and miss counts of `modeld_training_data_loads_total`.
async fn loads(app: &TestApp) -> (f64, f64) {
    let text = app.metrics().await;
    let count = |outcome| {
        sample(
            &text,
            "modeld_training_data_loads_total",
            &[("outcome", outcome)],
        )
        .unwrap_or(-1.0)
    };
    (count("store"), count("miss"))
}

/// Trains and returns the version's metrics, fingerprint and feature profile (the drift
/// reference, which the store's metadata holds).
async fn train(app: &TestApp, model: &str, target: &str) -> (Value, Value, Value) {
    let body = json!({"algorithm": "linear_regression",
                      "data": {"dataset": "prices", "target": target}});
    let job = app.train(model, body).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let version = job["version"].as_u64().unwrap();
    let v = app
        .get(&format!("/v1/models/{model}/versions/{version}"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let dir = app
        .state
        .cfg
        .data_dir
        .join(format!("models/{model}/{version}"));
    let meta = std::fs::read(dir.join(modeld::registry::store::META_FILE)).unwrap();
    let meta: Value = serde_json::from_slice(&meta).unwrap();
    (
        job["metrics"].clone(),
        v.body["training"]["dataset"].clone(),
        meta["profile"].clone(),
    )
}

#[tokio::test]
async fn a_restarted_server_trains_from_the_stored_parse() {
    let dir = tempfile::tempdir().unwrap();
    let first = app_with(config(dir.path())).await;
    upload(&first, "prices", csv(400, 3.0)).await;
    let (metrics, fingerprint, profile) = train(&first, "p", "y").await;
    assert_eq!(loads(&first).await, (0.0, 1.0));
    assert!(fingerprint["sha256"].is_string() && profile.is_object());
    let kept = wait_for_forms(dir.path(), 1);
    assert_eq!(kept.len(), 1, "one form kept: {kept:?}");
    drop(first);

    // Restarted: nothing in memory, the form in the store.
    let second = app_with(config(dir.path())).await;
    let again = train(&second, "p", "y").await;
    assert_eq!(loads(&second).await, (1.0, 0.0), "no parse");
    assert_eq!(again, (metrics.clone(), fingerprint.clone(), profile));

    // The summary is read, not recomputed: a form whose kept fingerprint was changed
    // shows the change in the next version.
    let bytes = std::fs::read(&kept[0]).unwrap();
    let form = parsed_form::decode(&bytes).unwrap();
    let mut summary = form.summary.clone().unwrap();
    summary["summary"]["fingerprint"]["sha256"] = json!("kept-with-the-form");
    let rewritten = parsed_form::encode(&form.dataset, &form.content_id, Some(summary));
    std::fs::write(&kept[0], rewritten).unwrap();
    let third = app_with(config(dir.path())).await;
    let (same, marked, _) = train(&third, "p", "y").await;
    assert_eq!(same, metrics);
    assert_eq!(marked["sha256"], "kept-with-the-form");

    // A damaged form: the CSV is parsed instead, to the same model, and the form is
    // written again.
    let mut damaged = std::fs::read(&kept[0]).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    std::fs::write(&kept[0], &damaged).unwrap();
    let fourth = app_with(config(dir.path())).await;
    let (same, again_fingerprint, _) = train(&fourth, "p", "y").await;
    assert_eq!((same, again_fingerprint), (metrics.clone(), fingerprint));
    assert_eq!(loads(&fourth).await, (0.0, 1.0));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read(&kept[0]).unwrap() == damaged && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(parsed_form::decode(&std::fs::read(&kept[0]).unwrap()).is_ok());

    // Another target is another form; a replaced dataset takes both with it.
    train(&fourth, "q", "b").await;
    assert_eq!(wait_for_forms(dir.path(), 2).len(), 2);
    upload(&fourth, "prices", csv(400, -1.0)).await;
    assert_eq!(forms(dir.path()), Vec::<PathBuf>::new());
    let (replaced, _, _) = train(&fourth, "p", "y").await;
    assert_ne!(replaced, metrics);
    assert_eq!(
        loads(&fourth).await,
        (0.0, 3.0),
        "the damaged form, b, the new content"
    );
    assert_eq!(wait_for_forms(dir.path(), 1).len(), 1);
    let gone = fourth.call("DELETE", "/v1/datasets/prices", None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_eq!(forms(dir.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn the_forms_stay_within_the_budget_and_orphans_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // One 400 × 3 form (9,600 bytes of values and a header) fits, two do not.
    cfg.training.dataset_cache_bytes = 16_000;
    let app = app_with(cfg.clone()).await;
    upload(&app, "prices", csv(400, 3.0)).await;
    train(&app, "p", "y").await;
    let first = wait_for_forms(dir.path(), 1);
    assert_eq!(first.len(), 1);
    train(&app, "q", "b").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    // Evicting the older form and writing the new one are two steps.
    let replaced = |now: &Vec<PathBuf>| now.len() == 1 && *now != first;
    while !replaced(&forms(dir.path())) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = forms(dir.path());
    assert_eq!(now.len(), 1, "the older form made room: {now:?}");
    assert_ne!(now, first);
    let size = std::fs::metadata(&now[0]).unwrap().len();
    assert!(size > 9_600 && size <= 16_000, "{size}");
    drop(app);

    // A form of an object no record names (a replica stopped mid clean-up) is swept at
    // start-up; the live one stays.
    let orphan =
        forms_dir(dir.path()).join("0123456789abcdef0123456789abcdef-0123456789abcdef.bin");
    std::fs::write(&orphan, b"left over").unwrap();
    let restarted = app_with(cfg).await;
    assert!(!orphan.exists());
    assert_eq!(forms(dir.path()), now);
    train(&restarted, "q", "b").await;
    assert_eq!(loads(&restarted).await, (1.0, 0.0));
}

/// On the shared S3 store (moto): one replica's first training keeps the parse in the
/// bucket, another trains from it without parsing, and deleting the dataset removes it.
#[test]
fn replicas_share_the_parse_through_the_bucket() {
    use support::moto::{Moto, Replica};
    use support::{http, http_typed};
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("modeld-parsed");
    let uri = "s3://modeld-parsed/fleet";
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let [a, b] = dirs
        .each_ref()
        .map(|d| Replica::start(moto.replica(d.path(), uri, 200)));
    let (a, b) = (&a.addr, &b.addr);
    let (status, text) = http_typed(
        a,
        "PUT",
        "/v1/datasets/line",
        "text/csv",
        Some(&csv(300, 2.0)),
    );
    assert_eq!(status, 201, "{text}");
    let body = r#"{"algorithm": "linear_regression", "data": {"dataset": "line", "target": "y"}}"#;
    let train = |addr: &str| {
        let (status, text) = http(addr, "POST", "/v1/models/fromdata/train", Some(body));
        assert_eq!(status, 202, "{text}");
        let job: Value = serde_json::from_str(&text).unwrap();
        let url = format!("/v1/jobs/{}", job["job_id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job: Value = serde_json::from_str(&http(addr, "GET", &url, None).1).unwrap();
            match job["state"].as_str() {
                Some("succeeded") => return job["metrics"].clone(),
                Some("queued" | "running") if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => panic!("{job}"),
            }
        }
    };
    let loads = |addr: &str, outcome: &str| {
        let text = http(addr, "GET", "/metrics", None).1;
        sample(
            &text,
            "modeld_training_data_loads_total",
            &[("outcome", outcome)],
        )
    };
    let first = train(a);
    let parsed = || moto.list_objects("modeld-parsed", "fleet/_datasets/parsed/");
    let deadline = Instant::now() + Duration::from_secs(30);
    while parsed().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(parsed().len(), 1, "{:?}", parsed());
    assert_eq!(train(b), first, "the same model from the stored parse");
    assert_eq!(
        (loads(b, "store"), loads(b, "miss")),
        (Some(1.0), Some(0.0))
    );
    assert_eq!(http(a, "DELETE", "/v1/datasets/line", None).0, 204);
    assert_eq!(parsed(), Vec::<String>::new());
}
