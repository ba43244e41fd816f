//! The file operations of the directory store: durable writes (temp file → fsync →
//! rename → fsync the folder), the start-up sweep of interrupted writes' leftovers, and the
//! `flock` that serialises alias updates between processes.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Entry, MAX_FILE_BYTES};

/// Prefixes of what an interrupted write ([`LocalStore::create_version`], [`write_atomic`])
/// or delete ([`LocalStore::remove_version`]) leaves behind; never a model or version name.
pub(super) const LEFTOVER_PREFIXES: [&str; 2] = [".tmp-", ".deleted-"];

/// Whether a rename failed because the target version folder exists.
pub(super) fn taken(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
    )
}

pub(super) fn entry_of(key: &str, meta: &fs::Metadata) -> Entry {
    let tag = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default();
    Entry {
        key: key.to_string(),
        size: meta.len(),
        tag,
    }
}

/// An exclusive advisory lock (`flock`) on a file, released when dropped.
pub(super) struct FileLock(#[allow(dead_code)] fs::File);

impl FileLock {
    pub(super) fn exclusive(path: &Path) -> std::io::Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // Released when the file is closed (the guard drops), also if the process dies.
        file.lock()?;
        Ok(Self(file))
    }
}

/// Removes the leftovers directly in `dir` last modified before `before`.
pub(super) fn sweep(dir: &Path, before: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let leftover = entry
            .file_name()
            .to_str()
            .is_some_and(|n| LEFTOVER_PREFIXES.iter().any(|p| n.starts_with(p)));
        let path = entry.path();
        if !leftover || !modified_before(&path, before) {
            continue;
        }
        // Not followed: a link is removed, never what it points to.
        let result = if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a store leftover")
            }
        }
    }
    removed
}

pub(super) fn modified_before(path: &Path, before: SystemTime) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|at| at < before)
}

/// Reads a whole file, refused past [`MAX_FILE_BYTES`] (also if it grows while read), so
/// a corrupt or hostile store cannot make the process allocate without bound.
pub(super) fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("over the {MAX_FILE_BYTES}-byte limit"),
        )
    };
    if file.metadata()?.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

pub(super) fn write_file_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// temp file in the same folder → fsync → rename → fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let result = write_file_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // Directory fsync makes the rename durable; not supported on every platform.
    match fs::File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) if cfg!(windows) => {
            let _ = e;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
