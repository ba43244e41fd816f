//! What `modelctl` reads from the user before anything is sent: training CSVs (checked
//! locally, so a ragged file fails here naming its line and nothing reaches the server),
//! `--param k=v` pairs, and the rows to predict.

use std::io::Read;
use std::path::Path;

use modeld::registry::store::datasets::DatasetInfo;
use modeld::train::dataset::DataSpec;
use reqwest::Method;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::client::{encode, Body, CliError, Client};

/// Reads and checks a training CSV, then uploads it as a dataset (`PUT /v1/datasets`)
/// named after the file and its content (`iris-3f2a9c1e0b7d`), so a second training on the
/// same file sends nothing and a different file never replaces it.
pub async fn upload(client: &Client, path: &Path, target: &str) -> Result<DataSpec, CliError> {
    let csv = read_text(path)?;
    check_training_csv(&csv, target).map_err(|e| usage(path, e))?;
    let sha256: String = Sha256::digest(csv.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = dataset_name(path, &sha256);
    let url = format!("/v1/datasets/{}", encode(&name));
    let stored: Result<DatasetInfo, _> = client.get(&url).await;
    if !stored.is_ok_and(|info| info.sha256 == sha256) {
        client
            .send(Method::PUT, &url, Body::<()>::Csv(csv.into_bytes()))
            .await?;
    }
    Ok(DataSpec::Dataset {
        dataset: name,
        target: target.to_string(),
        class_names: None,
    })
}

/// The file's stem in the characters a dataset name allows, then 12 hex digits of its
/// SHA-256.
fn dataset_name(path: &Path, sha256: &str) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let stem = stem.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let stem = if stem.is_empty() { "data" } else { stem };
    format!("{stem}-{}", sha256.get(..12).unwrap_or(sha256))
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

fn usage(path: &Path, msg: String) -> CliError {
    CliError::Usage(format!("{}: {msg}", path.display()))
}

/// A header, at least one row, every row as wide as the header, and the target among the
/// columns. Returns the number of data rows.
pub fn check_training_csv(text: &str, target: &str) -> Result<usize, String> {
    let (header, rows) = parse_csv(text)?;
    if !header.iter().any(|h| h == target) {
        return Err(format!(
            "no target column '{target}' (columns: {}); name it with --target",
            header.join(", ")
        ));
    }
    if rows.is_empty() {
        return Err("no data rows after the header".into());
    }
    Ok(rows.len())
}

/// A CSV row with the 1-based line number it started on.
struct Row {
    line: u64,
    fields: Vec<String>,
}

/// Parses strictly: a row of another width than the header is an error naming its line.
fn parse_csv(text: &str) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(describe)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("empty file: a header line is needed".into());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(describe)?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push(Row {
            line,
            fields: record.iter().map(|f| f.trim().to_string()).collect(),
        });
    }
    Ok((header, rows))
}

fn describe(e: csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(0, |p| p.line());
            format!("line {line} has {len} fields but the header has {expected_len}")
        }
        _ => match e.position() {
            Some(p) => format!("line {}: {e}", p.line()),
            None => e.to_string(),
        },
    }
}

/// `--param k=v` pairs as a JSON object: each value is JSON when it parses as JSON
/// (`0.1`, `[16,8]`, `true`), else a string (`adam`).
pub fn params(pairs: &[String]) -> Result<Map<String, Value>, CliError> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(CliError::Usage(format!(
                "--param {pair}: expected KEY=VALUE, e.g. learning_rate=0.01"
            )));
        };
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
        out.insert(key.trim().to_string(), value);
    }
    Ok(out)
}

/// The `instances` to predict: records keyed by the CSV's header, or the JSON rows read
/// from stdin (`[[...], ...]`, `[{...}, ...]` or `{"instances": [...]}`), checked with
/// the server's own parser before sending.
pub fn instances(csv_path: Option<&Path>) -> Result<Value, CliError> {
    let value = match csv_path {
        Some(path) => csv_records(&read_text(path)?).map_err(|e| usage(path, e))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("cannot read stdin: {e}")))?;
            stdin_rows(&text)?
        }
    };
    if let Err(e) = serde_json::from_value::<modeld::api::instances::Instances>(value.clone()) {
        return Err(CliError::Usage(format!("rows to predict: {e}")));
    }
    Ok(value)
}

fn stdin_rows(text: &str) -> Result<Value, CliError> {
    if text.trim().is_empty() {
        return Err(CliError::Usage(
            "no rows: give --data FILE.csv or JSON rows on stdin".into(),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CliError::Usage(format!("stdin is not JSON: {e}")))?;
    Ok(match value {
        Value::Object(mut o) if o.contains_key("instances") => {
            o.remove("instances").unwrap_or(Value::Null)
        }
        other => other,
    })
}

/// Every row as a record `{column: number}`, so the server places columns by name.
fn csv_records(text: &str) -> Result<Value, String> {
    let (header, rows) = parse_csv(text)?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        let mut record = Map::new();
        for (name, field) in header.iter().zip(&row.fields) {
            let number: f64 = field.parse().map_err(|_| {
                format!(
                    "line {}: column '{name}' is '{field}', not a number",
                    row.line
                )
            })?;
            record.insert(name.clone(), Value::from(number));
        }
        records.push(Value::Object(record));
    }
    if records.is_empty() {
        return Err("no data rows after the header".into());
    }
    Ok(Value::Array(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ragged_row_is_named_by_its_line() {
        let text = "a,b,target\n1,2,0\n3,4,1\n5,6\n7,8,1\n";
        let err = check_training_csv(text, "target").unwrap_err();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("2 fields") && err.contains("has 3"), "{err}");
    }

    #[test]
    fn the_target_must_be_a_column() {
        let err = check_training_csv("a,b\n1,2\n", "target").unwrap_err();
        assert!(err.contains("'target'") && err.contains("a, b"), "{err}");
        assert_eq!(check_training_csv("a,y\n1,2\n3,4\n", "y"), Ok(2));
    }

    #[test]
    fn params_are_json_when_they_parse_and_strings_otherwise() {
        let p = params(&[
            "l2=0.1".into(),
            "hidden_layers=[16,8]".into(),
            "optimizer=adam".into(),
        ])
        .unwrap();
        assert_eq!(p["l2"], serde_json::json!(0.1));
        assert_eq!(p["hidden_layers"], serde_json::json!([16, 8]));
        assert_eq!(p["optimizer"], serde_json::json!("adam"));
        assert!(matches!(params(&["l2".into()]), Err(CliError::Usage(_))));
    }

    #[test]
    fn csv_rows_become_records_and_text_is_refused_with_its_line() {
        let v = csv_records("x0,x1\n1,2.5\n").unwrap();
        assert_eq!(v, serde_json::json!([{"x0": 1.0, "x1": 2.5}]));
        let err = csv_records("x0,x1\n1,2\n3,abc\n").unwrap_err();
        assert!(err.contains("line 3") && err.contains("x1"), "{err}");
    }

    #[test]
    fn stdin_takes_bare_rows_or_an_instances_object() {
        let rows = serde_json::json!([[1.0, 2.0]]);
        assert_eq!(stdin_rows("[[1.0, 2.0]]").unwrap(), rows);
        assert_eq!(stdin_rows(r#"{"instances": [[1.0, 2.0]]}"#).unwrap(), rows);
        assert!(stdin_rows("  ").is_err());
    }
}
