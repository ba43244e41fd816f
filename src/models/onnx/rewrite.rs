//! Rewrites ai.onnx.ml operators that tract lacks, on the protobuf, before tract parses
//! it: `Scaler` (skl2onnx's StandardScaler), `y = (float(x) - offset) * scale`, becomes
//! `Cast(to=FLOAT) → Sub → Mul`, which is what the ONNX-ML spec defines, with the two
//! attribute vectors as initializers; and a final `ZipMap` (skl2onnx's default for
//! classifiers) is dropped so its input, the probabilities tensor, is the output. In a
//! graph with a double input, `Sigmoid` (which tract runs on f32 only) becomes
//! `1 / (1 + Exp(-x))` in doubles. Tree ensembles and SVMs are checked here (naming a
//! bad node) and run by modeld's own ops ([`super::ml`]).

use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

const ML_DOMAIN: &str = "ai.onnx.ml";

/// Rewrites every supported ML op in the main graph; errors name the offending node.
pub fn rewrite(model: &mut pb::ModelProto) -> Result<(), String> {
    super::labels::index_string_labels(model)?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("the file has no graph".into());
    };
    let doubles = graph
        .input
        .first()
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| match &t.value {
            Some(pb::type_proto::Value::TensorType(t)) => Some(t.elem_type),
            _ => None,
        })
        == Some(DataType::Double as i32);
    let mut nodes = Vec::with_capacity(graph.node.len());
    let shapes = super::graph_fixes::whole_shapes(&graph.node);
    for (i, node) in std::mem::take(&mut graph.node).into_iter().enumerate() {
        if node.domain.is_empty() && node.op_type == "ReduceLogSumExp" {
            nodes.extend(super::graph_fixes::stable_log_sum_exp(&node, i)?);
            continue;
        }
        if node.domain.is_empty() && node.op_type == "ConstantOfShape" {
            if let Some((new_nodes, value)) = super::graph_fixes::constant_like(&node, i, &shapes) {
                nodes.extend(new_nodes);
                graph.initializer.push(value);
                continue;
            }
        }
        if node.domain == ML_DOMAIN {
            super::ml::check(&node, i)?;
        }
        if doubles && node.domain.is_empty() && node.op_type == "Sigmoid" {
            let (new_nodes, one) = sigmoid_f64(&node, i)?;
            nodes.extend(new_nodes);
            graph.initializer.push(one);
            continue;
        }
        if node.domain == ML_DOMAIN && node.op_type == "Scaler" {
            let (new_nodes, inits) = scaler(&node, i)?;
            nodes.extend(new_nodes);
            graph.initializer.extend(inits);
        } else if node.domain == ML_DOMAIN && node.op_type == "ZipMap" {
            unzip_map(&mut graph.output, &node, i)?;
        } else {
            nodes.push(node);
        }
    }
    graph.node = nodes;
    ensure_default_opset(model);
    Ok(())
}

/// The new Sub/Mul/Cast nodes need a default-domain opset import.
fn ensure_default_opset(model: &mut pb::ModelProto) {
    if !model.opset_import.iter().any(|o| o.domain.is_empty()) {
        model.opset_import.push(pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        });
    }
}

fn floats_attr(node: &pb::NodeProto, name: &str, default: f32) -> Vec<f32> {
    match node.attribute.iter().find(|a| a.name == name) {
        Some(a) if !a.floats.is_empty() => a.floats.clone(),
        Some(a) if a.r#type == AttributeType::Float as i32 => vec![a.f],
        _ => vec![default],
    }
}

fn scaler(
    node: &pb::NodeProto,
    index: usize,
) -> Result<(Vec<pb::NodeProto>, Vec<pb::TensorProto>), String> {
    let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
        return Err(format!(
            "Scaler node {index} needs one input and one output"
        ));
    };
    let offset = floats_attr(node, "offset", 0.0);
    let scale = floats_attr(node, "scale", 1.0);
    let p = format!("modeld_scaler{index}");
    let tensor = |name: String, v: Vec<f32>| pb::TensorProto {
        dims: vec![v.len() as i64],
        data_type: DataType::Float as i32,
        float_data: v,
        name,
        ..Default::default()
    };
    let simple = |op: &str, inputs: Vec<String>, output: String, suffix: &str| pb::NodeProto {
        input: inputs,
        output: vec![output],
        name: format!("{p}_{suffix}"),
        op_type: op.to_string(),
        ..Default::default()
    };
    let mut cast = simple("Cast", vec![x.clone()], format!("{p}_cast"), "cast");
    cast.attribute.push(pb::AttributeProto {
        name: "to".into(),
        r#type: AttributeType::Int as i32,
        i: DataType::Float as i64,
        ..Default::default()
    });
    let sub = simple(
        "Sub",
        vec![format!("{p}_cast"), format!("{p}_offset")],
        format!("{p}_centred"),
        "sub",
    );
    let mul = simple(
        "Mul",
        vec![format!("{p}_centred"), format!("{p}_scale")],
        y.clone(),
        "mul",
    );
    let inits = vec![
        tensor(format!("{p}_offset"), offset),
        tensor(format!("{p}_scale"), scale),
    ];
    Ok((vec![cast, sub, mul], inits))
}

/// A `ZipMap` turns the [N, K] probabilities into a sequence of maps, which tract cannot
/// produce and the APIs do not answer; the tensor it reads is the same numbers, so that
/// tensor takes its place among the graph outputs (named as the tensor is).
fn unzip_map(
    outputs: &mut [pb::ValueInfoProto],
    node: &pb::NodeProto,
    index: usize,
) -> Result<(), String> {
    let (Some(probabilities), Some(zipped)) = (node.input.first(), node.output.first()) else {
        return Err(format!(
            "ZipMap node {index} needs one input and one output"
        ));
    };
    if node
        .attribute
        .iter()
        .any(|a| a.name == "classlabels_strings" && !a.strings.is_empty())
    {
        return Err(format!(
            "ZipMap node {index} has string class labels; modeld serves int64 labels \
             (re-export with integer classes, or with options={{'zipmap': False}})"
        ));
    }
    let Some(output) = outputs.iter_mut().find(|o| &o.name == zipped) else {
        return Err(format!(
            "ZipMap node {index} feeds other nodes; modeld only drops a ZipMap that is a \
             graph output"
        ));
    };
    let classes = node
        .attribute
        .iter()
        .find(|a| a.name == "classlabels_int64s")
        .map_or(0, |a| a.ints.len());
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = |value: Option<Value>| Dimension {
        value,
        ..Default::default()
    };
    let rows = dim(Some(Value::DimParam("N".into())));
    // Unknown when the ZipMap lists no classes: the classes are then found elsewhere.
    let k = dim(i64::try_from(classes)
        .ok()
        .filter(|k| *k > 0)
        .map(Value::DimValue));
    *output = pb::ValueInfoProto {
        name: probabilities.clone(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim: vec![rows, k] }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(())
}

/// `Sigmoid(x)` as `Div(1, Add(1, Exp(Neg(x))))`, for double tensors.
fn sigmoid_f64(
    node: &pb::NodeProto,
    index: usize,
) -> Result<(Vec<pb::NodeProto>, pb::TensorProto), String> {
    let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
        return Err(format!(
            "Sigmoid node {index} needs one input and one output"
        ));
    };
    let p = format!("modeld_sigmoid{index}");
    let one = pb::TensorProto {
        data_type: DataType::Double as i32,
        double_data: vec![1.0],
        name: format!("{p}_one"),
        ..Default::default()
    };
    let step = |op: &str, inputs: Vec<String>, output: String| pb::NodeProto {
        name: format!("{p}_{}", op.to_lowercase()),
        input: inputs,
        output: vec![output],
        op_type: op.to_string(),
        ..Default::default()
    };
    let nodes = vec![
        step("Neg", vec![x.clone()], format!("{p}_neg")),
        step("Exp", vec![format!("{p}_neg")], format!("{p}_exp")),
        step(
            "Add",
            vec![format!("{p}_one"), format!("{p}_exp")],
            format!("{p}_den"),
        ),
        step(
            "Div",
            vec![format!("{p}_one"), format!("{p}_den")],
            y.clone(),
        ),
    ];
    Ok((nodes, one))
}
