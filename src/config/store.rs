//! `[store]`: where the model store lives. API.md fixes the two forms of `store.uri`: a
//! directory path, or `s3://bucket/prefix` for a store shared by replicas. Only the
//! directory form is built; an object-store URI is refused at start-up with a message
//! that names the key, so a deployment that expects a shared store never starts on a
//! private one by mistake.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[store]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The model store: a directory path (relative paths are resolved from the working
    /// directory, like `data_dir`), or `s3://bucket/prefix` once the object-store backend
    /// exists. Unset: `<data_dir>/models`. Env `MODELD_STORE__URI`.
    pub uri: Option<String>,
}

/// A parsed `store.uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local (or mounted) directory.
    Dir(PathBuf),
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
            let bucket = rest.split('/').next().unwrap_or_default();
            if bucket.is_empty() {
                return Err(format!(
                    "store.uri '{uri}' has no bucket: write s3://bucket/prefix"
                ));
            }
            return Err(format!(
                "store.uri '{uri}': the S3 object-store backend is not available in this \
                 build yet; use a directory path (on a ReadWriteMany volume to share it \
                 between replicas)"
            ));
        }
        if let Some((scheme, _)) = uri.split_once("://") {
            return Err(format!(
                "store.uri '{uri}': unsupported scheme '{scheme}://'; use a directory path \
                 (or s3://bucket/prefix once the object-store backend exists)"
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
        }
        .location(Path::new("/data"))
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
    fn object_store_uris_are_refused_naming_the_key() {
        for uri in ["s3://bucket/prefix", "s3://bucket", "s3://", "s3:///prefix"] {
            let msg = loc(Some(uri)).unwrap_err();
            assert!(msg.contains("store.uri"), "{msg}");
        }
        assert!(loc(Some("s3://")).unwrap_err().contains("no bucket"));
        assert!(loc(Some("s3:///p")).unwrap_err().contains("no bucket"));
        assert!(loc(Some("s3://b/p")).unwrap_err().contains("not available"));
        assert!(loc(Some("gs://b/p")).unwrap_err().contains("unsupported"));
        assert!(loc(Some("  ")).unwrap_err().contains("store.uri"));
    }
}
