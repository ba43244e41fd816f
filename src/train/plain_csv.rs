//! The frame around the fast reader ([`fast_csv`]) for a plain numeric CSV: its header
//! line, and the dataset made from the parsed rows. Used on a whole text
//! ([`parse_plain_csv`]) and block by block on a file read as a stream
//! ([`super::stream_csv`]). Everything here answers `None` for "let the general parser read
//! it", which then also names what is wrong.

use std::collections::HashSet;

use ndarray::Array2;

use super::fast_csv::{self, Targets};
use super::labels::{encode_numeric, encode_strings};
use super::{Dataset, TrainError};
use crate::models::Task;

/// The header's names without the target column's: the features, in file order.
pub(super) fn all_but(header: &[String], target: usize) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != target)
        .map(|(_, h)| h.clone())
        .collect()
}

pub(super) fn check_names(names: &[String], what: &str) -> Result<(), TrainError> {
    let mut seen = HashSet::new();
    match names.iter().find(|n| !seen.insert(n.as_str())) {
        Some(dup) => Err(TrainError::data(format!("duplicate {what} `{dup}`"))),
        None => Ok(()),
    }
}

/// The header line of a plain CSV: its trimmed names and the target's column.
pub(super) fn plain_header(line: &str, target: &str) -> Option<(Vec<String>, usize)> {
    let fields = line.trim_end_matches(['\r', '\n']);
    if fields.contains('\r') {
        return None;
    }
    let header: Vec<String> = fields.split(',').map(|h| h.trim().to_string()).collect();
    let t_idx = header.iter().position(|h| h == target)?;
    check_names(&header, "CSV column").ok()?;
    Some((header, t_idx))
}

/// The dataset of `rows` parsed rows (`x` row-major, the target column left out).
pub(super) struct PlainRows<'a> {
    pub x: Vec<f64>,
    pub rows: usize,
    pub targets: Targets<'a>,
}

/// The dataset of `parsed`, when its targets suit `task`.
pub(super) fn plain_dataset(
    parsed: PlainRows<'_>,
    header: &[String],
    t_idx: usize,
    class_names: Option<&[String]>,
    task: Task,
) -> Option<Dataset> {
    if parsed.rows == 0 {
        return None;
    }
    let feature_names = all_but(header, t_idx);
    let x = Array2::from_shape_vec((parsed.rows, feature_names.len()), parsed.x).ok()?;
    let (y, classes) = match (task, parsed.targets) {
        (Task::Regression, Targets::Numbers(y)) if y.iter().all(|v| v.is_finite()) => (y, None),
        (Task::Regression, _) => return None,
        (Task::Classification, Targets::Numbers(nums)) => {
            let (y, c) = encode_numeric(&nums, class_names).ok()?;
            (y, Some(c))
        }
        (Task::Classification, Targets::Labels(labels)) => {
            let (y, c) = encode_strings(&labels, class_names).ok()?;
            (y, Some(c))
        }
    };
    Some(Dataset {
        x,
        y,
        feature_names,
        target: header.get(t_idx)?.clone(),
        classes,
        read_fingerprint: Default::default(),
    })
}

/// The parallel fast path ([`fast_csv`]) for a plain numeric text, or `None` when it is
/// anything else or has anything wrong with it.
pub(super) fn parse_plain_csv(
    text: &str,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
    min_bytes: usize,
) -> Option<Dataset> {
    if text.len() < min_bytes || memchr::memchr(b'"', text.as_bytes()).is_some() {
        return None;
    }
    let header_end = memchr::memchr(b'\n', text.as_bytes())?;
    let (header_line, body) = (text.get(..=header_end)?, text.get(header_end + 1..)?);
    let (header, t_idx) = plain_header(header_line, target)?;
    let parsed = fast_csv::parse_body(body, header.len(), t_idx)?;
    let rows = PlainRows {
        x: parsed.x,
        rows: parsed.rows,
        targets: parsed.targets,
    };
    plain_dataset(rows, &header, t_idx, class_names, task)
}
