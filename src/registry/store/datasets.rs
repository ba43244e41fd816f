//! Datasets in the store, beside the models, behind one trait with the same two backends.
//! Layout (under the store root or the bucket prefix; `_` can start no model name, so the
//! folder never reads as a model):
//!
//! ```text
//! _datasets/<name>.json           the dataset's record, written last: it exists from here
//! _datasets/objects/<id>.csv      the uploaded bytes, one object per upload
//! _datasets/parsed/<id>-<v>.bin   the object parsed for training (see super::parsed)
//! ```
//!
//! An upload writes a new object under a fresh id, then swaps the record to point at it
//! (compare-and-swap), then removes the object the record pointed at before. A reader
//! therefore sees the old table or the new one, never a mix, and an upload that fails
//! leaves the dataset as it was.

use std::io;

use serde::{Deserialize, Serialize};

pub const DATASETS_DIR: &str = "_datasets";
pub const OBJECTS_DIR: &str = "objects";
/// A record this large is not one modeld wrote (65,536 column names fit well inside).
pub const MAX_RECORD_BYTES: u64 = 16 << 20;
/// How old an object no record names must be before the janitor removes it. An upload's
/// object exists a moment before its record does, and S3 dates a multipart object by the
/// start of its upload, so "older than this replica's start" alone could remove the
/// object of an upload another replica is committing.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What `GET /v1/datasets/{name}` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetInfo {
    pub name: String,
    /// Size of the CSV as uploaded.
    pub bytes: u64,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Number of columns.
    pub columns: usize,
    /// The header's column names, in order.
    pub column_names: Vec<String>,
    /// SHA-256 of the uploaded bytes, lower-case hex.
    pub sha256: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The stored record: the info and which object holds the bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetRecord {
    #[serde(flatten)]
    pub info: DatasetInfo,
    pub object: String,
}

impl DatasetRecord {
    pub fn parse(name: &str, bytes: &[u8]) -> io::Result<Self> {
        let record: DatasetRecord = serde_json::from_slice(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("dataset record {name}: {e}"),
            )
        })?;
        if record.info.name != name || !valid_object_id(&record.object) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("dataset record {name} names another dataset or a bad object"),
            ));
        }
        Ok(record)
    }
}

/// A fresh object id for one upload.
pub fn new_object_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Object ids come from [`new_object_id`]; anything else in a record is refused, so a
/// record can never point a read or a delete outside the objects folder.
pub fn valid_object_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The key of a record, relative to the store root.
pub fn record_key(name: &str) -> String {
    format!("{DATASETS_DIR}/{name}.json")
}

/// The key of an object, relative to the store root.
pub fn object_key(id: &str) -> String {
    format!("{DATASETS_DIR}/{OBJECTS_DIR}/{id}.csv")
}

/// The dataset name a record key holds, if it is one.
pub fn name_of_record(file: &str) -> Option<&str> {
    file.strip_suffix(".json")
        .filter(|n| super::super::error::valid_name(n))
}

/// One stored parsed form (see [`super::parsed`]), as a listing shows it.
#[derive(Debug, Clone)]
pub struct ParsedEntry {
    /// Relative to the store root.
    pub key: String,
    pub object: String,
    pub size: u64,
    /// Last written, or (directory store) last read.
    pub used: std::time::SystemTime,
}

/// An upload in progress: bytes go to a new object that nothing points at yet.
pub trait DatasetUpload: Send {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()>;

    /// Makes the object the dataset's content, replacing what the name held.
    fn commit(self: Box<Self>, info: DatasetInfo) -> io::Result<()>;

    /// Drops the object; the dataset stays as it was.
    fn abort(self: Box<Self>);
}

/// The datasets of one store. Every call is blocking, like [`super::ModelStore`]'s.
pub trait DatasetStore: Send + Sync + std::fmt::Debug {
    fn begin_upload(&self, name: &str) -> io::Result<Box<dyn DatasetUpload>>;

    /// The names that have a record (one listing).
    fn record_names(&self) -> io::Result<Vec<String>>;

    /// A dataset's record; `None` if it has none.
    fn read_record(&self, name: &str) -> io::Result<Option<DatasetRecord>>;

    /// Every dataset, by name; a record that cannot be read is skipped with a warning.
    fn list_datasets(&self) -> io::Result<Vec<DatasetInfo>> {
        let mut out = Vec::new();
        for name in self.record_names()? {
            match self.read_record(&name) {
                Ok(Some(record)) => out.push(record.info),
                Ok(None) => {}
                Err(e) => tracing::warn!(dataset = %name, error = %e, "skipping a dataset record"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn dataset(&self, name: &str) -> io::Result<Option<DatasetInfo>> {
        Ok(self.read_record(name)?.map(|r| r.info))
    }

    /// The objects records name. Any record that cannot be read is an error, not a
    /// skip: the janitor must never take a live object for a leftover.
    fn referenced_objects(&self) -> io::Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for name in self.record_names()? {
            out.extend(self.read_record(&name)?.map(|r| r.object));
        }
        Ok(out)
    }

    /// The dataset's bytes; an error if they are over `limit`.
    fn read_dataset(&self, name: &str, limit: u64) -> io::Result<Option<(DatasetInfo, Vec<u8>)>>;

    /// Removes the record, then the object. Whether there was one.
    fn remove_dataset(&self, name: &str) -> io::Result<bool>;

    /// Start-up janitor: objects no record points at, left by an upload that stopped
    /// between its object and its record, and older than the store's opening; and the
    /// parsed forms of objects no record points at.
    fn remove_dataset_leftovers(&self) -> io::Result<Vec<String>>;

    /// The parsed forms kept beside the objects ([`super::parsed`]), in one listing.
    fn list_parsed(&self) -> io::Result<Vec<ParsedEntry>>;

    /// A form's bytes (`key` from [`super::parsed::parsed_key`]), `None` if absent; an
    /// error if they are over `limit`.
    fn read_parsed_key(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>>;

    /// Writes a form whole: a reader sees all of it or none of it.
    fn put_parsed_key(&self, key: &str, bytes: Vec<u8>) -> io::Result<()>;

    /// Removes a form; an absent one is not an error.
    fn delete_parsed_key(&self, key: &str) -> io::Result<()>;
}

pub(crate) fn too_large(name: &str, size: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("dataset {name} is {size} bytes, over the {limit}-byte limit"),
    )
}
