//! A parsed dataset as bytes, so that the store can keep it beside the CSV it came from
//! and a restarted server, or another replica, skips the parse. The layout:
//!
//! ```text
//! "modeld-parsed-v1\n"      17 bytes
//! header length             u64 LE
//! header                    JSON: content id, shape, names, classes, the caller's summary
//! x                         rows × columns f64 LE, row-major (the solvers' layout)
//! y                         rows f64 LE (class indices for a classifier)
//! checksum                  CRC-32 of everything above, u32 LE
//! ```
//!
//! Nothing in a stored form is trusted: every size is checked against the byte count
//! before anything is allocated, the checksum must match, and the decoded dataset passes
//! the same validation as a parsed one.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::Dataset;

const MAGIC: &[u8] = b"modeld-parsed-v1\n";
/// Part of every form's name (`cache::CacheKey::variant`): bumped when the CSV reader, or
/// what the layer above keeps with a form, would now make a different form of the same
/// bytes, so that no older form is reused after an upgrade.
pub const READER_VERSION: u32 = 2;
/// A header this large is not one this module wrote (65,536 long column names fit).
const MAX_HEADER_BYTES: u64 = 16 << 20;

#[derive(Serialize, Deserialize)]
struct Header {
    /// The id of the source bytes (a stored dataset's SHA-256) the form was parsed from.
    content_id: String,
    rows: u64,
    columns: u64,
    feature_names: Vec<String>,
    target: String,
    classes: Option<Vec<String>>,
    /// What the layer above computed from the data and wants back with it; opaque here.
    summary: Option<serde_json::Value>,
}

/// A decoded form: the dataset and what was stored with it.
pub struct ParsedForm {
    pub content_id: String,
    pub dataset: Dataset,
    pub summary: Option<serde_json::Value>,
}

/// Encodes `data`, parsed from the bytes `content_id` names, with `summary`.
pub fn encode(data: &Dataset, content_id: &str, summary: Option<serde_json::Value>) -> Vec<u8> {
    let header = Header {
        content_id: content_id.to_string(),
        rows: data.n_rows() as u64,
        columns: data.x.ncols() as u64,
        feature_names: data.feature_names.clone(),
        target: data.target.clone(),
        classes: data.classes.clone(),
        summary,
    };
    // Serialising plain strings, numbers and a JSON value cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let values = data.x.len() + data.y.len();
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + header.len() + values * 8 + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for v in data.x.iter().chain(&data.y) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Decodes a stored form; the reason when it cannot be used.
pub fn decode(bytes: &[u8]) -> Result<ParsedForm, String> {
    let (body, checksum) = bytes
        .split_last_chunk::<4>()
        .ok_or("shorter than its checksum")?;
    if crc32fast::hash(body) != u32::from_le_bytes(*checksum) {
        return Err("its checksum does not match".into());
    }
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("not a modeld parsed dataset")?;
    let (length, rest) = rest.split_first_chunk::<8>().ok_or("truncated header")?;
    let length = u64::from_le_bytes(*length);
    if length > MAX_HEADER_BYTES || length > rest.len() as u64 {
        return Err(format!("a header of {length} bytes"));
    }
    let (header, values) = rest.split_at(length as usize);
    let header: Header = serde_json::from_slice(header).map_err(|e| format!("header: {e}"))?;
    let cells = header
        .rows
        .checked_mul(header.columns)
        .filter(|&cells| cells <= isize::MAX as u64 / 8);
    let expected = cells
        .and_then(|cells| cells.checked_add(header.rows))
        .and_then(|count| count.checked_mul(8));
    let (Some(cells), Some(expected)) = (cells, expected) else {
        return Err(format!("{} × {} values", header.rows, header.columns));
    };
    if expected != values.len() as u64 {
        return Err(format!(
            "{} bytes of values for {} × {}",
            values.len(),
            header.rows,
            header.columns
        ));
    }
    // Both fit in `values`, whose length is a usize.
    let (cells, rows, columns) = (
        cells as usize,
        header.rows as usize,
        header.columns as usize,
    );
    let (x_bytes, y_bytes) = values.split_at(cells * 8);
    let x = Array2::from_shape_vec((rows, columns), floats(x_bytes))
        .map_err(|e| format!("matrix: {e}"))?;
    let dataset = Dataset {
        x,
        y: floats(y_bytes),
        feature_names: header.feature_names,
        target: header.target,
        classes: header.classes,
        read_fingerprint: Default::default(),
    };
    dataset.validate().map_err(|e| e.to_string())?;
    Ok(ParsedForm {
        content_id: header.content_id,
        dataset,
        summary: header.summary,
    })
}

fn floats(bytes: &[u8]) -> Vec<f64> {
    let (whole, _) = bytes.as_chunks::<8>();
    whole.iter().map(|b| f64::from_le_bytes(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Dataset {
        Dataset {
            x: Array2::from_shape_fn((5, 3), |(i, j)| i as f64 * 0.1 - j as f64 / 3.0),
            y: vec![0.0, 1.0, 2.0, 1.0, 0.0],
            feature_names: vec!["a".into(), "b".into(), "ç".into()],
            target: "label".into(),
            classes: Some(vec!["x".into(), "y".into(), "z".into()]),
            read_fingerprint: Default::default(),
        }
    }

    #[test]
    fn a_form_decodes_to_the_same_bits_with_its_summary() {
        let original = data();
        let summary = json!({"bins": 10, "note": [1.5, "two"]});
        let bytes = encode(&original, "abc123", Some(summary.clone()));
        let form = decode(&bytes).unwrap();
        assert_eq!(form.content_id, "abc123");
        assert_eq!(form.summary, Some(summary));
        let d = form.dataset;
        assert_eq!(d.x.dim(), (5, 3));
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(d.x.as_slice().unwrap()),
            bits(original.x.as_slice().unwrap())
        );
        assert_eq!(d.y, original.y);
        assert_eq!(d.feature_names, original.feature_names);
        assert_eq!(d.fingerprint(), original.fingerprint());
        assert_eq!((d.target, d.classes), (original.target, original.classes));
    }

    #[test]
    fn a_damaged_or_hostile_form_is_refused_without_a_panic() {
        let bytes = encode(&data(), "id", None);
        // Every truncation, and a flipped bit anywhere.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for at in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "bit flipped at {at}");
        }
        // A correct checksum over sizes that lie, and over values that fail validation.
        let forge = |header: serde_json::Value, values: &[f64]| {
            let header = serde_json::to_vec(&header).unwrap();
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&(header.len() as u64).to_le_bytes());
            out.extend_from_slice(&header);
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
            let sum = crc32fast::hash(&out);
            out.extend_from_slice(&sum.to_le_bytes());
            decode(&out).map(|_| ())
        };
        let header = |rows: u64, columns: u64| {
            json!({"content_id": "id", "rows": rows, "columns": columns,
                   "feature_names": ["a"], "target": "y", "classes": null, "summary": null})
        };
        assert!(forge(header(1, 1), &[1.0, 2.0]).is_ok());
        assert!(forge(header(u64::MAX, 2), &[1.0, 2.0]).is_err());
        assert!(forge(header(1 << 61, 1 << 3), &[]).is_err());
        assert!(forge(header(2, 1), &[1.0, 2.0]).is_err());
        assert!(forge(header(1, 1), &[f64::NAN, 2.0]).is_err());
        assert!(forge(header(1, 2), &[1.0, 2.0, 3.0]).is_err(), "one name");
    }
}
