//! How a compressed layer's weight matrix W (n_in × n_out, row-major) is stored, and
//! the kernel that multiplies by it.
//!
//! - `dense`: every value as an f64;
//! - `int8`: symmetric per-output-channel quantisation, W[i][j] = q[i][j] · scale[j],
//!   the q bytes base64-encoded so the file holds one byte and a third per weight;
//! - `csr`: the non-zero weights of a pruned matrix by input row.
//!
//! Dequantisation multiplies in f32 (then widens to f64), which is what ONNX's
//! `DequantizeLinear` does, so an exported graph computes the very same weights.

use base64::Engine;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::models::ModelError;

/// Largest q value of the symmetric int8 grid (−127..=127; −128 is never used).
pub const INT8_MAX: f64 = 127.0;

/// A CSR layer multiplies sparsely while rows × density stays at or below this; above
/// it the dense copy runs through the blocked GEMM, which wins once the batch amortises
/// its packing. Measured (`bench/compress.sh`, "kernel" lines): at 80% sparsity the
/// sparse kernel is ~5× faster for one row and 2× slower for 16; at 95% it still wins
/// at 16 rows.
pub const SPARSE_MAX_ROW_DENSITY: f64 = 0.6;

/// A CSR layer keeps a dense copy for large batches only up to this many weights
/// (32 MiB); bigger layers always multiply sparsely.
const MAX_DENSE_COPY: usize = 4 << 20;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Weights {
    Dense {
        values: Vec<f64>,
    },
    Int8 {
        /// base64 of the n_in × n_out signed bytes, row-major.
        q: String,
        /// One per output channel; f32 so that ONNX carries it exactly.
        scales: Vec<f32>,
    },
    Csr {
        /// n_in + 1 offsets into `cols` and `values`.
        row_ptr: Vec<u32>,
        cols: Vec<u32>,
        values: Vec<f64>,
    },
}

/// Per output channel j: scale_j = max_i |W[i][j]| / 127 (1 for an all-zero column),
/// q = round(W / scale_j).
pub fn quantize(w: ArrayView2<f64>) -> Weights {
    let scales: Vec<f32> = w
        .columns()
        .into_iter()
        .map(|c| {
            let max = c.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let s = (max / INT8_MAX) as f32;
            if s > 0.0 && s.is_finite() {
                s
            } else {
                1.0
            }
        })
        .collect();
    let bytes: Vec<u8> = w
        .rows()
        .into_iter()
        .flat_map(|row| {
            row.iter()
                .zip(&scales)
                .map(|(v, s)| (v / f64::from(*s)).round().clamp(-INT8_MAX, INT8_MAX) as i8 as u8)
                .collect::<Vec<u8>>()
        })
        .collect();
    Weights::Int8 {
        q: base64::engine::general_purpose::STANDARD.encode(bytes),
        scales,
    }
}

/// The CSR form of `w` (its zeros dropped).
pub fn to_csr(w: ArrayView2<f64>) -> Result<Weights, ModelError> {
    let too_big = || ModelError::TooLarge("a layer has more than 2^32 weights".into());
    let mut row_ptr = Vec::with_capacity(w.nrows() + 1);
    let (mut cols, mut values) = (Vec::new(), Vec::new());
    row_ptr.push(0);
    for row in w.rows() {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                cols.push(u32::try_from(j).map_err(|_| too_big())?);
                values.push(v);
            }
        }
        row_ptr.push(u32::try_from(values.len()).map_err(|_| too_big())?);
    }
    Ok(Weights::Csr {
        row_ptr,
        cols,
        values,
    })
}

impl Weights {
    pub fn format(&self) -> &'static str {
        match self {
            Weights::Dense { .. } => "dense",
            Weights::Int8 { .. } => "int8",
            Weights::Csr { .. } => "csr",
        }
    }

    /// Checks every length and value against an n_in × n_out layer and builds the
    /// kernel that serves it. Sizes come from the file, so nothing is allocated before
    /// the lengths it holds have been checked against them.
    pub fn kernel(&self, n_in: usize, n_out: usize) -> Result<Kernel, ModelError> {
        let bad = |m: String| Err(ModelError::InvalidArtifact(m));
        let Some(n) = n_in.checked_mul(n_out) else {
            return bad(format!("a {n_in} × {n_out} layer is too large"));
        };
        match self {
            Weights::Dense { values } => {
                if values.len() != n {
                    return bad(format!("dense weights hold {}, expected {n}", values.len()));
                }
                check_finite(values)?;
                dense(values.clone(), n_in, n_out)
            }
            Weights::Int8 { q, scales } => {
                if scales.len() != n_out || scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return bad(format!(
                        "int8 weights need {n_out} positive finite scales, got {}",
                        scales.len()
                    ));
                }
                // base64 is 4 characters per 3 bytes: refuse before decoding a wrong length.
                if q.len() != n.div_ceil(3) * 4 {
                    return bad(format!("int8 weights do not hold {n} bytes"));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(q)
                    .map_err(|e| ModelError::InvalidArtifact(format!("int8 weights: {e}")))?;
                if bytes.len() != n {
                    return bad(format!(
                        "int8 weights hold {} bytes, expected {n}",
                        bytes.len()
                    ));
                }
                let values = bytes
                    .chunks(n_out.max(1))
                    .flat_map(|row| {
                        row.iter()
                            .zip(scales)
                            .map(|(&b, &s)| f64::from(f32::from(b as i8) * s))
                    })
                    .collect();
                dense(values, n_in, n_out)
            }
            Weights::Csr {
                row_ptr,
                cols,
                values,
            } => {
                let ends_right = row_ptr.first() == Some(&0)
                    && row_ptr.last().map(|&e| e as usize) == Some(values.len());
                if row_ptr.len() != n_in + 1 || !ends_right || cols.len() != values.len() {
                    return bad("csr weights: row_ptr, cols and values disagree".into());
                }
                if row_ptr.windows(2).any(|p| p[0] > p[1]) {
                    return bad("csr weights: row_ptr decreases".into());
                }
                if cols.iter().any(|&c| c as usize >= n_out) {
                    return bad(format!("csr weights: a column index is ≥ {n_out}"));
                }
                check_finite(values)?;
                let csr = Csr {
                    row_ptr: row_ptr.iter().map(|&p| p as usize).collect(),
                    cols: cols.iter().map(|&c| c as usize).collect(),
                    values: values.clone(),
                    n_out,
                };
                let dense_copy = (n <= MAX_DENSE_COPY).then(|| csr.to_dense(n_in));
                Ok(Kernel::Sparse(csr, dense_copy))
            }
        }
    }
}

fn check_finite(values: &[f64]) -> Result<(), ModelError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(ModelError::InvalidArtifact(format!(
            "weight {i} is not a finite number"
        ))),
        None => Ok(()),
    }
}

fn dense(values: Vec<f64>, n_in: usize, n_out: usize) -> Result<Kernel, ModelError> {
    Array2::from_shape_vec((n_in, n_out), values)
        .map(Kernel::Dense)
        .map_err(|e| ModelError::InvalidArtifact(e.to_string()))
}

/// A layer's multiply, built once when the model loads.
#[derive(Clone, Debug)]
pub enum Kernel {
    Dense(Array2<f64>),
    /// The CSR matrix, and its dense copy for large batches when that is small enough.
    Sparse(Csr, Option<Array2<f64>>),
}

#[derive(Clone, Debug)]
pub struct Csr {
    row_ptr: Vec<usize>,
    cols: Vec<usize>,
    values: Vec<f64>,
    n_out: usize,
}

impl Csr {
    fn to_dense(&self, n_in: usize) -> Array2<f64> {
        let mut w = Array2::zeros((n_in, self.n_out));
        for (i, mut row) in w.rows_mut().into_iter().enumerate() {
            let span = self.span(i);
            if let (Some(cols), Some(vals)) = (self.cols.get(span.clone()), self.values.get(span)) {
                for (&c, &v) in cols.iter().zip(vals) {
                    if let Some(slot) = row.get_mut(c) {
                        *slot = v;
                    }
                }
            }
        }
        w
    }

    /// Share of the matrix's cells that are stored.
    fn density(&self) -> f64 {
        let cells = self.row_ptr.len().saturating_sub(1) * self.n_out;
        self.values.len() as f64 / cells.max(1) as f64
    }

    fn span(&self, i: usize) -> std::ops::Range<usize> {
        match (self.row_ptr.get(i), self.row_ptr.get(i + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        }
    }

    /// out += x · W, one input row's non-zeros at a time.
    pub fn mul_add(&self, x: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
        // Both are standard layout already (the scaler's output, a layer's output).
        let x = x.as_standard_layout();
        for (xr, mut or) in x.rows().into_iter().zip(out.rows_mut()) {
            let (Some(xs), Some(os)) = (xr.as_slice(), or.as_slice_mut()) else {
                continue;
            };
            for (i, &xi) in xs.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                let span = self.span(i);
                let (Some(cols), Some(vals)) = (self.cols.get(span.clone()), self.values.get(span))
                else {
                    continue;
                };
                for (&c, &v) in cols.iter().zip(vals) {
                    if let Some(o) = os.get_mut(c) {
                        *o += xi * v;
                    }
                }
            }
        }
    }
}

impl Kernel {
    /// `out` (rows × n_out, holding the bias) += x · W.
    pub fn mul_add(&self, x: ArrayView2<f64>, out: &mut Array2<f64>) {
        let dense = match self {
            Kernel::Dense(w) => w,
            Kernel::Sparse(csr, Some(w))
                if x.nrows() as f64 * csr.density() > SPARSE_MAX_ROW_DENSITY =>
            {
                w
            }
            Kernel::Sparse(csr, _) => {
                csr.mul_add(x, out.view_mut());
                return;
            }
        };
        ndarray::linalg::general_mat_mul(1.0, &x, dense, 1.0, out);
    }

    /// The weights as a dense n_in × n_out matrix (for export and recompression).
    pub fn to_dense(&self) -> Array2<f64> {
        match self {
            Kernel::Dense(w) | Kernel::Sparse(_, Some(w)) => w.clone(),
            Kernel::Sparse(csr, None) => csr.to_dense(csr.row_ptr.len().saturating_sub(1)),
        }
    }
}
