//! The operations of a BERT layer on row-major f32 matrices whose rows are tokens:
//! dense layers (sgemm), `LayerNorm`,
//! per-text self-attention, GELU.

use super::bert::{HEADS, HEAD_DIM, HIDDEN};
use matrixmultiply::sgemm;

/// Rows below which one thread does a product alone (a thread costs more).
const ROWS_PER_THREAD: usize = 32;
const EPS: f32 = 1e-12;

/// `y = x Wᵀ + b`, W stored `[out, in]` as `PyTorch` keeps it.
pub struct Linear {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub n_in: usize,
    pub n_out: usize,
}

pub struct LayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

impl Linear {
    /// `out[rows, n_out] = x[rows, n_in] Wᵀ + b`, rows shared among `threads`.
    pub fn forward(&self, x: &[f32], out: &mut [f32], threads: usize) {
        let rows = x.len() / self.n_in;
        let per = rows.div_ceil(threads.clamp(1, rows.div_ceil(ROWS_PER_THREAD).max(1)));
        if per >= rows {
            self.rows(x, out);
            return;
        }
        std::thread::scope(|s| {
            for (xs, os) in x.chunks(per * self.n_in).zip(out.chunks_mut(per * self.n_out)) {
                s.spawn(move || self.rows(xs, os));
            }
        });
    }

    fn rows(&self, x: &[f32], out: &mut [f32]) {
        let rows = x.len() / self.n_in;
        for o in out.chunks_exact_mut(self.n_out) {
            o.copy_from_slice(&self.b);
        }
        // SAFETY: x is rows×n_in (row-major), W is n_out×n_in read as its transpose
        // n_in×n_out (strides 1, n_in), out is rows×n_out; all within their slices.
        unsafe {
            sgemm(
                rows,
                self.n_in,
                self.n_out,
                1.0,
                x.as_ptr(),
                self.n_in as isize,
                1,
                self.w.as_ptr(),
                1,
                self.n_in as isize,
                1.0,
                out.as_mut_ptr(),
                self.n_out as isize,
                1,
            );
        }
    }
}

impl LayerNorm {
    pub fn apply(&self, x: &mut [f32]) {
        for r in x.chunks_exact_mut(HIDDEN) {
            let mean = r.iter().sum::<f32>() / HIDDEN as f32;
            let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / HIDDEN as f32;
            let inv = 1.0 / (var + EPS).sqrt();
            for ((v, g), b) in r.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// Scaled dot-product self-attention of each text over its own tokens, per head.
pub fn attention(seqs: &[Vec<u32>], q: &[f32], k: &[f32], v: &[f32], ctx: &mut [f32]) {
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    let longest = seqs.iter().map(Vec::len).max().unwrap_or(0);
    let mut scores = vec![0f32; longest * longest];
    let mut start = 0;
    for seq in seqs {
        let n = seq.len();
        let at = start * HIDDEN;
        for h in 0..HEADS {
            let off = at + h * HEAD_DIM;
            // SAFETY: rows start..start+n of q, k, v, ctx (row stride HIDDEN), columns
            // h*HEAD_DIM.. of width HEAD_DIM, and an n×n block of `scores`, all in bounds.
            unsafe {
                sgemm(
                    n,
                    HEAD_DIM,
                    n,
                    scale,
                    q[off..].as_ptr(),
                    HIDDEN as isize,
                    1,
                    k[off..].as_ptr(),
                    1,
                    HIDDEN as isize,
                    0.0,
                    scores.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            for r in scores[..n * n].chunks_exact_mut(n) {
                let top = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for s in r.iter_mut() {
                    *s = (*s - top).exp();
                    sum += *s;
                }
                for s in r.iter_mut() {
                    *s /= sum;
                }
            }
            // SAFETY: as above.
            unsafe {
                sgemm(
                    n,
                    n,
                    HEAD_DIM,
                    1.0,
                    scores.as_ptr(),
                    n as isize,
                    1,
                    v[off..].as_ptr(),
                    HIDDEN as isize,
                    1,
                    0.0,
                    ctx[off..].as_mut_ptr(),
                    HIDDEN as isize,
                    1,
                );
            }
        }
        start += n;
    }
}

pub fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// BERT's exact GELU, `x Φ(x)`, with erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7).
pub fn gelu(x: f32) -> f32 {
    let z = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = (1.0 - poly * (-z * z).exp()).copysign(z);
    (0.5 * f64::from(x) * (1.0 + erf)) as f32
}

#[cfg(test)]
mod tests {
    use super::gelu;

    #[test]
    fn gelu_matches_known_values() {
        // x Φ(x) from the normal distribution's table.
        for (x, want) in [(0.0, 0.0), (1.0, 0.841_344_7), (-1.0, -0.158_655_3), (3.0, 2.995_95)] {
            assert!((gelu(x) - want).abs() < 1e-5, "gelu({x}) = {}", gelu(x));
        }
    }
}
