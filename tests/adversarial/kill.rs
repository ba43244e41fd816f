//! Property 2: `kill -9` in the middle of store writes. A writer trains, imports ONNX
//! files, moves the `production` alias and deletes versions while the process is killed
//! at a random moment; after a restart on the same data dir every acknowledged write is
//! there and predicts as before, and every version listed predicts (nothing half-written
//! is served). The write in flight at the kill may or may not have happened.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::{iris_predict, iris_train, long, prediction, Server};
use crate::support::fixture_path;

const TRAINED: &str = "k";
const IMPORTED: &str = "u";

/// A write that was sent but not (yet) acknowledged.
#[derive(Clone, Debug)]
enum InFlight {
    Create,
    Alias(u64),
    Delete(String, u64),
}

/// What the server has acknowledged: each version with its prediction, and the alias.
#[derive(Default)]
struct Acked {
    versions: BTreeMap<(String, u64), Value>,
    production: Option<u64>,
    in_flight: Option<InFlight>,
    writes: usize,
}

/// xorshift64: the trial's moments, reproducible from the printed seed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn predict(server: &Server, model: &str, version: u64) -> Result<Value, String> {
    let r = server.json(
        "POST",
        &format!("/v1/models/{model}/predict?version={version}"),
        &iris_predict(),
    );
    prediction(&r, 3)
}

/// Versions and the production alias of each model the server lists.
fn listing(server: &Server) -> BTreeMap<String, (Vec<u64>, Option<u64>)> {
    let r = server.get("/v1/models");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut out = BTreeMap::new();
    for m in r.json()["models"].as_array().unwrap() {
        let versions = m["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        out.insert(
            m["name"].as_str().unwrap().to_string(),
            (versions, m["aliases"]["production"].as_u64()),
        );
    }
    out
}

/// Checks the restarted server against what was acknowledged, then makes what it serves
/// the new baseline.
fn verify_and_rebase(server: &Server, acked: &mut Acked) {
    let listed = listing(server);
    let in_flight = acked.in_flight.take();
    for ((model, version), expected) in &acked.versions {
        if let Some(InFlight::Delete(m, v)) = &in_flight {
            if m == model && v == version {
                continue;
            }
        }
        let present = listed
            .get(model)
            .is_some_and(|(vs, _)| vs.contains(version));
        assert!(
            present,
            "acknowledged {model} v{version} is gone after the kill: {listed:?}"
        );
        let served = predict(server, model, *version).unwrap();
        if !expected.is_null() {
            assert_eq!(
                &served, expected,
                "{model} v{version} predicts differently after the kill"
            );
        }
    }
    let production = listed.get(TRAINED).and_then(|(_, p)| *p);
    let moving = match in_flight {
        Some(InFlight::Alias(v)) => Some(v),
        _ => None,
    };
    assert!(
        production == acked.production || (moving.is_some() && production == moving),
        "production is {production:?}, acknowledged {:?} (in flight {moving:?})",
        acked.production
    );
    acked.versions.clear();
    for (model, (versions, _)) in &listed {
        for v in versions {
            let served = predict(server, model, *v).unwrap_or_else(|e| {
                panic!("listed {model} v{v} does not serve after the kill: {e}")
            });
            acked.versions.insert((model.clone(), *v), served);
        }
    }
    acked.production = production;
}

/// One write, acknowledged or not; an error when the server stopped answering or refused.
fn write_once(
    server: &Server,
    step: usize,
    acked: &Mutex<Acked>,
    onnx: &[u8],
) -> Result<(), String> {
    let latest = |model: &str, a: &Acked| {
        a.versions
            .keys()
            .filter(|(m, _)| m == model)
            .map(|(_, v)| *v)
            .max()
    };
    let created = match step % 4 {
        0 | 1 => {
            acked.lock().unwrap().in_flight = Some(InFlight::Create);
            let (model, version) = if step.is_multiple_of(4) {
                let r = server.json(
                    "POST",
                    &format!("/v1/models/{TRAINED}/train"),
                    &iris_train(step as u64, None),
                );
                let id = r.json()["job_id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or(r.text())?;
                let job = server.wait_job(&id).ok_or("job lost")?;
                (TRAINED, job["version"].as_u64().ok_or(job.to_string())?)
            } else {
                let ct = [("Content-Type", "application/octet-stream")];
                let r = server.send(
                    "POST",
                    &format!("/v1/models/{IMPORTED}/versions"),
                    &ct,
                    onnx,
                );
                (IMPORTED, r.json()["version"].as_u64().ok_or(r.text())?)
            };
            Some((model, version))
        }
        2 => {
            let Some(v) = latest(TRAINED, &acked.lock().unwrap()) else {
                return Ok(());
            };
            acked.lock().unwrap().in_flight = Some(InFlight::Alias(v));
            let r = server.json(
                "PUT",
                &format!("/v1/models/{TRAINED}/aliases/production"),
                &json!({"version": v}),
            );
            if r.status != 200 {
                return Err(r.text());
            }
            let mut a = acked.lock().unwrap();
            a.production = Some(v);
            None
        }
        _ => {
            let victim = {
                let a = acked.lock().unwrap();
                // Never the newest of a model, nor what production points to.
                a.versions
                    .keys()
                    .find(|(m, v)| {
                        latest(m, &a) != Some(*v) && (m != TRAINED || a.production != Some(*v))
                    })
                    .cloned()
            };
            let Some((model, v)) = victim else {
                return Ok(());
            };
            acked.lock().unwrap().in_flight = Some(InFlight::Delete(model.clone(), v));
            let r = server.send(
                "DELETE",
                &format!("/v1/models/{model}/versions/{v}"),
                &[],
                b"",
            );
            if r.status != 200 && r.status != 204 {
                return Err(r.text());
            }
            acked.lock().unwrap().versions.remove(&(model, v));
            None
        }
    };
    if let Some((model, version)) = created {
        let key = (model.to_string(), version);
        // Acknowledged: it must be there after a restart, predicting what it predicts now.
        acked
            .lock()
            .unwrap()
            .versions
            .insert(key.clone(), Value::Null);
        let served = predict(server, model, version)?;
        acked.lock().unwrap().versions.insert(key, served);
    }
    let mut a = acked.lock().unwrap();
    a.in_flight = None;
    a.writes += 1;
    Ok(())
}

fn trial(dir: &Path, acked: &Arc<Mutex<Acked>>, delay_ms: u64, onnx: &Arc<Vec<u8>>) {
    let server = Arc::new(Server::start(dir, &[]));
    verify_and_rebase(&server, &mut acked.lock().unwrap());
    let killed = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, acked, killed, onnx) =
            (server.clone(), acked.clone(), killed.clone(), onnx.clone());
        std::thread::spawn(move || {
            // Trials start at different kinds of write so the kills land in each.
            for step in (delay_ms as usize % 4).. {
                if let Err(e) = write_once(&server, step, &acked, &onnx) {
                    assert!(
                        killed.load(Ordering::SeqCst),
                        "write {step} failed before the kill: {e}"
                    );
                    return;
                }
                if killed.load(Ordering::SeqCst) {
                    return;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(delay_ms));
    killed.store(true, Ordering::SeqCst);
    // SIGKILL through the pid: the writer thread still holds the server handle.
    let pid = server.guard.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    writer.join().unwrap();
    drop(server);
}

#[cfg(unix)]
#[test]
fn acknowledged_writes_survive_kill_9_and_nothing_half_written_is_served() {
    let trials = if long() { 20 } else { 3 };
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill trials: {trials}, seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let onnx =
        Arc::new(std::fs::read(fixture_path("models/logreg_multinomial_iris.onnx")).unwrap());
    let acked = Arc::new(Mutex::new(Acked::default()));
    for t in 0..trials {
        let delay_ms = 100 + next(&mut seed) % 700;
        trial(dir.path(), &acked, delay_ms, &onnx);
        eprintln!(
            "trial {t}: killed after {delay_ms} ms, {} writes acknowledged so far",
            acked.lock().unwrap().writes
        );
    }
    let server = Server::start(dir.path(), &[]);
    verify_and_rebase(&server, &mut acked.lock().unwrap());
    let a = acked.lock().unwrap();
    assert!(
        a.writes >= trials,
        "only {} writes were acknowledged",
        a.writes
    );
    assert!(!a.versions.is_empty(), "nothing survived at all");
}
