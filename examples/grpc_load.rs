//! A gRPC load client for bench/grpc_speed.sh: keeps `CONNS × STREAMS` ModelInfer calls in
//! flight (HTTP/2 streams multiplexed over `CONNS` connections) for `SECONDS`, then prints
//! the completed calls per second and the latency percentiles. Every call sends the same
//! raw FP64 request of `ROWS × FEATURES` values and must come back with `grpc-status: 0`
//! and `ROWS` raw FP64 outputs, so a server that answers wrongly or not at all fails the
//! run instead of looking fast.
//! Written on the `h2` crate hyper already builds, so the load generator adds no
//! dependency and costs about one CPU-microsecond per call.
//! Usage: grpc_load ADDR MODEL FEATURES ROWS CONNS STREAMS SECONDS

use std::time::{Duration, Instant};

use bytes::Bytes;
use modeld::api::grpc::generated::inference::model_infer_request::InferInputTensor;
use modeld::api::grpc::generated::inference::{ModelInferRequest, ModelInferResponse};
use prost::Message;
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

const PATH: &str = "/inference.GRPCInferenceService/ModelInfer";

/// The request as one gRPC frame: a 0 (uncompressed) byte, the big-endian length, the message.
fn framed_request(model: &str, features: usize, rows: usize) -> Result<Bytes, Error> {
    let values: Vec<u8> = (0..rows * features)
        .flat_map(|i| ((i % 97) as f64 / 10.0 - 4.0).to_le_bytes())
        .collect();
    let request = ModelInferRequest {
        model_name: model.into(),
        inputs: vec![InferInputTensor {
            name: "input".into(),
            datatype: "FP64".into(),
            shape: vec![i64::try_from(rows)?, i64::try_from(features)?],
            ..Default::default()
        }],
        raw_input_contents: vec![values],
        ..Default::default()
    };
    let body = request.encode_to_vec();
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(body.len())?.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame.into())
}

/// One call; returns the response message's bytes (without the frame header).
async fn call(
    sender: &h2::client::SendRequest<Bytes>,
    uri: &str,
    frame: &Bytes,
) -> Result<Vec<u8>, Error> {
    let request = http::Request::post(uri)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())?;
    let mut sender = sender.clone().ready().await?;
    let (response, mut stream) = sender.send_request(request, false)?;
    stream.send_data(frame.clone(), true)?;
    let response = response.await?;
    let trailers_only = response.headers().get("grpc-status").cloned();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        bytes.extend_from_slice(&chunk);
    }
    let status = match trailers_only {
        Some(s) => Some(s),
        None => body
            .trailers()
            .await?
            .and_then(|t| t.get("grpc-status").cloned()),
    };
    if status.as_ref().map(|s| s.as_bytes()) != Some(b"0") {
        return Err(format!("grpc-status {status:?}").into());
    }
    Ok(bytes.get(5..).unwrap_or_default().to_vec())
}

async fn connect(addr: &str) -> Result<h2::client::SendRequest<Bytes>, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(connection);
    Ok(sender)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, model, features, rows, conns, streams, seconds] = args.as_slice() else {
        return Err("usage: grpc_load ADDR MODEL FEATURES ROWS CONNS STREAMS SECONDS".into());
    };
    let (features, rows): (usize, usize) = (features.parse()?, rows.parse()?);
    let (conns, streams): (usize, usize) = (conns.parse()?, streams.parse()?);
    let duration = Duration::from_secs_f64(seconds.parse()?);
    let uri = format!("http://{addr}{PATH}");
    let frame = framed_request(model, features, rows)?;

    let first = connect(addr).await?;
    let answer = ModelInferResponse::decode(call(&first, &uri, &frame).await?.as_slice())?;
    let out_bytes: usize = answer.raw_output_contents.iter().map(Vec::len).sum();
    if out_bytes != rows * 8 {
        return Err(format!("expected {rows} FP64 outputs, got {out_bytes} bytes").into());
    }

    let warmup = Instant::now() + Duration::from_millis(500);
    let end = warmup + duration;
    let mut workers = Vec::new();
    for _ in 0..conns {
        let sender = connect(addr).await?;
        for _ in 0..streams {
            let (sender, uri, frame) = (sender.clone(), uri.clone(), frame.clone());
            workers.push(tokio::spawn(async move {
                let mut latencies_us: Vec<u32> = Vec::with_capacity(1 << 16);
                loop {
                    let start = Instant::now();
                    if start >= end {
                        return Ok::<_, Error>(latencies_us);
                    }
                    call(&sender, &uri, &frame).await?;
                    if start >= warmup {
                        let us = start.elapsed().as_micros();
                        latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                }
            }));
        }
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await??);
    }
    all.sort_unstable();
    println!(
        "{rows:3} rows  {conns}x{streams} in flight  {:8.0} req/s  p50 {:6} µs  p99 {:6} µs",
        all.len() as f64 / duration.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    Ok(())
}
