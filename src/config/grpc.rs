//! `[grpc]`: the Open Inference Protocol over gRPC, beside the HTTP server.

use serde::{Deserialize, Serialize};

/// `[grpc]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Port of the gRPC `inference.GRPCInferenceService`, on the same `host` as HTTP; 0
    /// turns it off. Default 8081 (Triton's and KServe's clients expect a second port).
    pub port: u16,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self { port: 8081 }
    }
}
