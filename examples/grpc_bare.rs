//! A bare tonic server for bench/grpc_speed.sh: the same `inference.GRPCInferenceService`
//! messages as modeld, whose ModelInfer answers raw FP64 rows with a fixed dot product and
//! nothing else (no look-up, checks, metrics or logging): the floor modeld's gRPC path
//! is compared with. Usage: grpc_bare PORT FEATURES

use std::net::SocketAddr;

use modeld::api::grpc::generated::inference::grpc_inference_service_server::{
    GrpcInferenceService, GrpcInferenceServiceServer,
};
use modeld::api::grpc::generated::inference::model_infer_response::InferOutputTensor;
use modeld::api::grpc::generated::inference::*;
use tonic::{Request, Response, Status};

struct Bare {
    weights: Vec<f64>,
}

#[tonic::async_trait]
impl GrpcInferenceService for Bare {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }
    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }
    async fn model_ready(
        &self,
        _: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        Ok(Response::new(ModelReadyResponse { ready: true }))
    }
    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse::default()))
    }
    async fn model_metadata(
        &self,
        _: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        Ok(Response::new(ModelMetadataResponse::default()))
    }
    async fn repository_index(
        &self,
        _: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        Err(Status::unimplemented("no repository"))
    }
    async fn repository_model_load(
        &self,
        _: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        Err(Status::unimplemented("no repository"))
    }
    async fn repository_model_unload(
        &self,
        _: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        Err(Status::unimplemented("no repository"))
    }
    async fn model_infer(
        &self,
        req: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let req = req.into_inner();
        let raw = req
            .raw_input_contents
            .first()
            .ok_or_else(|| Status::invalid_argument("raw FP64 rows only"))?;
        let row_bytes = self.weights.len() * 8;
        let out: Vec<u8> = raw
            .chunks_exact(row_bytes)
            .flat_map(|row| {
                let dot: f64 = row
                    .chunks_exact(8)
                    .zip(&self.weights)
                    .map(|(b, w)| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) * w)
                    .sum();
                dot.to_le_bytes()
            })
            .collect();
        let rows = (out.len() / 8) as i64;
        Ok(Response::new(ModelInferResponse {
            model_name: req.model_name,
            model_version: "1".into(),
            id: req.id,
            outputs: vec![InferOutputTensor {
                name: "variable".into(),
                datatype: "FP64".into(),
                shape: vec![rows, 1],
                ..Default::default()
            }],
            raw_output_contents: vec![out],
            ..Default::default()
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, port, features] = args.as_slice() else {
        return Err("usage: grpc_bare PORT FEATURES".into());
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let n: usize = features.parse()?;
    let bare = Bare {
        weights: (0..n).map(|i| 0.5 + i as f64 / 10.0).collect(),
    };
    tonic::transport::Server::builder()
        .add_service(GrpcInferenceServiceServer::new(bare))
        .serve(addr)
        .await?;
    Ok(())
}
