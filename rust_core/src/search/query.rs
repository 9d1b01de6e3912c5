//! Running a search over one namespace's `SearchIndex`.
//!
//! # Algorithm
//!
//! 1. The filter is compiled against the namespace's labels; a filter nothing can
//!    match returns at once. From then on a document is *eligible* when it is live,
//!    not expired and passes the filter; eligibility is tested inside each scan, so
//!    the top k is always taken among eligible documents. When a tag or metadata
//!    entry makes the filter selective, its slot list (`Compiled::driver`) replaces
//!    the full scan.
//! 2. Keyword part: BM25 of every live document containing a query term
//!    (`TextIndex::score`); candidates are the eligible ones (in phrase mode: those
//!    containing every term). Keyword relevance = `min(1, BM25 / sum of the query
//!    terms' idf)`: the share of the query's information the document matches, 1 for
//!    a document of average length containing every term once. Unlike dividing by
//!    the best candidate's BM25, a document matching only common words ("what",
//!    "the") stays low instead of being scaled up to 1, and a document's relevance
//!    does not depend on which others the filter admits.
//! 3. Vector part: cosine of every eligible document with a vector
//!    (`VectorIndex::visit`); all of them are candidates, as in any nearest-neighbour
//!    search (k hits whenever k eligible memories have vectors); relevance is the
//!    cosine clamped to [0, 1], so dissimilar ones rank only on the other components.
//!    In a namespace large enough for an HNSW graph (`ann`), unless the request asks
//!    for an exact search, the candidates are instead the `max(k, ef)` eligible
//!    memories the graph walk finds nearest (`ef`: `ann::beam`, `ef_search` widened
//!    on large graphs), plus the vectors not in the graph yet, so the final score
//!    ranks the semantic neighbourhood rather than
//!    every memory; keyword candidates the walk did not reach still get their exact
//!    cosine in hybrid search.
//! 4. Relevance: keyword or cosine alone, or fused:
//!    - `Rrf` (reciprocal rank fusion): each list is ranked (ties by key) and cut to
//!      its best `R = max(10k, 100)`; relevance = `sum 1/(60 + rank)` over the lists
//!      a document is in, divided by `2/61` so a document first in both scores 1.
//!      `rrf_depth` replaces `R` when set.
//!    - `Weighted`: `a * keyword + (1 - a) * s(cosine)`, `a` = `keyword_weight`, `s`
//!      the cosine rescaled over the vector candidates (`CosineScale`, `fusion.rs`).
//! 5. Each candidate's final score (`score.rs`) goes through a k-sized heap. Once
//!    the heap is full, a candidate whose relevance plus the most recency, frequency
//!    and importance could add (from the namespace's `Maxima`) cannot beat its
//!    floor is skipped unread; keyword candidates go best BM25 first, so the loop
//!    stops there. In phrase mode candidates are verified against their stored text
//!    (`verify`) lazily, best first, until k pass. Verification reads records, so
//!    it runs only on the few documents that can still reach the result.

use super::filter::Compiled;
use super::index::SearchIndex;
use super::score::{Explain, Ranked, Scorer, TopK};
use super::text::{Accumulator, Bm25};
use super::vector::{Reach, VectorIndex};
use super::{Filter, Fusion};

pub use super::fusion::{CosineScale, MAX_RRF_DEPTH, RRF_K};

/// A validated search, ready to run on an index.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Distinct query terms; empty for no keyword part.
    pub terms: Vec<String>,
    /// Phrase mode: the query's tokens in order.
    pub phrase: Option<Vec<String>>,
    /// Unit query vector; `None` for no vector part.
    pub vector: Option<Vec<f32>>,
    /// Results wanted.
    pub k: usize,
    /// How to fuse keyword and vector relevance.
    pub fusion: Fusion,
    /// `Weighted` fusion's keyword share.
    pub keyword_weight: f32,
    /// `Weighted` fusion's cosine rescaling (`fusion.rs`).
    pub cosine_scale: CosineScale,
    /// `Rrf` fusion's cut of each list; 0: `max(10k, 100)`.
    pub rrf_depth: usize,
    /// BM25 parameters.
    pub bm25: Bm25,
    /// Final score settings.
    pub scorer: Scorer,
    /// Filter.
    pub filter: Filter,
    /// Scan every vector (no graph walk).
    pub exact: bool,
    /// Replace query terms the index lacks by near ones (`fuzzy.rs`).
    pub fuzzy: bool,
}

/// The query vector and, under a selective filter, the slots to visit.
pub(super) struct Scan<'a> {
    pub(super) q: &'a [f32],
    pub(super) exact: bool,
    pub(super) driver: Option<&'a [u32]>,
    pub(super) rest: f32,
}

pub(super) struct Keyword {
    pub(super) acc: Accumulator,
    /// Eligible candidates with their BM25.
    pub(super) cands: Vec<(u32, f32)>,
    /// Sum of the query terms' idf (keyword relevance = BM25 / norm).
    pub(super) norm: f32,
}

impl SearchIndex {
    /// The best `plan.k` documents, best first. `verify(key)` is asked in phrase mode.
    pub fn search(&self, plan: &Plan, mut verify: impl FnMut(&str) -> bool) -> Vec<Ranked> {
        let Some(filter) = plan.filter.compile(&self.labels, plan.scorer.now_ms) else {
            return Vec::new();
        };
        let ok = |slot: u32| self.eligible(&filter, slot);
        let driver = filter.driver(&self.labels, self.keys.len());
        let scan = Scan {
            q: plan.vector.as_deref().unwrap_or_default(),
            exact: plan.exact,
            driver: driver.as_deref(),
            // What recency, frequency and importance can add at most, with a margin
            // for rounding (summed in another order than `Scorer::finish`).
            rest: plan.scorer.rest_bound(&self.maxima) + 1e-5,
        };
        let kw = (!plan.terms.is_empty()).then(|| self.keyword(plan, scan.driver));
        let hits = self.run(plan, &scan, kw.as_ref(), ok, &mut verify);
        if let Some(kw) = kw {
            kw.acc.recycle();
        }
        hits
    }

    fn run(
        &self,
        plan: &Plan,
        scan: &Scan,
        kw: Option<&Keyword>,
        ok: impl Fn(u32) -> bool + Copy + Sync,
        verify: &mut impl FnMut(&str) -> bool,
    ) -> Vec<Ranked> {
        match (kw, &plan.vector) {
            (Some(kw), None) if plan.phrase.is_some() => self.phrase(plan, kw, ok, verify),
            (Some(kw), None) => self.keyword_top(plan, kw, scan.rest, ok),
            (None, Some(_)) => {
                let mut top = TopK::new(plan.k);
                self.scan(scan, plan.k, ok, |slot, cos| {
                    let relevance = cos.clamp(0.0, 1.0);
                    let e = Explain { cosine: cos, relevance, ..Explain::default() };
                    self.offer(&mut top, &plan.scorer, scan.rest, slot, e);
                });
                top.into_sorted()
            }
            (Some(kw), Some(_)) => match plan.fusion {
                Fusion::Rrf => self.rrf(plan, kw, scan, ok),
                Fusion::Weighted => self.weighted(plan, kw, scan, ok),
            },
            (None, None) => Vec::new(),
        }
    }

    /// Keyword-only top k. Relevance is known for every candidate before its
    /// attributes are read, so candidates go best relevance first and the loop stops
    /// once even recency, frequency and importance at the namespace's maxima could not lift
    /// the next one into the top k. With many candidates that skips reading most of
    /// their attributes (scattered in memory); with relevance alone, all but ~k.
    fn keyword_top(
        &self,
        plan: &Plan,
        kw: &Keyword,
        rest: f32,
        ok: impl Fn(u32) -> bool,
    ) -> Vec<Ranked> {
        let mut top = TopK::new(plan.k);
        let w = &plan.scorer.weights;
        let mut order: Vec<(f32, u32)> = kw.cands.iter().map(|&(s, bm25)| (bm25, s)).collect();
        let by_bm25 = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0);
        // Usually the loop stops within the best few k, so sort those first.
        let head = (8 * plan.k).min(order.len());
        if head < order.len() {
            order.select_nth_unstable_by(head, by_bm25);
        }
        order[..head].sort_unstable_by(by_bm25);
        for i in 0..order.len() {
            if i == head {
                order[head..].sort_unstable_by(by_bm25);
            }
            let (bm25, slot) = order[i];
            let e = keyword_explain(bm25, kw.norm);
            if top.threshold().is_some_and(|f| w.relevance * e.relevance + rest < f) {
                break;
            }
            if ok(slot) {
                self.offer(&mut top, &plan.scorer, rest, slot, e);
            }
        }
        top.into_sorted()
    }

    /// Vector candidates: the selective filter's slots, or every vector, or (from
    /// a graph, unless the plan is exact) at least the `want` nearest. Returns true
    /// when every eligible vector was visited.
    pub(super) fn scan(
        &self,
        scan: &Scan,
        want: usize,
        ok: impl Fn(u32) -> bool + Sync,
        visit: impl FnMut(u32, f32),
    ) -> bool {
        let reach = if scan.exact { Reach::All } else { Reach::Nearest(want) };
        match scan.driver {
            Some(slots) => {
                self.vectors.visit_slots(scan.q, slots, ok, visit);
                true
            }
            None => self.vectors.visit(scan.q, reach, ok, visit),
        }
    }

    #[inline]
    fn eligible(&self, filter: &Compiled, slot: u32) -> bool {
        let at = slot as usize;
        self.alive(slot) && filter.matches(&self.meta[at], &self.doc_labels[at])
    }

    /// Offers a candidate to `top`. Once `top` is full, a candidate whose relevance
    /// plus `rest` (the most the other components can add) cannot enter is skipped
    /// without reading its attributes; one whose score cannot enter, without
    /// touching its key's reference count.
    #[inline]
    pub(super) fn offer(&self, top: &mut TopK, scorer: &Scorer, rest: f32, slot: u32, e: Explain) {
        let floor = top.threshold();
        let w = scorer.weights.relevance;
        if floor.is_some_and(|f| w * e.relevance + rest < f) {
            return;
        }
        let m = &self.meta[slot as usize];
        let explain = scorer.finish(e, m);
        if floor.is_some_and(|f| explain.score < f) {
            return;
        }
        let key = self.keys[slot as usize].clone().expect("candidates are live");
        top.push(Ranked { score: explain.score, key, slot, explain });
    }

    fn rank(&self, scorer: &Scorer, slot: u32, e: Explain) -> Ranked {
        let at = slot as usize;
        let explain = scorer.finish(e, &self.meta[at]);
        Ranked {
            score: explain.score,
            key: self.keys[at].clone().expect("candidates are live"),
            slot,
            explain,
        }
    }

    /// BM25 of every live document matching the query (all terms in phrase mode),
    /// among the `driver` slots of a selective filter if any. The rest of the filter
    /// is left to the consumers, which test it only where it matters.
    fn keyword(&self, plan: &Plan, driver: Option<&[u32]>) -> Keyword {
        let mut acc = Accumulator::take();
        // Expired memories the sweep has not removed yet count neither as documents
        // nor in idf or the average length: BM25 is as it will be after the sweep.
        let expired = self.expired(plan.scorer.now_ms);
        let n = (self.len() - expired.len()) as u32;
        let corpus = (n, self.text.len_sum(&expired));
        let gone = |s: u32| !expired.is_empty() && expired.binary_search(&s).is_ok();
        let live = (self.has_tombstones() || !expired.is_empty(), |s| self.alive(s) && !gone(s));
        let phrase = plan.phrase.is_some();
        let fuzzy = (plan.fuzzy && !phrase).then(|| self.text.fuzzy_terms(&plan.terms));
        let terms = fuzzy.as_deref().unwrap_or(&plan.terms);
        let norm = self.text.score(terms, plan.bm25, corpus, live, phrase, &mut acc);
        let need = plan.terms.len();
        let cands: Vec<(u32, f32)> = acc
            .touched
            .iter()
            .filter(|&&s| !phrase || usize::from(acc.matched[s as usize]) >= need)
            .filter(|s| driver.is_none_or(|d| d.binary_search(s).is_ok()))
            .map(|&s| (s, acc.scores[s as usize]))
            .collect();
        Keyword { acc, cands, norm }
    }

    fn phrase(
        &self,
        plan: &Plan,
        kw: &Keyword,
        ok: impl Fn(u32) -> bool,
        verify: &mut impl FnMut(&str) -> bool,
    ) -> Vec<Ranked> {
        let mut ranked: Vec<Ranked> = kw
            .cands
            .iter()
            .filter(|c| ok(c.0))
            .map(|&(slot, bm25)| self.rank(&plan.scorer, slot, keyword_explain(bm25, kw.norm)))
            .collect();
        ranked.sort_unstable();
        ranked.into_iter().filter(|r| verify(&r.key)).take(plan.k).collect()
    }
}

/// Keyword relevance and its parts for a BM25 score.
pub(super) fn keyword_explain(bm25: f32, norm: f32) -> Explain {
    let keyword = if norm > 0.0 { (bm25 / norm).min(1.0) } else { 0.0 };
    Explain { bm25, keyword, relevance: keyword, ..Explain::default() }
}
