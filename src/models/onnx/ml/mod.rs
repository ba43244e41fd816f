//! ai.onnx.ml operators modeld evaluates itself inside the tract graph, with
//! onnxruntime's semantics: tree ensembles (tract's own is orders of magnitude slower and
//! lacks regressors, MIN/MAX, PROBIT, SOFTMAX_ZERO and the opset-3 tensor attributes) and
//! SVMs (tract has none). Parsing checks every index the file gives, so evaluation
//! never trusts the file.

mod attrs;
mod op;
mod svm;
mod svm_class;
mod transform;
mod tree_eval;
mod trees;

#[cfg(test)]
mod tests;

use tract_onnx::pb;

/// An ONNX parser that builds modeld's ops for the operators it implements.
pub fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    op::register(&mut onnx.op_register);
    onnx
}

/// Parses an operator modeld implements, to refuse a bad one naming it (`index` is its
/// position in the graph) before tract sees the graph; other operators pass.
pub fn check(node: &pb::NodeProto, index: usize) -> Result<(), String> {
    match op::parse_only(node) {
        Some(Err(e)) => Err(format!(
            "{} node {index} ('{}'): {e}",
            node.op_type, node.name
        )),
        _ => Ok(()),
    }
}
