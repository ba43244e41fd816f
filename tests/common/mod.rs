//! Test harness: an in-process app over a temporary data dir, driven with `oneshot`, and
//! loaders for the reference data in tests/fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use modeld::{AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct TestApp {
    pub router: modeld::api::App,
    pub state: AppState,
}

pub fn config(dir: &Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    cfg.demo.enabled = false;
    cfg
}

/// An app over `cfg` whose store has been loaded (as at the end of start-up).
pub async fn app_with(cfg: Config) -> TestApp {
    let state = AppState::new(cfg).unwrap();
    let s = state.clone();
    tokio::task::spawn_blocking(move || modeld::load_store(&s))
        .await
        .unwrap();
    TestApp {
        router: modeld::app(state.clone()).expect("the app builds"),
        state,
    }
}

pub async fn app(dir: &Path) -> TestApp {
    app_with(config(dir)).await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    pub raw: Vec<u8>,
}

impl TestApp {
    pub async fn request(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
            raw: bytes.to_vec(),
        }
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Reply {
        let builder = Request::builder().method(method).uri(uri);
        let req = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        self.request(req).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call("GET", uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call("POST", uri, Some(body)).await
    }

    /// Starts a training job and waits for it to finish; returns the final job.
    pub async fn train(&self, model: &str, body: Value) -> Value {
        let r = self.post(&format!("/v1/models/{model}/train"), body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let id = r.body["job_id"].as_str().unwrap().to_string();
        self.wait_job(&id).await
    }

    pub async fn wait_job(&self, id: &str) -> Value {
        for _ in 0..6000 {
            let r = self.get(&format!("/v1/jobs/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let state = r.body["state"].as_str().unwrap().to_string();
            if ["succeeded", "failed", "cancelled"].contains(&state.as_str()) {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} did not finish");
    }

    pub async fn metrics(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status, StatusCode::OK);
        r.text
    }
}

/// Path to a reference file in the repository's tests/fixtures (read-only).
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<f64>>,
    pub targets: Vec<f64>,
}

pub fn read_csv(path: &Path) -> Csv {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let mut vals: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        targets.push(vals.pop().unwrap());
        rows.push(vals);
    }
    Csv {
        header,
        rows,
        targets,
    }
}

pub fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("data/reference.json")).unwrap()).unwrap()
}

pub fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

/// Inline training data for `rows` of a CSV.
pub fn rows_data(csv: &Csv, idx: &[usize]) -> Value {
    let features = &csv.header[..csv.header.len() - 1];
    json!({
        "rows": idx.iter().map(|&i| csv.rows[i].clone()).collect::<Vec<_>>(),
        "targets": idx.iter().map(|&i| csv.targets[i]).collect::<Vec<_>>(),
        "feature_names": features,
    })
}

/// A small iris-like classifier trained through the API, returning its version.
pub async fn train_iris(app: &TestApp, name: &str, alias: Option<&str>) -> u64 {
    let csv = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let mut body = json!({
        "algorithm": "softmax_regression",
        "data": {"csv": csv, "target": "target", "class_names": ["setosa", "versicolor", "virginica"]},
        "params": {"seed": 7},
    });
    if let Some(a) = alias {
        body["alias"] = json!(a);
    }
    let job = app.train(name, body).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["version"].as_u64().unwrap()
}

/// One Prometheus sample: the value of `name` whose labels include all of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let ok = labels
                .iter()
                .all(|(k, v)| rest.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
            ok.then(|| value.parse().ok()).flatten()
        })
        .next()
}

/// `rows` rows of a,b,y with y = slope·a − 0.5·b + 1: a small CSV whose fitted weights
/// tell which version of it was trained on.
pub fn prices_csv(rows: usize, slope: f64) -> String {
    let mut text = String::from("a,b,y\n");
    for i in 0..rows {
        let (a, b) = (i as f64 / 10.0, (i % 7) as f64);
        text.push_str(&format!("{a},{b},{}\n", slope * a - 0.5 * b + 1.0));
    }
    text
}
