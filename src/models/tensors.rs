//! Named, typed tensor signatures of a model, as the Open Inference Protocol (KServe V2)
//! and ONNX describe them. Native models all share one layout, named after the tensors
//! skl2onnx writes so a native model, its ONNX export and that export re-imported show
//! clients the same names:
//!
//! * input `input`: FP64 `[-1, d]`, one row per instance in schema order;
//! * classifiers: `label` INT64 `[-1]` (class index into `classes`) and `probabilities`
//!   FP64 `[-1, K]` (column k = `classes[k]`);
//! * regressors: `variable` FP64 `[-1, 1]`.
//!
//! `-1` is the batch dimension.

use serde::Serialize;

use super::Schema;

pub const INPUT: &str = "input";
pub const LABEL: &str = "label";
pub const PROBABILITIES: &str = "probabilities";
pub const VARIABLE: &str = "variable";

/// Element types the server reads and writes (KServe V2 names).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    #[serde(rename = "FP32")]
    Fp32,
    #[serde(rename = "FP64")]
    Fp64,
    #[serde(rename = "INT32")]
    Int32,
    #[serde(rename = "INT64")]
    Int64,
}

impl DataType {
    pub fn as_str(&self) -> &'static str {
        match self {
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "FP32" => DataType::Fp32,
            "FP64" => DataType::Fp64,
            "INT32" => DataType::Int32,
            "INT64" => DataType::Int64,
            _ => return None,
        })
    }
}

/// Which part of [`super::Output`] an output tensor carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `Output::predictions` as class indices.
    Label,
    /// `Output::probabilities`.
    Probabilities,
    /// `Output::predictions` as values, one column.
    Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    /// `-1` marks the batch dimension.
    pub shape: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    pub tensor: TensorSpec,
    pub role: Role,
}

/// The single input and the outputs of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub input: TensorSpec,
    pub outputs: Vec<OutputSpec>,
}

/// The layout every native model uses (see the module docs).
pub fn native(schema: &Schema) -> Signature {
    let d = schema.n_features() as i64;
    let spec = |name: &str, datatype, shape: Vec<i64>| TensorSpec {
        name: name.to_string(),
        datatype,
        shape,
    };
    let outputs = match &schema.classes {
        Some(classes) => vec![
            OutputSpec {
                tensor: spec(LABEL, DataType::Int64, vec![-1]),
                role: Role::Label,
            },
            OutputSpec {
                tensor: spec(
                    PROBABILITIES,
                    DataType::Fp64,
                    vec![-1, classes.len() as i64],
                ),
                role: Role::Probabilities,
            },
        ],
        None => vec![OutputSpec {
            tensor: spec(VARIABLE, DataType::Fp64, vec![-1, 1]),
            role: Role::Value,
        }],
    };
    Signature {
        input: spec(INPUT, DataType::Fp64, vec![-1, d]),
        outputs,
    }
}
