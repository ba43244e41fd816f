//! Which versions of a model the store serves, after TF Serving's
//! `model_version_policy`. Written as `<store>/<model>/policy.json`:
//!
//! * `{"latest": {"num_versions": 2}}`: the N highest version numbers;
//! * `{"all": {}}`: every version (the default when there is no file);
//! * `{"specific": {"versions": [1, 3]}}`: exactly these.
//!
//! Versions outside the policy stay on disk and are simply not loaded (they "retire").
//! The policy applies whenever the model is read from the store: at start-up, on
//! reload, on repository load and on each repository poll.

use serde::{Deserialize, Serialize};

pub const POLICY_FILE: &str = "policy.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VersionPolicy {
    Latest {
        num_versions: usize,
    },
    #[default]
    All,
    Specific {
        versions: Vec<u64>,
    },
}

/// `{"all": {}}` deserialises through this shape (an empty object, not a unit).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Wire {
    Latest { num_versions: usize },
    All {},
    Specific { versions: Vec<u64> },
}

impl VersionPolicy {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "{POLICY_FILE}: {e}; expected {{\"latest\": {{\"num_versions\": N}}}}, \
                 {{\"all\": {{}}}} or {{\"specific\": {{\"versions\": [..]}}}}"
            )
        })?;
        Ok(match wire {
            Wire::Latest { num_versions } => VersionPolicy::Latest { num_versions },
            Wire::All {} => VersionPolicy::All,
            Wire::Specific { versions } => VersionPolicy::Specific { versions },
        })
    }

    /// Whether `version` is served, given every version number on disk (ascending).
    pub fn keeps(&self, version: u64, on_disk: &[u64]) -> bool {
        match self {
            VersionPolicy::All => true,
            VersionPolicy::Specific { versions } => versions.contains(&version),
            VersionPolicy::Latest { num_versions } => on_disk
                .iter()
                .rev()
                .take(*num_versions)
                .any(|v| *v == version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_select() {
        let disk = [1, 2, 5, 7];
        let latest = VersionPolicy::parse(br#"{"latest": {"num_versions": 2}}"#).unwrap();
        let kept: Vec<u64> = disk
            .iter()
            .copied()
            .filter(|v| latest.keeps(*v, &disk))
            .collect();
        assert_eq!(kept, vec![5, 7]);
        let all = VersionPolicy::parse(br#"{"all": {}}"#).unwrap();
        assert!(disk.iter().all(|v| all.keeps(*v, &disk)));
        let some = VersionPolicy::parse(br#"{"specific": {"versions": [2, 9]}}"#).unwrap();
        let kept: Vec<u64> = disk
            .iter()
            .copied()
            .filter(|v| some.keeps(*v, &disk))
            .collect();
        assert_eq!(kept, vec![2]);
        let err = VersionPolicy::parse(br#"{"newest": 1}"#).unwrap_err();
        assert!(err.contains("policy.json"), "{err}");
    }
}
