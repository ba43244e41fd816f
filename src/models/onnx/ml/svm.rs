//! `SVMClassifier` and `SVMRegressor` as onnxruntime computes them (svmclassifier.cc,
//! svmregressor.cc): in f32 whatever the input type, pairwise (one-vs-one) scores with
//! double accumulation, votes for the label, Platt probabilities coupled by
//! `multiclass_probability`, and the linear form (coefficients per class, no support
//! vectors).

use tract_onnx::pb;

use super::attrs::Attrs;
use super::transform::PostTransform;
use super::tree_eval::Real;
use super::trees::MAX_COLUMNS;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kernel {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

#[derive(Debug)]
pub struct Svm {
    pub(super) kernel: Kernel,
    pub(super) gamma: f32,
    pub(super) coef0: f32,
    pub(super) degree: f32,
    /// `[vectors × features]`, empty in the linear form.
    pub(super) support: Vec<f32>,
    pub(super) vectors: usize,
    pub(super) features: usize,
    pub(super) coefficients: Vec<f32>,
    pub(super) rho: Vec<f32>,
    pub(super) post: PostTransform,
    pub(super) class: Option<Classes>,
    pub(super) one_class: bool,
}

#[derive(Debug)]
pub(super) struct Classes {
    pub(super) labels: Vec<i64>,
    /// Support vectors of class i: `starts[i]..starts[i] + per_class[i]`.
    pub(super) per_class: Vec<usize>,
    pub(super) starts: Vec<usize>,
    pub(super) prob_a: Vec<f32>,
    pub(super) prob_b: Vec<f32>,
    pub(super) all_positive: bool,
}

impl Svm {
    pub fn parse(node: &pb::NodeProto, classifier: bool) -> Result<Svm, String> {
        let a = Attrs(node);
        let kernel = match a.string("kernel_type") {
            b"" | b"LINEAR" => Kernel::Linear,
            b"POLY" => Kernel::Poly,
            b"RBF" => Kernel::Rbf,
            b"SIGMOID" => Kernel::Sigmoid,
            other => {
                return Err(format!(
                    "unknown kernel_type '{}'",
                    String::from_utf8_lossy(other)
                ))
            }
        };
        let params = a.floats("kernel_params");
        let (gamma, coef0, degree) = match params {
            [] => (0.0, 0.0, 0.0),
            [g, c, d, ..] => (*g, *c, *d),
            _ => return Err(format!("kernel_params has {} values, not 3", params.len())),
        };
        let support = a.floats("support_vectors").to_vec();
        let coefficients = a.floats("coefficients").to_vec();
        let rho = a.floats("rho").to_vec();
        if coefficients.is_empty() {
            return Err("it has no coefficients".into());
        }
        if rho.is_empty() {
            return Err("it has no rho".into());
        }
        let mut svm = Svm {
            kernel,
            gamma,
            coef0,
            degree,
            support,
            vectors: 0,
            features: 0,
            coefficients,
            rho,
            post: PostTransform::parse(a.string("post_transform"))?,
            class: None,
            one_class: a.int("one_class").is_some_and(|v| v != 0),
        };
        if classifier {
            svm.parse_classes(&a)?;
        } else {
            svm.vectors = usize::try_from(a.int("n_supports").unwrap_or(0))
                .map_err(|_| "n_supports is negative".to_string())?;
            if svm.vectors > 0 {
                svm.features = svm.split_support()?;
                if svm.coefficients.len() != svm.vectors {
                    return Err(format!(
                        "coefficients has {} values for {} support vectors",
                        svm.coefficients.len(),
                        svm.vectors
                    ));
                }
            } else {
                svm.kernel = Kernel::Linear;
                svm.features = svm.coefficients.len();
            }
        }
        Ok(svm)
    }

    /// The width of each support vector; their total length must be exactly
    /// `vectors × features`.
    fn split_support(&self) -> Result<usize, String> {
        let f = self.support.len() / self.vectors.max(1);
        if f == 0 || f.checked_mul(self.vectors) != Some(self.support.len()) {
            return Err(format!(
                "support_vectors has {} values, not a multiple of its {} support vectors",
                self.support.len(),
                self.vectors
            ));
        }
        Ok(f)
    }

    fn parse_classes(&mut self, a: &Attrs) -> Result<(), String> {
        if !a.strings("classlabels_strings").is_empty() {
            return Err(
                "it has string class labels; modeld serves int64 labels (re-export \
                 with integer classes)"
                    .into(),
            );
        }
        let labels = a.ints("classlabels_ints").to_vec();
        let k = labels.len();
        if !(2..=MAX_COLUMNS).contains(&k) {
            return Err(format!(
                "it has {k} class labels; 2 to {MAX_COLUMNS} are served"
            ));
        }
        let per_class = a
            .ints("vectors_per_class")
            .iter()
            .map(|v| usize::try_from(*v).map_err(|_| format!("vectors_per_class has {v}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut starts = Vec::with_capacity(per_class.len());
        let mut total = 0usize;
        for n in &per_class {
            starts.push(total);
            total = total.checked_add(*n).ok_or("vectors_per_class overflows")?;
        }
        self.vectors = total;
        let (prob_a, prob_b) = (a.floats("prob_a").to_vec(), a.floats("prob_b").to_vec());
        if prob_a.len() != prob_b.len() {
            return Err(format!(
                "prob_a has {} values, prob_b {}",
                prob_a.len(),
                prob_b.len()
            ));
        }
        let pairs = k * (k - 1) / 2;
        if total > 0 {
            if per_class.len() != k {
                return Err(format!(
                    "vectors_per_class has {} entries for {k} classes",
                    per_class.len()
                ));
            }
            self.features = self.split_support()?;
            let want = (k - 1)
                .checked_mul(total)
                .ok_or("coefficients size overflows")?;
            if self.coefficients.len() != want {
                return Err(format!(
                    "coefficients has {} values, not (classes - 1) × support vectors = {want}",
                    self.coefficients.len()
                ));
            }
            if self.rho.len() != pairs {
                return Err(format!(
                    "rho has {} values for {pairs} class pairs",
                    self.rho.len()
                ));
            }
            if !prob_a.is_empty() && prob_a.len() != pairs {
                return Err(format!(
                    "prob_a has {} values for {pairs} class pairs",
                    prob_a.len()
                ));
            }
        } else {
            self.kernel = Kernel::Linear;
            self.features = self.coefficients.len() / k;
            if self.features == 0 || self.features * k != self.coefficients.len() {
                return Err(format!(
                    "coefficients has {} values, not a multiple of its {k} classes",
                    self.coefficients.len()
                ));
            }
        }
        self.class = Some(Classes {
            all_positive: self.coefficients.iter().all(|c| *c >= 0.0),
            labels,
            per_class,
            starts,
            prob_a,
            prob_b,
        });
        Ok(())
    }

    pub fn is_classifier(&self) -> bool {
        self.class.is_some()
    }

    pub(super) fn linear_form(&self) -> bool {
        self.vectors == 0
    }

    /// Width of the scores output, as onnxruntime shapes it.
    pub fn columns(&self) -> usize {
        let Some(c) = &self.class else { return 1 };
        let k = c.labels.len();
        if self.linear_form() || !c.prob_a.is_empty() {
            k
        } else if k > 2 {
            k * (k - 1) / 2
        } else {
            2
        }
    }

    /// `kernel(x, v)` for row `x` and vector `v` (both `features` long); `bias` is added
    /// to a LINEAR dot product (onnxruntime's GEMM `C`).
    pub(super) fn kernel(&self, x: &[f32], v: &[f32], bias: f32) -> f32 {
        if self.kernel == Kernel::Rbf {
            let d: f32 = x.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
            return (-self.gamma * d).exp();
        }
        let dot: f32 = x.iter().zip(v).map(|(a, b)| a * b).sum();
        match self.kernel {
            Kernel::Linear => dot + bias,
            Kernel::Poly => (self.gamma * dot + self.coef0).powf(self.degree),
            Kernel::Sigmoid => (self.gamma * dot + self.coef0).tanh(),
            Kernel::Rbf => 0.0,
        }
    }

    pub fn eval<T: Real>(
        &self,
        x: &[T],
        cols: usize,
        out: &mut [f32],
        labels: &mut [i64],
    ) -> Result<(), String> {
        if cols != self.features {
            return Err(format!(
                "the SVM has {} features, the input {cols}",
                self.features
            ));
        }
        let width = self.columns();
        let rows = x.len().checked_div(cols).unwrap_or(0);
        let mut row = vec![0f32; cols];
        let mut kernels = vec![0f32; self.vectors];
        for r in 0..rows {
            let xs = x.get(r * cols..(r + 1) * cols).unwrap_or_default();
            row.iter_mut().zip(xs).for_each(|(d, s)| *d = s.to_f32());
            let o = out
                .get_mut(r * width..(r + 1) * width)
                .ok_or("output buffer too small")?;
            for (k, v) in kernels
                .iter_mut()
                .zip(self.support.chunks_exact(cols.max(1)))
            {
                *k = self.kernel(&row, v, 0.0);
            }
            match &self.class {
                None => {
                    let rho = self.rho.first().copied().unwrap_or_default();
                    let mut y = if self.linear_form() {
                        self.kernel(&row, &self.coefficients, rho)
                    } else {
                        kernels
                            .iter()
                            .zip(&self.coefficients)
                            .map(|(k, c)| k * c)
                            .sum::<f32>()
                            + rho
                    };
                    if self.one_class {
                        y = if y > 0.0 { 1.0 } else { -1.0 };
                    }
                    if let Some(slot) = o.first_mut() {
                        *slot = y;
                    }
                }
                Some(c) => {
                    let label = self.classify(c, &row, &kernels, o)?;
                    if let Some(slot) = labels.get_mut(r) {
                        *slot = label;
                    }
                }
            }
        }
        Ok(())
    }
}
