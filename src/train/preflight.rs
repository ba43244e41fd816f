//! The checks of a data source that read no more than its head (a file) or its record (a
//! stored dataset): the path rules, the header, and the memory a load would take against
//! `training_limits.max_dataset_bytes`. A request makes them before it answers; a job
//! that loads the data makes them again before it reads.

use std::path::Path;

use super::data_file::{io_error, resolve_data_file};
use super::dataset::DataSpec;
use super::source::DatasetSource;
use super::TrainError;

/// What is known of a data file before it is read: its size, its columns (the header
/// checked as a parse would check it) and about how many rows it holds.
#[derive(Debug, Clone, Copy)]
pub struct Preflight {
    pub bytes: u64,
    pub fields: usize,
    pub estimated_rows: u64,
}

impl Preflight {
    /// Memory the load takes at its peak: the text, and every cell parsed as an f64.
    pub fn load_bytes(&self) -> u64 {
        super::parse::load_bytes(self.bytes, self.estimated_rows, self.fields as u64)
    }
}

/// Bytes of a file read to check its header and estimate its rows; up to [`HEAD_MAX`] when
/// the header is longer (a wide file).
const HEAD_BYTES: u64 = 64 << 10;
const HEAD_MAX: u64 = 8 << 20;

/// The checks of a `{"path"}` spec that read no more than the file's head: the path rules,
/// the header (target present, names unique) and the memory the load would take against
/// `max_load_bytes`, its rows estimated from the head's (the parse counts them exactly).
/// `None` for the other kinds of data.
pub fn preflight(
    spec: &DataSpec,
    data_dir: &Path,
    datasets: &dyn DatasetSource,
    max_load_bytes: u64,
) -> Result<Option<Preflight>, TrainError> {
    use std::io::Read;
    let (path, target) = match spec {
        DataSpec::Path { path, target, .. } => (path, target),
        DataSpec::Dataset {
            dataset, target, ..
        } => return preflight_stored(dataset, target, datasets, max_load_bytes).map(Some),
        _ => return Ok(None),
    };
    let file = resolve_data_file(path, data_dir)?;
    let mut handle = std::fs::File::open(&file).map_err(|e| io_error(path, e))?;
    let bytes = handle.metadata().map_err(|e| io_error(path, e))?.len();
    let mut head = Vec::new();
    (&mut handle)
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| io_error(path, e))?;
    if memchr::memchr(b'\n', &head).is_none() {
        (&mut handle)
            .take(HEAD_MAX - HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| io_error(path, e))?;
    }
    let fields = super::parse::header_fields(&head, target)?;
    // Whole lines in the head after the header's, scaled to the file's size; none seen
    // means no estimate (the parse still counts).
    let header_len = memchr::memchr(b'\n', &head).map_or(head.len(), |i| i + 1);
    let rest = head.get(header_len..).unwrap_or_default();
    let sampled = memchr::memchr_iter(b'\n', rest).count() as u128;
    let sampled_len = memchr::memrchr(b'\n', rest).map_or(0, |i| i + 1) as u128;
    let body = bytes.saturating_sub(header_len as u64) as u128;
    let estimated_rows = (body * sampled)
        .checked_div(sampled_len)
        .map_or(0, |rows| u64::try_from(rows).unwrap_or(u64::MAX));
    let found = Preflight {
        bytes,
        fields,
        estimated_rows,
    };
    if found.load_bytes() > max_load_bytes {
        let what = format!("`{path}`");
        return Err(super::parse::over_budget(
            &what,
            bytes,
            estimated_rows,
            fields as u64,
            max_load_bytes,
        ));
    }
    Ok(Some(found))
}

/// [`preflight`] of a stored dataset: its record has the exact shape.
fn preflight_stored(
    name: &str,
    target: &str,
    datasets: &dyn DatasetSource,
    max_load_bytes: u64,
) -> Result<Preflight, TrainError> {
    let shape = datasets.shape(name)?;
    if !shape.columns.iter().any(|c| c == target) {
        return Err(TrainError::data(format!(
            "target column `{target}` not found in CSV header (columns: {})",
            shape.columns.join(", ")
        )));
    }
    let found = Preflight {
        bytes: shape.bytes,
        fields: shape.columns.len(),
        estimated_rows: shape.rows.saturating_add(1),
    };
    if found.load_bytes() > max_load_bytes {
        let what = format!("dataset `{name}`");
        let fields = found.fields as u64;
        return Err(super::parse::over_budget(
            &what,
            found.bytes,
            found.estimated_rows,
            fields,
            max_load_bytes,
        ));
    }
    Ok(found)
}
