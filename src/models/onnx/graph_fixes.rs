//! Default-domain operators whose tract form fails where onnxruntime's works, rewritten
//! into operators tract runs with onnxruntime's answers:
//! - `ReduceLogSumExp`: tract computes `log(Σ exp(x))` as written, so rows of large
//!   negative scores (a GaussianNB far from every class) underflow to `log(0)` and the
//!   probabilities become infinite; onnxruntime subtracts the maximum first, as this
//!   rewrite does.
//! - `ConstantOfShape` of a runtime `Shape`: tract cannot tell the rank of the result
//!   and fails later (a PolynomialFeatures graph's column of ones, then its
//!   `LinearRegressor`). A `Where` over `Equal(t, t)` gives the same filled tensor with a
//!   rank tract knows, whatever `t` holds (NaN included).

use std::collections::HashMap;

use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

fn step(name: String, op: &str, input: Vec<String>, output: String) -> pb::NodeProto {
    pb::NodeProto {
        name,
        input,
        output: vec![output],
        op_type: op.to_string(),
        ..Default::default()
    }
}

/// `max + ReduceLogSumExp(x - max)`, the maxima taken over the node's own axes.
pub fn stable_log_sum_exp(
    node: &pb::NodeProto,
    index: usize,
) -> Result<Vec<pb::NodeProto>, String> {
    let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
        return Err(format!(
            "ReduceLogSumExp node {index} needs an input and an output"
        ));
    };
    let p = format!("modeld_logsumexp{index}");
    // Same axes (attribute or, from opset 18, input) as the node; kept dims for the
    // subtraction, the node's own keepdims for the final sum.
    let mut max_kept = node.clone();
    max_kept.op_type = "ReduceMax".into();
    max_kept.name = format!("{p}_max_kept");
    max_kept.output = vec![format!("{p}_max_kept")];
    max_kept.attribute.retain(|a| a.name != "keepdims");
    max_kept.attribute.push(pb::AttributeProto {
        name: "keepdims".into(),
        r#type: AttributeType::Int as i32,
        i: 1,
        ..Default::default()
    });
    let mut max_out = node.clone();
    max_out.op_type = "ReduceMax".into();
    max_out.name = format!("{p}_max");
    max_out.output = vec![format!("{p}_max")];
    let shift = step(
        format!("{p}_shift"),
        "Sub",
        vec![x.clone(), format!("{p}_max_kept")],
        format!("{p}_shifted"),
    );
    let mut shifted = node.clone();
    shifted.name = format!("{p}_shifted_lse");
    if let Some(first) = shifted.input.first_mut() {
        *first = format!("{p}_shifted");
    }
    shifted.output = vec![format!("{p}_lse")];
    let add = step(
        format!("{p}_add"),
        "Add",
        vec![format!("{p}_lse"), format!("{p}_max")],
        y.clone(),
    );
    Ok(vec![max_kept, max_out, shift, shifted, add])
}

/// Output name → input name of every `Shape` node taking the whole shape (no
/// `start`/`end`).
pub fn whole_shapes(nodes: &[pb::NodeProto]) -> HashMap<String, String> {
    nodes
        .iter()
        .filter(|n| n.domain.is_empty() && n.op_type == "Shape")
        .filter(|n| {
            n.attribute
                .iter()
                .all(|a| a.name != "start" && a.name != "end")
        })
        .filter_map(|n| Some((n.output.first()?.clone(), n.input.first()?.clone())))
        .collect()
}

/// `ConstantOfShape(Shape(t))` as `Where(Equal(t, t), value, value)`; `None` when the
/// node's shape does not come straight from a `Shape` node.
pub fn constant_like(
    node: &pb::NodeProto,
    index: usize,
    shapes: &HashMap<String, String>,
) -> Option<(Vec<pb::NodeProto>, pb::TensorProto)> {
    let t = shapes.get(node.input.first()?)?;
    let y = node.output.first()?;
    let p = format!("modeld_constant{index}");
    let mut value = node
        .attribute
        .iter()
        .find(|a| a.name == "value")
        .and_then(|a| a.t.clone())
        .unwrap_or_else(|| pb::TensorProto {
            data_type: DataType::Float as i32,
            float_data: vec![0.0],
            ..Default::default()
        });
    // One element, whatever dims the attribute gave it (a scalar or [1]).
    value.dims = vec![1];
    value.name = format!("{p}_value");
    let nodes = vec![
        step(
            format!("{p}_equal"),
            "Equal",
            vec![t.clone(), t.clone()],
            format!("{p}_equal"),
        ),
        step(
            format!("{p}_where"),
            "Where",
            vec![format!("{p}_equal"), value.name.clone(), value.name.clone()],
            y.clone(),
        ),
    ];
    Some((nodes, value))
}
