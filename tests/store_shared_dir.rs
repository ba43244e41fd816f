//! The directory store's conditional writes, with two apps (two registries, as two
//! replicas on a shared volume would be) over one store directory: versions registered at
//! once get distinct numbers, alias updates from both are none lost, and polling brings
//! each one's writes to the other. Also the store's sync age in /metrics.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

async fn replica(store: &std::path::Path) -> (tempfile::TempDir, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.store.uri = Some(store.display().to_string());
    cfg.repository.poll_interval_ms = 50;
    let app = app_with(cfg).await;
    modeld::spawn_poller(&app.state).expect("polling on");
    (dir, app)
}

fn linear(slope: f64) -> Value {
    let rows: Vec<Vec<f64>> = (1..=10).map(|x| vec![f64::from(x)]).collect();
    let targets: Vec<f64> = (1..=10).map(|x| slope * f64::from(x)).collect();
    json!({"algorithm": "linear_regression",
        "data": {"rows": rows, "targets": targets, "feature_names": ["x"]}})
}

async fn versions(app: &TestApp, name: &str) -> BTreeSet<u64> {
    let r = app.get(&format!("/v1/models/{name}")).await;
    if r.status != StatusCode::OK {
        return BTreeSet::new();
    }
    r.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_registries_on_one_directory_never_collide() {
    let shared = tempfile::tempdir().unwrap();
    let store = shared.path().join("store");
    let (_da, a) = replica(&store).await;
    let (_db, b) = replica(&store).await;

    // Four versions at once, two through each: four distinct numbers.
    let (ja, jb, jc, jd) = tokio::join!(
        a.train("m", linear(1.0)),
        b.train("m", linear(2.0)),
        a.train("m", linear(3.0)),
        b.train("m", linear(4.0)),
    );
    let got: BTreeSet<u64> = [ja, jb, jc, jd]
        .iter()
        .map(|j| {
            assert_eq!(j["state"], "succeeded", "{j}");
            j["version"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(got, BTreeSet::from([1, 2, 3, 4]));
    for app in [&a, &b] {
        eventually("both see all four", async || {
            versions(app, "m").await == got
        })
        .await;
    }

    // Aliases set through both at once: none lost.
    async fn set(app: &TestApp, alias: String, v: u64) {
        let uri = format!("/v1/models/m/aliases/{alias}");
        let r = app.call("PUT", &uri, Some(json!({"version": v}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let mut moves = Vec::new();
    for i in 0..8u64 {
        moves.push(set(&a, format!("a{i}"), 1 + i % 4));
        moves.push(set(&b, format!("b{i}"), 1 + i % 4));
    }
    futures_util::future::join_all(moves).await;
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(store.join("m/aliases.json")).unwrap()).unwrap();
    let names: BTreeSet<String> = on_disk.as_object().unwrap().keys().cloned().collect();
    let want: BTreeSet<String> = (0..8)
        .flat_map(|i| [format!("a{i}"), format!("b{i}")])
        .collect();
    assert_eq!(names, want, "{on_disk}");
    for app in [&a, &b] {
        eventually("both see every alias", async || {
            app.get("/v1/models/m").await.body["aliases"] == on_disk
        })
        .await;
    }

    let metrics = a.metrics().await;
    let age = sample(&metrics, "modeld_store_sync_age_seconds", &[]).expect("sync age");
    assert!((0.0..1.0).contains(&age), "{age}");
}
