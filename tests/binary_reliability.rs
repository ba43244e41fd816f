//! The real `modeld` binary on loopback: secrets kept out of its logs and metrics, and
//! clients that stall their bodies.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{collect_output, http, listening_addr, modeld, wait_ready, Guard};

fn get_with_key(addr: &str, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[cfg(unix)]
#[test]
fn the_api_key_never_reaches_the_logs_or_the_metrics() {
    let key = "k3y-that-must-stay-secret";
    let dir = tempfile::tempdir().unwrap();
    let mut child = modeld(dir.path())
        .env("MODELD_SERVER__API_KEY", key)
        // Every log line there is, request spans included.
        .env("MODELD_LOG__FILTER", "modeld=debug")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let lines = collect_output(&mut child);
    let addr = listening_addr(&lines);
    let mut guard = Guard(child);
    wait_ready(&addr);

    assert!(get_with_key(&addr, "/v1/models", key).starts_with("HTTP/1.1 200"));
    assert!(get_with_key(&addr, "/v1/models", "wrong-key").starts_with("HTTP/1.1 401"));
    assert!(get_with_key(&addr, "/v1/models/absent", key).starts_with("HTTP/1.1 404"));
    let (status, metrics) = http(&addr, "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(metrics.contains("modeld_http_requests_total"), "{metrics}");
    assert!(!metrics.contains(key), "the key is in /metrics");

    // Stop it, so that everything it logged has been written.
    let pid = guard.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while guard.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let logs = lines.lock().unwrap().join("\n");
    assert!(logs.contains("configuration resolved"), "{logs}");
    assert!(logs.contains("modeld stopped"), "{logs}");
    assert!(!logs.contains(key), "the key is in the logs:\n{logs}");
    // The setting is shown, masked.
    assert!(logs.contains("api_key: Some(***)"), "{logs}");
}

#[test]
fn clients_that_stall_their_bodies_get_408_and_free_their_slots() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = modeld(dir.path())
        .env("MODELD_SERVER__CONCURRENCY_LIMIT", "2")
        .env("MODELD_SERVER__BODY_TIMEOUT_MS", "300")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let lines = collect_output(&mut child);
    let addr = listening_addr(&lines);
    let _guard = Guard(child);
    wait_ready(&addr);

    // Headers and a tenth of the body, then nothing: as many as the server takes at once.
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let head = "POST /v1/models/absent/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"instances\"";
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    for mut s in stalled {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let response = String::from_utf8_lossy(&buf[..n]);
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(response.contains("\"code\":\"timeout\""), "{response}");
    }
    let (status, body) = http(&addr, "GET", "/v1/models", None);
    assert_eq!(status, 200, "{body}");
}
