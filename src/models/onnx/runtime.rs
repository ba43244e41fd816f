//! [`OnnxModel`]: an ONNX graph optimised by tract for a symbolic batch dimension and
//! served through the [`Model`] trait. The graph must have one float input `[N, d]` and
//! either one float output (a regressor, `[N]` or `[N, 1]`) or a label plus a float
//! probabilities output `[N, K]` (a classifier exported with `zipmap=False`).

use std::sync::Arc;

use ndarray::ArrayView2;
use prost::Message;
use tract_onnx::prelude::*;

use super::graph::{self, Declared};
use super::guard::{guarded, trial_inputs};
use super::outputs::{as_f64, values};
use super::OnnxArtifact;
use crate::models::tensors::{DataType, OutputSpec, Role, Signature, TensorSpec};
use crate::models::{check_input, Artifact, Family, Limits, Model, ModelError, Output, Schema};

type Plan = Arc<TypedRunnableModel>;

#[derive(Clone, Debug)]
enum Kind {
    Regressor {
        output: usize,
    },
    Classifier {
        label: usize,
        probabilities: usize,
        classes: Vec<i64>,
    },
}

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

fn invalid(m: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidArtifact(m.to_string())
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

        let plan = Self::plan(&proto, input_f64, d)?;
        let mut model = OnnxModel {
            bytes,
            plan,
            schema: Schema {
                feature_names: (0..d).map(|i| format!("x{i}")).collect(),
                target: String::new(),
                classes: None,
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
                outputs: Vec::new(),
            },
            input_f64,
            kind: Kind::Regressor { output: 0 },
            n_parameters: n_parameters.unwrap_or_default(),
        };
        model.classify_outputs(&outputs, classes, limits)?;
        model.names_from_metadata(&proto.metadata_props);
        // Trial rows prove the plan runs and the outputs have the shapes we mapped; a
        // graph that cannot run them is refused now rather than failing requests later.
        for x in trial_inputs(d) {
            model
                .predict(x.view())
                .map_err(|e| invalid(format!("trial prediction failed: {e}")))?;
        }
        Ok(model)
    }

    fn plan(
        proto: &tract_onnx::pb::ModelProto,
        f64_input: bool,
        d: usize,
    ) -> Result<Plan, ModelError> {
        let mut model = tract_onnx::onnx()
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

    /// Decides regressor or classifier from the declared outputs and fills the schema
    /// and signature accordingly.
    fn classify_outputs(
        &mut self,
        outputs: &[Declared],
        classes: Option<Vec<i64>>,
        limits: &Limits,
    ) -> Result<(), ModelError> {
        let floats: Vec<usize> = (0..outputs.len())
            .filter(|&i| outputs[i].is_float())
            .collect();
        let others: Vec<usize> = (0..outputs.len())
            .filter(|&i| !outputs[i].is_float())
            .collect();
        let spec = |o: &Declared, role, datatype, shape| OutputSpec {
            tensor: TensorSpec {
                name: o.name.clone(),
                datatype,
                shape,
            },
            role,
        };
        match (floats.as_slice(), others.as_slice()) {
            ([v], []) => {
                let o = &outputs[*v];
                if o.dims.len() > 2 || (o.dims.len() == 2 && o.dims[1].is_some_and(|k| k != 1)) {
                    return Err(invalid(format!(
                        "output '{}' has shape {:?}; regressors must give one value per row",
                        o.name, o.dims
                    )));
                }
                let dt = o.datatype().unwrap_or(DataType::Fp32);
                let shape = if o.dims.len() == 2 {
                    vec![-1, 1]
                } else {
                    vec![-1]
                };
                self.schema.target = o.name.clone();
                self.signature.outputs = vec![spec(o, Role::Value, dt, shape)];
                self.kind = Kind::Regressor { output: *v };
            }
            ([p], [l]) => {
                let (po, lo) = (&outputs[*p], &outputs[*l]);
                let k = match po.dims.as_slice() {
                    [_, Some(k)] => usize::try_from(*k).unwrap_or(usize::MAX),
                    [_, None] => classes.as_ref().map_or(0, Vec::len),
                    _ => 0,
                };
                // Class names are built per class: the width is bounded like the input's.
                if k > limits.max_features {
                    return Err(ModelError::TooLarge(format!(
                        "probabilities output '{}' declares {k} classes, above the limit \
                         models.max_features = {}",
                        po.name, limits.max_features
                    )));
                }
                if k < 2 {
                    return Err(invalid(format!(
                        "probabilities output '{}' must be [N, K] with K >= 2, got {:?}",
                        po.name, po.dims
                    )));
                }
                let classes = classes
                    .filter(|c| c.len() == k)
                    .unwrap_or_else(|| (0..k as i64).collect());
                if lo.datatype() != Some(DataType::Int64) {
                    return Err(invalid(format!(
                        "label output '{}' is {}; only int64 labels are supported",
                        lo.name,
                        lo.type_name()
                    )));
                }
                let dt = po.datatype().unwrap_or(DataType::Fp32);
                self.schema.target = lo.name.clone();
                self.schema.classes = Some(classes.iter().map(i64::to_string).collect());
                self.signature.outputs = vec![
                    spec(lo, Role::Label, DataType::Int64, vec![-1]),
                    spec(po, Role::Probabilities, dt, vec![-1, k as i64]),
                ];
                self.kind = Kind::Classifier {
                    label: *l,
                    probabilities: *p,
                    classes,
                };
            }
            _ => {
                let list: Vec<String> = outputs
                    .iter()
                    .map(|o| format!("{} ({})", o.name, o.type_name()))
                    .collect();
                return Err(invalid(format!(
                    "unsupported outputs [{}]: expected one float output (regressor) or an \
                     int64 label plus float probabilities (classifier)",
                    list.join(", ")
                )));
            }
        }
        Ok(())
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
                } => {
                    let p = as_f64(get(*probabilities)?, rows, "probabilities")?;
                    if p.ncols() != classes.len() {
                        return Err(invalid(format!(
                            "probabilities have {} columns for {} classes",
                            p.ncols(),
                            classes.len()
                        )));
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
