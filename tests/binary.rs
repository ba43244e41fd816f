//! The real `modeld` binary on a loopback port: configuration layering, start-up
//! validation and graceful shutdown with a request in flight.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{modeld, wait_listening, wait_ready, Guard};

#[test]
fn flags_beat_environment_beat_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "port = 1\ndata_dir = \"from-file\"\n").unwrap();
    // The file says port 1 and data dir from-file; the environment says data dir
    // from-env; the flag says port 0 (any free port).
    let mut child = modeld(dir.path())
        .env("MODELD_DATA_DIR", "from-env")
        .args([
            "--config",
            file.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .spawn()
        .unwrap();
    let addr = wait_listening(&mut child);
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":1"),
        "{addr}"
    );
    let _guard = Guard(child);
    wait_ready(&addr);
    assert!(dir.path().join("from-env/models").is_dir());
    assert!(!dir.path().join("from-file").exists());
}

#[test]
fn a_bad_setting_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = modeld(dir.path())
        .env("MODELD_SERVER__CONCURRENCY_LIMIT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.concurrency_limit"), "{err}");

    let out = modeld(dir.path())
        .env("MODELD_SERVER__BODY_LIMIT_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("body_limit_bytes"));

    let out = modeld(dir.path())
        .args(["--config", "nope.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[cfg(unix)]
#[test]
fn sigterm_drains_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = modeld(dir.path())
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let addr = wait_listening(&mut child);
    wait_ready(&addr);

    // Start a request and send only half of its body.
    let body = r#"{"instances": [[1.0, 2.0]]}"#;
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/models/absent/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    // Still running: it waits for our request.
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    s.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("\"code\":\"not_found\""), "{response}");

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "did not exit after draining");
        std::thread::sleep(Duration::from_millis(50));
    }
    // New connections are refused once it has stopped.
    assert!(TcpStream::connect(&addr).is_err());
}
