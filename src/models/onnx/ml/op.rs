//! The tract side: an ONNX op builder per ai.onnx.ml operator modeld evaluates itself,
//! an inference-time [`Expansion`] that declares the outputs, and the typed op whose
//! `eval` runs the evaluator on the input rows.

use std::sync::Arc;

use tract_onnx::model::OnnxOpRegister;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::svm::Svm;
use super::trees::Ensemble;

/// The evaluators behind the op.
#[derive(Debug)]
pub enum Kernel {
    Trees(Ensemble),
    Svm(Svm),
}

impl Kernel {
    fn columns(&self) -> usize {
        match self {
            Kernel::Trees(e) => e.columns,
            Kernel::Svm(s) => s.columns(),
        }
    }

    fn classifier(&self) -> bool {
        match self {
            Kernel::Trees(e) => e.classes.is_some(),
            Kernel::Svm(s) => s.is_classifier(),
        }
    }

    fn run<T: super::tree_eval::Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
    ) -> Result<(), String> {
        match self {
            Kernel::Trees(e) => e.eval(x, cols, out, labels),
            Kernel::Svm(s) => s.eval(x, cols, out, labels),
        }
    }
}

pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("TreeEnsembleClassifier", |_, n| {
        build(n, |n| Ok(Kernel::Trees(super::trees::parse(n, true)?)))
    });
    reg.insert("TreeEnsembleRegressor", |_, n| {
        build(n, |n| Ok(Kernel::Trees(super::trees::parse(n, false)?)))
    });
    reg.insert("SVMClassifier", |_, n| {
        build(n, |n| Ok(Kernel::Svm(Svm::parse(n, true)?)))
    });
    reg.insert("SVMRegressor", |_, n| {
        build(n, |n| Ok(Kernel::Svm(Svm::parse(n, false)?)))
    });
}

#[allow(clippy::type_complexity)]
fn build(
    node: &NodeProto,
    parse: fn(&NodeProto) -> Result<Kernel, String>,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel = parse(node).map_err(|e| anyhow!("{} node '{}': {e}", node.op_type, node.name))?;
    Ok((expand(MlExpansion(MlOp(Arc::new(kernel)))), vec![]))
}

/// Pub for [`super::check`], which parses without tract to name a bad node early.
pub fn parse_only(node: &NodeProto) -> Option<Result<(), String>> {
    let parsed = match node.op_type.as_str() {
        "TreeEnsembleClassifier" => super::trees::parse(node, true).map(drop),
        "TreeEnsembleRegressor" => super::trees::parse(node, false).map(drop),
        "SVMClassifier" => Svm::parse(node, true).map(drop),
        "SVMRegressor" => Svm::parse(node, false).map(drop),
        _ => return None,
    };
    Some(parsed)
}

#[derive(Debug, Clone)]
pub struct MlOp(Arc<Kernel>);

impl PartialEq for MlOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for MlOp {}

#[derive(Debug, Clone)]
struct MlExpansion(MlOp);

impl Expansion for MlExpansion {
    fn name(&self) -> StaticName {
        "ModeldMl".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(if self.0 .0.classifier() { 2 } else { 1 })
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        let k = &self.0 .0;
        if k.classifier() {
            check_output_arity(outputs, 2)?;
            s.equals(&outputs[0].datum_type, i64::datum_type())?;
            s.equals(&outputs[0].rank, 1)?;
            s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            s.equals(&outputs[1].datum_type, f32::datum_type())?;
            s.equals(&outputs[1].rank, 2)?;
            s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
            s.equals(&outputs[1].shape[1], k.columns().to_dim())?;
        } else {
            check_output_arity(outputs, 1)?;
            s.equals(&outputs[0].datum_type, f32::datum_type())?;
            s.equals(&outputs[0].rank, 2)?;
            s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            s.equals(&outputs[0].shape[1], k.columns().to_dim())?;
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.0.clone(), inputs)
    }
}

impl Op for MlOp {
    fn name(&self) -> StaticName {
        "ModeldMl".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MlOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let (rows, cols) = match shape {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            _ => bail!("expected a [N, d] input, got {:?}", shape),
        };
        let k = &self.0;
        let out_len = rows
            .checked_mul(k.columns())
            .ok_or_else(|| anyhow!("output size overflows"))?;
        let mut out = vec![0f32; out_len];
        let mut labels = vec![0i64; rows];
        if input.datum_type() == f64::datum_type() {
            let view = input.try_as_plain_ram()?;
            let x = view.as_slice::<f64>()?;
            k.run(x, cols, &mut out, &mut labels)
                .map_err(|e| anyhow!(e))?;
        } else {
            let x = input.cast_to::<f32>()?;
            let view = x.try_as_plain_ram()?;
            let x = view.as_slice::<f32>()?;
            let wide = matches!(&**k, Kernel::Trees(e) if e.wide);
            if wide {
                let x: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
                k.run(&x, cols, &mut out, &mut labels)
                    .map_err(|e| anyhow!(e))?;
            } else {
                k.run(x, cols, &mut out, &mut labels)
                    .map_err(|e| anyhow!(e))?;
            }
        }
        let scores = Tensor::from_shape(&[rows, k.columns()], &out)?.into_tvalue();
        if k.classifier() {
            Ok(tvec!(
                Tensor::from_shape(&[rows], &labels)?.into_tvalue(),
                scores
            ))
        } else {
            Ok(tvec!(scores))
        }
    }
}

impl TypedOp for MlOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs
            .first()
            .and_then(|i| i.shape.iter().next())
            .ok_or_else(|| anyhow!("no input"))?;
        let scores = f32::fact(&[n.clone(), self.0.columns().to_dim()]);
        if self.0.classifier() {
            Ok(tvec!(i64::fact(std::slice::from_ref(n)), scores))
        } else {
            Ok(tvec!(scores))
        }
    }

    as_op!();
}
