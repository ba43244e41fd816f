//! Class-label encoding: maps raw targets (numbers or strings) to class
//! indices 0..k in a canonical order, with optional relabelling.

use std::collections::BTreeSet;

use super::task::check_class_count;
use super::TrainError;

/// Renders a numeric label: integers without a fractional part ("0", "1"),
/// anything else in Rust's shortest round-trip form ("0.5").
pub fn render_numeric_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Numeric labels, classes sorted numerically. Returns (class index per row,
/// class names). `-0.0` and `0.0` are the same class; NaN/inf are rejected.
pub fn encode_numeric(
    values: &[f64],
    class_names: Option<&[String]>,
) -> Result<(Vec<f64>, Vec<String>), TrainError> {
    if let Some(row) = values.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::data(format!(
            "class label at row {row} is not a finite number"
        )));
    }
    // +0.0 normalises -0.0 so both map to the same class.
    let norm: Vec<f64> = values.iter().map(|v| v + 0.0).collect();
    let mut distinct = norm.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let y = norm
        .iter()
        .map(|v| distinct.partition_point(|d| d < v) as f64)
        .collect();
    let names = distinct.iter().map(|&v| render_numeric_label(v)).collect();
    finish(y, names, class_names)
}

/// String labels, classes sorted lexicographically (byte order).
pub fn encode_strings<S: AsRef<str>>(
    values: &[S],
    class_names: Option<&[String]>,
) -> Result<(Vec<f64>, Vec<String>), TrainError> {
    let distinct: Vec<&str> = values
        .iter()
        .map(AsRef::as_ref)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let y = values
        .iter()
        .map(|v| distinct.partition_point(|d| *d < v.as_ref()) as f64)
        .collect();
    let names = distinct.into_iter().map(str::to_string).collect();
    finish(y, names, class_names)
}

/// Checks the class count and applies `class_names` (which names class i).
fn finish(
    y: Vec<f64>,
    names: Vec<String>,
    class_names: Option<&[String]>,
) -> Result<(Vec<f64>, Vec<String>), TrainError> {
    check_class_count(names.len())?;
    let names = match class_names {
        None => names,
        Some(c) if c.len() != names.len() => {
            return Err(TrainError::data(format!(
                "class_names has {} entries but the data has {} classes ({})",
                c.len(),
                names.len(),
                names.join(", ")
            )))
        }
        Some(c) => {
            let unique: BTreeSet<&String> = c.iter().collect();
            if unique.len() != c.len() {
                return Err(TrainError::data("class_names contains duplicates".into()));
            }
            c.to_vec()
        }
    };
    Ok((y, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_string_labels() {
        let (y, c) = encode_numeric(&[2.0, 0.0, 1.0, -0.0, 0.5], None).unwrap();
        assert_eq!(c, vec!["0", "0.5", "1", "2"]);
        assert_eq!(y, vec![3.0, 0.0, 2.0, 0.0, 1.0]);
        let s: Vec<String> = ["b", "a", "c", "a"].iter().map(|v| v.to_string()).collect();
        let (y, c) = encode_strings(&s, None).unwrap();
        assert_eq!(c, vec!["a", "b", "c"]);
        assert_eq!(y, vec![1.0, 0.0, 2.0, 0.0]);
        let names = vec!["x".to_string(), "y".to_string()];
        let (_, c) = encode_numeric(&[1.0, 0.0], Some(&names)).unwrap();
        assert_eq!(c, names);
        assert!(encode_numeric(&[1.0, 0.0, 2.0], Some(&names)).is_err());
        assert!(encode_numeric(&[1.0, 1.0], None).is_err());
    }
}
