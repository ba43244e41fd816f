//! Bare-axum baseline for bench/run.sh: the strongest plain implementation of a one-model
//! server, with nothing else (no routing by model, validation, metrics, request ids or
//! logging). `instances` parses straight into fixed-width rows (serde rejects a row of
//! another width) and each prediction is a fixed-width dot product the compiler unrolls.
//!
//! With `--same-response` it answers modeld's wire contract instead (API.md): an
//! `x-request-id` header (echoed or a new UUID v4) and `model`, `version` and `request_id`
//! beside the predictions. That is the plain implementation of the same API, so the
//! bench can tell what the contract's bytes cost from what modeld's own work costs.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    instances: Vec<[f64; 10]>,
}

#[derive(Serialize)]
struct Response {
    predictions: Vec<f64>,
}

#[derive(Serialize)]
struct ContractResponse {
    model: &'static str,
    version: u64,
    request_id: String,
    predictions: Vec<f64>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const WEIGHTS: [f64; 10] = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0];

async fn predict(Json(req): Json<Request>) -> Json<Response> {
    let predictions = req
        .instances
        .iter()
        .map(|row| dot(row, &WEIGHTS) + 152.0)
        .collect();
    Json(Response { predictions })
}

async fn predict_same_response(
    headers: HeaderMap,
    Json(req): Json<Request>,
) -> (HeaderMap, Json<ContractResponse>) {
    let predictions = req
        .instances
        .iter()
        .map(|row| dot(row, &WEIGHTS) + 152.0)
        .collect();
    let request_id = match headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(given) => given.to_string(),
        None => uuid::Uuid::new_v4().hyphenated().to_string(),
    };
    let mut out = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        out.insert(REQUEST_ID, value);
    }
    let body = ContractResponse {
        model: "diabetes",
        version: 1,
        request_id,
        predictions,
    };
    (out, Json(body))
}

fn dot(row: &[f64; 10], weights: &[f64; 10]) -> f64 {
    let mut sum = 0.0;
    for i in 0..10 {
        sum += row[i] * weights[i];
    }
    sum
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9180".into());
    let app = if args.next().as_deref() == Some("--same-response") {
        Router::new().route("/predict", post(predict_same_response))
    } else {
        Router::new().route("/predict", post(predict))
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
