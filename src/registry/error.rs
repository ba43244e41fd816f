//! What registry operations can fail with, and the rule for model and alias names.

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    #[error("model '{name}' has no version {version}")]
    VersionNotFound { name: String, version: u64 },
    #[error("model '{name}' has no alias '{alias}'")]
    AliasNotFound { name: String, alias: String },
    #[error("version {version} of '{name}' is the target of alias(es) {aliases}; move them first")]
    AliasInUse {
        name: String,
        version: u64,
        aliases: String,
    },
    #[error("version {version} of '{name}' is not ready: {reason}")]
    NotReady {
        name: String,
        version: u64,
        reason: String,
    },
    #[error("invalid name '{0}': use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit")]
    InvalidName(String),
    #[error("model store: {0}")]
    Store(std::io::Error),
    /// A write to a store that takes none (a single exported version, see
    /// `store::single`): the request, not the store, is at fault.
    #[error("{0}")]
    ReadOnly(String),
    /// A model whose parameters fail validation (a length or a non-finite value) is
    /// never registered, so predicting only needs to re-check lengths.
    #[error("invalid model: {0}")]
    InvalidModel(#[from] crate::models::ModelError),
}

/// The error inside the `io::Error` of every write to a store that cannot take one, which
/// the conversion below turns into [`RegistryError::ReadOnly`] rather than an I/O failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReadOnlyStore(pub String);

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        let read_only = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ReadOnlyStore>())
            .map(|r| r.0.clone());
        match read_only {
            Some(message) => RegistryError::ReadOnly(message),
            None => RegistryError::Store(e),
        }
    }
}

/// [`valid_name`] as a regular expression, for the OpenAPI document: clients and API
/// fuzzers learn the rule from it instead of from 400s.
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

/// Model and alias names double as folder names, so they are restricted to a safe set.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub fn check_name(name: &str) -> Result<(), RegistryError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(name.to_string()))
    }
}
