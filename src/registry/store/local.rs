//! The model store on disk: `<root>/<model>/<version>/{model.json,meta.json}` (plus
//! `model.onnx` for imported graphs, see [`crate::models::onnx`]) and
//! `<root>/<model>/aliases.json`. Every write goes to a temporary name, is fsynced and
//! then renamed, so a crash leaves either the old state or the new one, never half a file.
//! The conditional writes of [`ModelStore`]: a version folder is renamed into place only
//! where no version folder is (a non-empty folder is never replaced), and the alias map is
//! read-modified-written under an exclusive `flock` on `<model>/.aliases.lock`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::models::onnx::{OnnxArtifact, ONNX_FILE};
use crate::models::{Artifact, Family, Schema};

use super::super::meta::VersionMeta;
use super::fsio::{
    entry_of, modified_before, read_bounded, sweep, sync_dir, taken, write_atomic,
    write_file_synced, FileLock,
};
use super::{blob_name, parse_aliases, to_json, Aliases, Listing, ModelListing, ModelStore};

pub const ARTIFACT_FILE: &str = "model.json";
pub const META_FILE: &str = "meta.json";
pub const ALIASES_FILE: &str = "aliases.json";

/// The lock file that serialises alias updates between processes.
const ALIASES_LOCK: &str = ".aliases.lock";

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    /// When this process opened the store: leftovers older than this belong to a write
    /// or delete that can no longer finish.
    opened_at: SystemTime,
}

impl LocalStore {
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Self {
            root,
            opened_at: SystemTime::now(),
        })
    }

    /// Start-up janitor: removes the `.tmp-*` and `.deleted-*` leftovers of writes and
    /// deletes interrupted by a crash, in the store and in every model folder, that are
    /// older than the store's opening (a newer one may be another process's write in
    /// progress), then model folders left empty. Returns what was removed; a leftover
    /// that cannot be removed is skipped, to be tried at the next start.
    pub fn remove_leftovers(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut removed = sweep(&self.root, self.opened_at);
        for name in self.model_names()? {
            let dir = self.model_dir(&name);
            // Read before sweeping, which makes the folder new: one changed since the
            // opening may be another process's model in the making.
            let untouched = modified_before(&dir, self.opened_at);
            removed.extend(sweep(&dir, self.opened_at));
            // Fails, as it should, unless the folder is empty.
            if untouched && fs::remove_dir(&dir).is_ok() {
                removed.push(dir);
            }
        }
        Ok(removed)
    }

    /// After a model's last version was deleted: removes its aliases.json (whose
    /// aliases can point nowhere now) and its folder, unless a version folder is still
    /// on disk (one the policy retired) or other files (a policy.json) remain. Returns
    /// whether the folder is gone.
    pub fn remove_model_if_empty(&self, name: &str) -> std::io::Result<bool> {
        let dir = self.model_dir(name);
        if !dir.is_dir() {
            return Ok(true);
        }
        if self.list_dir(name)?.max_claimed > 0 {
            return Ok(false);
        }
        for file in [ALIASES_FILE, ALIASES_LOCK] {
            match fs::remove_file(dir.join(file)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        match fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(&self.root)?;
        Ok(true)
    }

    pub(super) fn opened_at(&self) -> SystemTime {
        self.opened_at
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Names of every model folder (folders whose name is a valid model name).
    pub fn model_names(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                if super::super::error::valid_name(name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// One model folder's listing: each version folder (a positive number) with its
    /// files, and the model's own files; names starting with `.` (in-flight writes, the
    /// lock) are left out.
    fn list_dir(&self, name: &str) -> std::io::Result<ModelListing> {
        let dir = self.model_dir(name);
        let mut out = ModelListing::default();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let number = file.parse::<u64>().ok();
            if let Some(v) = number {
                out.max_claimed = out.max_claimed.max(v);
            }
            match number.filter(|v| *v > 0) {
                Some(v) if meta.is_dir() => {
                    let mut files = vec![entry_of(&file, &meta)];
                    for f in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                        if let (Some(n), Ok(m)) = (f.file_name().to_str(), f.metadata()) {
                            files.push(entry_of(&format!("{file}/{n}"), &m));
                        }
                    }
                    files.sort();
                    out.versions.insert(v, files);
                }
                _ => out.files.push(entry_of(&file, &meta)),
            }
        }
        out.files.sort();
        Ok(out)
    }

    /// Removes a version folder: it is first renamed away (atomic), then deleted.
    pub fn remove_version(&self, name: &str, version: u64) -> std::io::Result<()> {
        let dir = self.model_dir(name);
        let path = dir.join(version.to_string());
        if !path.exists() {
            return Ok(());
        }
        let graveyard = dir.join(format!(".deleted-{version}-{}", uuid::Uuid::new_v4()));
        fs::rename(&path, &graveyard)?;
        sync_dir(&dir)?;
        fs::remove_dir_all(graveyard)
    }
}

impl ModelStore for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self) -> std::io::Result<Listing> {
        let mut out = Listing::new();
        for name in self.model_names()? {
            let listing = self.list_dir(&name)?;
            out.insert(name, listing);
        }
        Ok(out)
    }

    fn list_model(&self, name: &str) -> std::io::Result<ModelListing> {
        self.list_dir(name)
    }

    fn read_version(&self, name: &str, version: u64) -> Result<(VersionMeta, Artifact), String> {
        read_version(&self.model_dir(name).join(version.to_string()), version)
    }

    fn read_file(&self, name: &str, file: &str) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(self.model_dir(name).join(file)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a new version folder: every file goes into a temporary folder that is
    /// renamed into place, so readers see the whole version or none of it. The rename
    /// never replaces a version folder (it fails on a non-empty target), so when another
    /// process took the number first, the next one is tried.
    fn create_version(
        &self,
        name: &str,
        first: u64,
        meta: &mut VersionMeta,
        artifact: &Artifact,
    ) -> std::io::Result<u64> {
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        fs::create_dir(&tmp)?;
        let result = (|| {
            write_file_synced(&tmp.join(ARTIFACT_FILE), &to_json(artifact)?)?;
            for (file, bytes) in artifact.blobs() {
                write_file_synced(&tmp.join(blob_name(file)?), bytes)?;
            }
            let mut version = first.max(self.list_dir(name)?.max_claimed.saturating_add(1));
            for _ in 0..1000 {
                meta.version = version;
                write_file_synced(&tmp.join(META_FILE), &to_json(meta)?)?;
                sync_dir(&tmp)?;
                let target = dir.join(version.to_string());
                // A folder that exists (even empty) is someone else's number.
                if !target.exists() {
                    match fs::rename(&tmp, &target) {
                        Ok(()) => {
                            sync_dir(&dir)?;
                            return Ok(version);
                        }
                        Err(e) if taken(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                version = version
                    .checked_add(1)
                    .ok_or_else(|| std::io::Error::other("version numbers exhausted"))?;
            }
            Err(std::io::Error::other(
                "no free version number after 1000 tries",
            ))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn update_aliases(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut Aliases),
    ) -> std::io::Result<Aliases> {
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir)?;
        let _lock = FileLock::exclusive(&dir.join(ALIASES_LOCK))?;
        let path = dir.join(ALIASES_FILE);
        let current = match fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut aliases = parse_aliases(name, current.as_deref());
        change(&mut aliases);
        write_atomic(&path, &to_json(&aliases)?)?;
        Ok(aliases)
    }

    fn remove_version(&self, name: &str, version: u64) -> std::io::Result<()> {
        LocalStore::remove_version(self, name, version)
    }

    fn remove_model_if_empty(&self, name: &str) -> std::io::Result<bool> {
        LocalStore::remove_model_if_empty(self, name)
    }

    fn remove_leftovers(&self) -> std::io::Result<Vec<String>> {
        Ok(LocalStore::remove_leftovers(self)?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect())
    }
}

/// Reads a version folder saved as `version`: its `meta.json` must say that number.
fn read_version(dir: &Path, version: u64) -> Result<(VersionMeta, Artifact), String> {
    let (meta, artifact) = read_version_dir(dir, version)?;
    if meta.version != version {
        return Err(format!(
            "{META_FILE} says version {} but the folder is {version}",
            meta.version
        ));
    }
    Ok((meta, artifact))
}

/// Reads the version files in `dir`: `meta.json` + `model.json` (and the blob it names),
/// or a lone `model.onnx` whose meta is synthesised as `version`. The meta's own number
/// is returned as stored; the caller decides whether it must match. Every file is read
/// within [`super::MAX_FILE_BYTES`].
pub(super) fn read_version_dir(
    dir: &Path,
    version: u64,
) -> Result<(VersionMeta, Artifact), String> {
    let onnx = dir.join(ONNX_FILE);
    if !dir.join(META_FILE).exists() && !dir.join(ARTIFACT_FILE).exists() && onnx.is_file() {
        return bare_onnx(&onnx, version);
    }
    let meta_bytes = read_bounded(&dir.join(META_FILE)).map_err(|e| format!("{META_FILE}: {e}"))?;
    let meta: VersionMeta =
        serde_json::from_slice(&meta_bytes).map_err(|e| format!("{META_FILE}: {e}"))?;
    let art_bytes =
        read_bounded(&dir.join(ARTIFACT_FILE)).map_err(|e| format!("{ARTIFACT_FILE}: {e}"))?;
    let mut artifact: Artifact =
        serde_json::from_slice(&art_bytes).map_err(|e| format!("{ARTIFACT_FILE}: {e}"))?;
    if let Artifact::Onnx(a) = &mut artifact {
        let file = blob_name(&a.file).map_err(|e| e.to_string())?;
        let bytes = read_bounded(&dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        a.bytes = std::sync::Arc::new(bytes);
    }
    Ok((meta, artifact))
}

/// A version folder holding only `model.onnx`, e.g. copied in by a deployment tool: the
/// stub and the meta are synthesised (schema filled in once the graph is loaded).
fn bare_onnx(path: &Path, version: u64) -> Result<(VersionMeta, Artifact), String> {
    let bytes = read_bounded(path).map_err(|e| format!("{ONNX_FILE}: {e}"))?;
    let created_at = fs::metadata(path)
        .and_then(|m| m.modified())
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_else(|_| chrono::Utc::now());
    let meta = VersionMeta {
        version,
        family: Family::Onnx.as_str().to_string(),
        created_at,
        schema: Schema {
            feature_names: Vec::new(),
            target: String::new(),
            classes: None,
        },
        params: serde_json::json!({"source": "store"}),
        metrics: Default::default(),
        training: None,
        n_parameters: 0,
        profile: None,
        compressed_from: None,
        compression: None,
    };
    Ok((meta, Artifact::Onnx(OnnxArtifact::new(bytes))))
}
