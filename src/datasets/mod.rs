//! Datasets: CSV tables uploaded once into the store, so that any replica can train on
//! them by name. An upload is checked and hashed as it streams in ([`ingest`]) and
//! written to the store at the same time; only a complete, valid table is committed,
//! so a bad body stores nothing.

pub mod ingest;

use std::sync::Arc;

use crate::registry::error::valid_name;
use crate::registry::store::datasets::{DatasetInfo, DatasetStore, DatasetUpload};
use crate::registry::store::parsed;
use crate::train::parsed_form::{self, ParsedForm};
use crate::train::source::{DatasetSource, StoredCsv, StoredShape};
use crate::train::TrainError;
use ingest::{CsvError, CsvIngest};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("invalid dataset name '{0}': use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit")]
    InvalidName(String),
    #[error("dataset '{0}' not found")]
    NotFound(String),
    #[error("invalid CSV: {0}")]
    Csv(#[from] CsvError),
    #[error("the dataset is larger than the limit of {limit} bytes (server.dataset_limit_bytes)")]
    TooLarge { limit: u64 },
    #[error("dataset store: {0}")]
    Store(#[from] std::io::Error),
}

/// The datasets of the server's store, with the upload limit.
#[derive(Debug, Clone)]
pub struct Datasets {
    store: Arc<dyn DatasetStore>,
    limit: u64,
    /// Bytes the parsed forms kept in the store may hold together; 0 keeps none.
    parsed_budget: u64,
}

impl Datasets {
    pub fn new(store: Arc<dyn DatasetStore>, limit: u64) -> Self {
        Self {
            store,
            limit,
            parsed_budget: 0,
        }
    }

    /// The same datasets, keeping parsed forms in the store up to `bytes` in all
    /// (`training.dataset_cache_bytes`).
    pub fn with_parsed_budget(mut self, bytes: u64) -> Self {
        self.parsed_budget = bytes;
        self
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn check(name: &str) -> Result<(), DatasetError> {
        if valid_name(name) {
            Ok(())
        } else {
            Err(DatasetError::InvalidName(name.to_string()))
        }
    }

    /// Starts an upload; nothing is visible until [`Upload::finish`].
    pub fn begin(&self, name: &str) -> Result<Upload, DatasetError> {
        Self::check(name)?;
        Ok(Upload {
            name: name.to_string(),
            limit: self.limit,
            ingest: CsvIngest::new(),
            sink: Some(self.store.begin_upload(name)?),
        })
    }

    pub fn list(&self) -> Result<Vec<DatasetInfo>, DatasetError> {
        Ok(self.store.list_datasets()?)
    }

    pub fn get(&self, name: &str) -> Result<DatasetInfo, DatasetError> {
        Self::check(name)?;
        self.store
            .dataset(name)?
            .ok_or_else(|| DatasetError::NotFound(name.to_string()))
    }

    pub fn remove(&self, name: &str) -> Result<(), DatasetError> {
        Self::check(name)?;
        if self.store.remove_dataset(name)? {
            Ok(())
        } else {
            Err(DatasetError::NotFound(name.to_string()))
        }
    }

    /// Start-up janitor (see [`DatasetStore::remove_dataset_leftovers`]).
    pub fn remove_leftovers(&self) -> Result<Vec<String>, DatasetError> {
        Ok(self.store.remove_dataset_leftovers()?)
    }
}

/// Training reads a stored dataset by name.
impl DatasetSource for Datasets {
    fn read_csv(&self, name: &str) -> Result<StoredCsv, TrainError> {
        if !valid_name(name) {
            return Err(missing(name));
        }
        let (info, bytes) = self
            .store
            .read_dataset(name, self.limit)
            .map_err(|source| io_error(name, source))?
            .ok_or_else(|| missing(name))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| TrainError::data(format!("dataset `{name}` is not UTF-8: {e}")))?;
        Ok(StoredCsv {
            content_id: info.sha256,
            text,
        })
    }

    fn shape(&self, name: &str) -> Result<StoredShape, TrainError> {
        if !valid_name(name) {
            return Err(missing(name));
        }
        let info = self
            .store
            .dataset(name)
            .map_err(|source| io_error(name, source))?
            .ok_or_else(|| missing(name))?;
        Ok(StoredShape {
            content_id: info.sha256,
            bytes: info.bytes,
            rows: info.rows,
            columns: info.column_names,
        })
    }

    fn read_parsed(&self, name: &str, variant: &str, max_bytes: u64) -> Option<ParsedForm> {
        if self.parsed_budget == 0 || !valid_name(name) {
            return None;
        }
        // The bytes and the data decoded from them are alive together.
        let limit = self.parsed_budget.min(max_bytes / 2);
        let read = parsed::read_parsed(self.store.as_ref(), name, variant, limit);
        let (info, bytes) = match read {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(dataset = %name, error = %e, "cannot read the stored parsed form; parsing the CSV");
                return None;
            }
        };
        match parsed_form::decode(&bytes) {
            Ok(form) if form.content_id == info.sha256 => Some(form),
            Ok(_) => {
                tracing::warn!(dataset = %name, "the stored parsed form is of other content; parsing the CSV");
                None
            }
            Err(why) => {
                tracing::warn!(dataset = %name, reason = %why, "the stored parsed form cannot be used; parsing the CSV");
                None
            }
        }
    }

    fn write_parsed(&self, name: &str, content_id: &str, variant: &str, form: Vec<u8>) -> bool {
        if self.parsed_budget == 0 || !valid_name(name) {
            return false;
        }
        let store = self.store.as_ref();
        match parsed::write_parsed(store, name, content_id, variant, form, self.parsed_budget) {
            Ok(kept) => kept,
            Err(e) => {
                tracing::warn!(dataset = %name, error = %e, "cannot keep the parsed form in the store");
                false
            }
        }
    }
}

fn missing(name: &str) -> TrainError {
    TrainError::DatasetNotFound {
        name: name.to_string(),
    }
}

fn io_error(name: &str, source: std::io::Error) -> TrainError {
    TrainError::Io {
        path: format!("dataset {name}"),
        source,
    }
}

/// One upload in progress. Dropped before [`Upload::finish`] (a failed check, a client
/// that went away), it removes what it wrote.
pub struct Upload {
    name: String,
    limit: u64,
    ingest: CsvIngest,
    sink: Option<Box<dyn DatasetUpload>>,
}

impl Upload {
    /// Checks, hashes and stores the next piece of the body. A refused piece ends the
    /// upload: what it wrote is removed before this returns.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DatasetError> {
        let fed = self.try_feed(chunk);
        if fed.is_err() {
            self.abort();
        }
        fed
    }

    fn try_feed(&mut self, chunk: &[u8]) -> Result<(), DatasetError> {
        if self.ingest.bytes().saturating_add(chunk.len() as u64) > self.limit {
            return Err(DatasetError::TooLarge { limit: self.limit });
        }
        self.ingest.feed(chunk)?;
        match self.sink.as_mut() {
            Some(sink) => Ok(sink.write(chunk)?),
            None => Err(DatasetError::Store(std::io::Error::other(
                "the upload was already finished",
            ))),
        }
    }

    fn abort(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink.abort();
        }
    }

    /// The end of the body: the last checks, then the dataset is replaced whole.
    pub fn finish(mut self) -> Result<DatasetInfo, DatasetError> {
        let ingest = std::mem::take(&mut self.ingest);
        let summary = match ingest.finish() {
            Ok(summary) => summary,
            Err(e) => {
                self.abort();
                return Err(e.into());
            }
        };
        let info = DatasetInfo {
            name: self.name.clone(),
            bytes: summary.bytes,
            rows: summary.rows,
            columns: summary.columns.len(),
            column_names: summary.columns,
            sha256: summary.sha256,
            created_at: chrono::Utc::now(),
        };
        let sink = self.sink.take().ok_or_else(|| {
            DatasetError::Store(std::io::Error::other("the upload was already finished"))
        })?;
        sink.commit(info.clone())?;
        Ok(info)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(sink) = self.sink.take() {
            // Dropped with the request's future when a client goes away, i.e. on a runtime
            // worker: an S3 abort is a network call, which belongs on the blocking pool.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || sink.abort())),
                Err(_) => sink.abort(),
            }
        }
    }
}
