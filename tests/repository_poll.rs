//! Repository polling: versions copied into or removed from the store appear and retire
//! without an API call, following each model's policy.json; unloaded models stay out.

mod common;

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

/// Copies a version folder under a new number (meta.json says which version it is).
fn copy_version(models: &Path, from: (&str, u64), to: (&str, u64)) {
    let src = models.join(from.0).join(from.1.to_string());
    let tmp = models.join(format!(".staging-{}-{}", to.0, to.1));
    std::fs::create_dir_all(&tmp).unwrap();
    for f in ["model.json", "meta.json"] {
        std::fs::copy(src.join(f), tmp.join(f)).unwrap();
    }
    let mut meta: Value =
        serde_json::from_slice(&std::fs::read(tmp.join("meta.json")).unwrap()).unwrap();
    meta["version"] = to.1.into();
    std::fs::write(tmp.join("meta.json"), meta.to_string()).unwrap();
    std::fs::create_dir_all(models.join(to.0)).unwrap();
    // Published with one rename, as a deployment tool should.
    std::fs::rename(&tmp, models.join(to.0).join(to.1.to_string())).unwrap();
}

async fn versions(app: &TestApp, name: &str) -> Option<Vec<u64>> {
    let r = app.get(&format!("/v1/models/{name}")).await;
    (r.status == StatusCode::OK).then(|| {
        r.body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect()
    })
}

async fn wait_for(app: &TestApp, name: &str, want: Option<Vec<u64>>) {
    for _ in 0..500 {
        if versions(app, name).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{name}: versions {:?}, want {want:?}",
        versions(app, name).await
    );
}

#[tokio::test]
async fn versions_appear_and_retire_without_an_api_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.repository.poll_interval_ms = 20;
    let app = app_with(cfg).await;
    let poller = modeld::spawn_poller(&app.state).expect("polling on");
    train_iris(&app, "iris", None).await;
    let models = dir.path().join("models");

    copy_version(&models, ("iris", 1), ("iris", 2));
    wait_for(&app, "iris", Some(vec![1, 2])).await;
    let p = app
        .post(
            "/v1/models/iris/predict",
            serde_json::json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        )
        .await;
    assert_eq!(p.body["version"], 2);

    std::fs::remove_dir_all(models.join("iris/1")).unwrap();
    wait_for(&app, "iris", Some(vec![2])).await;

    // latest 1: a new version 3 retires 2 (its files stay).
    std::fs::write(
        models.join("iris/policy.json"),
        r#"{"latest": {"num_versions": 1}}"#,
    )
    .unwrap();
    copy_version(&models, ("iris", 2), ("iris", 3));
    wait_for(&app, "iris", Some(vec![3])).await;
    assert!(models.join("iris/2/model.json").is_file());
    // specific [2, 3] brings 2 back.
    std::fs::write(
        models.join("iris/policy.json"),
        r#"{"specific": {"versions": [2, 3]}}"#,
    )
    .unwrap();
    wait_for(&app, "iris", Some(vec![2, 3])).await;

    // A whole new model folder appears; removing it retires the model.
    copy_version(&models, ("iris", 3), ("other", 1));
    wait_for(&app, "other", Some(vec![1])).await;
    std::fs::remove_dir_all(models.join("other")).unwrap();
    wait_for(&app, "other", None).await;

    // An unloaded model is not brought back by polling.
    let r = app
        .call("POST", "/v2/repository/models/iris/unload", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    copy_version(&models, ("iris", 3), ("iris", 4));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(versions(&app, "iris").await, None);
    let r = app
        .call("POST", "/v2/repository/models/iris/load", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(versions(&app, "iris").await, Some(vec![2, 3]));
    poller.abort();
}
