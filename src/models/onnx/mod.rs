//! Imported ONNX graphs, run through tract (pure Rust), and the ONNX exporter.
//!
//! Store layout of an ONNX version folder: `model.onnx` (the bytes exactly as uploaded),
//! `model.json` (a stub `{"family": "onnx", "file": "model.onnx"}`) and `meta.json`. A
//! folder holding only `model.onnx` (dropped into the store by another process) is also
//! a valid version: the store synthesises the stub and the meta when it reads it.
//!
//! Without the `onnx` cargo feature the stub still parses, but loading the version fails
//! with a clear reason (the version shows as `failed`), and import/export answer 422.

#[cfg(feature = "onnx")]
pub mod export;
#[cfg(feature = "onnx")]
mod export_compact;
#[cfg(feature = "onnx")]
mod export_graph;
#[cfg(feature = "onnx")]
mod graph;
#[cfg(feature = "onnx")]
mod graph_fixes;
#[cfg(feature = "onnx")]
mod guard;
#[cfg(feature = "onnx")]
mod kind;
#[cfg(feature = "onnx")]
mod labels;
#[cfg(feature = "onnx")]
mod ml;
#[cfg(feature = "onnx")]
mod outputs;
#[cfg(feature = "onnx")]
mod rewrite;
#[cfg(feature = "onnx")]
mod runtime;
#[cfg(feature = "onnx")]
mod sample_check;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Limits, Model, ModelError};

/// File name of the graph inside a version folder.
pub const ONNX_FILE: &str = "model.onnx";

/// `model.json` of an ONNX version: names the graph file; the bytes are read beside it.
#[derive(Serialize, Deserialize, Clone)]
pub struct OnnxArtifact {
    /// Graph file name in the version folder (always [`ONNX_FILE`] when modeld wrote it).
    pub file: String,
    /// The graph; filled by the store on read, written by the store as `file`.
    #[serde(skip)]
    pub bytes: Arc<Vec<u8>>,
}

impl OnnxArtifact {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            file: ONNX_FILE.to_string(),
            bytes: Arc::new(bytes),
        }
    }
}

impl std::fmt::Debug for OnnxArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxArtifact")
            .field("file", &self.file)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Parses, checks and prepares a graph for serving; a graph tract cannot run, or whose
/// inputs/outputs modeld cannot map, is an [`ModelError::InvalidArtifact`] saying why; one
/// above `limits` (input width, initializer elements) is [`ModelError::TooLarge`], found
/// before anything sized by the declared dims is allocated.
pub fn load(artifact: OnnxArtifact, limits: &Limits) -> Result<Arc<dyn Model>, ModelError> {
    #[cfg(feature = "onnx")]
    {
        Ok(Arc::new(runtime::OnnxModel::load(artifact.bytes, limits)?))
    }
    #[cfg(not(feature = "onnx"))]
    {
        let _ = (artifact, limits);
        Err(ModelError::InvalidArtifact(
            "this modeld was built without the `onnx` feature".into(),
        ))
    }
}
