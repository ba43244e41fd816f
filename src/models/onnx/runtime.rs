//! [`OnnxModel`]: an ONNX graph optimised by tract for a symbolic batch dimension and
//! served through the [`Model`] trait. The graph must have one float input `[N, d]` and
//! either one float output (a regressor, `[N]` or `[N, 1]`) or a label plus a float
//! probabilities output `[N, K]` (a classifier exported with `zipmap=False`).

use std::sync::Arc;

use ndarray::ArrayView2;
use prost::Message;
use tract_onnx::prelude::*;

use super::graph;
use super::guard::guarded;
use super::kind::{self, invalid, most_probable, Kind};
use super::outputs::{as_f64, values};
use super::OnnxArtifact;
use crate::models::tensors::{DataType, Signature, TensorSpec};
use crate::models::{check_input, Artifact, Family, Limits, Model, ModelError, Output, Schema};

type Plan = Arc<TypedRunnableModel>;

pub struct OnnxModel {
    bytes: Arc<Vec<u8>>,
    plan: Plan,
    schema: Schema,
    signature: Signature,
    input_f64: bool,
    kind: Kind,
    /// Initializer and constant elements, see [`graph::declared_parameters`].
    n_parameters: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("bytes", &self.bytes.len())
            .field("signature", &self.signature)
            .field("kind", &self.kind)
            .finish()
    }
}

impl OnnxModel {
    pub fn load(bytes: Arc<Vec<u8>>, limits: &Limits) -> Result<Self, ModelError> {
        guarded(
            "loading the ONNX graph",
            ModelError::InvalidArtifact,
            || Self::load_inner(bytes, limits),
        )
    }

    fn load_inner(bytes: Arc<Vec<u8>>, limits: &Limits) -> Result<Self, ModelError> {
        let mut proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice())
            .map_err(|e| invalid(format!("not an ONNX file: {e}")))?;
        super::rewrite::rewrite(&mut proto).map_err(invalid)?;
        let g = proto
            .graph
            .as_ref()
            .ok_or_else(|| invalid("the file has no graph"))?;

        let inputs = graph::inputs(g);
        let [input] = inputs.as_slice() else {
            return Err(invalid(format!(
                "the graph has {} inputs; modeld serves graphs with exactly one [N, d] input",
                inputs.len()
            )));
        };
        let input = graph::declared(input).map_err(invalid)?;
        let d = match input.dims.as_slice() {
            [_, Some(d)] => usize::try_from(*d).ok(),
            _ => {
                return Err(invalid(format!(
                    "input '{}' must be declared [N, d] with a fixed d, got {:?}",
                    input.name, input.dims
                )))
            }
        };
        // Before anything sized by the declared dims (feature names, tract's tensors).
        limits.check_features(d)?;
        let d = d.unwrap_or_default();
        let n_parameters = graph::declared_parameters(g);
        limits.check_parameters(n_parameters)?;
        if !input.is_float() {
            return Err(invalid(format!(
                "input '{}' is {}; only float and double inputs are supported",
                input.name,
                input.type_name()
            )));
        }
        let input_f64 = input.datatype() == Some(DataType::Fp64);
        let outputs = g
            .output
            .iter()
            .map(graph::declared)
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        if let Some(name) = graph::unproduced_output(g) {
            return Err(invalid(format!(
                "output '{name}' is not produced by any node, input or initializer"
            )));
        }
        let classes = graph::class_labels(g);
        let label_from_probabilities = false;
        let voted_labels = g.node.iter().any(|n| n.op_type == "SVMClassifier");

        let read = kind::classify(&outputs, classes, label_from_probabilities, limits)?;
        let plan = Self::plan(&proto, input_f64, d)?;
        let mut model = OnnxModel {
            bytes,
            plan,
            schema: Schema {
                feature_names: (0..d).map(|i| format!("x{i}")).collect(),
                target: read.target,
                classes: read.classes,
            },
            signature: Signature {
                input: TensorSpec {
                    name: input.name.clone(),
                    datatype: if input_f64 {
                        DataType::Fp64
                    } else {
                        DataType::Fp32
                    },
                    shape: vec![-1, d as i64],
                },
                outputs: read.outputs,
            },
            input_f64,
            kind: read.kind,
            n_parameters: n_parameters.unwrap_or_default(),
        };
        model.names_from_metadata(&proto.metadata_props);
        // Proves the plan runs, the outputs have the shapes mapped, and the answers are
        // finite and consistent; a graph that fails here is refused now rather than
        // failing requests later.
        let names = model.output_names();
        super::sample_check::check(&model, (&names.0, &names.1), voted_labels).map_err(
            |e| match e {
                // The uploaded graph, not the server, fails: refused like any bad file.
                ModelError::Runtime(m) => {
                    invalid(format!("the graph fails on a sampled input: {m}"))
                }
                other => other,
            },
        )?;
        Ok(model)
    }

    fn plan(
        proto: &tract_onnx::pb::ModelProto,
        f64_input: bool,
        d: usize,
    ) -> Result<Plan, ModelError> {
        let mut model = super::ml::onnx()
            .model_for_proto_model(proto)
            .map_err(|e| invalid(format!("tract cannot read the graph: {e:#}")))?;
        let n = model.sym("N");
        let dt = if f64_input {
            f64::datum_type()
        } else {
            f32::datum_type()
        };
        model
            .set_input_fact(
                0,
                InferenceFact::dt_shape(dt, tvec![n.to_dim(), d.to_dim()]),
            )
            .map_err(|e| invalid(format!("setting the input shape: {e:#}")))?;
        model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| invalid(format!("tract cannot run the graph: {e:#}")))
    }

    /// Feature and class names modeld's exporter stores in `metadata_props`.
    fn names_from_metadata(&mut self, props: &[tract_onnx::pb::StringStringEntryProto]) {
        let list = |key: &str| {
            props
                .iter()
                .find(|p| p.key == key)
                .and_then(|p| serde_json::from_str::<Vec<String>>(&p.value).ok())
        };
        if let Some(f) = list(super::export::META_FEATURES) {
            if f.len() == self.schema.feature_names.len() {
                self.schema.feature_names = f;
            }
        }
        if let (Some(c), Some(classes)) =
            (list(super::export::META_CLASSES), &mut self.schema.classes)
        {
            if c.len() == classes.len() {
                *classes = c;
            }
        }
    }

    /// The (label or value, probabilities) output names, for error messages.
    fn output_names(&self) -> (String, String) {
        let name = |i: usize| {
            (self.signature.outputs)
                .get(i)
                .map(|o| o.tensor.name.clone())
                .unwrap_or_default()
        };
        (name(0), name(1))
    }

    fn run(&self, x: ArrayView2<f64>) -> Result<TVec<TValue>, ModelError> {
        // tract uses its own ndarray major version, so tensors are built from flat data.
        let shape = [x.nrows(), x.ncols()];
        let flat: Vec<f64> = x.iter().copied().collect();
        let input = if self.input_f64 {
            Tensor::from_shape(&shape, &flat)
        } else {
            let narrow: Vec<f32> = flat.iter().map(|v| *v as f32).collect();
            Tensor::from_shape(&shape, &narrow)
        }
        .map_err(|e| invalid(format!("building the input tensor: {e}")))?;
        self.plan
            .run(tvec![input.into_tvalue()])
            .map_err(|e| ModelError::Runtime(format!("the ONNX graph failed: {e:#}")))
    }
}

impl Model for OnnxModel {
    fn family(&self) -> Family {
        Family::Onnx
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Output, ModelError> {
        check_input(x, self.schema.n_features())?;
        let rows = x.nrows();
        guarded("running the ONNX graph", ModelError::Runtime, || {
            let out = self.run(x)?;
            let get = |i: usize| {
                out.get(i)
                    .ok_or_else(|| invalid(format!("graph output {i} is missing")))
            };
            match &self.kind {
                Kind::Regressor { output } => {
                    let v = as_f64(get(*output)?, rows, "regression output")?;
                    if v.ncols() != 1 {
                        return Err(invalid(format!(
                            "regression output has {} columns",
                            v.ncols()
                        )));
                    }
                    Ok(Output {
                        predictions: v.column(0).to_vec(),
                        probabilities: None,
                    })
                }
                Kind::Classifier {
                    label,
                    probabilities,
                    classes,
                    label_from_probabilities,
                } => {
                    let p = as_f64(get(*probabilities)?, rows, "probabilities")?;
                    if p.ncols() != classes.len() {
                        return Err(invalid(format!(
                            "probabilities have {} columns for {} classes",
                            p.ncols(),
                            classes.len()
                        )));
                    }
                    if *label_from_probabilities {
                        return Ok(Output {
                            predictions: p.rows().into_iter().map(most_probable).collect(),
                            probabilities: Some(p),
                        });
                    }
                    let labels = values::<i64>(get(*label)?, "label")?;
                    if labels.len() != rows {
                        return Err(invalid(format!(
                            "label has {} values for {rows} rows",
                            labels.len()
                        )));
                    }
                    let predictions = labels
                        .iter()
                        .map(|l| {
                            classes
                                .iter()
                                .position(|c| c == l)
                                .map(|i| i as f64)
                                .ok_or_else(|| {
                                    invalid(format!(
                                        "the graph returned label {l}, not one of its classes"
                                    ))
                                })
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(Output {
                        predictions,
                        probabilities: Some(p),
                    })
                }
            }
        })
    }

    fn to_artifact(&self) -> Artifact {
        Artifact::Onnx(OnnxArtifact {
            file: super::ONNX_FILE.to_string(),
            bytes: self.bytes.clone(),
        })
    }

    fn n_parameters(&self) -> usize {
        self.n_parameters
    }

    fn signature(&self) -> Signature {
        self.signature.clone()
    }
}
