//! `[store]`: where the model store lives. API.md fixes the two forms of `store.uri`: a
//! directory path, or `s3://bucket/prefix` for a store shared by replicas (credentials,
//! region and endpoint come from the standard `AWS_*` variables, never from this file).
//! Any other scheme, or an `s3://` URI without a bucket, is refused at start-up with a
//! message that names the key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[store]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The model store: a directory path (relative paths are resolved from the working
    /// directory, like `data_dir`), or `s3://bucket/prefix` for an S3 (or S3-compatible)
    /// bucket shared by replicas. Unset: `<data_dir>/models`. Env `MODELD_STORE__URI`.
    pub uri: Option<String>,
    /// The model name a directory holding one exported version at its top level
    /// (`model.onnx`, or `model.json` + `meta.json`: what KServe's storage-initializer
    /// puts at /mnt/models for a `storageUri` naming one version) is served under, as
    /// version 1, read-only. Required for that layout; not used for a store of
    /// `<model>/<version>/` folders, whose models are all served. Flag `--model-name`,
    /// env `MODELD_STORE__MODEL_NAME`. Default unset.
    pub model_name: Option<String>,
}

/// `[store]` values given on the command line (`--model-dir`, `--model-name`); `None`
/// leaves the lower layers in force.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

impl StoreOverrides {
    /// `None` when no store flag was given, so the whole table is left out of the layer.
    pub fn given(self) -> Option<Self> {
        (self.uri.is_some() || self.model_name.is_some()).then_some(self)
    }
}

/// A parsed `store.uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local (or mounted) directory.
    Dir(PathBuf),
    /// An S3 bucket and a key prefix (without leading or trailing `/`, may be empty).
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(d) => write!(f, "{}", d.display()),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl StoreConfig {
    /// Where the store is, given the data directory its default lives in. The error
    /// names `store.uri` and says what would be accepted.
    pub fn location(&self, data_dir: &Path) -> Result<StoreLocation, String> {
        let Some(uri) = self.uri.as_deref() else {
            return Ok(StoreLocation::Dir(data_dir.join("models")));
        };
        if uri.trim().is_empty() {
            return Err(
                "store.uri must not be empty: give a directory path, or leave it unset for \
                 <data_dir>/models"
                    .into(),
            );
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "store.uri '{uri}' has no bucket: write s3://bucket/prefix"
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|p| p == "." || p == "..")
                || prefix.contains("//")
                || uri.chars().any(char::is_whitespace)
            {
                return Err(format!(
                    "store.uri '{uri}': the prefix must be plain path segments (no '.', '..', \
                     empty segments or spaces)"
                ));
            }
            return Ok(StoreLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some((scheme, _)) = uri.split_once("://") {
            return Err(format!(
                "store.uri '{uri}': unsupported scheme '{scheme}://'; use a directory path \
                 or s3://bucket/prefix (only the S3 object-store backend is built)"
            ));
        }
        Ok(StoreLocation::Dir(PathBuf::from(uri)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(uri: Option<&str>) -> Result<StoreLocation, String> {
        StoreConfig {
            uri: uri.map(str::to_string),
            model_name: None,
        }
        .location(Path::new("/data"))
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn model_name_comes_from_the_environment_and_flags_win() {
        use crate::config::{Config, Overrides};
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("MODELD_STORE__MODEL_NAME", "from-env");
            jail.set_env("MODELD_STORE__URI", "/env/store");
            let none = Overrides::default();
            let c = Config::load(None, &none).map_err(|e| e.to_string())?;
            assert_eq!(c.store.model_name.as_deref(), Some("from-env"));
            let name_only = Overrides {
                store: StoreOverrides {
                    uri: None,
                    model_name: Some("iris".into()),
                }
                .given(),
                ..Overrides::default()
            };
            let c = Config::load(None, &name_only).map_err(|e| e.to_string())?;
            assert_eq!(c.store.model_name.as_deref(), Some("iris"));
            assert_eq!(c.store.uri.as_deref(), Some("/env/store"));
            let dir = Overrides {
                store: StoreOverrides {
                    uri: Some("/mnt/models".into()),
                    model_name: None,
                }
                .given(),
                ..Overrides::default()
            };
            let c = Config::load(None, &dir).map_err(|e| e.to_string())?;
            assert_eq!(c.store.uri.as_deref(), Some("/mnt/models"));
            assert_eq!(c.store.model_name.as_deref(), Some("from-env"));
            assert!(StoreOverrides::default().given().is_none());
            Ok(())
        });
    }

    #[test]
    fn unset_is_the_data_dir_default() {
        assert_eq!(
            loc(None),
            Ok(StoreLocation::Dir(PathBuf::from("/data/models")))
        );
    }

    #[test]
    fn a_directory_replaces_the_default() {
        assert_eq!(
            loc(Some("/mnt/models")),
            Ok(StoreLocation::Dir(PathBuf::from("/mnt/models")))
        );
        assert_eq!(
            loc(Some("shared/store")),
            Ok(StoreLocation::Dir(PathBuf::from("shared/store")))
        );
    }

    #[test]
    fn s3_uris_give_bucket_and_prefix() {
        let s3 = |b: &str, p: &str| {
            Ok(StoreLocation::S3 {
                bucket: b.into(),
                prefix: p.into(),
            })
        };
        assert_eq!(loc(Some("s3://bucket/prefix")), s3("bucket", "prefix"));
        assert_eq!(loc(Some("s3://bucket/a/b/")), s3("bucket", "a/b"));
        assert_eq!(loc(Some("s3://bucket")), s3("bucket", ""));
        assert_eq!(loc(Some("s3://bucket/")), s3("bucket", ""));
    }

    #[test]
    fn bad_object_store_uris_are_refused_naming_the_key() {
        for uri in [
            "s3://",
            "s3:///prefix",
            "s3://b/../x",
            "s3://b/a//c",
            "gs://b/p",
        ] {
            let msg = loc(Some(uri)).unwrap_err();
            assert!(msg.contains("store.uri"), "{msg}");
        }
        assert!(loc(Some("s3://")).unwrap_err().contains("no bucket"));
        assert!(loc(Some("s3:///p")).unwrap_err().contains("no bucket"));
        assert!(loc(Some("gs://b/p")).unwrap_err().contains("unsupported"));
        assert!(loc(Some("  ")).unwrap_err().contains("store.uri"));
    }
}
