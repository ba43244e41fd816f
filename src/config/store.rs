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
