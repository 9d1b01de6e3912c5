//! Several searches of one namespace at once (`Engine::search_batch`).
//!
//! An exact semantic search is a scan of the namespace's vector matrix, bound by
//! memory bandwidth: with a few thousand 384-d vectors the matrix outgrows the CPU
//! caches, so 32 separate searches read it from memory 32 times. Semantic-only plans
//! (a vector, no keyword part) with the same filter therefore share one pass
//! (`ExactIndex::visit_many`): each eligible row is read once and compared with every
//! query of the group, and each query keeps its own top k, scorer and floor, so its
//! hits are exactly those of a search of its own (see the test below). A plan whose
//! own search would walk the namespace's HNSW graph (a large namespace, `exact`
//! unset) does not join: a walk reads a few hundred rows, far less than a shared
//! scan. Keyword and hybrid plans read posting lists rather than scanning, and run
//! one by one; what
//! they share with the others is the call itself: one read lock, one LMDB read
//! transaction, one round of access accounting.

use super::index::SearchIndex;
use super::query::Plan;
use super::score::{Explain, Ranked, TopK};

impl SearchIndex {
    /// True when a plan can join a shared vector scan: f32 rows, semantic relevance
    /// only, and a search of its own would scan too (exact asked, or no graph to walk).
    pub fn shares_scan(&self, plan: &Plan) -> bool {
        // A quantized namespace's searches are re-scored one by one (`engine/rescore.rs`).
        self.vectors.exact().quantization() == super::quant::Quantization::None
            && plan.terms.is_empty()
            && plan.phrase.is_none()
            && (plan.vector.as_deref()).is_some_and(|q| plan.exact || !self.vectors.walks_graph(q))
    }
}

/// The plans (by index) that can share a scan (`SearchIndex::shares_scan`, which
/// the caller checked), grouped by filter and clock; only groups of two or more,
/// each in input order.
pub fn scan_groups(plans: &[&Plan]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let same = |g: &Vec<usize>| {
            let first = plans[g[0]];
            first.filter == plan.filter && first.scorer.now_ms == plan.scorer.now_ms
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups.retain(|g| g.len() > 1);
    groups
}

impl SearchIndex {
    /// The best hits of each of `plans`, best first, in one pass over the vectors.
    /// Every plan must share the scan (`shares_scan`) and have the same filter and
    /// clock as the first (`scan_groups`).
    pub fn semantic_many(&self, plans: &[&Plan]) -> Vec<Vec<Ranked>> {
        let Some(first) = plans.first() else { return Vec::new() };
        let Some(filter) = first.filter.compile(&self.labels, first.scorer.now_ms) else {
            return plans.iter().map(|_| Vec::new()).collect();
        };
        let driver = filter.driver(&self.labels, self.keys.len());
        let queries: Vec<&[f32]> =
            plans.iter().map(|p| p.vector.as_deref().expect("semantic plans")).collect();
        // As in `SearchIndex::search`: what recency, frequency and importance can add.
        let rests: Vec<f32> =
            plans.iter().map(|p| p.scorer.rest_bound(&self.maxima) + 1e-5).collect();
        let mut tops: Vec<TopK> = plans.iter().map(|p| TopK::new(p.k)).collect();
        let eligible = |slot: u32| {
            let at = slot as usize;
            self.alive(slot) && filter.matches(&self.meta[at], &self.doc_labels[at])
        };
        self.vectors.exact().visit_many(&queries, driver.as_deref(), eligible, |slot, sims| {
            for (j, &cos) in sims.iter().enumerate() {
                let e =
                    Explain { cosine: cos, relevance: cos.clamp(0.0, 1.0), ..Explain::default() };
                self.offer(&mut tops[j], &plans[j].scorer, rests[j], slot, e);
            }
        });
        tops.into_iter().map(TopK::into_sorted).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::filter::{DocMeta, Filter};
    use crate::search::score::{RecencyFrom, Scorer, Weights};
    use crate::search::{Bm25, DocInput, Fusion};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn plan(vector: &[f32], k: usize, filter: Filter) -> Plan {
        Plan {
            terms: Vec::new(),
            phrase: None,
            vector: crate::search::vector::unit(vector),
            k,
            fusion: Fusion::Weighted,
            keyword_weight: 0.2,
            cosine_scale: crate::search::CosineScale::None,
            rrf_depth: 0,
            bm25: Bm25::default(),
            scorer: Scorer::new(Weights::default(), 1_000, RecencyFrom::LastAccess, 100, 5_000),
            filter,
            exact: false,
            fuzzy: false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A shared scan returns, for every query, exactly what its own search does.
        #[test]
        fn shared_scan_matches_separate_searches(
            docs in prop::collection::vec(
                (prop::collection::vec(-1.0f32..1.0, 4), 0u64..5_000, 0.0f32..1.0, 1u8..=4, any::<bool>()),
                1..60,
            ),
            queries in prop::collection::vec((prop::collection::vec(-1.0f32..1.0, 4), 1usize..12), 1..6),
            tier_filter in any::<bool>(),
        ) {
            let mut ix = SearchIndex::default();
            for (i, (v, t, importance, tier, with_vector)) in docs.iter().enumerate() {
                let key: Arc<str> = Arc::from(format!("k{i:03}"));
                let meta = DocMeta { tier: *tier, importance: *importance, last_access_ms: *t,
                    created_ms: *t, ..DocMeta::default() };
                let doc = DocInput { text: "", context: "", embedding: with_vector.then_some(v.as_slice()),
                    tags: &[], metadata: &[], meta };
                ix.upsert(&key, &doc);
            }
            let filter = Filter {
                importance_max: 1.0,
                tiers: if tier_filter { vec![crate::model::Tier::ShortTerm] } else { Vec::new() },
                ..Filter::default()
            };
            let plans: Vec<Plan> = queries
                .iter()
                .filter(|(v, _)| v.iter().any(|x| *x != 0.0))
                .map(|(v, k)| plan(v, *k, filter.clone()))
                .collect();
            let refs: Vec<&Plan> = plans.iter().collect();
            let shared = ix.semantic_many(&refs);
            for (p, got) in plans.iter().zip(shared) {
                let want = ix.search(p, |_| true);
                let keys = |r: &[Ranked]| r.iter().map(|h| (h.key.clone(), h.score)).collect::<Vec<_>>();
                prop_assert_eq!(keys(&got), keys(&want));
            }
        }
    }

    #[test]
    fn groups_need_equal_filters_and_two_members() {
        let open = Filter { importance_max: 1.0, ..Filter::default() };
        let tagged = Filter { tags_all: vec!["x".into()], ..open.clone() };
        let a = plan(&[1.0, 0.0], 3, open.clone());
        let b = plan(&[0.0, 1.0], 3, open.clone());
        let c = plan(&[1.0, 1.0], 3, tagged);
        let mut keyword = plan(&[1.0, 0.0], 3, open);
        keyword.terms = vec!["tea".into()];
        let ix = SearchIndex::default();
        assert!(!ix.shares_scan(&keyword));
        assert!(ix.shares_scan(&a));
        assert_eq!(scan_groups(&[&a, &c, &b]), vec![vec![0, 2]]);
    }
}
