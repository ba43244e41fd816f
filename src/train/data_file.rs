//! Reading a data file under the data directory: the path rules, the file's stamp (what
//! changes when it is rewritten) and a bounded, cancellable read with progress that
//! refuses a file changed while it was read.

use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::TrainError;

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
pub(super) fn file_stamp(file: &Path) -> std::io::Result<String> {
    stamp_of(&std::fs::metadata(file)?)
}

/// [`file_stamp`] of metadata already read (an open handle's, say).
pub(super) fn stamp_of(meta: &std::fs::Metadata) -> std::io::Result<String> {
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
pub(super) const READ_BLOCK: usize = 8 << 20;

/// The file's stamp and text. A file rewritten while it was read is refused rather than
/// parsed half old, half new.
pub(super) fn read_data_file(rel: &str, data_dir: &Path) -> Result<(String, String), TrainError> {
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
pub(super) fn read_resolved(
    rel: &str,
    file: &Path,
    progress: ReadProgress,
    max_bytes: u64,
) -> Result<(String, String), TrainError> {
    use std::io::Read;
    let before = file_stamp(file).map_err(|e| io_error(rel, e))?;
    let mut handle = std::fs::File::open(file).map_err(|e| io_error(rel, e))?;
    let len = handle.metadata().map_err(|e| io_error(rel, e))?.len();
    check_file_size(rel, len, max_bytes)?;
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

/// Refuses a file of `len` bytes when that alone is over `max_bytes` (the load budget):
/// checked when a read opens the file, which may have grown since a request checked it.
pub(super) fn check_file_size(rel: &str, len: u64, max_bytes: u64) -> Result<(), TrainError> {
    if len > max_bytes {
        return Err(TrainError::OverBudget(format!(
            "data file `{rel}` is {} MB, above the limit training_limits.max_dataset_bytes \
             = {} MB",
            len >> 20,
            max_bytes >> 20
        )));
    }
    Ok(())
}

pub(super) fn changed(rel: &str) -> TrainError {
    TrainError::data(format!(
        "data file `{rel}` changed while it was read; train again once it is written"
    ))
}
