//! The graph builder of ONNX export ([`Graph`]): f64 initializers, nodes, the
//! standardise / dense / activation / head pieces every exported model is made of, and
//! the model proto with feature and class names in `metadata_props`.

use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType as PbType};

use crate::models::mlp::Activation;
use crate::models::scaler::Scaler;
use crate::models::tensors::{INPUT, LABEL, PROBABILITIES, VARIABLE};
use crate::models::{ModelError, Schema};

pub const META_FEATURES: &str = "modeld.feature_names";
pub const META_CLASSES: &str = "modeld.classes";
const OPSET: i64 = 13;

pub(super) fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn value_info(name: &str, elem: PbType, dims: Vec<Option<i64>>) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .into_iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => Value::DimValue(n),
                None => Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A graph under construction: nodes, f64 initializers and outputs.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
    outputs: Vec<pb::ValueInfoProto>,
}

impl Graph {
    /// An f64 initializer; values stored little-endian in `raw_data` (read by every runtime).
    pub fn constant(&mut self, name: &str, dims: Vec<i64>, values: Vec<f64>) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, PbType::Double, raw)
    }

    /// An initializer of any element type from its little-endian `raw_data`.
    pub fn initializer(
        &mut self,
        name: &str,
        dims: Vec<i64>,
        elem: PbType,
        raw: Vec<u8>,
    ) -> String {
        let name = format!("{name}_{}", self.inits.len());
        self.inits.push(pb::TensorProto {
            dims,
            data_type: elem as i32,
            raw_data: raw,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// Adds a node with one output named `out` (made unique unless it is a graph output).
    pub fn node(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        attrs: Vec<pb::AttributeProto>,
        out: &str,
    ) -> String {
        let output = if [PROBABILITIES, LABEL, VARIABLE].contains(&out) {
            out.to_string()
        } else {
            format!("{out}_{}", self.nodes.len())
        };
        self.nodes.push(pb::NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        output
    }

    /// (input - mean) / scale.
    pub fn standardise(&mut self, s: &Scaler) -> String {
        let d = s.mean.len() as i64;
        let mean = self.constant("mean", vec![d], s.mean.clone());
        let scale = self.constant("scale", vec![d], s.scale.clone());
        let centred = self.node("Sub", vec![INPUT.into(), mean], vec![], "centred");
        self.node("Div", vec![centred, scale], vec![], "z")
    }

    /// x @ W + b with W row-major [d, k].
    pub fn dense(&mut self, x: &str, w: &[f64], k: usize, b: &[f64], name: &str) -> String {
        let d = (w.len() / k.max(1)) as i64;
        let wn = self.constant(&format!("{name}_w"), vec![d, k as i64], w.to_vec());
        self.affine(x, wn, b, name)
    }

    /// x @ `w` + b, `w` being any [d, k] float64 value of the graph.
    pub fn affine(&mut self, x: &str, w: String, b: &[f64], name: &str) -> String {
        let bn = self.constant(&format!("{name}_b"), vec![b.len() as i64], b.to_vec());
        let xw = self.node("MatMul", vec![x.into(), w], vec![], &format!("{name}_xw"));
        self.node("Add", vec![xw, bn], vec![], name)
    }

    /// A hidden layer's activation.
    pub(super) fn activation(&mut self, act: Activation, h: String) -> String {
        match act {
            Activation::Relu => self.node("Relu", vec![h], vec![], "relu"),
            Activation::Tanh => self.node("Tanh", vec![h], vec![], "tanh"),
            // 1 / (1 + exp(-h)), spelled out: not every runtime has a float64 Sigmoid.
            Activation::Sigmoid => {
                let neg = self.node("Neg", vec![h], vec![], "neg");
                let e = self.node("Exp", vec![neg], vec![], "exp");
                let one = self.constant("one", vec![1], vec![1.0]);
                let den = self.node("Add", vec![one.clone(), e], vec![], "den");
                self.node("Div", vec![one, den], vec![], "sigmoid")
            }
        }
    }

    /// `variable` [N, 1] = mean + scale · h.
    pub(super) fn regression_outputs(&mut self, h: String, mean: f64, scale: f64) {
        let scale = self.constant("target_scale", vec![1], vec![scale]);
        let mean = self.constant("target_mean", vec![1], vec![mean]);
        let scaled = self.node("Mul", vec![h, scale], vec![], "scaled");
        self.node("Add", vec![scaled, mean], vec![], VARIABLE);
        self.output(VARIABLE, PbType::Double, vec![None, Some(1)]);
    }

    /// Probabilities softmax([0, z]) = [1 - σ(z), σ(z)] of one logit [N, 1], computed
    /// stably (tract's Sigmoid has no f64 kernel, Softmax has), and the label.
    pub(super) fn logistic_outputs(&mut self, logit: String) {
        let zero = self.constant("zero", vec![1], vec![0.0]);
        let zeros = self.node("Mul", vec![logit.clone(), zero], vec![], "zeros");
        let pair = self.node(
            "Concat",
            vec![zeros, logit],
            vec![int_attr("axis", 1)],
            "pair",
        );
        self.softmax_outputs(pair, 2);
    }

    /// Softmax(axis 1) of k logits as the probabilities, and the label.
    pub(super) fn softmax_outputs(&mut self, logits: String, k: usize) {
        let attrs = vec![int_attr("axis", 1)];
        let probs = self.node("Softmax", vec![logits], attrs, PROBABILITIES);
        self.classifier_outputs(probs, k);
    }

    /// `label` = ArgMax(probabilities) (first maximum, like modeld) and both outputs.
    fn classifier_outputs(&mut self, probs: String, k: usize) {
        let attrs = vec![int_attr("axis", 1), int_attr("keepdims", 0)];
        self.node("ArgMax", vec![probs], attrs, LABEL);
        self.output(LABEL, PbType::Int64, vec![None]);
        self.output(PROBABILITIES, PbType::Double, vec![None, Some(k as i64)]);
    }

    /// Declares a graph output (a node must produce a value of that name).
    pub fn output(&mut self, name: &str, elem: PbType, dims: Vec<Option<i64>>) {
        self.outputs.push(value_info(name, elem, dims));
    }

    pub(super) fn finish(self, schema: &Schema) -> Result<Vec<u8>, ModelError> {
        let d = schema.n_features() as i64;
        // Serialising a list of strings cannot fail.
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_default();
        let mut props = vec![pb::StringStringEntryProto {
            key: META_FEATURES.into(),
            value: json(&schema.feature_names),
        }];
        if let Some(c) = &schema.classes {
            props.push(pb::StringStringEntryProto {
                key: META_CLASSES.into(),
                value: json(c),
            });
        }
        let model = pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "modeld".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(pb::GraphProto {
                node: self.nodes,
                name: "modeld".into(),
                initializer: self.inits,
                input: vec![value_info(INPUT, PbType::Double, vec![None, Some(d)])],
                output: self.outputs,
                ..Default::default()
            }),
            metadata_props: props,
            ..Default::default()
        };
        Ok(model.encode_to_vec())
    }
}
