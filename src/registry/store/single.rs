//! One exported version served as it is: what KServe's storage-initializer leaves at
//! `/mnt/models` when an InferenceService's `storageUri` names one version rather than a
//! store. The folder holds `model.onnx` (a bare ONNX file, or a `storageUri` that was that
//! one file) or a modeld version folder (`model.json` + `meta.json` and its blobs, copied
//! from `<model>/<version>/`). It is served as model `store.model_name`, version 1.
//!
//! The layout has no room for a second version, an alias or a delete, so the store is
//! read-only: every write fails with [`ReadOnlyStore`] (which the registry reports as
//! such, not as an I/O failure), and the start-up janitor removes nothing here.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::models::onnx::ONNX_FILE;
use crate::models::Artifact;

use super::super::error::{valid_name, ReadOnlyStore};
use super::super::meta::VersionMeta;
use super::datasets::{DatasetInfo, DatasetRecord, DatasetStore, DatasetUpload};
use super::fsio::entry_of;
use super::local::read_version_dir;
use super::{Aliases, Listing, ModelListing, ModelStore, ARTIFACT_FILE};

/// The number the one version is served as.
pub const SERVED_VERSION: u64 = 1;

/// Whether `dir` holds a version at its root (`model.onnx`, or `model.json`) rather
/// than model folders.
pub fn holds_single_version(dir: &Path) -> bool {
    dir.join(ONNX_FILE).is_file() || dir.join(ARTIFACT_FILE).is_file()
}

#[derive(Debug, Clone)]
pub struct SingleVersionStore {
    root: PathBuf,
    name: String,
}

impl SingleVersionStore {
    /// The version at `root`'s top level, served as `name` (`store.model_name`), which
    /// the layout cannot supply: without one the error says which setting to give.
    pub fn open(root: impl Into<PathBuf>, name: Option<&str>) -> io::Result<Self> {
        let root = root.into();
        let Some(name) = name else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} holds a single model version at its top level ({ONNX_FILE} or \
                     {ARTIFACT_FILE}), not <model>/<version>/ folders; set store.model_name \
                     (flag --model-name, env MODELD_STORE__MODEL_NAME) to the name to serve \
                     it under",
                    root.display()
                ),
            ));
        };
        if !valid_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "store.model_name '{name}' is not a valid model name: use 1-128 \
                     characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
                ),
            ));
        }
        Ok(Self {
            root,
            name: name.to_string(),
        })
    }

    /// The files at the top level (what a poll compares), as the version's entries.
    fn listing(&self) -> io::Result<ModelListing> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            // Followed: a mounted volume may link its files.
            match fs::metadata(entry.path()) {
                Ok(meta) if meta.is_file() => {
                    files.push(entry_of(&format!("{SERVED_VERSION}/{file}"), &meta));
                }
                _ => {}
            }
        }
        files.sort();
        Ok(ModelListing {
            versions: BTreeMap::from([(SERVED_VERSION, files)]),
            files: Vec::new(),
            max_claimed: SERVED_VERSION,
        })
    }

    fn read_only(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::ReadOnlyFilesystem,
            ReadOnlyStore(format!(
                "the model store is one exported version served as '{}' version \
                 {SERVED_VERSION} (a single-version layout, read-only): it takes no new \
                 versions, alias changes or deletes",
                self.name
            )),
        )
    }
}

impl ModelStore for SingleVersionStore {
    fn describe(&self) -> String {
        format!(
            "{} (one version, served as {} version {SERVED_VERSION})",
            self.root.display(),
            self.name
        )
    }

    fn list(&self) -> io::Result<Listing> {
        Ok(Listing::from([(self.name.clone(), self.listing()?)]))
    }

    fn list_model(&self, name: &str) -> io::Result<ModelListing> {
        if name == self.name {
            self.listing()
        } else {
            Ok(ModelListing::default())
        }
    }

    fn read_version(&self, name: &str, version: u64) -> Result<(VersionMeta, Artifact), String> {
        if name != self.name || version != SERVED_VERSION {
            return Err(format!("no version {version} of '{name}' in this store"));
        }
        // Exported from any number in its own store: served as this one.
        let (mut meta, artifact) = read_version_dir(&self.root, SERVED_VERSION)?;
        meta.version = SERVED_VERSION;
        Ok((meta, artifact))
    }

    fn read_file(&self, _name: &str, _file: &str) -> io::Result<Option<Vec<u8>>> {
        // No aliases.json or policy.json: the layout is the version alone.
        Ok(None)
    }

    fn create_version(
        &self,
        _name: &str,
        _first: u64,
        _meta: &mut VersionMeta,
        _artifact: &Artifact,
    ) -> io::Result<u64> {
        Err(self.read_only())
    }

    fn update_aliases(
        &self,
        _name: &str,
        _change: &mut dyn FnMut(&mut Aliases),
    ) -> io::Result<Aliases> {
        Err(self.read_only())
    }

    fn remove_version(&self, _name: &str, _version: u64) -> io::Result<()> {
        Err(self.read_only())
    }

    fn remove_model_if_empty(&self, _name: &str) -> io::Result<bool> {
        Err(self.read_only())
    }

    fn remove_leftovers(&self) -> io::Result<Vec<String>> {
        // Nothing here was written by modeld: whatever the folder holds is left as it is.
        Ok(Vec::new())
    }
}

/// A single exported version holds no datasets, and takes none.
impl DatasetStore for SingleVersionStore {
    fn begin_upload(&self, _name: &str) -> io::Result<Box<dyn DatasetUpload>> {
        Err(self.read_only())
    }

    fn record_names(&self) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn read_record(&self, _name: &str) -> io::Result<Option<DatasetRecord>> {
        Ok(None)
    }

    fn read_dataset(&self, _: &str, _: u64) -> io::Result<Option<(DatasetInfo, Vec<u8>)>> {
        Ok(None)
    }

    fn remove_dataset(&self, _name: &str) -> io::Result<bool> {
        Ok(false)
    }

    fn remove_dataset_leftovers(&self) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn list_parsed(&self) -> io::Result<Vec<super::datasets::ParsedEntry>> {
        Ok(Vec::new())
    }

    fn read_parsed_key(&self, _: &str, _: u64) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn put_parsed_key(&self, _: &str, _: Vec<u8>) -> io::Result<()> {
        Err(self.read_only())
    }

    fn delete_parsed_key(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_version_without_a_name_is_refused_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ONNX_FILE), b"x").unwrap();
        assert!(holds_single_version(dir.path()));
        let msg = SingleVersionStore::open(dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("store.model_name") && msg.contains("--model-name"),
            "{msg}"
        );
        let msg = SingleVersionStore::open(dir.path(), Some("../x"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("store.model_name '../x'"), "{msg}");
    }

    #[test]
    fn one_model_one_version_and_every_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ONNX_FILE), b"graph").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        let store = SingleVersionStore::open(dir.path(), Some("iris")).unwrap();
        let listing = store.list().unwrap();
        assert_eq!(listing.keys().collect::<Vec<_>>(), ["iris"]);
        let keys: Vec<_> = listing["iris"].versions[&1]
            .iter()
            .map(|e| e.key.clone())
            .collect();
        assert_eq!(keys, ["1/model.onnx"]);
        assert!(store.list_model("other").unwrap().is_empty());
        let (meta, _) = store.read_version("iris", 1).unwrap();
        assert_eq!((meta.version, meta.family.as_str()), (1, "onnx"));
        assert!(store.read_version("iris", 2).is_err());
        assert!(store.read_version("other", 1).is_err());
        let err = store.remove_version("iris", 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ReadOnlyFilesystem);
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<ReadOnlyStore>());
        assert!(inner.is_some_and(|e| e.0.contains("'iris'")), "{err}");
        assert!(store.update_aliases("iris", &mut |_| {}).is_err());
        assert!(store.remove_leftovers().unwrap().is_empty());
        assert!(dir.path().join(ONNX_FILE).is_file());
    }
}
