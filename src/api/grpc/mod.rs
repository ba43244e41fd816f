//! The Open Inference Protocol over gRPC: KServe's `inference.GRPCInferenceService`
//! (proto/grpc_predict_v2.proto) on `grpc.port`, beside the HTTP server and over the
//! same state, so `tritonclient.grpc` and KServe's gRPC client work unchanged. Same
//! models, API key, limits, metrics and monitoring as REST; see [`service`].

pub mod generated;
pub mod guard;
pub mod infer;
pub mod repository;
pub mod service;
pub mod status;

use std::future::Future;

use generated::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use tokio::net::TcpListener;

use crate::state::AppState;

/// The service over `state`, with messages bounded by `server.body_limit_bytes` both
/// ways (a larger one is refused with RESOURCE_EXHAUSTED before it is decoded).
pub fn service(state: AppState) -> GrpcInferenceServiceServer<service::Oip> {
    let limit = state.cfg.server.body_limit_bytes;
    let oip = service::Oip {
        guard: guard::Guard::new(state),
    };
    GrpcInferenceServiceServer::new(oip)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
}

/// Serves the service on `listener` until `shutdown` completes, then lets the calls in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    // Without TCP_NODELAY a response that follows a multi-segment request waited ~40 ms
    // for the peer's delayed ACK (Nagle): a 100-row infer took 44 ms instead of 0.4 ms.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let limit = state.cfg.server.body_limit_bytes;
    tonic::transport::Server::builder()
        .layer(tower::util::MapResponseLayer::new(move |res| {
            size_status(res, limit)
        }))
        .add_service(service(state))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// tonic refuses a message over the limit with OUT_OF_RANGE before any handler runs; the
/// OIP (and REST's 413) call that RESOURCE_EXHAUSTED, with REST's message. None of the
/// service's own answers is OUT_OF_RANGE, so the status alone identifies the case.
fn size_status<B>(mut res: axum::http::Response<B>, limit: usize) -> axum::http::Response<B> {
    let out_of_range = tonic::Code::OutOfRange as i32;
    let is_size = res
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        == Some(out_of_range);
    if is_size {
        let message = crate::api::error::ApiError::PayloadTooLarge(limit).to_string();
        let headers = res.headers_mut();
        let code = tonic::Code::ResourceExhausted as i32;
        headers.insert("grpc-status", axum::http::HeaderValue::from(code));
        if let Ok(v) = axum::http::HeaderValue::from_str(&message) {
            headers.insert("grpc-message", v);
        }
    }
    res
}
