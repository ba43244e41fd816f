//! Property 6: with `server.api_key` set, every route of the server's own OpenAPI
//! document (so a new route is covered without editing this file) but the open ones
//! answers 401 `unauthorized` without the key and is let through with it; and the key
//! never shows in the log (at debug level), in /metrics or in any response body.

use std::time::{Duration, Instant};

use crate::client::{check_error, iris_train, Reply, Server};

const KEY: &str = "k3y-that-must-stay-secret";
const OPEN: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Every (method, concrete path) of /openapi.json, GETs first so that the writes (an
/// unload, a delete) come after the reads of what they change.
fn operations(server: &Server, job_id: &str) -> Vec<(String, String)> {
    let doc = server.get("/openapi.json");
    assert_eq!(doc.status, 200, "{}", doc.text());
    let mut ops = Vec::new();
    for (template, item) in doc.json()["paths"].as_object().unwrap() {
        let path = template
            .replace("{name}", "m")
            .replace("{version}", "1")
            .replace("{alias}", "production")
            .replace("{id}", job_id);
        assert!(
            !path.contains('{'),
            "a path parameter this test does not fill: {template}"
        );
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            // A parameter the document puts in the path must be in the template (a
            // query struct without `parameter_in = Query` used to be shown as a path one).
            for param in op["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let name = param["name"].as_str().unwrap_or_default();
                    assert!(
                        template.contains(&format!("{{{name}}}")),
                        "{template}: path parameter '{name}'"
                    );
                }
            }
            let required_query: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .filter_map(|p| p["name"].as_str())
                .collect();
            let query = match required_query.as_slice() {
                [] => String::new(),
                ["format"] => "?format=onnx".to_string(),
                other => panic!(
                    "{template}: required query parameters this test does not fill: {other:?}"
                ),
            };
            ops.push((method.to_uppercase(), format!("{path}{query}")));
        }
    }
    ops.sort_by_key(|(m, p)| (m != "GET", p.clone()));
    ops
}

fn without_key(server: &Server, method: &str, path: &str) -> Reply {
    let ct = [("Content-Type", "application/json")];
    crate::client::request(&server.addr, method, path, &ct, b"{}")
}

#[cfg(unix)]
#[test]
fn every_route_but_the_open_ones_needs_the_key_and_the_key_never_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("MODELD_SERVER__API_KEY", KEY),
            ("MODELD_LOG__FILTER", "modeld=debug,tower_http=debug"),
        ],
    );
    let job = server.train("m", &iris_train(1, Some("production")));
    assert_eq!(job["state"], "succeeded", "{job}");
    let job_id = job["job_id"].as_str().unwrap().to_string();
    // Every GET below must find what it names, the dataset `m` too.
    let uploaded = server.send(
        "PUT",
        "/v1/datasets/m",
        &[("Content-Type", "text/csv")],
        b"a,b\n1,2\n",
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.text());
    let ops = operations(&server, &job_id);
    assert!(
        ops.len() >= 25,
        "only {} operations in /openapi.json",
        ops.len()
    );
    assert!(
        ops.iter()
            .any(|(m, p)| m == "POST" && p == "/v1/models/m/predict"),
        "{ops:?}"
    );

    let mut bodies = Vec::new();
    for (method, path) in &ops {
        let r = without_key(&server, method, path);
        if OPEN.contains(&path.as_str()) {
            assert_ne!(r.status, 401, "{method} {path} is open");
        } else {
            check_error(&r, 401, "unauthorized").unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        }
        bodies.push(format!("{}\n{}", r.head, r.text()));
        let wrong = crate::client::request(
            &server.addr,
            method,
            path,
            &[("Authorization", "Bearer k3y-that-must-stay-secreT")],
            b"",
        );
        if !OPEN.contains(&path.as_str()) {
            assert_eq!(wrong.status, 401, "{method} {path} with a wrong key");
        }
    }
    for (method, path) in &ops {
        let ct = [("Content-Type", "application/json")];
        let r = server.send(method, path, &ct, b"{}");
        assert!(
            r.status != 401 && r.status < 500,
            "{method} {path} with the key: {} {}",
            r.status,
            r.text()
        );
        if method == "GET" {
            assert_eq!(r.status, 200, "{method} {path} with the key: {}", r.text());
        }
        bodies.push(format!("{}\n{}", r.head, r.text()));
    }
    let metrics = server.get("/metrics");
    assert!(
        metrics.text().contains("modeld_http_requests_total"),
        "{}",
        metrics.text()
    );
    bodies.push(metrics.text());
    for body in &bodies {
        assert!(!body.contains(KEY), "the key is in a response: {body}");
    }

    // Stop it, so that everything it logged has been written.
    let pid = server.guard.0.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut server = server;
    while server.guard.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let logs = server.logs();
    assert!(logs.contains("configuration resolved"), "{logs}");
    assert!(logs.contains("modeld stopped"), "{logs}");
    // Debug level really was on: each request was logged with its URI.
    assert!(
        logs.contains("/v1/models/m/predict"),
        "no request spans in the log"
    );
    assert!(!logs.contains(KEY), "the key is in the logs");
    assert!(
        logs.contains("api_key: Some(***)"),
        "the setting is shown masked: {logs}"
    );
}
