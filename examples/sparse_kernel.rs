//! Times a pruned layer's two kernels, the CSR multiply and the dense GEMM, at the
//! batch sizes a server sees, to place `SPARSE_MAX_ROW_DENSITY`; and, for int8 layers, the
//! f64 GEMM over weights dequantised at load (what modeld serves) against an integer
//! kernel (rows quantised per call, i8 × i8 → i32 dot products, rescaled), which is the
//! other way to serve them. Run by bench/compress.sh.
//! usage: cargo run --release --example sparse_kernel

use std::time::Instant;

use modeld::models::compact::weights::{quantize, to_csr, Kernel, Weights};
use ndarray::Array2;
use rand::{Rng, SeedableRng};

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    for _ in 0..30 {
        let reps = 200;
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        times.push(t.elapsed().as_nanos() as f64 / reps as f64);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// x · W with x quantised per row and W (given transposed, n_out × n_in) per column.
fn int8_matmul(x: &Array2<f64>, wt_q: &[i8], w_scales: &[f64], n_in: usize, out: &mut Array2<f64>) {
    let mut xq = vec![0i8; n_in];
    for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
        let max = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let sx = if max > 0.0 { max / 127.0 } else { 1.0 };
        for (q, v) in xq.iter_mut().zip(row) {
            *q = (v / sx).round() as i8;
        }
        for ((o, w), s) in o.iter_mut().zip(wt_q.chunks_exact(n_in)).zip(w_scales) {
            let acc: i32 = xq
                .iter()
                .zip(w)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            *o = f64::from(acc) * sx * s;
        }
    }
}

fn int8_lines(rng: &mut rand_chacha::ChaCha8Rng) {
    for (n_in, n_out) in [(64, 128), (128, 64)] {
        let w = Array2::from_shape_fn((n_in, n_out), |_| rng.random_range(-1.0..1.0));
        let served = quantize(w.view()).kernel(n_in, n_out).unwrap();
        let scales: Vec<f64> = w
            .columns()
            .into_iter()
            .map(|c| c.iter().fold(0.0f64, |m, v| m.max(v.abs())) / 127.0)
            .collect();
        let wt_q: Vec<i8> = (0..n_out)
            .flat_map(|j| (0..n_in).map(move |i| (i, j)))
            .map(|(i, j)| (w[(i, j)] / scales[j]).round() as i8)
            .collect();
        for batch in [1, 64] {
            let x = Array2::from_shape_fn((batch, n_in), |_| rng.random_range(-1.0..1.0));
            let mut out = Array2::zeros((batch, n_out));
            let f = median_ns(|| served.mul_add(x.view(), &mut out));
            let i = median_ns(|| int8_matmul(&x, &wt_q, &scales, n_in, &mut out));
            println!(
                "{{\"int8_layer\": \"{n_in}x{n_out}\", \"batch\": {batch}, \"dequantised_f64_ns\": {f:.0}, \
                 \"integer_i32_ns\": {i:.0}, \"integer_speedup\": {:.2}}}",
                f / i
            );
        }
    }
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for (n_in, n_out) in [(64, 128), (128, 64), (30, 128)] {
        for sparsity in [0.8, 0.95] {
            let w = Array2::from_shape_fn((n_in, n_out), |_| {
                if rng.random::<f64>() < sparsity {
                    0.0
                } else {
                    rng.random_range(-1.0..1.0)
                }
            });
            let dense = Weights::Dense {
                values: w.iter().copied().collect(),
            }
            .kernel(n_in, n_out)
            .unwrap();
            let Kernel::Sparse(csr, _) = to_csr(w.view()).unwrap().kernel(n_in, n_out).unwrap()
            else {
                unreachable!()
            };
            for batch in [1, 4, 16, 64] {
                let x = Array2::from_shape_fn((batch, n_in), |_| rng.random_range(-1.0..1.0));
                let mut out = Array2::zeros((batch, n_out));
                let d = median_ns(|| dense.mul_add(x.view(), &mut out));
                let s = median_ns(|| csr.mul_add(x.view(), out.view_mut()));
                println!(
                    "{{\"kernel\": \"{n_in}x{n_out}\", \"sparsity\": {sparsity}, \"batch\": {batch}, \
                     \"dense_ns\": {d:.0}, \"sparse_ns\": {s:.0}, \"sparse_speedup\": {:.2}}}",
                    d / s
                );
            }
        }
    }
    int8_lines(&mut rng);
}
