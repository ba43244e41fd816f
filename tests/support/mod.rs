//! Helpers for tests that run the real binary and real peers on loopback.
#![allow(dead_code)]

pub mod moto;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The real `modeld` binary, logging JSON, run in `dir`.
pub fn modeld(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modeld"));
    // The developer's own MODELD_* settings must not leak into the server under test.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MODELD_")) {
        cmd.env_remove(key);
    }
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("MODELD_DEMO__ENABLED", "false")
        // Off unless a test asks for it: parallel tests would all want port 8081.
        .env("MODELD_GRPC__PORT", "0")
        .env("MODELD_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Kills the child when dropped, so a failing test leaves no server behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads JSON log lines until the "listening" one and returns the bound address.
pub fn wait_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["message"] == "modeld listening" {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return v["addr"].as_str().unwrap().to_string();
        }
    }
    panic!("modeld did not report its address");
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body), status 0 when
/// nothing listens there (yet).
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    http_typed(addr, method, path, "application/json", body)
}

/// [`http`] with a body of another type (a CSV upload).
pub fn http_typed(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&str>,
) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn wait_ready(addr: &str) {
    for _ in 0..500 {
        if http(addr, "GET", "/readyz", None).0 == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{addr} never became ready");
}

/// A free loopback port (bound then released; good enough for a test peer).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Finds an external tool. Returns None (after saying why) when it is missing and the
/// environment variable `require_var` is not `1`; panics when it is required.
pub fn tool(name: &str, require_var: &str) -> Option<String> {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some(name.to_string());
    }
    if std::env::var(require_var).as_deref() == Ok("1") {
        panic!("{name} is required ({require_var}=1) but was not found on PATH");
    }
    eprintln!(
        "SKIPPED: {name} not found; install it (see .ci/run) or set {require_var}=1 to require it"
    );
    None
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A server started by [`start`]: ready, and killed when dropped.
pub struct Running {
    pub guard: Guard,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Starts `cmd` on a free loopback port and waits until it is ready.
pub fn start(cmd: &mut Command) -> Running {
    let mut child = cmd
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let log = collect_output(&mut child);
    let guard = Guard(child);
    let addr = listening_addr(&log);
    wait_ready(&addr);
    Running { guard, addr, log }
}

/// Collects every line the child writes to stdout and stderr.
pub fn collect_output(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("stdout piped");
    let stderr = child.stderr.take().expect("stderr piped");
    let sinks: [Box<dyn Read + Send>; 2] = [Box::new(stdout), Box::new(stderr)];
    for pipe in sinks {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    lines
}

/// The address from the "modeld listening" log line.
pub fn listening_addr(lines: &Mutex<Vec<String>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let found = lines.lock().unwrap().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["message"] == "modeld listening").then(|| v["addr"].as_str().map(str::to_string))?
        });
        if let Some(addr) = found {
            return addr;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("modeld did not report its address");
}

/// A file under tests/fixtures.
pub fn fixture_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}
