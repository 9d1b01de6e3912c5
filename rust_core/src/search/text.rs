//! `TextIndex`: one namespace's inverted index over `text`, scored with BM25.
//!
//! # Algorithm
//!
//! Each term has a posting list of `(slot, term frequency, document length)`, in no
//! particular order (the length rides in the posting so scoring touches no
//! per-document array).
//!
//! A document has two parts, its text and its context (`NewMemory.context`), in one
//! bag of terms where a context token weighs `CONTEXT_UNITS / TEXT_UNITS` (a quarter)
//! of a text token: frequencies and lengths are counted in units (4 per text token,
//! 1 per context token) and BM25 reads `tf = units / 4`; the length only enters as
//! `len / avglen`, so units cancel there. So a turn that merely follows the one
//! stating a fact (and holds it as context) scores about 0.38 of it on that fact's
//! terms instead of tying with it: `bench/recall_bench.py --context` measured equal
//! weights at R@1 -0.120 (docs/search.md#recall).
//! Adding a document appends one posting per distinct term. Removing one is O(1):
//! the owner (`SearchIndex`) tombstones the slot and its postings stay until the
//! next `purge`, which drops dead postings from every list in one pass and only
//! then lets the slots be reused. Purging when a quarter of the slots are dead
//! keeps deletes amortised O(postings per document) without per-document term lists,
//! and it is the only reason the index never needs to be rebuilt.
//!
//! Scoring is term-at-a-time into a dense accumulator (one f32 per slot): for every
//! distinct query term, one pass counts its live postings (its document frequency;
//! skipped when no slot is tombstoned, as the list length is then exact) and a
//! second adds `idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))`,
//! with `idf = ln(1 + (N - df + 0.5) / (df + 0.5))` (the always-positive idf of
//! Lucene and tantivy). `N`, `df` and the average length count live documents of
//! the whole namespace, so a filter changes which documents are returned, never
//! their relevance.

use super::analyze::Analyzer;
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// BM25 parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25 {
    /// Term-frequency saturation (default 1.2).
    pub k1: f32,
    /// Length normalisation, 0..=1 (default 0.75).
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 1.2, b: 0.75 }
    }
}

/// Units of frequency and length a token of a document's text adds.
pub const TEXT_UNITS: u32 = 4;
/// Units a token of its context adds: a context term weighs a quarter of a text term.
pub const CONTEXT_UNITS: u32 = 1;

/// Term frequency bits in `Posting::packed` (in units); the rest hold the document
/// length (in units).
const TF_BITS: u32 = 12;
const TF_MAX: u32 = (1 << TF_BITS) - 1;
const LEN_MAX: u32 = (1 << (32 - TF_BITS)) - 1;

/// A document containing a term. The document's length rides along with the term
/// frequency (tf saturating at 4 095, length at 1 048 575 tokens, far beyond any
/// text the default limits admit), so scoring reads no per-document array.
#[derive(Clone, Copy, Debug)]
struct Posting {
    slot: u32,
    packed: u32,
}

impl Posting {
    fn new(slot: u32, tf: usize, len: u32) -> Posting {
        let tf = (tf as u32).min(TF_MAX);
        Posting { slot, packed: len.min(LEN_MAX) << TF_BITS | tf }
    }

    /// The term frequency, context tokens counting `CONTEXT_UNITS / TEXT_UNITS`.
    fn tf(self) -> f32 {
        (self.packed & TF_MAX) as f32 / TEXT_UNITS as f32
    }

    fn len(self) -> f32 {
        (self.packed >> TF_BITS) as f32
    }
}

thread_local! {
    /// One accumulator per thread, reused: zeroing a dense array per query would
    /// cost more than scoring a short posting list (4 MiB at a million slots).
    static SCRATCH: std::cell::RefCell<Accumulator> = std::cell::RefCell::default();
}

/// Per-query scratch space: BM25 per slot and the slots that got any.
#[derive(Debug, Default)]
pub struct Accumulator {
    /// BM25 so far, by slot.
    pub scores: Vec<f32>,
    /// Distinct query terms matched, by slot (counted only for phrase queries).
    pub matched: Vec<u16>,
    /// Slots with a score, in first-match order.
    pub touched: Vec<u32>,
}

impl Accumulator {
    /// This thread's accumulator (all zero), or a new one.
    pub fn take() -> Accumulator {
        SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }

    /// Zeroes what a query touched and keeps the buffers for this thread's next query.
    pub fn recycle(mut self) {
        for &slot in &self.touched {
            self.scores[slot as usize] = 0.0;
            if let Some(m) = self.matched.get_mut(slot as usize) {
                *m = 0;
            }
        }
        self.touched.clear();
        SCRATCH.with(|s| *s.borrow_mut() = self);
    }
}

/// The inverted index of one namespace.
#[derive(Clone, Debug, Default)]
pub struct TextIndex {
    analyzer: Analyzer,
    terms: Map<Box<str>, u32>,
    postings: Vec<Vec<Posting>>,
    free_terms: Vec<u32>,
    lens: Vec<u32>,
    total_len: u64,
}

impl TextIndex {
    /// An empty index whose documents are analyzed by `analyzer`.
    pub fn new(analyzer: Analyzer) -> TextIndex {
        TextIndex { analyzer, ..TextIndex::default() }
    }

    /// How this index turns text into terms (queries must use the same).
    pub fn analyzer(&self) -> Analyzer {
        self.analyzer
    }

    /// The summed length (in terms) of `slots`.
    pub fn len_sum(&self, slots: &[u32]) -> u64 {
        slots.iter().map(|&s| u64::from(self.len_of(s))).sum()
    }

    /// Indexes a document's `text` and `context` under `slot` (which must hold no
    /// live document), as one bag of terms in which a context token counts
    /// `CONTEXT_UNITS` and a text token `TEXT_UNITS` (see the module comment).
    pub fn insert(&mut self, slot: u32, text: &str, context: &str) {
        // (term id, units) of every token, then summed by sorting: one hash lookup
        // per token and no allocation except for terms never seen before.
        let mut ids: Vec<(u32, u32)> = Vec::new();
        for (part, units) in [(text, TEXT_UNITS), (context, CONTEXT_UNITS)] {
            self.analyzer.for_each_term(part, |t| {
                let id = match self.terms.get(t) {
                    Some(&id) => id,
                    None => self.new_term(t.into()),
                };
                ids.push((id, units));
            });
        }
        let len: u32 = ids.iter().map(|&(_, units)| units).sum();
        ids.sort_unstable();
        for run in ids.chunk_by(|a, b| a.0 == b.0) {
            let units: u32 = run.iter().map(|&(_, units)| units).sum();
            self.postings[run[0].0 as usize].push(Posting::new(slot, units as usize, len));
        }
        let at = slot as usize;
        if self.lens.len() <= at {
            self.lens.resize(at + 1, 0);
        }
        self.lens[at] = len;
        self.total_len += u64::from(len);
    }

    fn new_term(&mut self, term: Box<str>) -> u32 {
        let id = if let Some(id) = self.free_terms.pop() {
            id
        } else {
            self.postings.push(Vec::new());
            (self.postings.len() - 1) as u32
        };
        self.terms.insert(term, id);
        id
    }

    /// Forgets the length of a removed document; its postings stay until `purge`.
    pub fn remove(&mut self, slot: u32) {
        if let Some(len) = self.lens.get_mut(slot as usize) {
            self.total_len -= u64::from(*len);
            *len = 0;
        }
    }

    /// Drops the postings of dead slots and the terms left without postings.
    pub fn purge(&mut self, alive: impl Fn(u32) -> bool) {
        let mut empty = Vec::new();
        for (term, &id) in &self.terms {
            let list = &mut self.postings[id as usize];
            list.retain(|p| alive(p.slot));
            if list.is_empty() {
                empty.push(term.clone());
            }
        }
        for term in empty {
            if let Some(id) = self.terms.remove(&term) {
                self.postings[id as usize] = Vec::new();
                self.free_terms.push(id);
            }
        }
    }

    /// Length of the document at `slot`, in units (`TEXT_UNITS` per text token).
    pub fn len_of(&self, slot: u32) -> u32 {
        self.lens.get(slot as usize).copied().unwrap_or(0)
    }

    /// True when some document (live or not yet purged) holds `term`.
    pub fn has_term(&self, term: &str) -> bool {
        self.terms.contains_key(term)
    }

    /// Every indexed term, in no particular order.
    pub fn vocabulary(&self) -> impl Iterator<Item = &str> {
        self.terms.keys().map(|t| &**t)
    }

    /// Number of distinct terms (for memory reports).
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Bytes held by postings and lengths (approximate, for memory reports).
    pub fn heap_bytes(&self) -> usize {
        let postings: usize = self.postings.iter().map(|p| p.capacity() * 8 + 24).sum();
        let terms: usize = self.terms.keys().map(|t| t.len() + 32).sum();
        postings + terms + self.lens.capacity() * 4
    }

    /// Adds the BM25 of every live document matching any of `terms` (distinct) into
    /// `acc`, counting matched terms per document in `acc.matched` if `count_matches`. `n_docs` is the number of live documents in the namespace; `alive`
    /// tells live slots, and is only asked when `tombstones` says some postings may
    /// be dead (otherwise a list's length is its document frequency). Returns the
    /// sum of the idf of the terms present: the BM25 of a document of average length
    /// containing each of them once.
    pub fn score(
        &self,
        terms: &[String],
        params: Bm25,
        (n_docs, excluded_len): (u32, u64),
        (tombstones, alive): (bool, impl Fn(u32) -> bool),
        count_matches: bool,
        acc: &mut Accumulator,
    ) -> f32 {
        let mut idf_sum = 0.0;
        if n_docs == 0 {
            return idf_sum;
        }
        let n = n_docs as f32;
        // `excluded_len`: the length of live documents the caller leaves out of the
        // statistics (expired, not yet swept), as `n_docs` and `alive` leave them out.
        let total = self.total_len.saturating_sub(excluded_len);
        let avg_len = (total as f32 / n).max(f32::MIN_POSITIVE);
        if acc.scores.len() < self.lens.len() {
            acc.scores.resize(self.lens.len(), 0.0);
        }
        if count_matches && acc.matched.len() < self.lens.len() {
            acc.matched.resize(self.lens.len(), 0);
        }
        for term in terms {
            let Some(&id) = self.terms.get(term.as_str()) else {
                continue;
            };
            let list = &self.postings[id as usize];
            let live = |p: &&Posting| !tombstones || alive(p.slot);
            let df = if tombstones { list.iter().filter(live).count() } else { list.len() } as f32;
            if df == 0.0 {
                continue;
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            idf_sum += idf;
            let k1 = params.k1;
            let norm = k1 * (1.0 - params.b);
            let per_len = k1 * params.b / avg_len;
            for p in list.iter().filter(live) {
                let at = p.slot as usize;
                let (tf, len) = (p.tf(), p.len());
                let score = &mut acc.scores[at];
                // Every contribution is > 0, so a zero score means a first match.
                if *score == 0.0 {
                    acc.touched.push(p.slot);
                }
                *score += idf * tf * (k1 + 1.0) / (tf + norm + per_len * len);
                if count_matches {
                    acc.matched[at] += 1;
                }
            }
        }
        idf_sum
    }
}

/// Snapshot entry points (`search::persist`): the index exactly as it is, postings
/// in their order, so scores and tie order after a reopen are those before it.
impl TextIndex {
    /// Writes the index (its analyzer is checked by the snapshot's header).
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        let mut names: Vec<Option<&str>> = vec![None; self.postings.len()];
        for (term, &id) in &self.terms {
            names[id as usize] = Some(term);
        }
        w.len(names.len());
        for (name, list) in names.iter().zip(&self.postings) {
            w.str(name.unwrap_or(""));
            w.len(list.len());
            for p in list {
                w.u32(p.slot);
                w.u32(p.packed);
            }
        }
        w.u32s(&self.free_terms);
        w.u32s(&self.lens);
        w.u64(self.total_len);
    }

    /// Reads what `encode` wrote (terms named "" are free ids); every posting's slot
    /// must be below `slots`.
    pub(crate) fn decode(
        analyzer: Analyzer,
        slots: usize,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<TextIndex> {
        let n = r.len(8)?;
        let mut ix = TextIndex::new(analyzer);
        ix.terms.reserve(n);
        ix.postings.reserve_exact(n);
        for id in 0..n {
            let name = r.str()?;
            let m = r.len(8)?;
            let raw = r.take(m * 8)?;
            let list: Vec<Posting> = raw
                .chunks_exact(8)
                .map(|c| Posting {
                    slot: u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    packed: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                })
                .collect();
            if list.iter().any(|p| p.slot as usize >= slots) {
                return Err(super::persist::Bad::malformed("posting slot"));
            }
            ix.postings.push(list);
            if !name.is_empty() {
                ix.terms.insert(name.into(), id as u32);
            }
        }
        ix.free_terms = r.u32s()?;
        ix.lens = r.u32s()?;
        ix.total_len = r.u64()?;
        if ix.lens.len() > slots || ix.free_terms.iter().any(|&id| id as usize >= n) {
            return Err(super::persist::Bad::malformed("term lengths"));
        }
        Ok(ix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(ix: &TextIndex, q: &[&str], n: u32, alive: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let terms: Vec<String> = q.iter().map(|s| (*s).to_owned()).collect();
        let mut acc = Accumulator::default();
        ix.score(&terms, Bm25::default(), (n, 0), (true, alive), false, &mut acc);
        acc.touched.iter().map(|&s| (s, acc.scores[s as usize])).collect()
    }

    #[test]
    fn rarer_terms_and_shorter_docs_score_higher() {
        let mut ix = TextIndex::default();
        ix.insert(0, "the cat sat", "");
        ix.insert(1, "the dog sat on the long mat today", "");
        ix.insert(2, "the cat", "");
        let hits = scored(&ix, &["cat"], 3, |_| true);
        assert_eq!(hits.len(), 2);
        let s = |slot| hits.iter().find(|h| h.0 == slot).unwrap().1;
        assert!(s(2) > s(0), "shorter document first");
        let the = scored(&ix, &["the"], 3, |_| true);
        assert!(the.iter().all(|h| h.1 < s(0)), "common term weighs less");
    }

    #[test]
    fn postings_pack_tf_and_length_saturating() {
        let p = Posting::new(7, 3 * TEXT_UNITS as usize, 250);
        assert_eq!((p.slot, p.tf(), p.len()), (7, 3.0, 250.0));
        let big = Posting::new(7, 1 << 20, u32::MAX);
        let max_tf = TF_MAX as f32 / TEXT_UNITS as f32;
        assert_eq!((big.tf(), big.len()), (max_tf, LEN_MAX as f32));
    }

    #[test]
    fn a_context_term_weighs_a_quarter_of_a_text_term() {
        let mut ix = TextIndex::default();
        ix.insert(0, "porto", "");
        ix.insert(1, "nice", "porto");
        ix.insert(2, "other words", "");
        let hits = scored(&ix, &["porto"], 3, |_| true);
        let s = |slot| hits.iter().find(|h| h.0 == slot).map_or(0.0, |h| h.1);
        assert!(s(1) > 0.0, "the context is searchable");
        assert!(s(1) < 0.5 * s(0), "but weighs less: {} vs {}", s(1), s(0));
        // The context adds a quarter of its tokens to the length.
        assert_eq!((ix.len_of(0), ix.len_of(1)), (TEXT_UNITS, TEXT_UNITS + CONTEXT_UNITS));
    }

    #[test]
    fn dead_slots_do_not_count_and_purge_frees_terms() {
        let mut ix = TextIndex::default();
        ix.insert(0, "alpha beta", "");
        ix.insert(1, "alpha", "");
        ix.remove(0);
        assert_eq!(scored(&ix, &["beta"], 1, |s| s == 1), vec![]);
        ix.purge(|s| s == 1);
        assert_eq!(ix.term_count(), 1);
        ix.insert(0, "gamma", "");
        assert_eq!(scored(&ix, &["gamma"], 2, |_| true).len(), 1);
    }
}
