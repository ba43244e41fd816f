//! The in-memory index: models, their numbered versions (loaded or failed) and aliases,
//! as one immutable [`Snapshot`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::{valid_name, RegistryError};
use super::meta::VersionMeta;
use super::store::StoredModel;
use crate::models::{Limits, Model};

/// Alias that serving uses when a request names no version.
pub const PRODUCTION: &str = "production";

/// A version is either loaded and ready to serve, or failed with the reason.
#[derive(Debug, Clone)]
pub enum VersionState {
    Ready(Arc<dyn Model>),
    Failed(String),
}

pub struct VersionEntry {
    pub version: u64,
    pub meta: Option<VersionMeta>,
    pub state: VersionState,
    /// What the serving layer builds for this version on its first request (metric
    /// handles, batch worker, monitoring state), dropped with the entry, so a version
    /// that is reloaded away stops its worker. Opaque here so the registry stays below
    /// the layers that use it; a map keyed by version would cost a lookup per request.
    pub cache: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
    /// Bytes of the stored model, computed on first use (a scrape).
    size: std::sync::OnceLock<u64>,
}

impl std::fmt::Debug for VersionEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionEntry")
            .field("version", &self.version)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl VersionEntry {
    pub fn new(version: u64, meta: Option<VersionMeta>, state: VersionState) -> Self {
        Self {
            version,
            meta,
            state,
            cache: std::sync::OnceLock::new(),
            size: std::sync::OnceLock::new(),
        }
    }

    /// What the store holds for a loaded version: model.json and any file beside it.
    pub fn size_bytes(&self) -> Option<u64> {
        let model = self.model()?;
        Some(
            *self
                .size
                .get_or_init(|| super::store::stored_size(&model.to_artifact())),
        )
    }

    pub fn model(&self) -> Option<&Arc<dyn Model>> {
        match &self.state {
            VersionState::Ready(m) => Some(m),
            VersionState::Failed(_) => None,
        }
    }

    pub fn status(&self) -> &'static str {
        match self.state {
            VersionState::Ready(_) => "ready",
            VersionState::Failed(_) => "failed",
        }
    }

    pub fn family(&self) -> String {
        match (&self.state, &self.meta) {
            (VersionState::Ready(m), _) => m.family().as_str().to_string(),
            (_, Some(meta)) => meta.family.clone(),
            _ => "unknown".into(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ModelEntry {
    pub name: String,
    pub versions: BTreeMap<u64, Arc<VersionEntry>>,
    pub aliases: BTreeMap<String, u64>,
    /// Problems reading the model's folder that are not tied to one version.
    pub problems: Vec<String>,
}

impl ModelEntry {
    /// The version served when a request names none: `production` if set, else the
    /// highest ready version.
    pub fn default_version(&self) -> Option<u64> {
        if let Some(v) = self.aliases.get(PRODUCTION) {
            return Some(*v);
        }
        self.versions
            .values()
            .rev()
            .find(|v| v.model().is_some())
            .map(|v| v.version)
    }

    pub fn aliases_of(&self, version: u64) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// The model as read; `held` supplies the versions the read skipped (`reused`).
    pub(super) fn from_stored(
        stored: StoredModel,
        limits: &Limits,
        held: &BTreeMap<u64, Arc<VersionEntry>>,
    ) -> Self {
        let mut problems = Vec::new();
        if let Some(e) = stored.alias_error {
            tracing::warn!(model = %stored.name, error = %e, "aliases unreadable");
            problems.push(e);
        }
        if let Some(e) = stored.policy_error {
            tracing::warn!(model = %stored.name, error = %e, "version policy unreadable; serving all versions");
            problems.push(e);
        }
        let mut versions: BTreeMap<u64, Arc<VersionEntry>> = stored
            .reused
            .iter()
            .filter_map(|v| held.get(v).map(|e| (*v, e.clone())))
            .collect();
        for sv in stored.versions {
            let entry = match sv.content {
                Ok((mut meta, artifact)) => match artifact.into_model_within(limits) {
                    Ok(model) => {
                        // A bare model.onnx gets its schema from the loaded graph.
                        if meta.schema.feature_names.is_empty() {
                            meta.schema = model.schema().clone();
                        }
                        VersionEntry::new(sv.version, Some(meta), VersionState::Ready(model))
                    }
                    Err(e) => failed(&stored.name, sv.version, Some(meta), e.to_string()),
                },
                Err(reason) => failed(&stored.name, sv.version, None, reason),
            };
            versions.insert(sv.version, Arc::new(entry));
        }
        let mut aliases = stored.aliases;
        aliases.retain(|alias, v| {
            let keep = versions.contains_key(v) && valid_name(alias);
            if !keep {
                let msg = format!("alias '{alias}' points to missing version {v}; ignored");
                tracing::warn!(model = %stored.name, "{msg}");
                problems.push(msg);
            }
            keep
        });
        ModelEntry {
            name: stored.name,
            versions,
            aliases,
            problems,
        }
    }
}

fn failed(name: &str, version: u64, meta: Option<VersionMeta>, reason: String) -> VersionEntry {
    tracing::error!(model = %name, version, %reason, "version failed to load");
    VersionEntry::new(version, meta, VersionState::Failed(reason))
}

/// An immutable view of every model; cheap to clone (maps of `Arc`s).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub models: BTreeMap<String, Arc<ModelEntry>>,
}

impl Snapshot {
    pub fn model(&self, name: &str) -> Result<&Arc<ModelEntry>, RegistryError> {
        self.models
            .get(name)
            .ok_or_else(|| RegistryError::ModelNotFound(name.to_string()))
    }

    /// Picks the version a request asked for: an explicit number, an alias, or the default.
    pub fn resolve(
        &self,
        name: &str,
        version: Option<u64>,
        alias: Option<&str>,
    ) -> Result<(Arc<VersionEntry>, Arc<dyn Model>), RegistryError> {
        self.lookup(name, version, alias)
            .map(|(entry, model)| (entry.clone(), model.clone()))
    }

    /// [`Snapshot::resolve`] by reference, for callers that finish with the version
    /// before the snapshot goes.
    pub fn lookup(
        &self,
        name: &str,
        version: Option<u64>,
        alias: Option<&str>,
    ) -> Result<(&Arc<VersionEntry>, &Arc<dyn Model>), RegistryError> {
        let model = self.model(name)?;
        let v = match (version, alias) {
            (Some(v), _) => v,
            (None, Some(a)) => {
                *model
                    .aliases
                    .get(a)
                    .ok_or_else(|| RegistryError::AliasNotFound {
                        name: name.to_string(),
                        alias: a.to_string(),
                    })?
            }
            (None, None) => model
                .default_version()
                .ok_or_else(|| RegistryError::ModelNotFound(name.to_string()))?,
        };
        let entry = model
            .versions
            .get(&v)
            .ok_or_else(|| RegistryError::VersionNotFound {
                name: name.to_string(),
                version: v,
            })?;
        match &entry.state {
            VersionState::Ready(m) => Ok((entry, m)),
            VersionState::Failed(reason) => Err(RegistryError::NotReady {
                name: name.to_string(),
                version: v,
                reason: reason.clone(),
            }),
        }
    }
}

pub(super) fn clone_entry(m: &ModelEntry) -> ModelEntry {
    ModelEntry {
        name: m.name.clone(),
        versions: m.versions.clone(),
        aliases: m.aliases.clone(),
        problems: m.problems.clone(),
    }
}
