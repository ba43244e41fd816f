//! Parsing of inline rows and CSV text into a validated [`Dataset`]: shape,
//! finiteness and name checks with errors that name the row and column.

use ndarray::Array2;

use super::fast_csv;
use super::labels::{encode_numeric, encode_strings};
use super::plain_csv::{all_but, check_names, parse_plain_csv};
use super::{Dataset, TrainError};
use crate::models::Task;

pub(super) fn from_rows(
    rows: &[Vec<f64>],
    targets: &[serde_json::Value],
    feature_names: Option<&[String]>,
    class_names: Option<&[String]>,
    task: Task,
) -> Result<Dataset, TrainError> {
    let bad = |m: String| Err(TrainError::data(m));
    let d = rows.first().map_or(0, Vec::len);
    if rows.is_empty() {
        return bad("dataset has no rows".into());
    }
    if d == 0 {
        return bad("rows have no feature values".into());
    }
    if let Some(i) = rows.iter().position(|r| r.len() != d) {
        return bad(format!(
            "row {i} has {} values, expected {d} like row 0",
            rows[i].len()
        ));
    }
    if targets.len() != rows.len() {
        return Err(TrainError::ShapeMismatch {
            rows: rows.len(),
            targets: targets.len(),
        });
    }
    let names: Vec<String> = match feature_names {
        Some(n) if n.len() != d => {
            return bad(format!("{} feature_names for {d} columns", n.len()))
        }
        Some(n) => n.to_vec(),
        None => (0..d).map(|j| format!("x{j}")).collect(),
    };
    check_names(&names, "feature name")?;
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    if let Some(p) = flat.iter().position(|v| !v.is_finite()) {
        return bad(format!(
            "row {}, column `{}`: value is not finite",
            p / d,
            names[p % d]
        ));
    }
    let x = Array2::from_shape_vec((rows.len(), d), flat)
        .map_err(|e| TrainError::data(e.to_string()))?;
    let (y, classes) = match task {
        Task::Regression => {
            let y = targets
                .iter()
                .enumerate()
                .map(|(i, t)| match t.as_f64() {
                    Some(v) if v.is_finite() => Ok(v),
                    _ => Err(TrainError::data(format!(
                        "target at row {i} must be a finite number, got {t}"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            (y, None)
        }
        Task::Classification => {
            if let Some(nums) = targets
                .iter()
                .map(serde_json::Value::as_f64)
                .collect::<Option<Vec<_>>>()
            {
                let (y, c) = encode_numeric(&nums, class_names)?;
                (y, Some(c))
            } else {
                let strs = targets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.as_str().map(str::to_string).ok_or_else(|| {
                            TrainError::data(format!(
                                "target at row {i} must be a string like the others, got {t}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (y, c) = encode_strings(&strs, class_names)?;
                (y, Some(c))
            }
        }
    };
    Ok(Dataset {
        x,
        y,
        feature_names: names,
        target: "target".into(),
        classes,
        read_fingerprint: Default::default(),
    })
}

/// Parses CSV text: header required, `target` column by name, every other
/// column a numeric feature. Row numbers in errors are 0-based data rows.
pub fn parse_csv(
    text: &str,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
) -> Result<Dataset, TrainError> {
    match parse_plain_csv(
        text,
        target,
        class_names,
        task,
        fast_csv::MIN_PARALLEL_BYTES,
    ) {
        Some(dataset) => Ok(dataset),
        None => parse_any_csv(text, target, class_names, task),
    }
}

fn reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input)
}

/// The header's names and the target's index, refused as a parse would refuse them: no
/// target column, nothing besides it, or a name twice.
fn checked_header<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    target: &str,
) -> Result<(Vec<String>, usize), TrainError> {
    let bad = |m: String| TrainError::data(m);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(format!("cannot read CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let t_idx = header.iter().position(|h| h == target).ok_or_else(|| {
        bad(format!(
            "target column `{target}` not found in CSV header (columns: {})",
            header.join(", ")
        ))
    })?;
    if header.len() < 2 {
        return Err(bad("CSV has no feature columns besides the target".into()));
    }
    check_names(&header, "CSV column")?;
    Ok((header, t_idx))
}

/// The number of columns of the CSV starting with `head` (its header record, at least),
/// after the checks a parse starts with; the rows are not read.
pub(super) fn header_fields(head: &[u8], target: &str) -> Result<usize, TrainError> {
    checked_header(&mut reader(head), target).map(|(header, _)| header.len())
}

/// Memory a load of `rows` records of `fields` cells takes at its peak: the text, 8 bytes a
/// parsed cell, and the parser's 16-byte view of each row's target.
pub(super) fn load_bytes(text_bytes: u64, rows: u64, fields: u64) -> u64 {
    rows.saturating_mul(fields.saturating_mul(8).saturating_add(16))
        .saturating_add(text_bytes)
}

/// The refusal of a load above `training_limits.max_dataset_bytes`.
pub(super) fn over_budget(
    what: &str,
    text_bytes: u64,
    rows: u64,
    fields: u64,
    limit: u64,
) -> TrainError {
    TrainError::OverBudget(format!(
        "loading {what} takes about {} MB ({} MB of text and about {rows} rows of {fields} \
         values parsed), above the limit training_limits.max_dataset_bytes = {} MB; raise \
         the limit or train on a sample",
        load_bytes(text_bytes, rows, fields) >> 20,
        text_bytes >> 20,
        limit >> 20,
    ))
}

/// [`parse_csv`] held to `max_load_bytes`, counted exactly (every line a row, before
/// anything is allocated for them) where a request could only estimate.
pub fn parse_csv_within(
    text: &str,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
    max_load_bytes: u64,
) -> Result<Dataset, TrainError> {
    let rows = memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64 + 1;
    let fields = header_fields(text.as_bytes(), target)? as u64;
    let text_bytes = text.len() as u64;
    if load_bytes(text_bytes, rows, fields) > max_load_bytes {
        return Err(over_budget(
            "the data",
            text_bytes,
            rows,
            fields,
            max_load_bytes,
        ));
    }
    parse_csv(text, target, class_names, task)
}

/// The general parser: quotes, any line ends, and every error message. Public so that
/// examples/csv_parse.rs can time the fast path against it.
pub fn parse_any_csv(
    text: &str,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
) -> Result<Dataset, TrainError> {
    let bad = |m: String| TrainError::data(m);
    let mut rdr = reader(text.as_bytes());
    let (header, t_idx) = checked_header(&mut rdr, target)?;
    let feature_names = all_but(&header, t_idx);
    let d = feature_names.len();
    let mut flat = Vec::new();
    let mut raw_targets = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("CSV row {row}: {e}")))?;
        if rec.len() != header.len() {
            return Err(bad(format!(
                "CSV row {row} has {} fields, expected {}",
                rec.len(),
                header.len()
            )));
        }
        for (j, cell) in rec.iter().enumerate() {
            if j == t_idx {
                if cell.is_empty() {
                    return Err(bad(format!(
                        "CSV row {row}: missing value in target column `{target}`"
                    )));
                }
                raw_targets.push(cell.to_string());
                continue;
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => flat.push(v),
                _ if cell.is_empty() => {
                    return Err(bad(format!(
                        "CSV row {row}, column `{}`: missing value",
                        header[j]
                    )))
                }
                _ => {
                    return Err(bad(format!(
                        "CSV row {row}, column `{}`: `{cell}` is not a finite number",
                        header[j]
                    )))
                }
            }
        }
    }
    let n = raw_targets.len();
    if n == 0 {
        return Err(bad("CSV has no data rows".into()));
    }
    let x = Array2::from_shape_vec((n, d), flat).map_err(|e| bad(e.to_string()))?;
    let parsed: Option<Vec<f64>> = raw_targets.iter().map(|s| s.parse::<f64>().ok()).collect();
    let (y, classes) = match (task, parsed) {
        (Task::Regression, Some(y)) => {
            if let Some(row) = y.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "CSV row {row}: target `{target}` is not finite"
                )));
            }
            (y, None)
        }
        (Task::Regression, None) => {
            let row = raw_targets
                .iter()
                .position(|s| s.parse::<f64>().is_err())
                .unwrap_or(0);
            return Err(bad(format!(
                "CSV row {row}: target `{target}` value `{}` is not a number",
                raw_targets[row]
            )));
        }
        (Task::Classification, Some(nums)) => {
            let (y, c) = encode_numeric(&nums, class_names)?;
            (y, Some(c))
        }
        (Task::Classification, None) => {
            let (y, c) = encode_strings(&raw_targets, class_names)?;
            (y, Some(c))
        }
    };
    Ok(Dataset {
        x,
        y,
        feature_names,
        target: target.to_string(),
        classes,
        read_fingerprint: Default::default(),
    })
}
