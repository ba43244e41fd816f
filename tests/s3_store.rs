//! The shared S3 store through the real binary: three replicas on one `s3://` store on a
//! moto server (scripts/setup-python.sh installs it; without it the test SKIPs loudly,
//! with `REQUIRE_INTEROP=1` it fails). A version trained on one replica is served by the
//! others within the poll interval; versions registered concurrently on two replicas get
//! distinct numbers; concurrent alias updates are none lost; a version without its
//! manifest is never visible; /readyz stays 200 and predictions never fail meanwhile;
//! `kill -9` of one fails nothing; a fresh replica converges. An unreachable bucket keeps
//! /readyz at 503 (that test needs no moto).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::moto::{Moto, Replica};
use support::{http, http_typed};

const BUCKET: &str = "modeld-replicas";
const POLL_MS: u64 = 200;

/// Trains `name` as y = slope·x (so a prediction tells which version answered); returns
/// the version number.
fn train(addr: &str, name: &str, slope: f64, alias: Option<&str>) -> u64 {
    let rows: Vec<Vec<f64>> = (1..=10).map(|x| vec![f64::from(x)]).collect();
    let targets: Vec<f64> = (1..=10).map(|x| slope * f64::from(x)).collect();
    let mut body = serde_json::json!({"algorithm": "linear_regression",
        "data": {"rows": rows, "targets": targets, "feature_names": ["x"]}});
    if let Some(a) = alias {
        body["alias"] = a.into();
    }
    train_with(addr, name, &body.to_string())
}

/// Starts a training job with `body` and waits for its version.
fn train_with(addr: &str, name: &str, body: &str) -> u64 {
    let url = format!("/v1/models/{name}/train");
    let (status, text) = http(addr, "POST", &url, Some(body));
    assert_eq!(status, 202, "{text}");
    let job: Value = serde_json::from_str(&text).unwrap();
    let url = format!("/v1/jobs/{}", job["job_id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (_, text) = http(addr, "GET", &url, None);
        let job: Value = serde_json::from_str(&text).unwrap();
        match job["state"].as_str() {
            Some("succeeded") => return job["version"].as_u64().unwrap(),
            Some("failed" | "cancelled") => panic!("training failed: {text}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    panic!("training did not finish");
}

/// The prediction for x = 11 by `name` (its default version), if any.
fn predict(addr: &str, name: &str) -> Option<f64> {
    let url = format!("/v1/models/{name}/predict");
    let (status, text) = http(addr, "POST", &url, Some(r#"{"instances": [[11]]}"#));
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&text).ok()?;
    v["predictions"][0].as_f64()
}

fn model(addr: &str, name: &str) -> Option<Value> {
    let (status, text) = http(addr, "GET", &format!("/v1/models/{name}"), None);
    (status == 200).then(|| serde_json::from_str(&text).unwrap())
}

fn versions(addr: &str, name: &str) -> Vec<u64> {
    model(addr, name)
        .map(|m| {
            m["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["version"].as_u64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn aliases(addr: &str, name: &str) -> Value {
    model(addr, name).map_or(Value::Null, |m| m["aliases"].clone())
}

/// Waits until `check` holds, failing after `within`; returns how long it took.
fn converge(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < within,
            "{what}: not converged within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

fn set_alias(addr: &str, name: &str, alias: &str, version: u64) {
    let url = format!("/v1/models/{name}/aliases/{alias}");
    let (status, text) = http(
        addr,
        "PUT",
        &url,
        Some(&format!(r#"{{"version": {version}}}"#)),
    );
    assert_eq!(status, 200, "{url}: {text}");
}

#[test]
fn three_replicas_share_one_s3_store() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket(BUCKET);
    let uri = format!("s3://{BUCKET}/fleet");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Replica> = dirs
        .iter()
        .map(|d| Replica::start(moto.replica(d.path(), &uri, POLL_MS)))
        .collect();
    let [a, b, c] = [&replicas[0].addr, &replicas[1].addr, &replicas[2].addr];
    // One interval, plus the listing and reads themselves on a shared 2-core machine.
    let interval = Duration::from_millis(POLL_MS);
    let within = interval * 3 + Duration::from_secs(2);

    // Trained on A: B and C serve it within the interval.
    assert_eq!(train(a, "m", 2.0, Some("production")), 1);
    for r in [b, c] {
        let took = converge("v1 served everywhere", within, || predict(r, "m").is_some());
        println!("v1 served by {r} {took:?} after registration");
    }
    assert!((predict(c, "m").unwrap() - 22.0).abs() < 1e-6);
    assert!(moto.get_object(BUCKET, "fleet/m/1/manifest.json").is_some());

    // A dataset uploaded on A is trained on by B; all three serve the result.
    let csv: String = std::iter::once("x,y\n".to_string())
        .chain((1..=20).map(|x| format!("{x},{}\n", 5 * x)))
        .collect();
    let (status, text) = http_typed(a, "PUT", "/v1/datasets/line", "text/csv", Some(&csv));
    assert_eq!(status, 201, "{text}");
    let uploaded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(uploaded["rows"], 20);
    let (status, text) = http(c, "GET", "/v1/datasets/line", None);
    assert_eq!(status, 200, "every replica sees the dataset: {text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["sha256"],
        uploaded["sha256"]
    );
    // Larger than two 5 MiB parts: a multipart upload of three parts.
    let big: String = std::iter::once("a,b,c\n".to_string())
        .chain((0..1_000_000).map(|i| format!("{i},{},{}\n", i % 7, i % 2)))
        .collect();
    assert!(big.len() > 10 << 20, "{}", big.len());
    let (status, text) = http_typed(a, "PUT", "/v1/datasets/big", "text/csv", Some(&big));
    assert_eq!(status, 201, "{text}");
    let (status, text) = http(c, "GET", "/v1/datasets/big", None);
    assert_eq!(status, 200, "{text}");
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (shown["rows"].as_u64(), shown["bytes"].as_u64()),
        (Some(1_000_000), Some(big.len() as u64))
    );
    let stored = moto.list_objects(BUCKET, "fleet/_datasets/objects/");
    assert_eq!(stored.len(), 2, "one object per dataset: {stored:?}");
    let body = r#"{"algorithm": "linear_regression", "data": {"dataset": "line", "target": "y"}}"#;
    assert_eq!(train_with(b, "fromdata", body), 1);
    for r in [a, b, c] {
        converge("the dataset's model served everywhere", within, || {
            predict(r, "fromdata").is_some_and(|p| (p - 55.0).abs() < 1e-6)
        });
    }

    // While versions are registered and production moves, C answers every prediction
    // and stays ready.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, served, failed, c) = (stop.clone(), served.clone(), failed.clone(), c.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let ok = predict(&c, "m").is_some() && http(&c, "GET", "/readyz", None).0 == 200;
                let n = if ok { &served } else { &failed };
                n.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Two replicas register versions of one model at once: distinct numbers, none lost.
    let registered: Vec<u64> = std::thread::scope(|s| {
        let jobs: Vec<_> = [a, b, a, b, a, b]
            .into_iter()
            .enumerate()
            .map(|(i, r)| s.spawn(move || train(r, "m", 3.0 + i as f64, None)))
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let mut distinct = registered.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), registered.len(), "{registered:?}");
    let want: Vec<u64> = std::iter::once(1).chain(distinct.iter().copied()).collect();
    for r in [a, b, c] {
        converge("every version everywhere", within, || {
            versions(r, "m") == want
        });
    }

    // Concurrent alias updates from all three: none lost, one value for a contended alias.
    std::thread::scope(|s| {
        for (k, r) in [a, b, c].into_iter().enumerate() {
            let distinct = &distinct;
            s.spawn(move || {
                for (i, v) in distinct.iter().enumerate() {
                    set_alias(r, "m", &format!("r{k}-{i}"), *v);
                    set_alias(r, "m", "contended", *v);
                }
            });
        }
    });
    let complete = |m: &Value| {
        let Some(map) = m.as_object() else {
            return false;
        };
        let mine =
            (0..3).all(|k| (0..distinct.len()).all(|i| map.contains_key(&format!("r{k}-{i}"))));
        mine && map.contains_key("contended") && map.contains_key("production")
    };
    converge(
        "every alias update kept, one value everywhere",
        within,
        || {
            let x = aliases(a, "m");
            complete(&x) && aliases(b, "m") == x && aliases(c, "m") == x
        },
    );

    // A promote on A, then a rollback on B: each is served everywhere within the interval.
    let newest = *distinct.last().unwrap();
    let previous = distinct[distinct.len() - 2];
    set_alias(a, "m", "production", newest);
    let promoted = predict(a, "m").unwrap();
    for r in [b, c] {
        converge("the promote on A served everywhere", within, || {
            predict(r, "m").is_some_and(|p| (p - promoted).abs() < 1e-6)
        });
    }
    set_alias(b, "m", "production", previous);
    let expect = predict(b, "m").unwrap();
    assert!((expect - promoted).abs() > 0.5 && (expect - 22.0).abs() > 1.0);
    for r in [a, c] {
        converge("the rollback on B served everywhere", within, || {
            predict(r, "m").is_some_and(|p| (p - expect).abs() < 1e-6)
        });
    }

    // A version whose objects are there but whose manifest is not is never visible.
    let meta = moto.get_object(BUCKET, "fleet/m/1/meta.json").unwrap();
    let art = moto.get_object(BUCKET, "fleet/m/1/model.json").unwrap();
    moto.put_object(BUCKET, "fleet/m/90/model.json", &art);
    moto.put_object(
        BUCKET,
        "fleet/m/90/meta.json",
        &meta.replace("\"version\": 1", "\"version\": 90"),
    );
    std::thread::sleep(interval * 4);
    for r in [a, b, c] {
        assert!(
            !versions(r, "m").contains(&90),
            "half-written version 90 visible on {r}"
        );
    }
    // One whose files disagree with its manifest is listed as failed, never served.
    let meta95 = meta.replace("\"version\": 1", "\"version\": 95");
    moto.put_object(BUCKET, "fleet/m/95/model.json", &art);
    moto.put_object(BUCKET, "fleet/m/95/meta.json", &meta95);
    let lying = r#"{"version": 95, "files": {"model.json": 1, "meta.json": 1}}"#;
    moto.put_object(BUCKET, "fleet/m/95/manifest.json", lying);
    let failed_95 =
        |r: &str| {
            model(r, "m").is_some_and(|m| {
                m["versions"].as_array().unwrap().iter().any(|v| {
                    v["version"] == 95 && v["status"] == "failed" && v["error"].is_string()
                })
            })
        };
    for r in [a, b, c] {
        converge("corrupt version 95 listed as failed", within, || {
            failed_95(r)
        });
    }
    let (status, _) = http(
        a,
        "POST",
        "/v1/models/m/predict?version=95",
        Some("{\"instances\": [[1]]}"),
    );
    assert_ne!(status, 200);
    // A new version skips the numbers the half-written and corrupt ones hold.
    let after = train(c, "m", 9.0, None);
    assert!(after > 95, "{after}");

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let (served, failed) = (
        served.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert!(served > 50, "only {served} predictions served");
    assert_eq!(failed, 0, "{failed} failed predictions or /readyz answers");

    // kill -9 of one replica fails nothing on the others; a replica started afresh on the
    // store serves what the others do as soon as it is ready.
    let [first, rest @ ..] = <[Replica; 3]>::try_from(replicas).ok().unwrap();
    drop(first.guard);
    for r in &rest {
        assert!((predict(&r.addr, "m").unwrap() - expect).abs() < 1e-6);
    }
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Replica::start(moto.replica(fresh_dir.path(), &uri, POLL_MS));
    assert!((predict(&fresh.addr, "m").unwrap() - expect).abs() < 1e-6);
    // The version trained on C just before may reach the fresh replica (which lists the
    // store as it starts) before the others' next poll: they agree within the interval.
    converge("the fresh replica lists what the others do", within, || {
        versions(&fresh.addr, "m") == versions(&rest[0].addr, "m")
    });
    let (b, replicas) = (&rest[0].addr, &rest);

    // The sync age is exported and small.
    let (_, metrics) = http(b, "GET", "/metrics", None);
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("modeld_store_sync_age_seconds "))
        .expect("modeld_store_sync_age_seconds")
        .trim()
        .parse()
        .unwrap();
    assert!((0.0..2.0).contains(&age), "sync age {age}");
    // No replica logged a secret.
    for r in replicas.iter().chain([&fresh]) {
        let log = r.log.lock().unwrap();
        assert!(!log.iter().any(|l| l.contains("modeld-test-secret")));
    }
}

#[test]
fn an_s3_uri_without_a_bucket_stops_start_up_naming_store_uri() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::modeld(dir.path())
        .env("MODELD_STORE__URI", "s3:///prefix")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("store.uri") && err.contains("no bucket"),
        "{err}"
    );
}

/// An unreachable bucket: the server answers /healthz, /readyz says 503 with a logged
/// reason, and nothing panics or hangs (each try is bounded; the load is retried).
#[test]
fn an_unreachable_bucket_keeps_readyz_at_503() {
    let dir = tempfile::tempdir().unwrap();
    let closed = support::free_port();
    let mut child = support::modeld(dir.path())
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("MODELD_STORE__URI", "s3://nowhere/models")
        .env("AWS_ACCESS_KEY_ID", "k")
        .env("AWS_SECRET_ACCESS_KEY", "unreachable-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .spawn()
        .unwrap();
    let log = support::collect_output(&mut child);
    let _guard = support::Guard(child);
    let addr = support::listening_addr(&log);
    converge("the load failure logged", Duration::from_secs(30), || {
        let lines = log.lock().unwrap();
        lines.iter().any(|l| l.contains("not ready until it can"))
    });
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/readyz", None).0, 503);
    // Never listed: the age counts from start-up and grows, never a fresh-looking 0.
    let age = || {
        let (_, metrics) = http(&addr, "GET", "/metrics", None);
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("modeld_store_sync_age_seconds "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("modeld_store_sync_age_seconds")
    };
    let first = age();
    std::thread::sleep(Duration::from_millis(300));
    let second = age();
    assert!(
        first > 0.0 && second >= first + 0.2,
        "{first} then {second}"
    );
    let lines = log.lock().unwrap();
    assert!(!lines.iter().any(|l| l.contains("panicked")));
    assert!(!lines.iter().any(|l| l.contains("unreachable-secret")));
}
