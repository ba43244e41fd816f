//! Reading what modeld needs from an ONNX protobuf: the declared input/output tensors
//! (element type and shape) and the class labels of a classifier.

use tract_onnx::pb::{self, tensor_proto::DataType as PbType};

use super::super::tensors::DataType;

/// A graph input or output as declared: name, element type and dims (`None` = dynamic).
#[derive(Debug, Clone)]
pub struct Declared {
    pub name: String,
    pub elem: i32,
    pub dims: Vec<Option<i64>>,
}

impl Declared {
    pub fn is_float(&self) -> bool {
        self.elem == PbType::Float as i32 || self.elem == PbType::Double as i32
    }

    /// The KServe datatype of a numeric tensor; strings and other types give `None`.
    pub fn datatype(&self) -> Option<DataType> {
        Some(match PbType::try_from(self.elem).ok()? {
            PbType::Float => DataType::Fp32,
            PbType::Double => DataType::Fp64,
            PbType::Int32 => DataType::Int32,
            PbType::Int64 => DataType::Int64,
            _ => return None,
        })
    }

    pub fn type_name(&self) -> String {
        PbType::try_from(self.elem)
            .map(|t| format!("{t:?}").to_lowercase())
            .unwrap_or_else(|_| format!("type {}", self.elem))
    }
}

pub fn declared(v: &pb::ValueInfoProto) -> Result<Declared, String> {
    let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!(
            "'{}' is not a tensor (sequences and maps, e.g. ZipMap outputs, are not supported; \
             export classifiers with zipmap=False)",
            v.name
        ));
    };
    let dims = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if n > 0 => Some(n),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Declared {
        name: v.name.clone(),
        elem: t.elem_type,
        dims,
    })
}

/// Elements the graph's initializers and `Constant` nodes declare (the product of each
/// tensor's dims, a negative dim counting as 0): the parameters of an imported model,
/// read from the protobuf before tract builds any of them. `None` when the sum does not
/// fit a `usize`.
pub fn declared_parameters(graph: &pb::GraphProto) -> Option<usize> {
    let constants = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Constant")
        .flat_map(|n| &n.attribute)
        .flat_map(|a| a.t.iter().chain(&a.tensors));
    graph
        .initializer
        .iter()
        .chain(constants)
        .try_fold(0usize, |sum, t| {
            let n = t.dims.iter().try_fold(1usize, |n, &d| {
                n.checked_mul(usize::try_from(d.max(0)).ok()?)
            })?;
            sum.checked_add(n)
        })
}

/// The graph's real inputs: declared inputs that are not also initializers.
pub fn inputs(graph: &pb::GraphProto) -> Vec<&pb::ValueInfoProto> {
    graph
        .input
        .iter()
        .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .collect()
}

/// The first graph output that no graph input, initializer or node produces. tract
/// looks each output up by name and panics on a miss, so such a graph is refused here.
pub fn unproduced_output(graph: &pb::GraphProto) -> Option<&str> {
    let produced: std::collections::HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(
            graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().map(String::as_str)),
        )
        .collect();
    graph
        .output
        .iter()
        .map(|o| o.name.as_str())
        .find(|name| !produced.contains(name))
}

/// Integer class labels, from a `LinearClassifier` (or any ML classifier) attribute
/// `classlabels_ints`, or from the int64 initializer an `ArrayFeatureExtractor` picks the
/// label from (skl2onnx's MLP). `None` when the graph does not say.
pub fn class_labels(graph: &pb::GraphProto) -> Option<Vec<i64>> {
    for node in &graph.node {
        if let Some(a) = node.attribute.iter().find(|a| {
            // LinearClassifier / SVMClassifier, and TreeEnsembleClassifier.
            (a.name == "classlabels_ints" || a.name == "classlabels_int64s") && !a.ints.is_empty()
        }) {
            return Some(a.ints.clone());
        }
    }
    for node in graph
        .node
        .iter()
        .filter(|n| n.op_type == "ArrayFeatureExtractor")
    {
        let source = node.input.first()?;
        if let Some(t) = graph.initializer.iter().find(|t| &t.name == source) {
            if t.data_type == PbType::Int64 as i32 {
                if !t.int64_data.is_empty() {
                    return Some(t.int64_data.clone());
                }
                if !t.raw_data.is_empty() && t.raw_data.len() % 8 == 0 {
                    return Some(
                        t.raw_data
                            .chunks_exact(8)
                            .map(|c| {
                                i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    None
}
