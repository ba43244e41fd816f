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

/// Values encoded per hash update.
const BLOCK_VALUES: usize = 8192;

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
        // Row-major regardless of the array's memory layout, in blocks: one `update` per
        // value cost more than the hashing itself.
        let mut block = Vec::with_capacity(BLOCK_VALUES * 8);
        let mut add = |values: &[f64]| {
            for chunk in values.chunks(BLOCK_VALUES) {
                block.resize(chunk.len() * 8, 0);
                for (to, v) in block.chunks_exact_mut(8).zip(chunk) {
                    to.copy_from_slice(&v.to_le_bytes());
                }
                h.update(&block);
            }
        };
        // Over slices when the matrix is row-major, the usual case: ndarray's element
        // iterator cost as much as the hashing.
        match self.x.as_slice() {
            Some(values) => add(values),
            None => self.x.rows().into_iter().for_each(|r| add(&r.to_vec())),
        }
        add(&self.y);
        let sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        DatasetFingerprint {
            sha256,
            rows: self.n_rows(),
            columns: self.x.ncols(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};
    use sha2::{Digest, Sha256};

    use super::*;

    /// The module doc's encoding, written out value by value.
    fn by_the_definition(d: &Dataset) -> String {
        let mut h = Sha256::new();
        h.update(b"modeld-dataset-v1\n");
        h.update((d.n_rows() as u64).to_le_bytes());
        h.update((d.x.ncols() as u64).to_le_bytes());
        for name in d.feature_names.iter().chain([&d.target]) {
            h.update(name.as_bytes());
            h.update([0u8]);
        }
        for v in d.x.iter().chain(&d.y) {
            h.update(v.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn blocked_hashing_is_the_documented_encoding() {
        // More values than one block, and not a multiple of it.
        for rows in [1, 3000, 10_001] {
            let d = Dataset {
                x: Array2::from_shape_fn((rows, 3), |(i, j)| (i * 3 + j) as f64 * 0.5),
                y: (0..rows).map(|i| i as f64).collect(),
                feature_names: vec!["a".into(), "b".into(), "c".into()],
                target: "t".into(),
                classes: None,
            };
            assert_eq!(d.fingerprint().sha256, by_the_definition(&d), "{rows} rows");
            // Column-major, as no parser makes it: hashed row by row, the same bytes.
            let columns = Dataset {
                x: Array2::from_shape_vec((rows, 3).f(), d.x.t().iter().copied().collect())
                    .unwrap(),
                ..d.clone()
            };
            assert!(columns.x == d.x && (rows == 1 || columns.x.as_slice().is_none()));
            assert_eq!(columns.fingerprint().sha256, by_the_definition(&d));
        }
    }
}
