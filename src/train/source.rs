//! Where CSV training data comes from, and what it holds: a file under the data directory
//! (path-checked) or a stored dataset, each with a content id that changes when the bytes
//! do. [`load_cached`] uses the id to parse each source once ([`super::cache`]); what is
//! checked before a source is read is in [`super::preflight`].

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::cache::{CacheKey, Lookup, ParsedCache};
use super::dataset::{DataSpec, Dataset};
use super::parse::{from_rows, parse_csv, parse_csv_within};
use super::TrainError;
use crate::models::Task;

/// A stored dataset's text and the content id (its SHA-256) of exactly those bytes.
pub struct StoredCsv {
    pub content_id: String,
    pub text: String,
}

/// The stored datasets training can name.
pub trait DatasetSource {
    /// The text and content id, read together so neither can be of another version.
    fn read_csv(&self, name: &str) -> Result<StoredCsv, TrainError>;
    /// The content id alone (a small record read), to find a parsed copy.
    fn content_id(&self, name: &str) -> Result<String, TrainError> {
        self.shape(name).map(|s| s.content_id)
    }
    /// What the dataset's record says of it (a small record read, the CSV is not).
    fn shape(&self, name: &str) -> Result<StoredShape, TrainError>;
}

/// A stored dataset as its record describes it.
#[derive(Debug, Clone)]
pub struct StoredShape {
    pub content_id: String,
    pub bytes: u64,
    /// Data rows, the header not counted.
    pub rows: u64,
    pub columns: Vec<String>,
}

/// For callers that have no store (the demo models): every name is missing.
pub struct NoDatasets;

impl DatasetSource for NoDatasets {
    fn read_csv(&self, name: &str) -> Result<StoredCsv, TrainError> {
        Err(TrainError::DatasetNotFound {
            name: name.to_string(),
        })
    }

    fn shape(&self, name: &str) -> Result<StoredShape, TrainError> {
        Err(TrainError::DatasetNotFound {
            name: name.to_string(),
        })
    }
}

/// Loads `spec` through `cache`: a file or stored dataset already parsed with the same
/// content, target, task and class names comes back shared, without a parse. Inline data
/// is parsed every time (it is small, and it is the request itself).
pub fn load_cached(
    spec: &DataSpec,
    task: Task,
    data_dir: &Path,
    datasets: &dyn DatasetSource,
    cache: &ParsedCache,
    progress: ReadProgress,
    max_load_bytes: u64,
) -> Result<(Arc<Dataset>, Lookup), TrainError> {
    let Some((origin, key)) = cache_key(spec, task, data_dir, datasets, cache)? else {
        let parsed = match spec {
            DataSpec::Path {
                path,
                target,
                class_names,
            } => {
                let file = resolve_data_file(path, data_dir)?;
                let (_, text) = read_resolved(path, &file, progress, max_load_bytes)?;
                parse_csv_within(&text, target, class_names.as_deref(), task, max_load_bytes)?
            }
            _ => load(spec, task, data_dir, datasets)?,
        };
        return Ok((Arc::new(parsed), Lookup::Uncached));
    };
    if let Some(hit) = cache.get(&key) {
        return Ok((hit, Lookup::Hit));
    }
    // Keyed by the id of the bytes actually parsed, which a concurrent replace may have
    // made newer than the one looked up.
    let (content, text) = match origin {
        Origin::Stored(name) => {
            let stored = datasets.read_csv(name)?;
            progress(stored.text.len() as u64);
            (stored.content_id, stored.text)
        }
        Origin::File { rel, file } => read_resolved(rel, &file, progress, max_load_bytes)?,
    };
    let parsed = Arc::new(parse_csv_within(
        &text,
        &key.target,
        key.class_names.as_deref(),
        task,
        max_load_bytes,
    )?);
    drop(text);
    cache.insert(CacheKey { content, ..key }, parsed.clone());
    Ok((parsed, Lookup::Miss))
}

/// The parsed copy of `spec` in `cache`, if there is one: a lookup, never a read.
pub fn cached(
    spec: &DataSpec,
    task: Task,
    data_dir: &Path,
    datasets: &dyn DatasetSource,
    cache: &ParsedCache,
) -> Result<Option<Arc<Dataset>>, TrainError> {
    Ok(cache_key(spec, task, data_dir, datasets, cache)?.and_then(|(_, key)| cache.get(&key)))
}

/// Where a cacheable source's bytes come from and its key, found once so that the lookup
/// and the read share them; `None` for inline data or with the cache off.
fn cache_key<'a>(
    spec: &'a DataSpec,
    task: Task,
    data_dir: &Path,
    datasets: &dyn DatasetSource,
    cache: &ParsedCache,
) -> Result<Option<(Origin<'a>, CacheKey)>, TrainError> {
    let (origin, content, target, class_names) = match spec {
        DataSpec::Path {
            path,
            target,
            class_names,
        } if cache.enabled() => {
            let file = resolve_data_file(path, data_dir)?;
            let stamp = file_stamp(&file).map_err(|e| io_error(path, e))?;
            (Origin::File { rel: path, file }, stamp, target, class_names)
        }
        DataSpec::Dataset {
            dataset,
            target,
            class_names,
        } if cache.enabled() => (
            Origin::Stored(dataset),
            datasets.content_id(dataset)?,
            target,
            class_names,
        ),
        _ => return Ok(None),
    };
    let key = CacheKey {
        source: origin.describe(),
        content,
        target: target.clone(),
        task,
        class_names: class_names.clone(),
    };
    Ok(Some((origin, key)))
}

/// A cacheable source: a checked file under the data directory, or a stored dataset.
enum Origin<'a> {
    File { rel: &'a str, file: PathBuf },
    Stored(&'a str),
}

impl Origin<'_> {
    fn describe(&self) -> String {
        match self {
            Origin::File { file, .. } => format!("path:{}", file.display()),
            Origin::Stored(name) => format!("dataset:{name}"),
        }
    }
}

pub(super) fn io_error(rel: &str, source: std::io::Error) -> TrainError {
    match source.kind() {
        // Removed between the checks and the read: still just missing.
        std::io::ErrorKind::NotFound => TrainError::DataNotFound {
            path: rel.to_string(),
        },
        _ => TrainError::Io {
            path: rel.to_string(),
            source,
        },
    }
}

/// Size and modification time: what changes when a file is rewritten.
fn file_stamp(file: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(file)?;
    let modified = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("{}:{modified}", meta.len()))
}

/// Resolves `rel` under `data_dir`, refusing absolute paths, `..` and
/// anything (e.g. a symlink) whose canonical path leaves the data directory.
/// A file that is absent is the client's problem; one that is there but
/// cannot be read is the server's ([`TrainError::Io`]).
pub(super) fn resolve_data_file(rel: &str, data_dir: &Path) -> Result<PathBuf, TrainError> {
    let bad_path = |reason| TrainError::BadPath {
        path: rel.to_string(),
        reason,
    };
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() {
        return Err(bad_path("the path must be relative to the data directory"));
    }
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad_path("the path may not contain `..` or a root/prefix"));
    }
    let full = data_dir.join(p);
    if !full.exists() {
        return Err(io_error(rel, std::io::ErrorKind::NotFound.into()));
    }
    let root = data_dir.canonicalize().map_err(|source| TrainError::Io {
        path: data_dir.display().to_string(),
        source,
    })?;
    let canon = full.canonicalize().map_err(|e| io_error(rel, e))?;
    if !canon.starts_with(&root) {
        return Err(bad_path("the path resolves outside the data directory"));
    }
    if canon.is_dir() {
        return Err(bad_path("the path names a directory, not a CSV file"));
    }
    Ok(canon)
}

/// Called with the bytes read so far while a data file is read.
pub type ReadProgress<'a> = &'a mut dyn FnMut(u64);

/// Bytes read between two progress reports (and cancellation checks).
const READ_BLOCK: usize = 8 << 20;

/// The file's stamp and text. A file rewritten while it was read is refused rather than
/// parsed half old, half new.
fn read_data_file(rel: &str, data_dir: &Path) -> Result<(String, String), TrainError> {
    read_resolved(
        rel,
        &resolve_data_file(rel, data_dir)?,
        &mut |_| {},
        u64::MAX,
    )
}

/// [`read_data_file`] for a file already resolved from `rel`, reporting progress. The
/// buffer is sized by the file's length when the read starts, which must be at most
/// `max_bytes` (the file may have grown since a request checked it), and a file that
/// grows past it is refused as changed, not read on.
fn read_resolved(
    rel: &str,
    file: &Path,
    progress: ReadProgress,
    max_bytes: u64,
) -> Result<(String, String), TrainError> {
    use std::io::Read;
    let before = file_stamp(file).map_err(|e| io_error(rel, e))?;
    let mut handle = std::fs::File::open(file).map_err(|e| io_error(rel, e))?;
    let len = handle.metadata().map_err(|e| io_error(rel, e))?.len();
    if len > max_bytes {
        return Err(TrainError::OverBudget(format!(
            "data file `{rel}` is {} MB, above the limit training_limits.max_dataset_bytes \
             = {} MB",
            len >> 20,
            max_bytes >> 20
        )));
    }
    let len =
        usize::try_from(len).map_err(|_| TrainError::data(format!("`{rel}` is too large")))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len.saturating_add(1))
        .map_err(|_| TrainError::data(format!("no memory to read `{rel}` ({len} bytes)")))?;
    // Straight into the buffer, a block at a time: no zeroing, no second copy.
    loop {
        if super::cancel::requested() {
            return Err(TrainError::Cancelled);
        }
        let room = (len + 1 - bytes.len()).min(READ_BLOCK) as u64;
        let n = (&mut handle)
            .take(room)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(rel, e))?;
        if bytes.len() > len {
            return Err(changed(rel));
        }
        if n == 0 {
            break;
        }
        progress(bytes.len() as u64);
    }
    let after = file_stamp(file).map_err(|e| io_error(rel, e))?;
    if before != after || bytes.len() != len {
        return Err(changed(rel));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| TrainError::data(format!("data file `{rel}` is not UTF-8 text: {e}")))?;
    Ok((after, text))
}

fn changed(rel: &str) -> TrainError {
    TrainError::data(format!(
        "data file `{rel}` changed while it was read; train again once it is written"
    ))
}

/// Loads and validates the data described by `spec` for `task`.
/// `Path` specs are resolved under `data_dir` and may not escape it; `Dataset` specs are
/// read from `datasets`.
pub fn load(
    spec: &DataSpec,
    task: Task,
    data_dir: &Path,
    datasets: &dyn DatasetSource,
) -> Result<Dataset, TrainError> {
    match spec {
        DataSpec::Rows {
            rows,
            targets,
            feature_names,
            class_names,
        } => from_rows(
            rows,
            targets,
            feature_names.as_deref(),
            class_names.as_deref(),
            task,
        ),
        DataSpec::Csv {
            csv,
            target,
            class_names,
        } => parse_csv(csv, target, class_names.as_deref(), task),
        DataSpec::Path {
            path,
            target,
            class_names,
        } => {
            let (_, text) = read_data_file(path, data_dir)?;
            parse_csv(&text, target, class_names.as_deref(), task)
        }
        DataSpec::Dataset {
            dataset,
            target,
            class_names,
        } => {
            let stored = datasets.read_csv(dataset)?;
            parse_csv(&stored.text, target, class_names.as_deref(), task)
        }
    }
}
