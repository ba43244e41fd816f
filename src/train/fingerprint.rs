//! Dataset fingerprint kept with every version: SHA-256 over a canonical
//! encoding of the training data, so two versions can be checked for having
//! seen the same data regardless of how it was sent (rows, inline CSV or file).
//!
//! Canonical bytes: `modeld-dataset-v1\n`, then rows and columns as u64 LE,
//! each feature name, the target name and each class name (in index order)
//! followed by a 0 byte, then every feature value row-major and every target
//! (class index for classifiers) as f64 LE bits.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::Dataset;

/// Hash, rows and columns of a training set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct DatasetFingerprint {
    /// Lowercase hex SHA-256 of the canonical encoding.
    pub sha256: String,
    pub rows: usize,
    /// Feature columns (target excluded).
    pub columns: usize,
}

impl Dataset {
    pub fn fingerprint(&self) -> DatasetFingerprint {
        let mut h = Sha256::new();
        h.update(b"modeld-dataset-v1\n");
        h.update((self.n_rows() as u64).to_le_bytes());
        h.update((self.x.ncols() as u64).to_le_bytes());
        let names = self
            .feature_names
            .iter()
            .chain(std::iter::once(&self.target))
            .chain(self.classes.iter().flatten());
        for name in names {
            h.update(name.as_bytes());
            h.update([0u8]);
        }
        // Row-major regardless of the array's memory layout.
        for v in self.x.iter() {
            h.update(v.to_le_bytes());
        }
        for v in &self.y {
            h.update(v.to_le_bytes());
        }
        let sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        DatasetFingerprint {
            sha256,
            rows: self.n_rows(),
            columns: self.x.ncols(),
        }
    }
}
