//! The `inference.GRPCInferenceService` methods: each is a thin codec over what the REST
//! handlers call (registry look-ups, [`crate::serving::Serving::predict`]), run through
//! the [`Guard`].

use tonic::{Request, Response, Status};

use super::generated::inference::grpc_inference_service_server::GrpcInferenceService;
use super::generated::inference::model_metadata_response::TensorMetadata;
use super::generated::inference::{
    ModelInferRequest, ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse,
    ModelReadyRequest, ModelReadyResponse, RepositoryIndexRequest, RepositoryIndexResponse,
    RepositoryModelLoadRequest, RepositoryModelLoadResponse, RepositoryModelUnloadRequest,
    RepositoryModelUnloadResponse, ServerLiveRequest, ServerLiveResponse, ServerMetadataRequest,
    ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};
use super::guard::Guard;
use super::infer::Tensors;
use super::repository;
use crate::api::edge::{ids, MAX_REQUEST_ID_LEN, REQUEST_ID};
use crate::api::error::ApiError;
use crate::api::v2::{self, parse_version};
use crate::serving::{Context, ModelRef};

/// The service over one server's state.
pub struct Oip {
    pub guard: Guard,
}

/// An empty version string means the default version, as on REST without `/versions/`.
fn version(v: &str) -> Result<Option<u64>, ApiError> {
    if v.is_empty() {
        Ok(None)
    } else {
        parse_version(v).map(Some)
    }
}

fn tensors(list: Vec<v2::TensorMetadata>) -> Vec<TensorMetadata> {
    list.into_iter()
        .map(|t| TensorMetadata {
            name: t.name,
            datatype: t.datatype.to_string(),
            shape: t.shape,
        })
        .collect()
}

#[tonic::async_trait]
impl GrpcInferenceService for Oip {
    async fn server_live(
        &self,
        req: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ServerLive";
        let call = async { Ok(ServerLiveResponse { live: true }) };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn server_ready(
        &self,
        req: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ServerReady";
        let ready = self.guard.state.lifecycle.is_ready();
        let call = async move { Ok(ServerReadyResponse { ready }) };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn model_ready(
        &self,
        req: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ModelReady";
        let r = req.get_ref();
        let call = async {
            let v = version(&r.version)?;
            self.guard
                .state
                .registry
                .snapshot()
                .resolve(&r.name, v, None)?;
            Ok(ModelReadyResponse { ready: true })
        };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn server_metadata(
        &self,
        req: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ServerMetadata";
        let call = async {
            let m = v2::server_metadata().await.0;
            Ok(ServerMetadataResponse {
                name: m.name.to_string(),
                version: m.version.to_string(),
                extensions: m.extensions.iter().map(|e| e.to_string()).collect(),
            })
        };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn model_metadata(
        &self,
        req: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ModelMetadata";
        let r = req.get_ref();
        let call = async {
            let v = version(&r.version)?;
            let m = v2::metadata(&self.guard.state.registry.snapshot(), &r.name, v)?;
            Ok(ModelMetadataResponse {
                name: m.name,
                versions: m.versions,
                platform: m.platform,
                inputs: tensors(m.inputs),
                outputs: tensors(m.outputs),
            })
        };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn model_infer(
        &self,
        req: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let route = "/inference.GRPCInferenceService/ModelInfer";
        let md = req.metadata();
        let r = req.get_ref();
        let call = async {
            // As on REST: the request's id, else the caller's x-request-id, else a new one;
            // it is what feedback joins on, so it has the same bound.
            let header_id = md.get(REQUEST_ID.as_str()).and_then(|v| v.to_str().ok());
            let generated;
            let id = match (r.id.as_str(), header_id) {
                ("", Some(h)) if !h.is_empty() => h,
                ("", _) => {
                    generated = ids::new_request_id();
                    generated.to_str().unwrap_or("unknown")
                }
                (id, _) => id,
            };
            if id.len() > MAX_REQUEST_ID_LEN {
                return Err(ApiError::BadRequest(format!(
                    "id must be at most {MAX_REQUEST_ID_LEN} bytes"
                )));
            }
            let state = &self.guard.state;
            let target = ModelRef {
                name: &r.model_name,
                version: version(&r.model_version)?,
                alias: None,
            };
            let codec = Tensors {
                req: r,
                body_limit: state.cfg.server.body_limit_bytes,
                id,
                selected: Vec::new(),
            };
            let ctx = Context {
                request_id: Some(id),
            };
            state.serving.predict(target, codec, ctx).await
        };
        self.guard.run(route, md, call).await.map(Response::new)
    }

    async fn repository_index(
        &self,
        req: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        let route = "/inference.GRPCInferenceService/RepositoryIndex";
        let r = req.get_ref();
        let call = repository::index(&self.guard.state, &r.repository_name, r.ready);
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn repository_model_load(
        &self,
        req: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        let route = "/inference.GRPCInferenceService/RepositoryModelLoad";
        let r = req.get_ref();
        let call = async {
            let state = &self.guard.state;
            repository::load(state, &r.repository_name, &r.model_name, &r.parameters).await?;
            Ok(RepositoryModelLoadResponse {})
        };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }

    async fn repository_model_unload(
        &self,
        req: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        let route = "/inference.GRPCInferenceService/RepositoryModelUnload";
        let r = req.get_ref();
        let call = async {
            let state = &self.guard.state;
            repository::unload(state, &r.repository_name, &r.model_name, &r.parameters).await?;
            Ok(RepositoryModelUnloadResponse {})
        };
        self.guard
            .run(route, req.metadata(), call)
            .await
            .map(Response::new)
    }
}
