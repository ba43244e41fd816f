//! Training data: the request-side [`DataSpec`] (inline rows, inline CSV or a
//! CSV file under the data directory), path safety, and the [`Dataset`] it
//! loads into (parsing itself lives in [`super::parse`], label encoding in
//! [`super::labels`]).

use ndarray::{Array2, Axis};

use serde::{Deserialize, Deserializer, Serialize};

use super::fingerprint::ReadFingerprint;
pub use super::parse::parse_csv;
use super::task::check_class_count;
use super::TrainError;
use crate::models::Task;

/// Parsed, validated training data.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// rows x features, all finite.
    pub x: Array2<f64>,
    /// Regression: target values. Classification: class indices 0..k as f64.
    pub y: Vec<f64>,
    pub feature_names: Vec<String>,
    pub target: String,
    /// Class label names (index i = class i); `None` for regression.
    pub classes: Option<Vec<String>>,
    /// The fingerprint, when the reader computed it as it parsed (see
    /// [`super::assemble`]); to be left empty by anyone else.
    pub read_fingerprint: ReadFingerprint,
}

impl Dataset {
    pub fn n_rows(&self) -> usize {
        self.x.nrows()
    }

    /// Classification iff `classes` is set.
    pub fn task(&self) -> Task {
        if self.classes.is_some() {
            Task::Classification
        } else {
            Task::Regression
        }
    }

    /// The rows at `rows` (in that order); errors on an out-of-range index.
    pub fn select(&self, rows: &[usize]) -> Result<Dataset, TrainError> {
        let n = self.n_rows();
        if let Some(&bad) = rows.iter().find(|&&r| r >= n || r >= self.y.len()) {
            return Err(TrainError::data(format!(
                "row index {bad} out of range (dataset has {n} rows)"
            )));
        }
        Ok(Dataset {
            x: self.x.select(Axis(0), rows),
            y: rows
                .iter()
                .filter_map(|&r| self.y.get(r).copied())
                .collect(),
            feature_names: self.feature_names.clone(),
            target: self.target.clone(),
            classes: self.classes.clone(),
            read_fingerprint: Default::default(),
        })
    }

    /// Re-checks the invariants (the fields are public): shapes agree, at
    /// least one row and feature, finite values, valid class indices.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::data(m));
        let (n, d) = self.x.dim();
        if n == 0 {
            return bad("dataset has no rows".into());
        }
        if d == 0 || d != self.feature_names.len() {
            return bad(format!(
                "dataset has {d} feature columns and {} feature names",
                self.feature_names.len()
            ));
        }
        if self.y.len() != n {
            return Err(TrainError::ShapeMismatch {
                rows: n,
                targets: self.y.len(),
            });
        }
        // The whole matrix is scanned on every fit: a slice scan is several times faster
        // than ndarray's indexed iterator, which is only walked to name the bad cell.
        let all_finite = match self.x.as_slice() {
            Some(cells) => cells.iter().all(|v| v.is_finite()),
            None => self.x.iter().all(|v| v.is_finite()),
        };
        let first_bad = || self.x.indexed_iter().find(|(_, v)| !v.is_finite());
        if let Some(((row, col), _)) = (!all_finite).then(first_bad).flatten() {
            return bad(format!(
                "feature `{}` at row {row} is not finite",
                self.feature_names[col]
            ));
        }
        let k = self.classes.as_ref().map(Vec::len);
        if let Some(k) = k {
            check_class_count(k)?;
        }
        let valid = |v: f64| match k {
            None => v.is_finite(),
            Some(k) => v.fract() == 0.0 && v >= 0.0 && v < k as f64,
        };
        if let Some(row) = self.y.iter().position(|&v| !valid(v)) {
            return bad(format!(
                "target at row {row} is not a valid {}",
                if k.is_some() { "class index" } else { "number" }
            ));
        }
        Ok(())
    }
}

/// Where training data comes from (JSON: exactly one of `rows`, `csv`, `path`,
/// `dataset`; unknown fields are rejected). Serialises to the same forms, so the
/// `modelctl` client sends exactly what the server parses.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DataSpec {
    /// Inline rows; `feature_names` defaults to x0..x{d-1}; targets are numbers
    /// or (classification) strings.
    Rows {
        rows: Vec<Vec<f64>>,
        targets: Vec<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        feature_names: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        class_names: Option<Vec<String>>,
    },
    /// Inline CSV text with a header; `target` (default "target") names the target column.
    Csv {
        csv: String,
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        class_names: Option<Vec<String>>,
    },
    /// A CSV file relative to the data directory.
    Path {
        path: String,
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        class_names: Option<Vec<String>>,
    },
    /// A dataset uploaded to the store (`PUT /v1/datasets/{name}`).
    Dataset {
        dataset: String,
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        class_names: Option<Vec<String>>,
    },
}

impl DataSpec {
    /// Where the data came from, as the runs table shows it.
    pub fn source(&self) -> String {
        match self {
            DataSpec::Rows { .. } => "rows".to_string(),
            DataSpec::Csv { .. } => "csv".to_string(),
            DataSpec::Path { path, .. } => path.clone(),
            DataSpec::Dataset { dataset, .. } => format!("dataset:{dataset}"),
        }
    }
}

fn default_target() -> String {
    "target".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowsSpec {
    rows: Vec<Vec<f64>>,
    targets: Vec<serde_json::Value>,
    #[serde(default)]
    feature_names: Option<Vec<String>>,
    #[serde(default)]
    class_names: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextSpec {
    #[serde(alias = "path", alias = "dataset")]
    csv: String,
    #[serde(default = "default_target")]
    target: String,
    #[serde(default)]
    class_names: Option<Vec<String>>,
}

/// Hand-written instead of `#[serde(untagged)]` so that unknown fields are
/// rejected and the error says which form was attempted.
impl<'de> Deserialize<'de> for DataSpec {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(de)?;
        let keys: Vec<&str> = ["rows", "csv", "path", "dataset"]
            .into_iter()
            .filter(|k| v.get(k).is_some())
            .collect();
        let err = |form: &str, e: serde_json::Error| {
            D::Error::custom(format!("invalid `{form}` data: {e}"))
        };
        match keys.as_slice() {
            ["rows"] => {
                let r: RowsSpec = serde_json::from_value(v).map_err(|e| err("rows", e))?;
                Ok(DataSpec::Rows {
                    rows: r.rows,
                    targets: r.targets,
                    feature_names: r.feature_names,
                    class_names: r.class_names,
                })
            }
            ["csv"] => {
                let t: TextSpec = serde_json::from_value(v).map_err(|e| err("csv", e))?;
                Ok(DataSpec::Csv {
                    csv: t.csv,
                    target: t.target,
                    class_names: t.class_names,
                })
            }
            ["path"] => {
                let t: TextSpec = serde_json::from_value(v).map_err(|e| err("path", e))?;
                Ok(DataSpec::Path {
                    path: t.csv,
                    target: t.target,
                    class_names: t.class_names,
                })
            }
            ["dataset"] => {
                let t: TextSpec = serde_json::from_value(v).map_err(|e| err("dataset", e))?;
                Ok(DataSpec::Dataset {
                    dataset: t.csv,
                    target: t.target,
                    class_names: t.class_names,
                })
            }
            [] => Err(D::Error::custom(
                "data must be an object with one of `rows`, `csv`, `path` or `dataset`",
            )),
            _ => Err(D::Error::custom(
                "data must have exactly one of `rows`, `csv`, `path` or `dataset`",
            )),
        }
    }
}
