//! The model store on disk: `<root>/<model>/<version>/{model.json,meta.json}` (plus
//! `model.onnx` for imported graphs, see [`crate::models::onnx`]) and
//! `<root>/<model>/aliases.json`. Every write goes to a temporary name, is fsynced and
//! then renamed, so a crash leaves either the old state or the new one, never half a file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::models::onnx::{OnnxArtifact, ONNX_FILE};
use crate::models::{Artifact, Family, Schema};

use super::meta::VersionMeta;
use super::policy::{VersionPolicy, POLICY_FILE};

pub const ARTIFACT_FILE: &str = "model.json";
pub const META_FILE: &str = "meta.json";
pub const ALIASES_FILE: &str = "aliases.json";

/// What one version folder held when it was read.
#[derive(Debug)]
pub struct StoredVersion {
    pub version: u64,
    /// Either the parsed files or the reason they could not be used.
    pub content: Result<(VersionMeta, Artifact), String>,
}

/// What one model folder held when it was read.
#[derive(Debug)]
pub struct StoredModel {
    pub name: String,
    pub versions: Vec<StoredVersion>,
    pub aliases: BTreeMap<String, u64>,
    /// Set when aliases.json exists but cannot be parsed.
    pub alias_error: Option<String>,
    /// Versions on disk that the model's `policy.json` leaves out (not loaded).
    pub retired: Vec<u64>,
    /// Set when policy.json exists but cannot be parsed (every version is then served).
    pub policy_error: Option<String>,
}

/// Prefixes of what an interrupted write ([`Store::write_version`], [`write_atomic`]) or
/// delete ([`Store::remove_version`]) leaves behind; never a model or version name.
const LEFTOVER_PREFIXES: [&str; 2] = [".tmp-", ".deleted-"];

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// When this process opened the store: leftovers older than this belong to a write
    /// or delete that can no longer finish.
    opened_at: SystemTime,
}

impl Store {
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
        if self.max_version_on_disk(name)? > 0 {
            return Ok(false);
        }
        match fs::remove_file(dir.join(ALIASES_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        match fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(&self.root)?;
        Ok(true)
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
                if super::error::valid_name(name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads one model folder. A missing folder is an empty model; unreadable versions are
    /// reported in their `content`, never as an error of the whole model.
    pub fn read_model(&self, name: &str) -> std::io::Result<StoredModel> {
        let dir = self.model_dir(name);
        let mut versions = Vec::new();
        let mut aliases = BTreeMap::new();
        let mut alias_error = None;
        let mut policy = VersionPolicy::default();
        let mut policy_error = None;
        if dir.is_dir() {
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_dir() {
                    continue;
                }
                let Some(version) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|v| *v > 0)
                else {
                    continue;
                };
                versions.push(StoredVersion {
                    version,
                    content: read_version(&entry.path(), version),
                });
            }
            versions.sort_by_key(|v| v.version);
            match fs::read(dir.join(POLICY_FILE)) {
                Ok(bytes) => match VersionPolicy::parse(&bytes) {
                    Ok(p) => policy = p,
                    Err(e) => policy_error = Some(e),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => policy_error = Some(format!("{POLICY_FILE}: {e}")),
            }
            match fs::read(dir.join(ALIASES_FILE)) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(a) => aliases = a,
                    Err(e) => alias_error = Some(format!("{ALIASES_FILE}: {e}")),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => alias_error = Some(format!("{ALIASES_FILE}: {e}")),
            }
        }
        let on_disk: Vec<u64> = versions.iter().map(|v| v.version).collect();
        let (versions, retired): (Vec<_>, Vec<_>) = versions
            .into_iter()
            .partition(|v| policy.keeps(v.version, &on_disk));
        Ok(StoredModel {
            name: name.to_string(),
            versions,
            aliases,
            alias_error,
            retired: retired.into_iter().map(|v| v.version).collect(),
            policy_error,
        })
    }

    /// The highest version number present on disk, so a new version never reuses a
    /// number even if its folder was left by another process.
    pub fn max_version_on_disk(&self, name: &str) -> std::io::Result<u64> {
        let dir = self.model_dir(name);
        if !dir.is_dir() {
            return Ok(0);
        }
        let mut max = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(v) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                max = max.max(v);
            }
        }
        Ok(max)
    }

    /// Writes a new version folder: both files go into a temporary folder that is
    /// renamed into place, so readers see the whole version or none of it.
    pub fn write_version(
        &self,
        name: &str,
        meta: &VersionMeta,
        artifact: &Artifact,
    ) -> std::io::Result<()> {
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        fs::create_dir(&tmp)?;
        let result = (|| {
            write_file_synced(&tmp.join(ARTIFACT_FILE), &to_json(artifact)?)?;
            for (file, bytes) in artifact.blobs() {
                write_file_synced(&tmp.join(blob_name(file)?), bytes)?;
            }
            write_file_synced(&tmp.join(META_FILE), &to_json(meta)?)?;
            sync_dir(&tmp)?;
            fs::rename(&tmp, dir.join(meta.version.to_string()))?;
            sync_dir(&dir)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    pub fn write_aliases(
        &self,
        name: &str,
        aliases: &BTreeMap<String, u64>,
    ) -> std::io::Result<()> {
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(ALIASES_FILE), &to_json(aliases)?)
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

/// Removes the leftovers directly in `dir` last modified before `before`.
fn sweep(dir: &Path, before: SystemTime) -> Vec<PathBuf> {
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

fn modified_before(path: &Path, before: SystemTime) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|at| at < before)
}

/// A blob file name from an artifact must stay inside the version folder.
fn blob_name(file: &str) -> std::io::Result<&str> {
    if super::error::valid_name(file) {
        Ok(file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid artifact file name '{file}'"),
        ))
    }
}

fn read_version(dir: &Path, version: u64) -> Result<(VersionMeta, Artifact), String> {
    let onnx = dir.join(ONNX_FILE);
    if !dir.join(META_FILE).exists() && !dir.join(ARTIFACT_FILE).exists() && onnx.is_file() {
        return bare_onnx(&onnx, version);
    }
    let meta_bytes = fs::read(dir.join(META_FILE)).map_err(|e| format!("{META_FILE}: {e}"))?;
    let meta: VersionMeta =
        serde_json::from_slice(&meta_bytes).map_err(|e| format!("{META_FILE}: {e}"))?;
    if meta.version != version {
        return Err(format!(
            "{META_FILE} says version {} but the folder is {version}",
            meta.version
        ));
    }
    let art_bytes =
        fs::read(dir.join(ARTIFACT_FILE)).map_err(|e| format!("{ARTIFACT_FILE}: {e}"))?;
    let mut artifact: Artifact =
        serde_json::from_slice(&art_bytes).map_err(|e| format!("{ARTIFACT_FILE}: {e}"))?;
    if let Artifact::Onnx(a) = &mut artifact {
        let file = blob_name(&a.file).map_err(|e| e.to_string())?;
        let bytes = fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        a.bytes = std::sync::Arc::new(bytes);
    }
    Ok((meta, artifact))
}

/// A version folder holding only `model.onnx`, e.g. copied in by a deployment tool: the
/// stub and the meta are synthesised (schema filled in once the graph is loaded).
fn bare_onnx(path: &Path, version: u64) -> Result<(VersionMeta, Artifact), String> {
    let bytes = fs::read(path).map_err(|e| format!("{ONNX_FILE}: {e}"))?;
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
    };
    Ok((meta, Artifact::Onnx(OnnxArtifact::new(bytes))))
}

fn to_json<T: serde::Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(std::io::Error::other)
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

fn sync_dir(dir: &Path) -> std::io::Result<()> {
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
