//! A BERT encoder's forward pass in fp32, for all-MiniLM-L6-v2 (6 layers, 384 wide,
//! 12 heads, GELU, post-LayerNorm), over the weights of its `model.safetensors`.
//!
//! Texts are not padded: every dense layer works on the rows (tokens) of all texts of
//! a call stacked together, and attention runs per text and head. The matrix products
//! are `matrixmultiply`'s sgemm (pure Rust, SIMD kernels), split by rows over
//! `threads` scoped threads when there are enough rows to share.

use crate::error::{CoreError, Result};
use matrixmultiply::sgemm;
use std::collections::HashMap;
use std::path::Path;

const HIDDEN: usize = 384;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const INTERMEDIATE: usize = 1536;
const LAYERS: usize = 6;
const EPS: f32 = 1e-12;
/// Rows below which one thread does a product alone (a thread costs more).
const ROWS_PER_THREAD: usize = 32;
/// Rows up to which a product is dot products rather than sgemm (see `Linear::rows`).
const SMALL_ROWS: usize = 16;

/// `y = x Wᵀ + b`, W stored `[out, in]` as PyTorch keeps it.
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    n_in: usize,
    n_out: usize,
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
}

/// The encoder's weights.
pub struct Bert {
    words: Vec<f32>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    /// Longest input, in tokens (the position table's length).
    pub max_tokens: usize,
}

/// The float32 tensors of a `.safetensors` file: u64 header length, a JSON header
/// of `{name: {dtype, shape, data_offsets}}`, then the raw little-endian data.
struct Tensors {
    raw: Vec<u8>,
    base: usize,
    index: HashMap<String, (Vec<usize>, usize, usize)>,
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

impl Tensors {
    fn read(path: &Path) -> Result<Tensors> {
        let bad = |why: &str| CoreError::invalid(format!("{}: {why}", path.display()));
        let raw = std::fs::read(path).map_err(|e| bad(&e.to_string()))?;
        let n = raw.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        let base = 8 + usize::try_from(n.ok_or_else(|| bad("not a safetensors file"))?)
            .map_err(|_| bad("bad header length"))?;
        let header = raw.get(8..base).ok_or_else(|| bad("truncated header"))?;
        let mut entries: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        entries.remove("__metadata__");
        let mut index = HashMap::new();
        for (name, value) in entries {
            let e: Entry = serde_json::from_value(value).map_err(|e| bad(&e.to_string()))?;
            if e.dtype == "F32" {
                index.insert(name, (e.shape, e.data_offsets.0, e.data_offsets.1));
            }
        }
        Ok(Tensors { raw, base, index })
    }

    /// The tensor `name`, which must have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (have, start, end) = self.index.get(name).ok_or_else(|| {
            CoreError::invalid(format!("the model's weights lack the tensor {name}"))
        })?;
        let bytes = self.raw.get(self.base + start..self.base + end);
        match bytes {
            Some(b) if have == shape && b.len() == 4 * shape.iter().product::<usize>() => Ok(b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()),
            _ => Err(CoreError::invalid(format!(
                "the model's tensor {name} is {have:?}, expected {shape:?}"
            ))),
        }
    }

    fn linear(&self, prefix: &str, n_in: usize, n_out: usize) -> Result<Linear> {
        Ok(Linear {
            w: self.get(&format!("{prefix}.weight"), &[n_out, n_in])?,
            b: self.get(&format!("{prefix}.bias"), &[n_out])?,
            n_in,
            n_out,
        })
    }

    fn norm(&self, prefix: &str) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: self.get(&format!("{prefix}.weight"), &[HIDDEN])?,
            beta: self.get(&format!("{prefix}.bias"), &[HIDDEN])?,
        })
    }
}

impl Bert {
    /// Loads the encoder from a BERT `model.safetensors` of MiniLM-L6-H384's shape.
    pub fn load(path: &Path, vocab_size: usize) -> Result<Bert> {
        let t = Tensors::read(path)?;
        let max_tokens = t
            .index
            .get("embeddings.position_embeddings.weight")
            .map_or(0, |(shape, _, _)| shape[0]);
        let layers = (0..LAYERS)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: t.linear(&format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?,
                    key: t.linear(&format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?,
                    value: t.linear(&format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?,
                    attn_out: t.linear(&format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?,
                    attn_norm: t.norm(&format!("{p}.attention.output.LayerNorm"))?,
                    up: t.linear(&format!("{p}.intermediate.dense"), HIDDEN, INTERMEDIATE)?,
                    down: t.linear(&format!("{p}.output.dense"), INTERMEDIATE, HIDDEN)?,
                    out_norm: t.norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            words: t.get("embeddings.word_embeddings.weight", &[vocab_size, HIDDEN])?,
            positions: t.get("embeddings.position_embeddings.weight", &[max_tokens, HIDDEN])?,
            token_type: t.get("embeddings.token_type_embeddings.weight", &[2, HIDDEN])?,
            embed_norm: t.norm("embeddings.LayerNorm")?,
            layers,
            max_tokens,
        })
    }

    /// The mean-pooled, unit-length sentence vector of each token sequence.
    pub fn embed(&self, seqs: &[Vec<u32>], threads: usize) -> Vec<Vec<f32>> {
        let rows: usize = seqs.iter().map(Vec::len).sum();
        let mut x = vec![0f32; rows * HIDDEN];
        let mut row = 0;
        for seq in seqs {
            for (pos, &id) in seq.iter().enumerate() {
                let out = &mut x[row * HIDDEN..(row + 1) * HIDDEN];
                let word = &self.words[id as usize * HIDDEN..][..HIDDEN];
                let place = &self.positions[pos * HIDDEN..][..HIDDEN];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = word[i] + place[i] + self.token_type[i];
                }
                row += 1;
            }
        }
        self.embed_norm.apply(&mut x);
        let (mut q, mut k, mut v, mut ctx, mut tmp) = (
            vec![0f32; rows * HIDDEN],
            vec![0f32; rows * HIDDEN],
            vec![0f32; rows * HIDDEN],
            vec![0f32; rows * HIDDEN],
            vec![0f32; rows * HIDDEN],
        );
        let mut wide = vec![0f32; rows * INTERMEDIATE];
        for layer in &self.layers {
            layer.query.forward(&x, &mut q, threads);
            layer.key.forward(&x, &mut k, threads);
            layer.value.forward(&x, &mut v, threads);
            attention(seqs, &q, &k, &v, &mut ctx);
            layer.attn_out.forward(&ctx, &mut tmp, threads);
            add(&mut x, &tmp);
            layer.attn_norm.apply(&mut x);
            layer.up.forward(&x, &mut wide, threads);
            wide.iter_mut().for_each(|w| *w = gelu(*w));
            layer.down.forward(&wide, &mut tmp, threads);
            add(&mut x, &tmp);
            layer.out_norm.apply(&mut x);
        }
        let mut out = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for seq in seqs {
            let mut mean = vec![0f32; HIDDEN];
            for r in x[start * HIDDEN..(start + seq.len()) * HIDDEN].chunks_exact(HIDDEN) {
                add(&mut mean, r);
            }
            let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().for_each(|m| *m /= norm);
            out.push(mean);
            start += seq.len();
        }
        out
    }
}

impl Linear {
    /// `out[rows, n_out] = x[rows, n_in] Wᵀ + b`, rows shared among `threads`.
    fn forward(&self, x: &[f32], out: &mut [f32], threads: usize) {
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
        if rows <= SMALL_ROWS {
            // A query's few tokens: sgemm would copy (pack) every weight before using it
            // once or twice; dot products read each weight row once, straight from W.
            for (o, w) in self.w.chunks_exact(self.n_in).enumerate() {
                for (r, xr) in x.chunks_exact(self.n_in).enumerate() {
                    out[r * self.n_out + o] = self.b[o] + dot(xr, w);
                }
            }
            return;
        }
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
    fn apply(&self, x: &mut [f32]) {
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
fn attention(seqs: &[Vec<u32>], q: &[f32], k: &[f32], v: &[f32], ctx: &mut [f32]) {
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
                r.iter_mut().for_each(|s| *s /= sum);
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

/// A dot product in eight lanes (vectorised by the compiler; a single running sum
/// could not be reordered, so would not be).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let ((ca, ra), (cb, rb)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    for (xa, xb) in ca.iter().zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(xa).zip(xb) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// BERT's exact GELU, `x Φ(x)`, with erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7).
fn gelu(x: f32) -> f32 {
    let z = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
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
