//! Parsing of `instances`: rows in schema order (`[[5.1, 3.5, ...]]`) or records by
//! feature name (`[{"sepal_length": 5.1, ...}]`), straight into one row-major buffer.

use std::fmt;

use ndarray::Array2;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use utoipa::openapi::schema::{self, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::RefOr;

use crate::api::error::ApiError;
use crate::models::Schema;

/// `instances` as sent, parsed in one pass: the values of every row given as an array go
/// straight into one row-major buffer (no `Vec` per row), and records by feature name are
/// kept aside until the schema can place them. When every row is an array of the model's
/// width, that buffer becomes the matrix without a copy.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Instances {
    values: Vec<f64>,
    rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq)]
enum Row {
    /// This many values, next in `values`.
    Values(usize),
    Record(Vec<(String, f64)>),
}

impl Instances {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The wire form for the OpenAPI document: at least one row, each a non-empty array of
/// numbers or a record of feature name to number (an empty list or row is refused).
impl utoipa::PartialSchema for Instances {
    fn schema() -> RefOr<schema::Schema> {
        let number = || ObjectBuilder::new().schema_type(Type::Number);
        let row = ArrayBuilder::new().items(number()).min_items(Some(1));
        let record = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(number()));
        ArrayBuilder::new()
            .items(OneOfBuilder::new().item(row).item(record))
            .min_items(Some(1))
            .description(Some(
                "Rows in schema order, or records keyed by feature name.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Instances {}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Instances;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of instances")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Instances, A::Error> {
                let mut out = Instances::default();
                while let Some(row) = seq.next_element_seed(RowSeed(&mut out.values))? {
                    out.rows.push(row);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

/// One instance: an array of numbers (appended to the shared buffer) or an object of
/// feature name to number.
struct RowSeed<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Row;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Row;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers or an object of feature name to number")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row, A::Error> {
        let start = self.0.len();
        while let Some(v) = seq.next_element::<f64>()? {
            self.0.push(v);
        }
        Ok(Row::Values(self.0.len() - start))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        // Bounded by the body: a record holds what the client sent, nothing more.
        let mut rec = Vec::with_capacity(map.size_hint().unwrap_or(16).min(1024));
        while let Some((k, v)) = map.next_entry::<String, f64>()? {
            rec.push((k, v));
        }
        Ok(Row::Record(rec))
    }
}

/// Checks every instance against `schema` and lays them out as a rows × features matrix.
pub fn to_matrix(instances: Instances, schema: &Schema) -> Result<Array2<f64>, ApiError> {
    let n = schema.feature_names.len();
    if instances.is_empty() {
        return Err(ApiError::InvalidInput(
            "instances is empty: send at least one row".into(),
        ));
    }
    let rows = instances.len();
    let Instances {
        values,
        rows: shape,
    } = instances;
    let all_rows_fit = shape
        .iter()
        .all(|r| matches!(r, Row::Values(len) if *len == n));
    let flat = if all_rows_fit {
        values
    } else {
        place(&values, &shape, schema)?
    };
    if let Some(pos) = flat.iter().position(|v| !v.is_finite()) {
        return Err(ApiError::InvalidInput(format!(
            "row {} feature {}: value is not a finite number",
            pos / n.max(1),
            pos % n.max(1)
        )));
    }
    Array2::from_shape_vec((rows, n), flat)
        .map_err(|e| ApiError::Internal(format!("matrix shape: {e}")))
}

/// The matrix's values when some row is a record or has the wrong width: each row
/// checked and placed in schema order.
fn place(values: &[f64], shape: &[Row], schema: &Schema) -> Result<Vec<f64>, ApiError> {
    let n = schema.feature_names.len();
    let mut flat = Vec::with_capacity(shape.len().saturating_mul(n));
    let mut next = 0usize;
    for (i, row) in shape.iter().enumerate() {
        match row {
            Row::Values(len) => {
                if *len != n {
                    return Err(ApiError::InvalidInput(format!(
                        "row {i} has {len} values but the model expects {n} features ({})",
                        schema.feature_names.join(", ")
                    )));
                }
                let end = next.saturating_add(n);
                let row = values.get(next..end).ok_or_else(|| {
                    ApiError::Internal(format!("row {i} lies outside the parsed values"))
                })?;
                flat.extend_from_slice(row);
                next = end;
            }
            Row::Record(rec) => place_record(i, rec, schema, &mut flat)?,
        }
    }
    Ok(flat)
}

fn place_record(
    i: usize,
    rec: &[(String, f64)],
    schema: &Schema,
    flat: &mut Vec<f64>,
) -> Result<(), ApiError> {
    let n = schema.feature_names.len();
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
        let Some(slot) = flat.get_mut(start + col) else {
            return Err(ApiError::Internal(format!(
                "row {i}: column {col} out of range"
            )));
        };
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
            .zip(flat.get(start..).unwrap_or_default())
            .filter(|(_, v)| v.is_nan())
            .map(|(f, _)| f.as_str())
            .collect();
        return Err(ApiError::InvalidInput(format!(
            "row {i}: missing feature(s) {}",
            missing.join(", ")
        )));
    }
    Ok(())
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
        let v: Instances = serde_json::from_str(r#"[[1, 2], {"b": 4, "a": 3}]"#).unwrap();
        let m = to_matrix(v, &schema()).unwrap();
        assert_eq!(m, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        let v: Instances = serde_json::from_str(r#"[{"b": 4, "a": 3}, [1, 2]]"#).unwrap();
        let m = to_matrix(v, &schema()).unwrap();
        assert_eq!(m, ndarray::array![[3.0, 4.0], [1.0, 2.0]]);
        let v: Instances = serde_json::from_str(r#"[[1, 2], [5, 6]]"#).unwrap();
        assert_eq!(
            to_matrix(v, &schema()).unwrap(),
            ndarray::array![[1.0, 2.0], [5.0, 6.0]]
        );
    }

    #[test]
    fn wrong_width_unknown_missing_and_duplicate_features_are_rejected() {
        for body in [
            r#"[[1, 2, 3]]"#,
            r#"[{"a": 1, "c": 2}]"#,
            r#"[{"a": 1}]"#,
            r#"[{"a": 1, "a": 2}]"#,
            r#"[]"#,
            r#"[[1, 2], [3]]"#,
            r#"[[1], [2, 3, 4]]"#,
        ] {
            let v: Instances = serde_json::from_str(body).unwrap();
            assert!(to_matrix(v, &schema()).is_err(), "{body}");
        }
    }

    #[test]
    fn non_numbers_do_not_parse() {
        assert!(serde_json::from_str::<Instances>(r#"[["x", 1]]"#).is_err());
        assert!(serde_json::from_str::<Instances>(r#"[[null, 1]]"#).is_err());
        assert!(serde_json::from_str::<Instances>(r#"[3]"#).is_err());
        assert!(serde_json::from_str::<Instances>(r#"{"a": 1}"#).is_err());
    }
}
