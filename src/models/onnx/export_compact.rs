//! ONNX export of compressed models (see [`crate::models::compact`]).

use super::export::Graph;
use crate::models::compact::CompactModel;
use crate::models::ModelError;

pub fn export(_g: &mut Graph, _m: &CompactModel) -> Result<(), ModelError> {
    Err(ModelError::InvalidInput(
        "ONNX export of compressed models is not built yet".into(),
    ))
}
