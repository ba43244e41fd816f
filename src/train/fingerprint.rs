//! Dataset fingerprint kept with every version: SHA-256 over a canonical
//! encoding of the training data, so two versions can be checked for having
//! seen the same data regardless of how it was sent (rows, inline CSV or file).
//!
//! Canonical bytes ([`ENCODING`] 2): `modeld-dataset-v2\n`, then every feature value
//! row-major and every target (class index for classifiers) as f64 LE bits, then a
//! trailer: rows and columns as u64 LE, each feature name, the target name and each class
//! name (in index order) followed by a 0 byte, and last the trailer's length as u64 LE.
//! The values come first so that a file's reader hashes them as it parses
//! ([`ValuesHash`]), before it knows the row count or the class names. Encoding 1, of
//! versions trained before, put the shape and names first.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::Dataset;

/// The canonical encoding this build hashes.
pub const ENCODING: u32 = 2;

/// Hash, rows and columns of a training set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct DatasetFingerprint {
    /// Lowercase hex SHA-256 of the canonical encoding.
    pub sha256: String,
    pub rows: usize,
    /// Feature columns (target excluded).
    pub columns: usize,
    /// Which canonical encoding `sha256` is of: fingerprints of two encodings are not
    /// comparable. 1 when absent (versions trained before encodings were numbered).
    #[serde(default = "first_encoding")]
    pub encoding: u32,
}

fn first_encoding() -> u32 {
    1
}

/// A fingerprint computed while the data was read, kept with the dataset so that it is
/// not computed again. Not part of the dataset's value: datasets compare equal with or
/// without one.
#[derive(Clone, Debug, Default)]
pub struct ReadFingerprint(pub Option<DatasetFingerprint>);

impl PartialEq for ReadFingerprint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

const MAGIC: &[u8] = b"modeld-dataset-v2\n";

/// Values encoded per hash update.
const BLOCK_VALUES: usize = 8192;

/// Feeds `values` to `h` as f64 LE bits, in blocks: one `update` per value cost more than
/// the hashing itself.
fn hash_values(h: &mut Sha256, values: &[f64], block: &mut Vec<u8>) {
    for chunk in values.chunks(BLOCK_VALUES) {
        le_bytes_into(chunk, block);
        h.update(&*block);
    }
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes `bytes` the f64 LE bits of `values`.
fn le_bytes_into(values: &[f64], bytes: &mut Vec<u8>) {
    bytes.resize(values.len() * 8, 0);
    for (to, v) in bytes.chunks_exact_mut(8).zip(values) {
        to.copy_from_slice(&v.to_le_bytes());
    }
}

impl Dataset {
    /// The fingerprint, as read with the data or computed now.
    pub fn fingerprint(&self) -> DatasetFingerprint {
        // Of this shape, or not of this dataset: the fields are public.
        let known = self.read_fingerprint.0.as_ref();
        if let Some(known) = known.filter(|k| (k.rows, k.columns) == self.x.dim()) {
            return known.clone();
        }
        let mut hash = ValuesHash::default();
        // Over slices when the matrix is row-major, the usual case: ndarray's element
        // iterator cost as much as the hashing.
        match self.x.as_slice() {
            Some(values) => hash.add(values),
            None => self
                .x
                .rows()
                .into_iter()
                .for_each(|r| hash.add(&r.to_vec())),
        }
        hash.finish(self)
    }

    /// The fingerprint in the encoding of `other`, to compare with it: a version trained
    /// before encodings were numbered has one of encoding 1.
    pub fn fingerprint_like(&self, other: &DatasetFingerprint) -> DatasetFingerprint {
        match other.encoding {
            1 => self.fingerprint_in_first_encoding(),
            _ => self.fingerprint(),
        }
    }

    /// Encoding 1: `modeld-dataset-v1\n`, rows and columns as u64 LE, each feature name, the
    /// target name and each class name followed by a 0 byte, then the values and targets.
    fn fingerprint_in_first_encoding(&self) -> DatasetFingerprint {
        let mut h = Sha256::new();
        h.update(b"modeld-dataset-v1\n");
        h.update((self.n_rows() as u64).to_le_bytes());
        h.update((self.x.ncols() as u64).to_le_bytes());
        for name in self.names() {
            h.update(name.as_bytes());
            h.update([0u8]);
        }
        let mut block = Vec::with_capacity(BLOCK_VALUES * 8);
        match self.x.as_slice() {
            Some(values) => hash_values(&mut h, values, &mut block),
            None => (self.x.rows().into_iter())
                .for_each(|r| hash_values(&mut h, &r.to_vec(), &mut block)),
        }
        hash_values(&mut h, &self.y, &mut block);
        DatasetFingerprint {
            sha256: hex(h),
            rows: self.n_rows(),
            columns: self.x.ncols(),
            encoding: 1,
        }
    }

    /// The feature names, the target's and the class names, in the encodings' order.
    fn names(&self) -> impl Iterator<Item = &String> {
        self.feature_names
            .iter()
            .chain(std::iter::once(&self.target))
            .chain(self.classes.iter().flatten())
    }

    /// Hashes the targets and the trailer after the values already in `h`.
    fn finish_fingerprint(&self, mut h: Sha256) -> DatasetFingerprint {
        hash_values(&mut h, &self.y, &mut Vec::with_capacity(BLOCK_VALUES * 8));
        let mut trailer = Vec::new();
        trailer.extend((self.n_rows() as u64).to_le_bytes());
        trailer.extend((self.x.ncols() as u64).to_le_bytes());
        for name in self.names() {
            trailer.extend(name.as_bytes());
            trailer.push(0);
        }
        h.update(&trailer);
        h.update((trailer.len() as u64).to_le_bytes());
        DatasetFingerprint {
            sha256: hex(h),
            rows: self.n_rows(),
            columns: self.x.ncols(),
            encoding: ENCODING,
        }
    }
}

/// The fingerprint of a dataset whose values are handed over in row-major order as a
/// reader parses them, before it knows the row count or the class names.
pub struct ValuesHash {
    h: Sha256,
    block: Vec<u8>,
}

impl Default for ValuesHash {
    fn default() -> Self {
        let mut h = Sha256::new();
        h.update(MAGIC);
        ValuesHash {
            h,
            block: Vec::with_capacity(BLOCK_VALUES * 8),
        }
    }
}

impl ValuesHash {
    /// Adds the next values, in row-major order.
    pub fn add(&mut self, values: &[f64]) {
        hash_values(&mut self.h, values, &mut self.block);
    }

    /// The fingerprint of `data`, whose values were all added, in order.
    pub fn finish(self, data: &Dataset) -> DatasetFingerprint {
        data.finish_fingerprint(self.h)
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
        h.update(b"modeld-dataset-v2\n");
        for v in d.x.iter().chain(&d.y) {
            h.update(v.to_le_bytes());
        }
        let mut trailer = Vec::new();
        trailer.extend((d.n_rows() as u64).to_le_bytes());
        trailer.extend((d.x.ncols() as u64).to_le_bytes());
        for name in d
            .feature_names
            .iter()
            .chain([&d.target])
            .chain(d.classes.iter().flatten())
        {
            trailer.extend(name.as_bytes());
            trailer.push(0);
        }
        h.update(&trailer);
        h.update((trailer.len() as u64).to_le_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn dataset(rows: usize, classes: Option<Vec<String>>) -> Dataset {
        Dataset {
            x: Array2::from_shape_fn((rows, 3), |(i, j)| (i * 3 + j) as f64 * 0.5),
            y: (0..rows).map(|i| (i % 2) as f64).collect(),
            feature_names: vec!["a".into(), "b".into(), "c".into()],
            target: "t".into(),
            classes,
            read_fingerprint: ReadFingerprint::default(),
        }
    }

    #[test]
    fn blocked_hashing_is_the_documented_encoding() {
        // More values than one block, and not a multiple of it.
        for rows in [1, 3000, 10_001] {
            for classes in [None, Some(vec!["no".to_string(), "yes".to_string()])] {
                let d = dataset(rows, classes);
                let f = d.fingerprint();
                assert_eq!(f.sha256, by_the_definition(&d), "{rows} rows");
                assert_eq!((f.rows, f.columns, f.encoding), (rows, 3, ENCODING));
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
        // The class names are part of it.
        let named = |c: &str| dataset(4, Some(vec![c.into(), "z".into()])).fingerprint();
        assert_ne!(named("a").sha256, named("b").sha256);
    }

    #[test]
    fn values_hashed_as_they_are_handed_over_give_the_same_fingerprint() {
        let d = dataset(10_001, Some(vec!["no".into(), "yes".into()]));
        let mut hash = ValuesHash::default();
        // Pieces of every size, a row's end not always at a piece's.
        for piece in d.x.as_slice().unwrap().chunks(7_777) {
            hash.add(piece);
        }
        let read = Some(hash.finish(&d));
        assert_eq!(read, Some(d.fingerprint()));
        // A dataset of its shape that carries it returns it without hashing again (this
        // one has no classes: hashed, it would differ), and equals one without it.
        let carried = Dataset {
            read_fingerprint: ReadFingerprint(read.clone()),
            ..dataset(10_001, None)
        };
        assert_eq!(Some(carried.fingerprint()), read);
        assert_ne!(dataset(10_001, None).fingerprint(), d.fingerprint());
        assert_eq!(carried, dataset(10_001, None));
    }

    /// Encoding 1 as the build before wrote it, value by value.
    fn first_by_the_definition(d: &Dataset) -> String {
        let mut h = Sha256::new();
        h.update(b"modeld-dataset-v1\n");
        h.update((d.n_rows() as u64).to_le_bytes());
        h.update((d.x.ncols() as u64).to_le_bytes());
        for name in d
            .feature_names
            .iter()
            .chain([&d.target])
            .chain(d.classes.iter().flatten())
        {
            h.update(name.as_bytes());
            h.update([0u8]);
        }
        for v in d.x.iter().chain(&d.y) {
            h.update(v.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn an_older_fingerprint_is_compared_in_its_own_encoding() {
        let d = dataset(10_001, Some(vec!["no".into(), "yes".into()]));
        let old = DatasetFingerprint {
            sha256: first_by_the_definition(&d),
            rows: 10_001,
            columns: 3,
            encoding: 1,
        };
        assert_eq!(d.fingerprint_like(&old), old);
        assert_ne!(d.fingerprint(), old);
        assert_eq!(d.fingerprint_like(&d.fingerprint()), d.fingerprint());
        // A kept fingerprint of another shape is not this dataset's: it is computed again.
        let stale = Dataset {
            read_fingerprint: ReadFingerprint(Some(d.fingerprint())),
            ..dataset(5, None)
        };
        assert_eq!(stale.fingerprint(), dataset(5, None).fingerprint());
    }

    #[test]
    fn a_fingerprint_without_an_encoding_is_of_the_first() {
        let old: DatasetFingerprint =
            serde_json::from_value(serde_json::json!({"sha256": "ab", "rows": 1, "columns": 2}))
                .unwrap();
        assert_eq!(old.encoding, 1);
    }
}
