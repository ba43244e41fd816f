//! The suite's view of the server: the real binary on a loopback port, a blocking
//! HTTP/1.1 client that can send anything (any header, no content type, a lying length),
//! and the observations every property compares (state snapshot, a valid prediction).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{collect_output, fixture_path, listening_addr, modeld, wait_ready, Guard};

/// Every machine code of docs/API.md's error table.
pub const API_CODES: &[&str] = &[
    "invalid_json",
    "invalid_input",
    "not_found",
    "conflict",
    "payload_too_large",
    "unauthorized",
    "busy",
    "overloaded",
    "timeout",
    "internal",
    "method_not_allowed",
    "unsupported_media_type",
    "unavailable",
    "training_disabled",
    "read_only_store",
];

pub const IRIS_ROWS: [[f64; 4]; 3] = [
    [5.1, 3.5, 1.4, 0.2],
    [6.0, 2.7, 5.1, 1.6],
    [6.7, 3.0, 5.2, 2.3],
];

/// Long variants run only with `LONG_TESTS=1` (CI sets it).
pub fn long() -> bool {
    std::env::var("LONG_TESTS").as_deref() == Ok("1")
}

pub struct Server {
    pub guard: Guard,
    pub addr: String,
    pub output: Arc<Mutex<Vec<String>>>,
    pub key: Option<String>,
}

impl Server {
    /// The binary over `data_dir` with the given `MODELD_*` settings, once ready.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = modeld(data_dir);
        cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        let mut key = None;
        for (k, v) in env {
            if *k == "MODELD_SERVER__API_KEY" {
                key = Some(v.to_string());
            }
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let output = collect_output(&mut child);
        let addr = listening_addr(&output);
        wait_ready(&addr);
        Server {
            guard: Guard(child),
            addr,
            output,
            key,
        }
    }

    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        let bearer = self.key.as_ref().map(|k| format!("Bearer {k}"));
        if let Some(b) = &bearer {
            all.push(("Authorization", b));
        }
        request(&self.addr, method, path, &all, body)
    }

    pub fn json(&self, method: &str, path: &str, body: &Value) -> Reply {
        let text = body.to_string();
        let ct = [("Content-Type", "application/json")];
        self.send(method, path, &ct, text.as_bytes())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], b"")
    }

    /// Starts a job and waits for its end; returns the job's JSON.
    pub fn train(&self, model: &str, body: &Value) -> Value {
        let r = self.json("POST", &format!("/v1/models/{model}/train"), body);
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["job_id"].as_str().unwrap().to_string();
        self.wait_job(&id).unwrap()
    }

    /// Polls a job until it ends; None when the server stops answering.
    pub fn wait_job(&self, id: &str) -> Option<Value> {
        for _ in 0..3000 {
            let r = self.get(&format!("/v1/jobs/{id}"));
            if r.status != 200 {
                return None;
            }
            let job = r.json();
            if !matches!(job["state"].as_str(), Some("queued" | "running")) {
                return Some(job);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("job {id} did not finish");
    }

    /// What a bad request must leave alone: models with versions and aliases, and jobs.
    pub fn snapshot(&self) -> (Value, Value) {
        let models = self.get("/v1/models");
        assert_eq!(models.status, 200, "{}", models.text());
        let jobs = self.get("/v1/jobs");
        assert_eq!(jobs.status, 200, "{}", jobs.text());
        (models.json(), jobs.json())
    }

    pub fn alive(&self) -> bool {
        self.get("/healthz").status == 200
    }

    pub fn logs(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

/// A small iris softmax model's training request.
pub fn iris_train(seed: u64, alias: Option<&str>) -> Value {
    let csv = std::fs::read_to_string(fixture_path("data/iris.csv")).unwrap();
    let mut body = json!({
        "algorithm": "softmax_regression",
        "data": {"csv": csv, "target": "target"},
        "params": {"seed": seed},
    });
    if let Some(a) = alias {
        body["alias"] = json!(a);
    }
    body
}

pub fn iris_predict() -> Value {
    json!({ "instances": IRIS_ROWS })
}

/// The prediction part of a predict answer, or why it is not a valid one.
pub fn prediction(r: &Reply, rows: usize) -> Result<Value, String> {
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.text()));
    }
    let v = r.json();
    let preds = v["predictions"].as_array().ok_or_else(|| r.text())?;
    if preds.len() != rows || v["version"].as_u64().is_none() {
        return Err(format!("not {rows} predictions: {}", r.text()));
    }
    Ok(json!({"predictions": v["predictions"], "probabilities": v["probabilities"]}))
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, `Null` when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request on its own connection. A `Content-Length` is added unless `headers` set
/// one or a `Transfer-Encoding`. Status 0: nothing listens or the connection broke.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let broken = Reply {
        status: 0,
        head: String::new(),
        body: Vec::new(),
    };
    let Ok(mut s) = TcpStream::connect(addr) else {
        return broken;
    };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let framed = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer (413, 401) and close before reading all of a large body.
    let _ = s.write_all(&bytes);
    read_reply(&mut s).unwrap_or(broken)
}

/// Reads one whole `Connection: close` answer.
pub fn read_reply(s: &mut TcpStream) -> Option<Reply> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Some(Reply { status, head, body })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    out
}

/// An error answer as API.md has it: the status, and a JSON body with a string `error`
/// and a `code` from the table.
pub fn check_error(r: &Reply, status: u16, code: &str) -> Result<(), String> {
    let v = r.json();
    let ok = r.status == status
        && v["error"].is_string()
        && v["code"] == code
        && API_CODES.contains(&code);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "want {status} {code}, got {} {}",
            r.status,
            r.text().chars().take(300).collect::<String>()
        ))
    }
}
