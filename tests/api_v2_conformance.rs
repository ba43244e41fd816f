//! OIP REST conformance over a real socket (hyper's HTTP/1.1 parsing, the edge, the
//! router): trailing slashes, the infer `id`, non-numeric versions, and binary outputs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

/// The app of `common` served on 127.0.0.1:0; returns its address.
async fn serve(app: &common::TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(app.router.clone());
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

/// A raw HTTP/1.1 exchange: (status, headers as lower-case lines, body bytes).
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Raw {
    let (addr, method, path) = (addr.to_string(), method.to_string(), path.to_string());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&out[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = out[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
            body = dechunk(&body);
        }
        Raw { status, headers, body }
    })
    .await
    .unwrap()
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

const ROWS: [[f64; 4]; 2] = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];

fn infer_body(extra: Value) -> Vec<u8> {
    let mut body = json!({"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64",
        "data": ROWS.iter().flatten().collect::<Vec<_>>()}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body.to_string().into_bytes()
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn json_header() -> [(&'static str, String); 1] {
    [(JSON.0, JSON.1.to_string())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_slashes_route_like_the_plain_paths() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let addr = serve(&app).await;
    for (plain, slashed) in [
        ("/v2", "/v2/"),
        ("/v2/health/live", "/v2/health/live/"),
        ("/v2/health/ready", "/v2/health/ready/"),
        ("/v2/models/iris", "/v2/models/iris/"),
        ("/v2/models/iris/ready", "/v2/models/iris/ready/"),
        ("/v2/models/iris/versions/1", "/v2/models/iris/versions/1/"),
        (
            "/v2/models/iris/versions/1/ready",
            "/v2/models/iris/versions/1/ready/",
        ),
    ] {
        let a = raw(&addr, "GET", plain, &[], Vec::new()).await;
        let b = raw(&addr, "GET", slashed, &[], Vec::new()).await;
        assert_eq!(a.status, 200, "{plain}");
        assert_eq!(
            b.status,
            200,
            "{slashed}: {}",
            String::from_utf8_lossy(&b.body)
        );
        assert_eq!(a.json(), b.json(), "{slashed}");
    }
    for path in [
        "/v2/models/iris/infer/",
        "/v2/models/iris/versions/1/infer/",
    ] {
        let r = raw(&addr, "POST", path, &json_header(), infer_body(json!({}))).await;
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Only V2 paths are folded.
    assert_eq!(
        raw(&addr, "GET", "/v1/models/iris/", &[], Vec::new())
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_infer_response_has_an_id_and_bad_versions_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let addr = serve(&app).await;
    let path = "/v2/models/iris/infer";
    // The body's id wins.
    let r = raw(
        &addr,
        "POST",
        path,
        &json_header(),
        infer_body(json!({"id": "abc"})),
    )
    .await;
    assert_eq!(r.json()["id"], "abc");
    // Else the client's x-request-id.
    let headers = [
        (JSON.0, JSON.1.to_string()),
        ("x-request-id", "rid-7".to_string()),
    ];
    let r = raw(&addr, "POST", path, &headers, infer_body(json!({}))).await;
    assert_eq!(r.json()["id"], "rid-7");
    // Else the id the server generated, which it also sends back as x-request-id.
    for p in [
        path,
        "/v2/models/iris/versions/1/infer",
        "/v2/models/ir%69s/infer",
    ] {
        let r = raw(&addr, "POST", p, &json_header(), infer_body(json!({}))).await;
        assert_eq!(r.status, 200, "{p}");
        let id = r.json()["id"].as_str().map(str::to_string);
        assert!(
            id.as_deref().is_some_and(|id| !id.is_empty()),
            "{p}: {:?}",
            r.json()
        );
        assert_eq!(id.as_deref(), r.header("x-request-id"), "{p}");
    }
    for p in [
        "/v2/models/iris/versions/v10",
        "/v2/models/iris/versions/v10/ready",
        "/v2/models/iris/versions/0",
    ] {
        let r = raw(&addr, "GET", p, &[], Vec::new()).await;
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.json()["code"], "not_found", "{p}");
    }
    let r = raw(
        &addr,
        "POST",
        "/v2/models/iris/versions/v10/infer",
        &json_header(),
        infer_body(json!({})),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("v10"));
}

fn le_f64(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn le_i64(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_outputs_follow_the_json_header() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path()).await;
    common::train_iris(&app, "iris", None).await;
    let addr = serve(&app).await;
    let path = "/v2/models/iris/infer";
    let plain = raw(&addr, "POST", path, &json_header(), infer_body(json!({})))
        .await
        .json();

    // Request level: every output binary.
    let r = raw(
        &addr,
        "POST",
        path,
        &json_header(),
        infer_body(json!({"parameters": {"binary_data_output": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let n: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    let outs = head["outputs"].as_array().unwrap();
    assert_eq!(outs.len(), 2);
    let mut at = n;
    let mut parts = Vec::new();
    for o in outs {
        assert!(o.get("data").is_none(), "{o}");
        let size = o["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
        parts.push(&r.body[at..at + size]);
        at += size;
    }
    assert_eq!(at, r.body.len(), "no bytes after the last output");
    let labels: Vec<i64> = plain["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let probs: Vec<f64> = plain["outputs"][1]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(le_i64(parts[0]), labels);
    assert_eq!(le_f64(parts[1]), probs);
    assert_eq!(head["outputs"][1]["shape"], plain["outputs"][1]["shape"]);

    // Per output: only the one asked for is binary, the other stays JSON.
    let r = raw(
        &addr,
        "POST",
        path,
        &json_header(),
        infer_body(json!({"outputs": [
        {"name": "label"},
        {"name": "probabilities", "parameters": {"binary_data": true}}]})),
    )
    .await;
    let n: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    assert_eq!(head["outputs"][0]["data"], plain["outputs"][0]["data"]);
    assert_eq!(head["outputs"][1]["parameters"]["binary_data_size"], 48);
    assert_eq!(le_f64(&r.body[n..]), probs);

    // An output's own `false` wins over the request's `true`; JSON answers carry no header.
    let r = raw(
        &addr,
        "POST",
        path,
        &json_header(),
        infer_body(json!({
        "parameters": {"binary_data_output": true},
        "outputs": [{"name": "label", "parameters": {"binary_data": false}}]})),
    )
    .await;
    assert!(r.header("inference-header-content-length").is_none());
    assert_eq!(r.json()["outputs"][0]["data"], plain["outputs"][0]["data"]);

    // A flag that is not a boolean is refused.
    let r = raw(
        &addr,
        "POST",
        path,
        &json_header(),
        infer_body(json!({"parameters": {"binary_data_output": "yes"}})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("binary_data_output"));
}
