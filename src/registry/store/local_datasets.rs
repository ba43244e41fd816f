//! [`DatasetStore`] for the directory store. An upload streams into a `.tmp-` file in
//! `_datasets/objects/`, which is fsynced and renamed to its id; the record is swapped
//! under an exclusive `flock` on `_datasets/.lock`, so two uploads of one name never lose
//! track of an object.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::datasets::ParsedEntry;
use super::datasets::{
    name_of_record, new_object_id, object_key, record_key, too_large, valid_object_id, DatasetInfo,
    DatasetRecord, DatasetStore, DatasetUpload, DATASETS_DIR, MAX_RECORD_BYTES, OBJECTS_DIR,
    ORPHAN_GRACE,
};
use super::fsio::{modified_before, sweep, sync_dir, write_atomic, FileLock};
use super::parsed::{self, object_of, PARSED_DIR};
use super::LocalStore;

const LOCK_FILE: &str = ".lock";

impl LocalStore {
    fn datasets_dir(&self) -> PathBuf {
        self.root().join(DATASETS_DIR)
    }

    fn objects_dir(&self) -> io::Result<PathBuf> {
        let dir = self.datasets_dir().join(OBJECTS_DIR);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn lock_datasets(&self) -> io::Result<FileLock> {
        fs::create_dir_all(self.datasets_dir())?;
        FileLock::exclusive(&self.datasets_dir().join(LOCK_FILE))
    }

    fn parsed_dir(&self) -> PathBuf {
        self.datasets_dir().join(PARSED_DIR)
    }

    fn remove_object(&self, id: &str) {
        parsed::remove_parsed_of(self, id);
        let path = self.root().join(object_key(id));
        if let Err(e) = fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a replaced dataset object");
            }
        }
    }
}

/// Reads a whole file that must not be larger than `limit`.
fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(&path.display().to_string(), size, limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(
            &path.display().to_string(),
            bytes.len() as u64,
            limit,
        ));
    }
    Ok(bytes)
}

struct LocalUpload {
    store: LocalStore,
    name: String,
    id: String,
    tmp: PathBuf,
    file: io::BufWriter<fs::File>,
}

impl DatasetUpload for LocalUpload {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)
    }

    fn commit(self: Box<Self>, info: DatasetInfo) -> io::Result<()> {
        let LocalUpload {
            store,
            name,
            id,
            tmp,
            file,
        } = *self;
        let placed = (|| {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let dir = store.objects_dir()?;
            fs::rename(&tmp, store.root().join(object_key(&id)))?;
            sync_dir(&dir)
        })();
        if let Err(e) = placed {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let swapped = (|| {
            let _lock = store.lock_datasets()?;
            let before = store.read_record(&name).ok().flatten();
            let record = DatasetRecord {
                info,
                object: id.clone(),
            };
            let bytes = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
            write_atomic(&store.root().join(record_key(&name)), &bytes)?;
            Ok::<_, io::Error>(before)
        })();
        match swapped {
            Ok(before) => {
                if let Some(old) = before.filter(|old| old.object != id) {
                    store.remove_object(&old.object);
                }
                Ok(())
            }
            Err(e) => {
                store.remove_object(&id);
                Err(e)
            }
        }
    }

    fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = fs::remove_file(&self.tmp);
    }
}

impl DatasetStore for LocalStore {
    fn begin_upload(&self, name: &str) -> io::Result<Box<dyn DatasetUpload>> {
        let id = new_object_id();
        let tmp = self.objects_dir()?.join(format!(".tmp-{id}.csv"));
        let file = fs::File::create(&tmp)?;
        Ok(Box::new(LocalUpload {
            store: self.clone(),
            name: name.to_string(),
            id,
            tmp,
            file: io::BufWriter::with_capacity(1 << 20, file),
        }))
    }

    fn record_names(&self) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(self.datasets_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(entries
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name();
                file.to_str().and_then(name_of_record).map(str::to_string)
            })
            .collect())
    }

    fn read_record(&self, name: &str) -> io::Result<Option<DatasetRecord>> {
        let path = self.root().join(record_key(name));
        match read_bounded(&path, MAX_RECORD_BYTES) {
            Ok(bytes) => DatasetRecord::parse(name, &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_dataset(&self, name: &str, limit: u64) -> io::Result<Option<(DatasetInfo, Vec<u8>)>> {
        let Some(record) = self.read_record(name)? else {
            return Ok(None);
        };
        match read_bounded(&self.root().join(object_key(&record.object)), limit) {
            Ok(bytes) => Ok(Some((record.info, bytes))),
            // Replaced or removed since the record was read: what a reader sees now.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn remove_dataset(&self, name: &str) -> io::Result<bool> {
        let record = {
            let _lock = self.lock_datasets()?;
            let Some(record) = self.read_record(name)? else {
                return Ok(false);
            };
            fs::remove_file(self.root().join(record_key(name)))?;
            sync_dir(&self.datasets_dir())?;
            record
        };
        self.remove_object(&record.object);
        Ok(true)
    }

    fn remove_dataset_leftovers(&self) -> io::Result<Vec<String>> {
        let objects = self.datasets_dir().join(OBJECTS_DIR);
        if !objects.is_dir() {
            return Ok(Vec::new());
        }
        // A slow upload of another process may have last written a while ago.
        let before = self
            .opened_at()
            .checked_sub(ORPHAN_GRACE)
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut removed: Vec<String> = sweep(&objects, before)
            .into_iter()
            .chain(sweep(&self.datasets_dir(), before))
            .chain(sweep(&self.parsed_dir(), before))
            .map(|p| p.display().to_string())
            .collect();
        let _lock = self.lock_datasets()?;
        let referenced = self.referenced_objects()?;
        removed.extend(parsed::remove_unreferenced_parsed(self, &referenced)?);
        for entry in fs::read_dir(&objects)?.flatten() {
            let file = entry.file_name();
            let Some(id) = file.to_str().and_then(|f| f.strip_suffix(".csv")) else {
                continue;
            };
            let path = entry.path();
            if valid_object_id(id)
                && !referenced.contains(id)
                && modified_before(&path, before)
                && fs::remove_file(&path).is_ok()
            {
                removed.push(path.display().to_string());
            }
        }
        Ok(removed)
    }

    fn list_parsed(&self) -> io::Result<Vec<ParsedEntry>> {
        let entries = match fs::read_dir(self.parsed_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(object) = file.to_str().and_then(object_of) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                continue; // removed since the listing
            };
            out.push(ParsedEntry {
                key: format!("{DATASETS_DIR}/{PARSED_DIR}/{}", file.to_string_lossy()),
                object: object.to_string(),
                size: meta.len(),
                used: meta.modified()?,
            });
        }
        Ok(out)
    }

    fn read_parsed_key(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        parsed::check_key(key)?;
        let path = self.root().join(key);
        match read_bounded(&path, limit) {
            Ok(bytes) => {
                // The file's date is its last use, which the size bound evicts by.
                let touched = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                if let Err(e) = touched {
                    tracing::debug!(path = %path.display(), error = %e, "cannot date a parsed form's use");
                }
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put_parsed_key(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        parsed::check_key(key)?;
        fs::create_dir_all(self.parsed_dir())?;
        write_atomic(&self.root().join(key), &bytes)
    }

    fn delete_parsed_key(&self, key: &str) -> io::Result<()> {
        parsed::check_key(key)?;
        match fs::remove_file(self.root().join(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
