//! Bare-axum baseline for bench/run.sh: the strongest plain implementation of a one-model
//! server, with nothing else (no routing by model, validation, metrics, request ids or
//! logging). `instances` parses straight into fixed-width rows (serde rejects a row of
//! another width) and each prediction is a fixed-width dot product the compiler unrolls.

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

const WEIGHTS: [f64; 10] = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0];

async fn predict(Json(req): Json<Request>) -> Json<Response> {
    let predictions = req
        .instances
        .iter()
        .map(|row| dot(row, &WEIGHTS) + 152.0)
        .collect();
    Json(Response { predictions })
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
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9180".into());
    let app = Router::new().route("/predict", post(predict));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
