//! Real clients against the real binary: starts `modeld` on 127.0.0.1:0 and runs
//! tests/interop/suite.py (tritonclient[http] + onnxruntime) and
//! tests/interop/grpc_suite.py (tritonclient[grpc], with an API key and a small body
//! limit) and tests/interop/kserve_suite.py (KServe's Python SDK, REST and gRPC) with
//! `$INTEROP_PYTHON` (default `.venv/bin/python`, made by
//! `scripts/setup-python.sh`).
//!
//! Without that Python or its packages the test prints a loud SKIP and passes, so a
//! plain `cargo test` works on a fresh machine; with `REQUIRE_INTEROP=1` (CI) it
//! fails instead.
#![cfg(feature = "onnx")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{modeld, wait_listening, Guard};

/// The real binary on a loopback port, killed when the guard drops.
fn start(dir: &Path) -> (Guard, String) {
    let mut child = modeld(dir)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let addr = wait_listening(&mut child);
    (Guard(child), addr)
}

fn python() -> PathBuf {
    match std::env::var_os("INTEROP_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    }
}

/// The clients the tritonclient suites import; the KServe suite runs in a process of its
/// own because kserve and tritonclient register the same protobuf names.
const TRITON_IMPORTS: &str = "import tritonclient.http, tritonclient.grpc, onnxruntime, numpy";
const KSERVE_IMPORTS: &str = "import kserve, numpy";

/// Why the interop Python cannot run `imports`, if it cannot.
fn missing(py: &Path, imports: &str) -> Option<String> {
    let probe = Command::new(py).args(["-c", imports]).output();
    match probe {
        Err(e) => Some(format!("cannot run {}: {e}", py.display())),
        Ok(o) if !o.status.success() => Some(format!(
            "{} lacks the packages: {}",
            py.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// The interop Python, or `None` (after a loud SKIP) when it cannot run and CI does not
/// require it.
fn python_or_skip(imports: &str) -> Option<PathBuf> {
    let py = python();
    if let Some(why) = missing(&py, imports) {
        if std::env::var("REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!(
                "interop suite required (REQUIRE_INTEROP=1) but {why}; run scripts/setup-python.sh"
            );
        }
        eprintln!("\n!!!!!!!! SKIPPED interop suite: {why}\n!!!!!!!! run scripts/setup-python.sh (or set INTEROP_PYTHON) to enable it\n");
        return None;
    }
    Some(py)
}

/// Runs `script` (under tests/interop) with `args`; fails with its output unless it exits
/// 0 and prints `passed`.
fn run_suite(py: &Path, script: &str, args: &[String], passed: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(py)
        .arg(root.join("tests/interop").join(script))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(passed), "{stdout}");
}

/// The fixtures directory, as the suites take it.
fn fixtures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .display()
        .to_string()
}

#[test]
fn tritonclient_and_onnxruntime_agree_with_modeld() {
    let Some(py) = python_or_skip(TRITON_IMPORTS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path());
    let args = [format!("http://{addr}"), fixtures()];
    run_suite(&py, "suite.py", &args, "interop suite passed");
}

/// A port free a moment ago: `grpc.port` 0 turns gRPC off, so the test picks one.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The real binary with gRPC on a free port, the API key `key` and extra environment;
/// the guard, the HTTP base URL and the gRPC address.
fn start_with_grpc(dir: &Path, key: &str, env: &[(&str, &str)]) -> (Guard, String, String) {
    let grpc = free_port().to_string();
    let mut child = modeld(dir)
        .args(["--host", "127.0.0.1", "--port", "0", "--grpc-port", &grpc])
        .env("MODELD_SERVER__API_KEY", key)
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    let addr = wait_listening(&mut child);
    (
        Guard(child),
        format!("http://{addr}"),
        format!("127.0.0.1:{grpc}"),
    )
}

#[test]
fn tritonclient_grpc_agrees_with_rest() {
    let Some(py) = python_or_skip(TRITON_IMPORTS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (key, limit) = ("interop-grpc-key", "262144");
    let env = [("MODELD_SERVER__BODY_LIMIT_BYTES", limit)];
    let (_server, base, grpc) = start_with_grpc(dir.path(), key, &env);
    let args = [base, grpc, fixtures(), key.into(), limit.into()];
    run_suite(&py, "grpc_suite.py", &args, "grpc interop suite passed");
}

#[test]
fn kserve_sdk_clients_agree_with_rest() {
    let Some(py) = python_or_skip(KSERVE_IMPORTS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = "interop-kserve-key";
    let (_server, base, grpc) = start_with_grpc(dir.path(), key, &[]);
    let args = [base, grpc, fixtures(), key.into()];
    run_suite(&py, "kserve_suite.py", &args, "kserve interop suite passed");
}
