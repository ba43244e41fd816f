//! The store in an S3 bucket (or an S3-compatible server), shared by replicas, through the
//! `object_store` crate. Layout under `s3://bucket/prefix`:
//!
//! ```text
//! <model>/<version>/.claim          the number's reservation (conditional create)
//! <model>/<version>/model.json      the artifact, then its blobs (model.onnx), then
//! <model>/<version>/meta.json       the version's record
//! <model>/<version>/manifest.json   written last, create-only: the version exists from here
//! <model>/aliases.json              compare-and-swap on its ETag
//! <model>/policy.json               optional, as in the directory store
//! ```
//!
//! A version without its manifest (being written, or abandoned by a crashed writer) is not
//! listed; one whose files disagree with its manifest is reported as failed. Claims are
//! never removed, so a number is never handed out twice, even after a delete.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use object_store::{ObjectStore, PutMode};
use serde::{Deserialize, Serialize};

mod datasets;
mod objects;

use crate::models::Artifact;

use super::super::error::valid_name;
use super::super::meta::VersionMeta;
use super::bridge::Bridge;
use super::{
    blob_name, parse_aliases, to_json, Aliases, Entry, Listing, ModelListing, ModelStore,
    ALIASES_FILE, ARTIFACT_FILE, META_FILE,
};

pub const MANIFEST_FILE: &str = "manifest.json";
const CLAIM_FILE: &str = ".claim";
/// Every store's bound on one file, applied to each object.
const MAX_OBJECT_BYTES: u64 = super::MAX_FILE_BYTES;
/// Compare-and-swap attempts on aliases.json before giving up.
const CAS_TRIES: u32 = 100;

/// What a complete version holds: each file's size, checked on read.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u64,
    files: BTreeMap<String, u64>,
}

#[derive(Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    bridge: Bridge,
    /// Objects older than this that no record names belong to an upload that stopped.
    opened_at: chrono::DateTime<chrono::Utc>,
    bucket: String,
    /// Without leading or trailing `/`; may be empty.
    prefix: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's own Debug would show its configuration; only the location here.
        f.write_str(&self.describe())
    }
}

impl S3Store {
    /// Groups a listing's objects by model.
    fn group(&self, metas: Vec<object_store::ObjectMeta>) -> Listing {
        let mut out = Listing::new();
        let mut manifests: BTreeMap<(String, u64), ()> = BTreeMap::new();
        let mut version_entries: BTreeMap<(String, u64), Vec<Entry>> = BTreeMap::new();
        for meta in metas {
            let location = meta.location.to_string();
            let Some(rel) = self.relative(&location) else {
                continue;
            };
            let parts: Vec<&str> = rel.split('/').collect();
            let Some((&model, rest)) = parts.split_first() else {
                continue;
            };
            if !valid_name(model) {
                continue;
            }
            let tag = meta
                .e_tag
                .clone()
                .unwrap_or_else(|| meta.last_modified.to_rfc3339());
            let listing = out.entry(model.to_string()).or_default();
            match rest {
                [file] => listing.files.push(Entry {
                    key: file.to_string(),
                    size: meta.size,
                    tag,
                }),
                [number, file] => {
                    let Some(v) = number.parse::<u64>().ok().filter(|v| *v > 0) else {
                        continue;
                    };
                    listing.max_claimed = listing.max_claimed.max(v);
                    let key = (model.to_string(), v);
                    if *file == MANIFEST_FILE {
                        manifests.insert(key.clone(), ());
                    }
                    version_entries.entry(key).or_default().push(Entry {
                        key: format!("{number}/{file}"),
                        size: meta.size,
                        tag,
                    });
                }
                _ => {}
            }
        }
        for ((model, v), mut entries) in version_entries {
            if manifests.contains_key(&(model.clone(), v)) {
                entries.sort();
                if let Some(listing) = out.get_mut(&model) {
                    listing.versions.insert(v, entries);
                }
            }
        }
        for listing in out.values_mut() {
            listing.files.sort();
        }
        out
    }

    fn read_version_files(&self, name: &str, v: u64) -> Result<(VersionMeta, Artifact), String> {
        let base = format!("{name}/{v}");
        let read = |file: &str, size: Option<u64>| -> Result<Vec<u8>, String> {
            let bytes = self
                .get(&format!("{base}/{file}"))
                .map_err(|e| format!("{file}: {e}"))?
                .ok_or_else(|| format!("{file}: missing"))?
                .0;
            match size {
                Some(s) if u64::try_from(bytes.len()).ok() != Some(s) => Err(format!(
                    "{file}: {} bytes where the manifest says {s}",
                    bytes.len()
                )),
                _ => Ok(bytes),
            }
        };
        let manifest: Manifest = serde_json::from_slice(&read(MANIFEST_FILE, None)?)
            .map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
        if manifest.version != v {
            return Err(format!(
                "{MANIFEST_FILE} says version {} but the prefix is {v}",
                manifest.version
            ));
        }
        let size = |file: &str| {
            manifest
                .files
                .get(file)
                .copied()
                .ok_or_else(|| format!("{MANIFEST_FILE} does not list {file}"))
        };
        let meta: VersionMeta = serde_json::from_slice(&read(META_FILE, Some(size(META_FILE)?))?)
            .map_err(|e| format!("{META_FILE}: {e}"))?;
        if meta.version != v {
            return Err(format!(
                "{META_FILE} says version {} but the prefix is {v}",
                meta.version
            ));
        }
        let mut artifact: Artifact =
            serde_json::from_slice(&read(ARTIFACT_FILE, Some(size(ARTIFACT_FILE)?))?)
                .map_err(|e| format!("{ARTIFACT_FILE}: {e}"))?;
        if let Artifact::Onnx(a) = &mut artifact {
            let file = blob_name(&a.file).map_err(|e| e.to_string())?.to_string();
            a.bytes = Arc::new(read(&file, Some(size(&file)?))?);
        }
        Ok((meta, artifact))
    }
}

/// Whether a conditional put lost to another writer.
fn lost_race(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

impl ModelStore for S3Store {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn list(&self) -> io::Result<Listing> {
        let mut listing = self.group(self.list_under(None)?);
        // A model with nothing but claims (every version deleted) is gone.
        listing.retain(|_, m| !m.is_empty());
        Ok(listing)
    }

    fn list_model(&self, name: &str) -> io::Result<ModelListing> {
        let metas = self.list_under(Some(name))?;
        Ok(self.group(metas).remove(name).unwrap_or_default())
    }

    fn read_version(&self, name: &str, version: u64) -> Result<(VersionMeta, Artifact), String> {
        self.read_version_files(name, version)
    }

    fn read_file(&self, name: &str, file: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.get(&format!("{name}/{file}"))?.map(|(b, _)| b))
    }

    fn create_version(
        &self,
        name: &str,
        first: u64,
        meta: &mut VersionMeta,
        artifact: &Artifact,
    ) -> io::Result<u64> {
        let listed = self.list_model(name)?.max_claimed.saturating_add(1);
        let mut version = first.max(listed);
        let claim = serde_json::json!({"at": chrono::Utc::now(), "pid": std::process::id()});
        let mut claimed = false;
        for _ in 0..1000 {
            match self.put(
                &format!("{name}/{version}/{CLAIM_FILE}"),
                claim.to_string().into_bytes(),
                PutMode::Create,
            ) {
                Ok(()) => {
                    claimed = true;
                    break;
                }
                Err(e) if lost_race(&e) => {
                    version = version
                        .checked_add(1)
                        .ok_or_else(|| io::Error::other("version numbers exhausted"))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !claimed {
            return Err(io::Error::other("no free version number after 1000 tries"));
        }
        meta.version = version;
        let mut files = BTreeMap::new();
        let mut write = |file: &str, bytes: Vec<u8>| -> io::Result<()> {
            files.insert(
                file.to_string(),
                u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            );
            self.put(
                &format!("{name}/{version}/{file}"),
                bytes,
                PutMode::Overwrite,
            )
            .map_err(io::Error::from)
        };
        write(ARTIFACT_FILE, to_json(artifact)?)?;
        for (file, bytes) in artifact.blobs() {
            write(blob_name(file)?, bytes.to_vec())?;
        }
        write(META_FILE, to_json(meta)?)?;
        let manifest = to_json(&Manifest { version, files })?;
        self.put(
            &format!("{name}/{version}/{MANIFEST_FILE}"),
            manifest,
            PutMode::Create,
        )?;
        Ok(version)
    }

    fn update_aliases(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut Aliases),
    ) -> io::Result<Aliases> {
        let rel = format!("{name}/{ALIASES_FILE}");
        for attempt in 0..CAS_TRIES {
            let current = self.get(&rel)?;
            let mut aliases = parse_aliases(name, current.as_ref().map(|(b, _)| b.as_slice()));
            change(&mut aliases);
            let mode = match current {
                Some((_, v)) => PutMode::Update(v),
                None => PutMode::Create,
            };
            match self.put(&rel, to_json(&aliases)?, mode) {
                Ok(()) => return Ok(aliases),
                Err(e) if lost_race(&e) => {
                    // Another replica wrote first: back off a little, re-read, re-apply.
                    let jitter = rand::random_range(0..20u64);
                    let wait = 5 + jitter + 5 * u64::from(attempt.min(20));
                    std::thread::sleep(Duration::from_millis(wait));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::other(format!(
            "{ALIASES_FILE} of '{name}': still contended after {CAS_TRIES} tries"
        )))
    }

    fn remove_version(&self, name: &str, version: u64) -> io::Result<()> {
        // The manifest first: from then on, readers no longer see the version.
        self.delete(&format!("{name}/{version}/{MANIFEST_FILE}"))?;
        for meta in self.list_under(Some(&format!("{name}/{version}")))? {
            let location = meta.location.to_string();
            let Some(rel) = self.relative(&location) else {
                continue;
            };
            // The claim stays, so the number is never reused.
            if !rel.ends_with(CLAIM_FILE) {
                self.delete(rel)?;
            }
        }
        Ok(())
    }

    fn remove_model_if_empty(&self, name: &str) -> io::Result<bool> {
        let listing = self.list_model(name)?;
        if !listing.versions.is_empty() {
            return Ok(false);
        }
        self.delete(&format!("{name}/{ALIASES_FILE}"))?;
        Ok(listing.files.iter().all(|f| f.key == ALIASES_FILE))
    }

    /// Nothing to sweep: an interrupted write leaves a claim and objects without a
    /// manifest, which no reader lists (remove them with a bucket lifecycle rule).
    fn remove_leftovers(&self) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use object_store::path::Path;
    use object_store::ObjectMeta;

    use super::S3Store;

    fn object(key: &str) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(key),
            last_modified: chrono::Utc::now(),
            size: 3,
            e_tag: Some(format!("\"{key}\"")),
            version: None,
        }
    }

    #[test]
    fn a_listing_shows_only_versions_with_their_manifest() {
        // Opening contacts nothing.
        let store = S3Store::open("bucket", "/fleet/").unwrap();
        let listing = store.group(
            [
                "fleet/m/1/.claim",
                "fleet/m/1/model.json",
                "fleet/m/1/meta.json",
                "fleet/m/1/manifest.json",
                "fleet/m/2/.claim",
                "fleet/m/2/model.json",
                "fleet/m/0/manifest.json",
                "fleet/m/aliases.json",
                "fleet/.hidden/1/manifest.json",
                "fleet/m/1/deeper/x",
                "elsewhere/m/3/manifest.json",
            ]
            .map(object)
            .to_vec(),
        );
        assert_eq!(listing.keys().collect::<Vec<_>>(), ["m"]);
        let m = &listing["m"];
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(m.versions[&1].len(), 4);
        assert_eq!(m.max_claimed, 2);
        let files: Vec<_> = m.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(files, ["aliases.json"]);
        assert_eq!(super::ModelStore::describe(&store), "s3://bucket/fleet");
    }
}
