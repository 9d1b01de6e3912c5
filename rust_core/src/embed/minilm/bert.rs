//! A BERT encoder's forward pass in fp32, for all-MiniLM-L6-v2 (6 layers, 384 wide,
//! 12 heads, GELU, post-LayerNorm), over the weights of its `model.safetensors`.
//!
//! Texts are not padded: every dense layer works on the rows (tokens) of all texts of
//! a call stacked together, and attention runs per text and head. The matrix products
//! are `matrixmultiply`'s sgemm (pure Rust, SIMD kernels), split by rows over
//! `threads` scoped threads when there are enough rows to share.

use super::ops::{add, attention, gelu, LayerNorm, Linear};
use super::safetensors::Tensors;
use crate::error::Result;
use std::path::Path;

/// Width of every token vector.
pub const HIDDEN: usize = 384;
/// Attention heads per layer.
pub const HEADS: usize = 12;
/// Width of one head.
pub const HEAD_DIM: usize = HIDDEN / HEADS;
const INTERMEDIATE: usize = 1536;
const LAYERS: usize = 6;

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

/// The shapes of the model's layers, taken from its tensors.
impl Tensors {
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
            for w in &mut wide {
                *w = gelu(*w);
            }
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
            for m in &mut mean {
                *m /= norm;
            }
            out.push(mean);
            start += seq.len();
        }
        out
    }
}
