//! Persistence of the registry behind one trait, [`ModelStore`], with two backends: the
//! local directory ([`local::LocalStore`], the default) and an S3 bucket through the
//! `object_store` crate ([`s3::S3Store`], `store.uri = "s3://bucket/prefix"`), which is
//! what replicas share. Both give the same guarantees:
//!
//! * a version appears whole or not at all (a folder renamed into place; objects first,
//!   then a manifest written with a conditional create);
//! * version numbers are allocated with a create-if-absent, so two writers never get the
//!   same number;
//! * alias maps are read-modified-written under compare-and-swap (a file lock locally, the
//!   object's ETag in S3), so no concurrent alias update is lost.
//!
//! Every call is blocking: the registry calls them from blocking threads.

pub mod bridge;
pub mod datasets;
mod fsio;
pub mod local;
mod local_datasets;
pub mod parsed;
pub mod s3;
pub mod single;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use crate::models::Artifact;

use super::meta::VersionMeta;
use super::policy::{VersionPolicy, POLICY_FILE};

pub use local::{LocalStore, ALIASES_FILE, ARTIFACT_FILE, META_FILE};
pub use single::SingleVersionStore;

/// No stored file or object is read past this (a model at `models.max_parameters` is far
/// smaller), so a corrupt or hostile store cannot make a replica allocate without bound.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The store in a directory: one exported version at its top level (see [`single`]),
/// served as `model_name`, when it holds one; else a [`LocalStore`] of model folders, for
/// which `model_name` is not used (every model in it is served).
pub fn open_dir(dir: &std::path::Path, model_name: Option<&str>) -> io::Result<Stores> {
    if single::holds_single_version(dir) {
        let store = SingleVersionStore::open(dir, model_name)?;
        Ok((Box::new(store.clone()), Arc::new(store)))
    } else {
        let store = LocalStore::open(dir)?;
        Ok((Box::new(store.clone()), Arc::new(store)))
    }
}

/// One backend seen as the two stores it is: models, and datasets.
pub type Stores = (Box<dyn ModelStore>, Arc<dyn datasets::DatasetStore>);

/// Alias name → version number, as `aliases.json` holds it.
pub type Aliases = BTreeMap<String, u64>;

/// One listed object or file: its path relative to the model, size and a change tag
/// (an ETag, or a modification time), enough to tell that it changed without reading it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub tag: String,
}

/// What one model held at a listing.
#[derive(Debug, Clone, Default)]
pub struct ModelListing {
    /// Complete versions and the entries that make each up.
    pub versions: BTreeMap<u64, Vec<Entry>>,
    /// The model's own files (aliases.json, policy.json).
    pub files: Vec<Entry>,
    /// The highest version number in any state (complete, being written, deleted but
    /// reserved), where allocation starts looking.
    pub max_claimed: u64,
}

impl ModelListing {
    /// Whether two listings show the same content (in-flight writes aside).
    pub fn same_content(&self, other: &ModelListing) -> bool {
        self.versions == other.versions && self.files == other.files
    }

    /// Whether the listing shows anything a reader would load.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.files.is_empty()
    }
}

/// The whole store at one listing, by model name.
pub type Listing = BTreeMap<String, ModelListing>;

/// The operations the registry needs from a store. Implementations never panic on what
/// the store holds: a bad object is reported (or skipped with a warning), never trusted.
pub trait ModelStore: Send + Sync + std::fmt::Debug {
    /// Where the store is, for logs (never a secret).
    fn describe(&self) -> String;

    /// One listing of the whole store (one list call for an object store).
    fn list(&self) -> io::Result<Listing>;

    /// One model's listing; an absent model is an empty listing.
    fn list_model(&self, name: &str) -> io::Result<ModelListing>;

    /// Reads one complete version; the reason when it cannot be used.
    fn read_version(&self, name: &str, version: u64) -> Result<(VersionMeta, Artifact), String>;

    /// Reads one of the model's own files (`aliases.json`, `policy.json`); `None` if absent.
    fn read_file(&self, name: &str, file: &str) -> io::Result<Option<Vec<u8>>>;

    /// Writes a new version numbered `first` or above: the first number free in the store
    /// is claimed with a create-if-absent, `meta.version` set to it, and the version made
    /// visible whole. Returns the number.
    fn create_version(
        &self,
        name: &str,
        first: u64,
        meta: &mut VersionMeta,
        artifact: &Artifact,
    ) -> io::Result<u64>;

    /// Applies `change` to the stored alias map and writes it back under compare-and-swap,
    /// retrying on a concurrent write; returns the map as written.
    fn update_aliases(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut Aliases),
    ) -> io::Result<Aliases>;

    /// Removes a version: it disappears at once for readers, then its files go.
    fn remove_version(&self, name: &str, version: u64) -> io::Result<()>;

    /// After the last version went: removes the model's aliases and folder unless
    /// something else is still there. Returns whether the model is gone.
    fn remove_model_if_empty(&self, name: &str) -> io::Result<bool>;

    /// Start-up janitor: removes what interrupted writes left; returns what it removed.
    fn remove_leftovers(&self) -> io::Result<Vec<String>>;
}

/// What one version held when it was read.
#[derive(Debug)]
pub struct StoredVersion {
    pub version: u64,
    /// Either the parsed files or the reason they could not be used.
    pub content: Result<(VersionMeta, Artifact), String>,
}

/// What one model held when it was read.
#[derive(Debug, Default)]
pub struct StoredModel {
    pub name: String,
    /// The versions read (policy-kept ones not reused).
    pub versions: Vec<StoredVersion>,
    /// Versions kept by the policy but not read: the caller holds them, unchanged.
    pub reused: Vec<u64>,
    pub aliases: Aliases,
    /// Set when aliases.json exists but cannot be parsed.
    pub alias_error: Option<String>,
    /// Versions in the store that the model's `policy.json` leaves out (not loaded).
    pub retired: Vec<u64>,
    /// Set when policy.json exists but cannot be parsed (every version is then served).
    pub policy_error: Option<String>,
}

/// Reads the model `listing` describes; versions for which `held` is true are not read
/// again (the caller has them: the poll's "reads of what changed").
pub fn read_model(
    store: &dyn ModelStore,
    name: &str,
    listing: &ModelListing,
    held: &dyn Fn(u64) -> bool,
) -> StoredModel {
    let mut out = StoredModel {
        name: name.to_string(),
        ..StoredModel::default()
    };
    let mut policy = VersionPolicy::default();
    match store.read_file(name, POLICY_FILE) {
        Ok(Some(bytes)) => match VersionPolicy::parse(&bytes) {
            Ok(p) => policy = p,
            Err(e) => out.policy_error = Some(e),
        },
        Ok(None) => {}
        Err(e) => out.policy_error = Some(format!("{POLICY_FILE}: {e}")),
    }
    match store.read_file(name, ALIASES_FILE) {
        Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(a) => out.aliases = a,
            Err(e) => out.alias_error = Some(format!("{ALIASES_FILE}: {e}")),
        },
        Ok(None) => {}
        Err(e) => out.alias_error = Some(format!("{ALIASES_FILE}: {e}")),
    }
    let listed: Vec<u64> = listing.versions.keys().copied().collect();
    for &version in &listed {
        if !policy.keeps(version, &listed) {
            out.retired.push(version);
        } else if held(version) {
            out.reused.push(version);
        } else {
            out.versions.push(StoredVersion {
                version,
                content: store.read_version(name, version),
            });
        }
    }
    out
}

/// Reads the current alias map for an update: a map that cannot be parsed is replaced
/// (with a warning), as writing the in-memory map over it always did.
pub(crate) fn parse_aliases(name: &str, bytes: Option<&[u8]>) -> Aliases {
    match bytes.map(serde_json::from_slice::<Aliases>) {
        None => Aliases::new(),
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            tracing::warn!(model = %name, error = %e, "aliases.json unreadable; replacing it");
            Aliases::new()
        }
    }
}

/// Bytes the store writes for `artifact`: its `model.json` and any file beside it.
pub fn stored_size(artifact: &crate::models::Artifact) -> u64 {
    let json = to_json(artifact).map_or(0, |b| b.len());
    let blobs: usize = artifact.blobs().iter().map(|(_, b)| b.len()).sum();
    (json + blobs) as u64
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(io::Error::other)
}

/// A blob file name from an artifact must stay inside the version's folder or prefix.
pub(crate) fn blob_name(file: &str) -> io::Result<&str> {
    if super::error::valid_name(file) {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid artifact file name '{file}'"),
        ))
    }
}
