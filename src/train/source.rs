//! Where CSV training data comes from, and what it holds: a file under the data directory
//! (path-checked) or a stored dataset, each with a content id that changes when the bytes
//! do. [`load_cached`] uses the id to parse each source once ([`super::cache`]); what is
//! checked before a source is read is in [`super::preflight`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::{CacheKey, Lookup, ParsedCache, StoredLink};
pub use super::data_file::ReadProgress;
use super::data_file::{file_stamp, io_error, read_data_file, resolve_data_file};
use super::dataset::{DataSpec, Dataset};
use super::parse::{from_rows, parse_csv, parse_csv_within};
use super::parsed_form::ParsedForm;
use super::stream_csv::load_file;
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
    /// The parsed form the store keeps of what `name` holds now, read as `variant`
    /// ([`CacheKey::variant`]); `None` when there is none or it cannot be used, so the
    /// caller parses the CSV.
    /// `max_bytes` bounds what reading it holds at once (its bytes and the decoded data).
    fn read_parsed(&self, _name: &str, _variant: &str, _max_bytes: u64) -> Option<ParsedForm> {
        None
    }
    /// Keeps an encoded form ([`super::parsed_form::encode`]) of `name`'s content
    /// `content_id` read as `variant`; whether the store kept it.
    fn write_parsed(&self, _name: &str, _content_id: &str, _variant: &str, _form: Vec<u8>) -> bool {
        false
    }
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
                let classes = class_names.as_deref();
                load_file(path, &file, target, classes, task, progress, max_load_bytes)?.1
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
    let (target, classes) = (&key.target, key.class_names.as_deref());
    let (content, parsed, link) = match origin {
        Origin::Stored(name) => {
            let variant = key.variant();
            let link = |content_id: &str, summary, saved| StoredLink {
                dataset: name.to_string(),
                content_id: content_id.to_string(),
                variant: variant.clone(),
                summary,
                saved,
            };
            let form = datasets
                .read_parsed(name, &variant, max_load_bytes)
                .filter(|form| form.dataset.target == key.target);
            if let Some(form) = form {
                let data = Arc::new(form.dataset);
                let link = link(&form.content_id, form.summary, true);
                let key = CacheKey {
                    content: form.content_id,
                    ..key
                };
                cache.insert(key, data.clone(), Some(link));
                return Ok((data, Lookup::Stored));
            }
            let stored = datasets.read_csv(name)?;
            progress(stored.text.len() as u64);
            let parsed = parse_csv_within(&stored.text, target, classes, task, max_load_bytes)?;
            let link = link(&stored.content_id, None, false);
            (stored.content_id, parsed, Some(link))
        }
        Origin::File { rel, file } => {
            let (stamp, parsed) =
                load_file(rel, &file, target, classes, task, progress, max_load_bytes)?;
            (stamp, parsed, None)
        }
    };
    let parsed = Arc::new(parsed);
    cache.insert(CacheKey { content, ..key }, parsed.clone(), link);
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
