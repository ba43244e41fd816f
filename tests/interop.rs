//! Real clients against the real binary: starts `modeld` on 127.0.0.1:0 and runs
//! tests/interop/suite.py (tritonclient[http] + onnxruntime) with `$MODELD_PYTHON`
//! (default `.venv/bin/python`, made by `scripts/setup-python.sh`).
//!
//! Without that Python or its packages the test prints a loud SKIP and passes, so a
//! plain `cargo test` works on a fresh machine; with `MODELD_REQUIRE_INTEROP=1` (CI) it
//! fails instead.
#![cfg(feature = "onnx")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modeld"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("MODELD_DEMO__ENABLED", "false")
        .env("MODELD_LOG__FORMAT", "json")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["message"] == "modeld listening" {
            std::thread::spawn(move || for _ in lines {});
            return (server, v["addr"].as_str().unwrap().to_string());
        }
    }
    panic!("modeld did not report its address");
}

fn python() -> PathBuf {
    match std::env::var_os("MODELD_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    }
}

/// Why the interop Python cannot run, if it cannot.
fn missing(py: &Path) -> Option<String> {
    let probe = Command::new(py)
        .args(["-c", "import tritonclient.http, onnxruntime, numpy"])
        .output();
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

#[test]
fn tritonclient_and_onnxruntime_agree_with_modeld() {
    let py = python();
    if let Some(why) = missing(&py) {
        if std::env::var("MODELD_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("interop suite required (MODELD_REQUIRE_INTEROP=1) but {why}; run scripts/setup-python.sh");
        }
        eprintln!("\n!!!!!!!! SKIPPED interop suite: {why}\n!!!!!!!! run scripts/setup-python.sh (or set MODELD_PYTHON) to enable it\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&py)
        .arg(root.join("tests/interop/suite.py"))
        .arg(format!("http://{addr}"))
        .arg(root.join("../shared"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "interop suite failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("interop suite passed"), "{stdout}");
}
