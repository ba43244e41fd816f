//! The model-repository extension's index, one answer for REST and gRPC: every loaded
//! version with its state, then each model that is in the store but unloaded, as one
//! entry without a version (Triton's `RepositoryIndex`).

use super::error::RegistryError;
use super::index::VersionState;
use super::Registry;

pub struct RepositoryEntry {
    pub name: String,
    pub version: Option<u64>,
    pub ready: bool,
    /// Why the entry is not ready: the load error, or `unloaded`.
    pub reason: Option<String>,
}

impl RepositoryEntry {
    /// The OIP state name.
    pub fn state(&self) -> &'static str {
        if self.ready {
            "READY"
        } else {
            "UNAVAILABLE"
        }
    }
}

impl Registry {
    /// The index, sorted by name; `ready_only` keeps the servable versions. Blocking (lists
    /// the store).
    pub fn repository_index(
        &self,
        ready_only: bool,
    ) -> Result<Vec<RepositoryEntry>, RegistryError> {
        let on_disk = self.store_model_names()?;
        let snap = self.snapshot();
        let mut out = Vec::new();
        for (name, model) in &snap.models {
            for v in model.versions.values() {
                let (ready, reason) = match &v.state {
                    VersionState::Ready(_) => (true, None),
                    VersionState::Failed(r) => (false, Some(r.clone())),
                };
                out.push(RepositoryEntry {
                    name: name.clone(),
                    version: Some(v.version),
                    ready,
                    reason,
                });
            }
        }
        for name in on_disk.into_iter().filter(|n| !snap.models.contains_key(n)) {
            out.push(RepositoryEntry {
                name,
                version: None,
                ready: false,
                reason: Some("unloaded".into()),
            });
        }
        if ready_only {
            out.retain(|e| e.ready);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
