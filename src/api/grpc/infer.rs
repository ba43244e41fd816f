//! `ModelInfer`: a [`Codec`] between the OIP protobuf messages and the serving layer,
//! sharing the REST codec's tensor checks ([`to_matrix`]) and output encoding.
//!
//! Inputs come as typed `contents` or as `raw_input_contents`, never both. Outputs go
//! back the way inputs came: typed contents for a typed request, raw little-endian
//! bytes otherwise (what tritonclient sends and expects).

use ndarray::Array2;

use super::generated::inference::{
    model_infer_request::InferInputTensor, model_infer_response::InferOutputTensor,
    InferTensorContents, ModelInferRequest, ModelInferResponse,
};
use crate::api::error::ApiError;
use crate::api::v2::infer::encode;
use crate::api::v2::tensor::{to_matrix, InputTensor, Source, TensorData};
use crate::models::tensors::OutputSpec;
use crate::models::Model;
use crate::serving::{Codec, Prediction};

pub struct Tensors<'a> {
    pub req: &'a ModelInferRequest,
    /// `server.body_limit_bytes`: no tensor may declare more bytes than this.
    pub body_limit: usize,
    /// The response's id: the request's, else the generated request id.
    pub id: &'a str,
    pub selected: Vec<OutputSpec>,
}

fn bad(m: String) -> ApiError {
    ApiError::BadRequest(m)
}

/// The typed contents for the tensor's datatype, as f64 (FP32 values are exact in f64).
fn typed_values(t: &InferInputTensor, c: &InferTensorContents) -> Vec<f64> {
    match t.datatype.as_str() {
        "FP32" => c.fp32_contents.iter().map(|x| f64::from(*x)).collect(),
        "FP64" => c.fp64_contents.clone(),
        "INT64" => c.int64_contents.iter().map(|x| *x as f64).collect(),
        "INT32" => c.int_contents.iter().map(|x| f64::from(*x)).collect(),
        // An unsupported datatype is refused by `to_matrix`, by name.
        _ => Vec::new(),
    }
}

impl Codec for Tensors<'_> {
    type Answer = ModelInferResponse;
    type Error = ApiError;

    fn decode(&mut self, model: &dyn Model) -> Result<Array2<f64>, ApiError> {
        let sig = model.signature();
        let [input] = self.req.inputs.as_slice() else {
            return Err(bad(format!(
                "the model takes exactly one input tensor '{}', got {}",
                sig.input.name,
                self.req.inputs.len()
            )));
        };
        if input.name != sig.input.name {
            return Err(bad(format!(
                "unknown input '{}': the model takes '{}'",
                input.name, sig.input.name
            )));
        }
        self.selected = self
            .req
            .outputs
            .iter()
            .map(|o| {
                sig.outputs
                    .iter()
                    .find(|s| s.tensor.name == o.name)
                    .cloned()
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            sig.outputs.iter().map(|s| s.tensor.name.as_str()).collect();
                        bad(format!(
                            "unknown output '{}': the model has {names:?}",
                            o.name
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.selected.is_empty() {
            self.selected = sig.outputs.clone();
        }
        let tensor = InputTensor {
            name: input.name.clone(),
            shape: input.shape.clone(),
            datatype: input.datatype.clone(),
            parameters: None,
            data: None,
        };
        let n_features = model.schema().n_features();
        let raw = &self.req.raw_input_contents;
        match (&input.contents, raw.as_slice()) {
            (Some(_), [_, ..]) => Err(bad(format!(
                "input '{}': send typed contents or raw_input_contents, not both",
                input.name
            ))),
            (None, []) => Err(bad(format!(
                "input '{}' has no data: send typed contents or raw_input_contents",
                input.name
            ))),
            (None, [bytes]) => {
                to_matrix(&tensor, n_features, Source::Binary(bytes), self.body_limit)
            }
            (None, more) => Err(bad(format!(
                "raw_input_contents has {} entries for 1 input",
                more.len()
            ))),
            (Some(c), []) => {
                let values = typed_values(input, c);
                to_matrix(
                    &tensor,
                    n_features,
                    Source::Values(&values),
                    self.body_limit,
                )
            }
        }
    }

    fn encode(self, p: Prediction<'_>) -> Result<ModelInferResponse, ApiError> {
        let raw = !self.req.raw_input_contents.is_empty();
        let mut outputs = Vec::with_capacity(self.selected.len());
        let mut raw_output_contents = Vec::new();
        for s in &self.selected {
            let t = encode(
                &s.tensor.name,
                s.tensor.datatype,
                s.role,
                &s.tensor.shape,
                &p.output,
            )?;
            let data = t.data.unwrap_or(TensorData::F64(Vec::new()));
            let contents = if raw {
                raw_output_contents.push(data.to_le_bytes());
                None
            } else {
                let mut c = InferTensorContents::default();
                match data {
                    TensorData::Int(v) => c.int64_contents = v,
                    TensorData::F32(v) => c.fp32_contents = v,
                    TensorData::F64(v) => c.fp64_contents = v,
                }
                Some(c)
            };
            outputs.push(InferOutputTensor {
                name: t.name,
                datatype: t.datatype.to_string(),
                shape: t.shape.iter().map(|d| *d as i64).collect(),
                parameters: Default::default(),
                contents,
            });
        }
        Ok(ModelInferResponse {
            model_name: p.name.to_string(),
            model_version: p.version.to_string(),
            id: self.id.to_string(),
            parameters: Default::default(),
            outputs,
            raw_output_contents,
        })
    }
}
