//! [`DatasetStore`] in the bucket. An upload is an S3 multipart upload of 5 MiB parts (the
//! smallest S3 allows), at most two in flight, so a replica holds about 15 MiB of a
//! dataset of any size; the object appears only when the upload completes. The record is
//! swapped with a conditional put on its ETag, as aliases.json is.

use std::io;
use std::time::Duration;

use object_store::{ObjectStoreExt, PutMode, WriteMultipart};

use super::super::datasets::ParsedEntry;
use super::super::datasets::{
    name_of_record, new_object_id, object_key, record_key, too_large, valid_object_id, DatasetInfo,
    DatasetRecord, DatasetStore, DatasetUpload, DATASETS_DIR, MAX_RECORD_BYTES, OBJECTS_DIR,
    ORPHAN_GRACE,
};
use super::super::parsed::{self, object_of_key, PARSED_DIR};
use super::{lost_race, S3Store, CAS_TRIES};

const PART_BYTES: usize = 5 << 20;
const PARTS_IN_FLIGHT: usize = 2;

struct S3Upload {
    store: S3Store,
    name: String,
    id: String,
    /// `None` only after a failed write handed it back no more.
    writer: Option<WriteMultipart>,
}

impl S3Upload {
    fn writer(&mut self) -> io::Result<WriteMultipart> {
        self.writer
            .take()
            .ok_or_else(|| io::Error::other("the dataset upload already failed"))
    }
}

impl DatasetUpload for S3Upload {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let mut writer = self.writer()?;
        let chunk = chunk.to_vec();
        // Parts are spawned on the store's runtime, so the writer only moves there.
        let (writer, waited) = self.store.bridge.run(async move {
            writer.write(&chunk);
            let waited = writer.wait_for_capacity(PARTS_IN_FLIGHT).await;
            (writer, waited)
        })?;
        self.writer = Some(writer);
        waited.map_err(io::Error::from)
    }

    fn commit(mut self: Box<Self>, info: DatasetInfo) -> io::Result<()> {
        let writer = self.writer()?;
        self.store
            .bridge
            .run(async move { writer.finish().await })?
            .map_err(io::Error::from)?;
        let record = DatasetRecord {
            info,
            object: self.id.clone(),
        };
        match self.store.swap_record(&self.name, &record) {
            Ok(Some(old)) if old.object != self.id => {
                parsed::remove_parsed_of(&self.store, &old.object);
                self.store.delete(&object_key(&old.object))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = self.store.delete(&object_key(&self.id));
                Err(e)
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        if let Ok(writer) = self.writer() {
            let _ = self.store.bridge.run(async move { writer.abort().await });
        }
    }
}

impl S3Store {
    /// Points the record at `record.object` under compare-and-swap; returns the record it
    /// replaced.
    fn swap_record(&self, name: &str, record: &DatasetRecord) -> io::Result<Option<DatasetRecord>> {
        let key = record_key(name);
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        for attempt in 0..CAS_TRIES {
            let current = self.get_bounded(&key, MAX_RECORD_BYTES)?;
            let (before, mode) = match current {
                Some((old, version)) => (
                    DatasetRecord::parse(name, &old).ok(),
                    PutMode::Update(version),
                ),
                None => (None, PutMode::Create),
            };
            match self.put(&key, bytes.clone(), mode) {
                Ok(()) => return Ok(before),
                Err(e) if lost_race(&e) => {
                    let wait = 5 + rand::random_range(0..20u64) + 5 * u64::from(attempt.min(20));
                    std::thread::sleep(Duration::from_millis(wait));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::other(format!(
            "dataset {name}: its record is still contended after {CAS_TRIES} tries"
        )))
    }
}

impl DatasetStore for S3Store {
    fn begin_upload(&self, name: &str) -> io::Result<Box<dyn DatasetUpload>> {
        let id = new_object_id();
        let store = self.store.clone();
        let path = self.path(&object_key(&id));
        let upload = self
            .bridge
            .run(async move { store.put_multipart(&path).await })?
            .map_err(io::Error::from)?;
        Ok(Box::new(S3Upload {
            store: self.clone(),
            name: name.to_string(),
            id,
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)),
        }))
    }

    fn record_names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for meta in self.list_under(Some(DATASETS_DIR))? {
            let location = meta.location.to_string();
            let name = self
                .relative(&location)
                .and_then(|rel| rel.strip_prefix(DATASETS_DIR))
                .and_then(|rel| rel.strip_prefix('/'))
                .and_then(name_of_record);
            names.extend(name.map(str::to_string));
        }
        Ok(names)
    }

    fn read_record(&self, name: &str) -> io::Result<Option<DatasetRecord>> {
        match self.get_bounded(&record_key(name), MAX_RECORD_BYTES)? {
            Some((bytes, _)) => DatasetRecord::parse(name, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn read_dataset(&self, name: &str, limit: u64) -> io::Result<Option<(DatasetInfo, Vec<u8>)>> {
        let Some(record) = self.read_record(name)? else {
            return Ok(None);
        };
        match self.get_bounded(&object_key(&record.object), limit) {
            Ok(Some((bytes, _))) => Ok(Some((record.info, bytes))),
            // Replaced or removed since the record was read.
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                Err(too_large(name, record.info.bytes, limit))
            }
            Err(e) => Err(e),
        }
    }

    fn remove_dataset(&self, name: &str) -> io::Result<bool> {
        let Some(record) = self.read_record(name)? else {
            return Ok(false);
        };
        self.delete(&record_key(name))?;
        parsed::remove_parsed_of(self, &record.object);
        self.delete(&object_key(&record.object))?;
        Ok(true)
    }

    fn remove_dataset_leftovers(&self) -> io::Result<Vec<String>> {
        let referenced = self.referenced_objects()?;
        let mut removed = parsed::remove_unreferenced_parsed(self, &referenced)?;
        let grace = chrono::Duration::from_std(ORPHAN_GRACE).unwrap_or(chrono::Duration::zero());
        let before = self.opened_at - grace;
        let objects = format!("{DATASETS_DIR}/{OBJECTS_DIR}");
        for meta in self.list_under(Some(&objects))? {
            let location = meta.location.to_string();
            let Some(rel) = self.relative(&location) else {
                continue;
            };
            let id = rel
                .strip_prefix(objects.as_str())
                .and_then(|r| r.strip_prefix('/'))
                .and_then(|f| f.strip_suffix(".csv"))
                .unwrap_or_default();
            // Newer: maybe an upload another replica is committing now (see ORPHAN_GRACE).
            if valid_object_id(id) && !referenced.contains(id) && meta.last_modified < before {
                self.delete(rel)?;
                removed.push(rel.to_string());
            }
        }
        Ok(removed)
    }

    fn list_parsed(&self) -> io::Result<Vec<ParsedEntry>> {
        let dir = format!("{DATASETS_DIR}/{PARSED_DIR}");
        let mut out = Vec::new();
        for meta in self.list_under(Some(&dir))? {
            let location = meta.location.to_string();
            let Some(rel) = self.relative(&location) else {
                continue;
            };
            if let Some(object) = object_of_key(rel) {
                out.push(ParsedEntry {
                    key: rel.to_string(),
                    object: object.to_string(),
                    size: meta.size,
                    used: meta.last_modified.into(),
                });
            }
        }
        Ok(out)
    }

    fn read_parsed_key(&self, key: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        parsed::check_key(key)?;
        Ok(self.get_bounded(key, limit)?.map(|(bytes, _)| bytes))
    }

    fn put_parsed_key(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        parsed::check_key(key)?;
        // A single PUT: the object appears whole or not at all.
        Ok(self.put(key, bytes, object_store::PutMode::Overwrite)?)
    }

    fn delete_parsed_key(&self, key: &str) -> io::Result<()> {
        parsed::check_key(key)?;
        self.delete(key)
    }
}
