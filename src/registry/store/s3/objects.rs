//! The S3 client side of [`S3Store`]: configuration from the `AWS_*` variables, and the
//! handful of object calls (list, get with its version, put in a mode, delete) run on the
//! store's own runtime through the [`Bridge`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, RetryConfig, UpdateVersion,
};

use super::super::bridge::Bridge;
use super::{S3Store, MAX_OBJECT_BYTES};

impl S3Store {
    /// The store at `s3://bucket/prefix`, configured from the standard `AWS_*` variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`); an
    /// `http://` endpoint is allowed. Nothing is contacted yet.
    pub fn open(bucket: &str, prefix: &str) -> io::Result<Self> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        let plain_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(plain_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            // Bounded, so an unreachable store is an error within seconds, not a hang.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            });
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let store = builder
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Self {
            store: Arc::new(store),
            bridge: Bridge::start()?,
            opened_at: chrono::Utc::now(),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    pub(super) fn path(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Path relative to the prefix, or `None` for an object outside it.
    pub(super) fn relative<'a>(&self, location: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            Some(location)
        } else {
            location
                .strip_prefix(self.prefix.as_str())
                .and_then(|r| r.strip_prefix('/'))
        }
    }

    /// Every object under `rel` (one list call, paged by the client).
    pub(super) fn list_under(
        &self,
        rel: Option<&str>,
    ) -> io::Result<Vec<object_store::ObjectMeta>> {
        let prefix = match rel {
            Some(r) => Some(self.path(r)),
            None if self.prefix.is_empty() => None,
            None => Some(Path::from(self.prefix.as_str())),
        };
        let store = self.store.clone();
        let metas = self
            .bridge
            .run(async move { store.list(prefix.as_ref()).try_collect::<Vec<_>>().await })?;
        Ok(metas?)
    }

    /// The object's bytes and its version (for a compare-and-swap), `None` if absent.
    pub(super) fn get(&self, rel: &str) -> io::Result<Option<(Vec<u8>, UpdateVersion)>> {
        self.get_bounded(rel, MAX_OBJECT_BYTES)
    }

    /// [`Self::get`] of an object that must not be larger than `limit` (else an error of
    /// kind `FileTooLarge`).
    pub(super) fn get_bounded(
        &self,
        rel: &str,
        limit: u64,
    ) -> io::Result<Option<(Vec<u8>, UpdateVersion)>> {
        let store = self.store.clone();
        let path = self.path(rel);
        let got = self.bridge.run(async move {
            let r = match store.get(&path).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(io::Error::from(e)),
            };
            if r.meta.size > limit {
                return Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    format!(
                        "{path}: {} bytes is over the {limit}-byte limit",
                        r.meta.size
                    ),
                ));
            }
            let version = UpdateVersion {
                e_tag: r.meta.e_tag.clone(),
                version: r.meta.version.clone(),
            };
            let bytes = r.bytes().await?;
            Ok(Some((bytes.to_vec(), version)))
        })?;
        got
    }

    pub(super) fn put(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<(), object_store::Error> {
        let store = self.store.clone();
        let path = self.path(rel);
        self.bridge
            .run(async move {
                store
                    .put_opts(&path, bytes.into(), PutOptions::from(mode))
                    .await
                    .map(|_| ())
            })
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?
    }

    pub(super) fn delete(&self, rel: &str) -> io::Result<()> {
        let store = self.store.clone();
        let path = self.path(rel);
        match self.bridge.run(async move { store.delete(&path).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
