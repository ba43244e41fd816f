//! Parsing of `instances`: rows in schema order (`[[5.1, 3.5, ...]]`) or records by
//! feature name (`[{"sepal_length": 5.1, ...}]`), straight into one row-major buffer.

use std::fmt;

use ndarray::Array2;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::models::Schema;

/// One instance as sent: a row of numbers or a record of name → number.
#[derive(Debug, Clone, PartialEq)]
pub enum Instance {
    Row(Vec<f64>),
    Record(Vec<(String, f64)>),
}

impl<'de> Deserialize<'de> for Instance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InstanceVisitor;
        impl<'de> Visitor<'de> for InstanceVisitor {
            type Value = Instance;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or an object of feature name to number")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Instance, A::Error> {
                let mut row = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(v) = seq.next_element::<f64>()? {
                    row.push(v);
                }
                Ok(Instance::Row(row))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Instance, A::Error> {
                let mut rec = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((k, v)) = map.next_entry::<String, f64>()? {
                    rec.push((k, v));
                }
                Ok(Instance::Record(rec))
            }
        }
        d.deserialize_any(InstanceVisitor)
    }
}

/// Checks every instance against `schema` and lays them out as a rows × features matrix.
pub fn to_matrix(instances: &[Instance], schema: &Schema) -> Result<Array2<f64>, ApiError> {
    let n = schema.feature_names.len();
    if instances.is_empty() {
        return Err(ApiError::InvalidInput(
            "instances is empty: send at least one row".into(),
        ));
    }
    let mut flat = Vec::with_capacity(instances.len() * n);
    for (i, inst) in instances.iter().enumerate() {
        match inst {
            Instance::Row(row) => {
                if row.len() != n {
                    return Err(ApiError::InvalidInput(format!(
                        "row {i} has {} values but the model expects {n} features ({})",
                        row.len(),
                        schema.feature_names.join(", ")
                    )));
                }
                flat.extend_from_slice(row);
            }
            Instance::Record(rec) => {
                let start = flat.len();
                flat.resize(start + n, f64::NAN);
                let mut seen = 0;
                for (name, value) in rec {
                    let Some(col) = schema.feature_names.iter().position(|f| f == name) else {
                        return Err(ApiError::InvalidInput(format!(
                            "row {i}: unknown feature '{name}'; expected {}",
                            schema.feature_names.join(", ")
                        )));
                    };
                    let slot = &mut flat[start + col];
                    if !slot.is_nan() {
                        return Err(ApiError::InvalidInput(format!(
                            "row {i}: feature '{name}' given twice"
                        )));
                    }
                    *slot = *value;
                    seen += 1;
                }
                if seen != n {
                    let missing: Vec<&str> = schema
                        .feature_names
                        .iter()
                        .zip(&flat[start..])
                        .filter(|(_, v)| v.is_nan())
                        .map(|(f, _)| f.as_str())
                        .collect();
                    return Err(ApiError::InvalidInput(format!(
                        "row {i}: missing feature(s) {}",
                        missing.join(", ")
                    )));
                }
            }
        }
    }
    if let Some(pos) = flat.iter().position(|v| !v.is_finite()) {
        return Err(ApiError::InvalidInput(format!(
            "row {} feature {}: value is not a finite number",
            pos / n.max(1),
            pos % n.max(1)
        )));
    }
    Array2::from_shape_vec((instances.len(), n), flat)
        .map_err(|e| ApiError::Internal(format!("matrix shape: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema {
            feature_names: vec!["a".into(), "b".into()],
            target: "y".into(),
            classes: None,
        }
    }

    #[test]
    fn rows_and_records_give_the_same_matrix() {
        let v: Vec<Instance> = serde_json::from_str(r#"[[1, 2], {"b": 4, "a": 3}]"#).unwrap();
        let m = to_matrix(&v, &schema()).unwrap();
        assert_eq!(m, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
    }

    #[test]
    fn wrong_width_unknown_missing_and_duplicate_features_are_rejected() {
        for body in [
            r#"[[1, 2, 3]]"#,
            r#"[{"a": 1, "c": 2}]"#,
            r#"[{"a": 1}]"#,
            r#"[{"a": 1, "a": 2}]"#,
            r#"[]"#,
        ] {
            let v: Vec<Instance> = serde_json::from_str(body).unwrap();
            assert!(to_matrix(&v, &schema()).is_err(), "{body}");
        }
    }

    #[test]
    fn non_numbers_do_not_parse() {
        assert!(serde_json::from_str::<Vec<Instance>>(r#"[["x", 1]]"#).is_err());
        assert!(serde_json::from_str::<Vec<Instance>>(r#"[[null, 1]]"#).is_err());
        assert!(serde_json::from_str::<Vec<Instance>>(r#"[3]"#).is_err());
    }
}
