//! The Open Inference Protocol over gRPC: KServe's `inference.GRPCInferenceService`
//! (proto/grpc_predict_v2.proto) on `grpc.port`, beside the HTTP server and over the
//! same state, so `tritonclient.grpc` and KServe's gRPC client work unchanged. Same
//! models, API key, limits, metrics and monitoring as REST; see [`service`].

pub mod generated;
pub mod guard;
pub mod infer;
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
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .add_service(service(state))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
