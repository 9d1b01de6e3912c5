//! Hybrid fusion of keyword and vector relevance (see `query.rs` for the pipeline).
//!
//! - `weighted` (the default): `a * keyword + (1 - a) * s(cosine)`, computed in
//!   one pass of the vector scan that looks up each document's BM25 in the keyword
//!   accumulator, then one pass over keyword matches without a vector. `s` is the
//!   request's `CosineScale`: `max(cosine, 0)` (`None`), or the cosine rescaled over
//!   the vector candidates (`MinMax`, `ZScore`), which needs their cosines first, so
//!   those scan once into a buffer, then fuse.
//! - `rrf`: each list is ranked among the filter's matches (ties by key) and cut to
//!   its best `R` (`rrf_depth`, by default `max(10k, 100)`); relevance =
//!   `sum 1/(60 + rank)` over the lists a document is in, times `61/2` so first in
//!   both lists is 1.
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

/// Most entries of each list RRF may fuse (`SearchQuery::rrf_depth`).
pub const MAX_RRF_DEPTH: usize = 10_000;

/// How weighted fusion maps a candidate's cosine to [0, 1] before fusing it.
///
/// An embedder whose cosines sit in a narrow band (multilingual-e5: about
/// 0.75-0.9 for anything in the same language) gives `max(cosine, 0)` differences
/// of a few hundredths, which a keyword share of 0.2 outweighs: rescaling over the
/// candidates makes the share mean the same whatever the embedder's band.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CosineScale {
    /// `max(cosine, 0)`.
    None,
    /// `(cosine - min) / (max - min)` over the vector candidates.
    #[default]
    MinMax,
    /// `(cosine - (mean - 3 sd)) / (6 sd)`, clamped to [0, 1], over the candidates.
    ZScore,
}

/// A cosine rescaling fitted to one search's vector candidates.
#[derive(Clone, Copy, Debug)]
struct Rescale {
    lo: f32,
    span: f32,
}

impl Rescale {
    fn fit(how: CosineScale, cos: &[f32]) -> Rescale {
        let identity = Rescale { lo: 0.0, span: 1.0 };
        if cos.is_empty() {
            return identity;
        }
        match how {
            CosineScale::None => identity,
            CosineScale::MinMax => {
                let (lo, hi) = cos
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &c| (l.min(c), h.max(c)));
                Rescale { lo, span: hi - lo }
            }
            CosineScale::ZScore => {
                let n = cos.len() as f64;
                let mean = cos.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
                let var = cos.iter().map(|&c| (f64::from(c) - mean).powi(2)).sum::<f64>() / n;
                let sd = var.sqrt();
                Rescale { lo: (mean - 3.0 * sd) as f32, span: (6.0 * sd) as f32 }
            }
        }
    }

    /// In [0, 1]. With no spread (one candidate, or all equal) every candidate is
    /// as near as the best: 1, leaving the order to the keyword side.
    fn apply(self, cos: f32) -> f32 {
        if self.span > 1e-6 {
            ((cos - self.lo) / self.span).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

impl SearchIndex {
    pub(super) fn weighted(
        &self,
        plan: &Plan,
        kw: &Keyword,
        scan: &Scan,
        ok: impl Fn(u32) -> bool + Sync,
    ) -> Vec<Ranked> {
        if plan.cosine_scale != CosineScale::None {
            return self.weighted_rescaled(plan, kw, scan, ok);
        }
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

    /// Weighted fusion of rescaled cosines: the vector candidates' cosines are
    /// gathered first (a slot and a float each), the rescaling fitted to them, then
    /// every candidate fused. Keyword candidates the scan did not reach get their
    /// exact cosine through the same rescaling; a memory without a vector has none.
    fn weighted_rescaled(
        &self,
        plan: &Plan,
        kw: &Keyword,
        scan: &Scan,
        ok: impl Fn(u32) -> bool + Sync,
    ) -> Vec<Ranked> {
        let a = plan.keyword_weight;
        let mut seen: Vec<(u32, f32)> = Vec::new();
        self.scan(scan, plan.k, &ok, |slot, cos| seen.push((slot, cos)));
        let cosines: Vec<f32> = seen.iter().map(|c| c.1).collect();
        let scale = Rescale::fit(plan.cosine_scale, &cosines);
        let mut top = TopK::new(plan.k);
        let mut fuse = |slot: u32, bm25: f32, cos: Option<f32>| {
            let mut e = keyword_explain(bm25, kw.norm);
            e.cosine = cos.unwrap_or(0.0);
            e.relevance = a * e.keyword + (1.0 - a) * cos.map_or(0.0, |c| scale.apply(c));
            self.offer(&mut top, &plan.scorer, scan.rest, slot, e);
        };
        seen.sort_unstable_by_key(|c| c.0);
        for &(slot, cos) in &seen {
            let bm25 = kw.acc.scores.get(slot as usize).copied().unwrap_or(0.0);
            fuse(slot, bm25, Some(cos));
        }
        for &(slot, bm25) in &kw.cands {
            if seen.binary_search_by_key(&slot, |c| c.0).is_err() && ok(slot) {
                fuse(slot, bm25, self.vectors.similarity(slot, scan.q));
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
        let depth = if plan.rrf_depth == 0 { (plan.k * 10).max(100) } else { plan.rrf_depth };
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

#[cfg(test)]
mod tests {
    use super::{CosineScale, Rescale};

    #[test]
    fn min_max_maps_the_candidates_band_to_the_unit_interval() {
        let s = Rescale::fit(CosineScale::MinMax, &[0.80, 0.75, 0.90]);
        assert!((s.apply(0.90) - 1.0).abs() < 1e-6);
        assert!(s.apply(0.75).abs() < 1e-6);
        assert!((s.apply(0.80) - 1.0 / 3.0).abs() < 1e-5);
        // A keyword candidate outside the band is clamped.
        assert!(s.apply(0.5).abs() < 1e-6 && (s.apply(0.95) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn z_score_spreads_mean_plus_minus_three_deviations() {
        let s = Rescale::fit(CosineScale::ZScore, &[0.7, 0.8, 0.9, 0.8]);
        assert!((s.apply(0.8) - 0.5).abs() < 1e-5);
        assert!(s.apply(0.9) > 0.5 && s.apply(0.9) < 1.0);
        assert!(s.apply(0.7) < 0.5 && s.apply(0.7) > 0.0);
    }

    #[test]
    fn no_spread_or_no_rescaling() {
        for how in [CosineScale::MinMax, CosineScale::ZScore] {
            assert!((Rescale::fit(how, &[0.3]).apply(0.3) - 1.0).abs() < 1e-6);
            assert!((Rescale::fit(how, &[0.4, 0.4]).apply(0.4) - 1.0).abs() < 1e-6);
        }
        let none = Rescale::fit(CosineScale::None, &[0.8, 0.9]);
        assert!((none.apply(0.8) - 0.8).abs() < 1e-6 && none.apply(-0.2).abs() < 1e-6);
    }
}
