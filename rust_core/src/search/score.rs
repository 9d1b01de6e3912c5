//! The final score and its explanation.
//!
//! # Algorithm
//!
//! `score = w_rel * relevance + w_rec * recency + w_freq * frequency + w_imp * importance`,
//! every component in [0, 1], weights per request (default 0.4 / 0.3 / 0.2 / 0.1):
//!
//! - **relevance** depends on the mode (see `search::query`): keyword relevance is
//!   BM25 divided by the sum of the query terms' idf (capped at 1), semantic
//!   relevance is the cosine similarity clamped at 0, hybrid fuses the two.
//! - **recency** = `0.5 ^ (age / half_life)`, age measured from the last access or
//!   from creation (per request), never negative: 1 for a memory used right now,
//!   0.5 one half-life later.
//! - **frequency** = `min(1, ln(1 + accesses) / ln(1 + saturation))`: logarithmic, so
//!   the first few uses matter most, and normalised by a fixed saturation count
//!   (default 100) rather than by the namespace's busiest memory, so storing or
//!   reading one memory never changes the score of another.
//! - **importance** as stored.
//!
//! Ties are broken by key, so results are deterministic.

use super::filter::{DocMeta, Maxima};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Weights of the four components.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Relevance weight (default 0.4).
    pub relevance: f32,
    /// Recency weight (default 0.3).
    pub recency: f32,
    /// Frequency weight (default 0.2).
    pub frequency: f32,
    /// Importance weight (default 0.1).
    pub importance: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { relevance: 0.4, recency: 0.3, frequency: 0.2, importance: 0.1 }
    }
}

/// Which time recency decays from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecencyFrom {
    /// The last read or write (default).
    #[default]
    LastAccess,
    /// Creation.
    Created,
}

/// Everything the final score depends on besides relevance, with the per-query
/// constants computed once (the scan calls `finish` for every candidate).
#[derive(Clone, Copy, Debug)]
pub struct Scorer {
    /// Component weights.
    pub weights: Weights,
    /// Age measured from.
    pub recency_from: RecencyFrom,
    /// The request's time.
    pub now_ms: u64,
    /// `ln 2 / half_life_ms`.
    decay_per_ms: f32,
    /// `1 / ln(1 + saturation)`.
    inv_ln_saturation: f32,
}

/// A hit's score, component by component.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Explain {
    /// Final score.
    pub score: f32,
    /// Fused relevance in [0, 1].
    pub relevance: f32,
    /// Raw BM25 (0 without a keyword match).
    pub bm25: f32,
    /// Keyword relevance in [0, 1] (BM25 / sum of the query terms' idf, capped).
    pub keyword: f32,
    /// Cosine similarity (0 without a vector match).
    pub cosine: f32,
    /// 1-based rank in the keyword list (0: not ranked).
    pub keyword_rank: u32,
    /// 1-based rank in the vector list (0: not ranked).
    pub semantic_rank: u32,
    /// Recency in [0, 1].
    pub recency: f32,
    /// Frequency in [0, 1].
    pub frequency: f32,
    /// Importance in [0, 1].
    pub importance: f32,
    /// The weights used.
    pub weights: Weights,
}

impl Explain {
    /// `(w_rel * relevance, w_rec * recency, w_freq * frequency, w_imp * importance)`.
    pub fn parts(&self) -> [f32; 4] {
        let w = &self.weights;
        [
            w.relevance * self.relevance,
            w.recency * self.recency,
            w.frequency * self.frequency,
            w.importance * self.importance,
        ]
    }
}

impl Scorer {
    /// A scorer at `now_ms`; `half_life_ms` and `saturation` must be > 0.
    pub fn new(
        weights: Weights,
        half_life_ms: u64,
        recency_from: RecencyFrom,
        saturation: u64,
        now_ms: u64,
    ) -> Scorer {
        Scorer {
            weights,
            recency_from,
            now_ms,
            decay_per_ms: (std::f64::consts::LN_2 / half_life_ms as f64) as f32,
            inv_ln_saturation: 1.0 / (saturation as f32).ln_1p(),
        }
    }

    /// Recency in [0, 1].
    #[inline]
    pub fn recency(&self, m: &DocMeta) -> f32 {
        let from = match self.recency_from {
            RecencyFrom::LastAccess => m.last_access_ms,
            RecencyFrom::Created => m.created_ms,
        };
        (-(self.now_ms.saturating_sub(from) as f32) * self.decay_per_ms).exp()
    }

    /// Frequency in [0, 1].
    #[inline]
    pub fn frequency(&self, m: &DocMeta) -> f32 {
        (m.ln_accesses * self.inv_ln_saturation).min(1.0)
    }

    /// The most recency, frequency and importance can add to any document's score,
    /// from the namespace's maxima.
    pub fn rest_bound(&self, mx: &Maxima) -> f32 {
        let newest = DocMeta {
            last_access_ms: mx.last_access_ms,
            created_ms: mx.created_ms,
            ln_accesses: mx.ln_accesses,
            ..DocMeta::default()
        };
        let w = &self.weights;
        w.recency * self.recency(&newest)
            + w.frequency * self.frequency(&newest)
            + w.importance * mx.importance
    }

    /// Fills the non-relevance components and the final score of `e`.
    pub fn finish(&self, mut e: Explain, m: &DocMeta) -> Explain {
        e.recency = self.recency(m);
        e.frequency = self.frequency(m);
        e.importance = m.importance;
        e.weights = self.weights;
        e.score = e.parts().iter().sum();
        e
    }
}

/// A candidate in the top-k heap: better = higher score, then smaller key.
#[derive(Debug)]
pub struct Ranked {
    /// Final score.
    pub score: f32,
    /// Key, for tie-breaking and the result.
    pub key: Arc<str>,
    /// Slot in the index.
    pub slot: u32,
    /// Breakdown.
    pub explain: Explain,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed so that `BinaryHeap` (a max-heap) keeps the worst on top.
        other.score.total_cmp(&self.score).then_with(|| self.key.cmp(&other.key))
    }
}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}

/// The best `k` candidates seen so far.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> TopK {
        TopK { k, heap: BinaryHeap::with_capacity(k.min(4096) + 1) }
    }

    /// The score a candidate must beat to enter, once full.
    pub fn threshold(&self) -> Option<f32> {
        (self.heap.len() == self.k).then(|| self.heap.peek().map_or(f32::MIN, |r| r.score))
    }

    /// Offers a candidate.
    pub fn push(&mut self, r: Ranked) {
        if self.heap.len() < self.k {
            self.heap.push(r);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if r < *worst {
                *worst = r;
            }
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Ranked> {
        // Ascending in the reversed order is best first.
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scorer() -> Scorer {
        Scorer::new(Weights::default(), 1_000, RecencyFrom::LastAccess, 100, 10_000)
    }

    #[test]
    fn components_follow_their_formulas() {
        let s = scorer();
        let m = DocMeta {
            last_access_ms: 9_000,
            created_ms: 8_000,
            access_count: 100,
            ln_accesses: 100f32.ln_1p(),
            importance: 0.25,
            ..DocMeta::default()
        };
        assert!((s.recency(&m) - 0.5).abs() < 1e-6);
        let created = Scorer { recency_from: RecencyFrom::Created, ..s };
        assert!((created.recency(&m) - 0.25).abs() < 1e-6);
        assert!((s.frequency(&m) - 1.0).abs() < 1e-6);
        let e = s.finish(Explain { relevance: 1.0, ..Explain::default() }, &m);
        assert!((e.score - (0.4 + 0.3 * 0.5 + 0.2 + 0.1 * 0.25)).abs() < 1e-6);
    }

    #[test]
    fn topk_keeps_best_and_breaks_ties_by_key() {
        let mut top = TopK::new(2);
        for (score, key) in [(0.5, "b"), (0.9, "z"), (0.5, "a"), (0.1, "c")] {
            top.push(Ranked { score, key: Arc::from(key), slot: 0, explain: Explain::default() });
        }
        let keys: Vec<_> = top.into_sorted().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, [Arc::from("z"), Arc::from("a")]);
    }
}
