//! Hybrid fusion of keyword and vector relevance (see `query.rs` for the pipeline).
//!
//! - `weighted` (the default): `a * keyword + (1 - a) * max(cosine, 0)`, computed in
//!   one pass of the vector scan that looks up each document's BM25 in the keyword
//!   accumulator, then one pass over keyword matches without a vector.
//! - `rrf`: each list is ranked among the filter's matches (ties by key) and cut to
//!   its best `R = max(10k, 100)`; relevance = `sum 1/(60 + rank)` over the lists a
//!   document is in, times `61/2` so first in both lists is 1.
//!
//! `bench/search_quality.py` chose the default: on paraphrased questions the keyword
//! list is led by memories sharing function words with the question; RRF gives
//! that list full weight whatever its scores, the weighted sum only its share.

use super::index::SearchIndex;
use super::query::{keyword_explain, Keyword, Plan, Scan};
use super::score::{Explain, Ranked, TopK};
use super::vector::VectorIndex;
use std::collections::HashMap;

/// RRF's rank constant (the value of the original paper, used by most engines).
pub const RRF_K: f32 = 60.0;

impl SearchIndex {
    pub(super) fn weighted(
        &self,
        plan: &Plan,
        kw: &Keyword,
        scan: &Scan,
        ok: impl Fn(u32) -> bool + Sync,
    ) -> Vec<Ranked> {
        let a = plan.keyword_weight;
        let w = plan.scorer.weights.relevance;
        let mut top = TopK::new(plan.k);
        let explain = |bm25: f32, cos: f32| {
            let mut e = keyword_explain(bm25, kw.norm);
            e.cosine = cos;
            e.relevance = a * e.keyword + (1.0 - a) * cos.clamp(0.0, 1.0);
            e
        };
        // From a graph walk, remember what it reached: keyword candidates it did not
        // reach are scored below with their exact cosine.
        let mut reached: Vec<u64> = Vec::new();
        let complete = self.scan(scan, plan.k, &ok, |slot, cos| {
            if !scan.exact {
                let word = slot as usize / 64;
                if reached.len() <= word {
                    reached.resize(word + 1, 0);
                }
                reached[word] |= 1 << (slot % 64);
            }
            // The accumulator is zero where no query term matched.
            let bm25 = kw.acc.scores.get(slot as usize).copied().unwrap_or(0.0);
            // Every vector is visited: test the floor before building an explanation.
            let keyword = keyword_explain(bm25, kw.norm).keyword;
            let relevance = a * keyword + (1.0 - a) * cos.clamp(0.0, 1.0);
            if top.threshold().is_some_and(|f| w * relevance + scan.rest < f) {
                return;
            }
            self.offer(&mut top, &plan.scorer, scan.rest, slot, explain(bm25, cos));
        });
        let seen =
            |slot: u32| reached.get(slot as usize / 64).is_some_and(|w| w >> (slot % 64) & 1 == 1);
        for &(slot, bm25) in &kw.cands {
            let skip = if complete { self.vectors.contains(slot) } else { seen(slot) };
            if !skip && ok(slot) {
                let cos = self.vectors.similarity(slot, scan.q).unwrap_or(0.0);
                self.offer(&mut top, &plan.scorer, scan.rest, slot, explain(bm25, cos));
            }
        }
        top.into_sorted()
    }

    pub(super) fn rrf(
        &self,
        plan: &Plan,
        kw: &Keyword,
        scan: &Scan,
        ok: impl Fn(u32) -> bool + Copy + Sync,
    ) -> Vec<Ranked> {
        let depth = (plan.k * 10).max(100);
        let key = |slot: u32| self.keys[slot as usize].clone().expect("live");
        let mut kw_top = TopK::new(depth);
        for &(slot, bm25) in &kw.cands {
            if kw_top.threshold().is_none_or(|t| bm25 >= t) && ok(slot) {
                kw_top.push(bare(bm25, key(slot), slot));
            }
        }
        let mut vec_top = TopK::new(depth);
        self.scan(scan, depth, ok, |slot, cos| {
            if vec_top.threshold().is_none_or(|t| cos >= t) {
                vec_top.push(bare(cos, key(slot), slot));
            }
        });
        let mut fused: HashMap<u32, Explain> = HashMap::new();
        for (rank, r) in kw_top.into_sorted().into_iter().enumerate() {
            let e = fused.entry(r.slot).or_default();
            *e = keyword_explain(r.score, kw.norm);
            e.keyword_rank = rank as u32 + 1;
        }
        for (rank, r) in vec_top.into_sorted().into_iter().enumerate() {
            let e = fused.entry(r.slot).or_default();
            e.cosine = r.score;
            e.semantic_rank = rank as u32 + 1;
        }
        let mut top = TopK::new(plan.k);
        for (slot, mut e) in fused {
            let part = |rank: u32| if rank == 0 { 0.0 } else { 1.0 / (RRF_K + rank as f32) };
            e.relevance = (part(e.keyword_rank) + part(e.semantic_rank)) * (RRF_K + 1.0) / 2.0;
            if e.keyword_rank == 0 {
                let bm25 = kw.acc.scores.get(slot as usize).copied().unwrap_or(0.0);
                if bm25 > 0.0 {
                    e.bm25 = bm25;
                    e.keyword = keyword_explain(bm25, kw.norm).keyword;
                }
            }
            if e.semantic_rank == 0 {
                e.cosine = self.vectors.similarity(slot, scan.q).unwrap_or(0.0);
            }
            self.offer(&mut top, &plan.scorer, scan.rest, slot, e);
        }
        top.into_sorted()
    }
}

fn bare(score: f32, key: std::sync::Arc<str>, slot: u32) -> Ranked {
    Ranked { score, key, slot, explain: Explain::default() }
}
