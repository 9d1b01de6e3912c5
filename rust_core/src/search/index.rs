//! `SearchIndex`: everything search needs about one namespace, kept in memory and in
//! step with the store by `Txn::write` / `Txn::delete` (see `tier/migrate.rs`).
//!
//! # Layout
//!
//! Every memory gets a dense `u32` slot. Per-slot arrays hold its key, the attributes
//! filters and scoring read (`DocMeta`), its label ids and a content fingerprint;
//! the text index and the vector matrix are addressed by the same slot, so a scan
//! reads contiguous memory and never hashes a key.
//!
//! A removed memory's slot is tombstoned (its key cleared); its postings are dropped
//! and the slot reused only at the next purge, which runs once a quarter of the
//! slots (and at least `PURGE_MIN`) are tombstones. A slot whose vector is a node of
//! the namespace's HNSW graph is reused only once the graph has let go of it
//! (`AnnIndex::purge`, `take_released`). Rewriting a memory whose text,
//! embedding, tags and metadata are unchanged (a put of the same content) keeps its
//! slot and only updates its attributes; a tier move only calls `set_tier`.

use super::ann::{AnnIndex, Params};
use super::filter::{DocMeta, Labels, Maxima};
use super::quant::Quantization;
use super::text::TextIndex;
use super::vector::{Reach, VectorIndex};
use crate::model::MemoryView;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Fewest tombstones that trigger a purge.
const PURGE_MIN: usize = 1024;

/// What the index needs of a memory.
#[derive(Clone, Debug)]
pub struct DocInput<'a> {
    /// Searchable text.
    pub text: &'a str,
    /// Searchable context, indexed in the same bag of terms as `text` at a lower
    /// weight (`text::CONTEXT_UNITS`; empty: none).
    pub context: &'a str,
    /// Embedding, if any.
    pub embedding: Option<&'a [f32]>,
    /// Tags.
    pub tags: &'a [String],
    /// Metadata entries.
    pub metadata: &'a [(String, String)],
    /// Filter and scoring attributes.
    pub meta: DocMeta,
}

impl<'a> DocInput<'a> {
    /// The index's view of a memory.
    pub fn of(m: &MemoryView<'a>) -> DocInput<'a> {
        DocInput {
            text: m.text,
            context: m.context,
            embedding: m.embedding,
            tags: m.tags,
            metadata: m.metadata,
            meta: DocMeta::from_header(m.header),
        }
    }
}

/// The search index of one namespace.
#[derive(Clone, Default)]
pub struct SearchIndex {
    pub(super) slots: Map<Arc<str>, u32>,
    pub(super) keys: Vec<Option<Arc<str>>>,
    /// One bit per slot: live. Scans test it for every posting; 128 KiB per million
    /// slots stays in cache where `keys` would not.
    live: Vec<u64>,
    pub(super) meta: Vec<DocMeta>,
    pub(super) doc_labels: Vec<Box<[u32]>>,
    fingerprints: Vec<u64>,
    free: Vec<u32>,
    dead: Vec<u32>,
    pub(super) labels: Labels,
    pub(super) maxima: Maxima,
    pub(super) text: TextIndex,
    pub(super) vectors: AnnIndex,
    /// Slots whose document has an expiry (and, until the next purge, dead ones):
    /// keyword search leaves the expired out of BM25's statistics (`expired`).
    expiring: Vec<u32>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.slots.len())
            .field("slots", &self.keys.len())
            .field("terms", &self.text.term_count())
            .finish_non_exhaustive()
    }
}

fn fingerprint(doc: &DocInput) -> u64 {
    let mut h = foldhash::quality::FixedState::with_seed(0x6d65_6d64).build_hasher();
    doc.text.hash(&mut h);
    doc.context.hash(&mut h);
    for x in doc.embedding.unwrap_or_default() {
        x.to_bits().hash(&mut h);
    }
    doc.embedding.map(<[f32]>::len).hash(&mut h);
    doc.tags.hash(&mut h);
    doc.metadata.hash(&mut h);
    h.finish()
}

impl SearchIndex {
    /// An empty index whose text is analyzed by `analyzer`.
    pub fn new(analyzer: super::Analyzer) -> SearchIndex {
        SearchIndex { text: TextIndex::new(analyzer), ..SearchIndex::default() }
    }

    /// An empty index whose text is analyzed by `analyzer` and whose vector rows
    /// are stored as `quant`.
    pub fn with_quantization(analyzer: super::Analyzer, quant: Quantization) -> SearchIndex {
        let vectors = AnnIndex::with_quantization(Params::default(), quant);
        SearchIndex { text: TextIndex::new(analyzer), vectors, ..SearchIndex::default() }
    }

    /// How the index turns text into terms.
    pub fn analyzer(&self) -> super::Analyzer {
        self.text.analyzer()
    }

    /// Live documents.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// True when `key` is indexed.
    pub fn contains(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// Attributes of `key`, if indexed.
    pub fn meta_of(&self, key: &str) -> Option<&DocMeta> {
        self.slots.get(key).map(|&s| &self.meta[s as usize])
    }

    /// Approximate heap bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<DocMeta>() + 16 + 16 + 8 + 40;
        let labels: usize = self.doc_labels.iter().map(|l| l.len() * 4).sum();
        self.keys.capacity() * per_slot
            + labels
            + self.slots.keys().map(|k| k.len() + 16).sum::<usize>()
            + self.text.heap_bytes()
            + self.vectors.heap_bytes()
    }

    /// Indexes `key`, replacing what it held, and returns its slot (a hint for
    /// `set_access` and `set_tier`). Unchanged content keeps its slot.
    pub fn upsert(&mut self, key: &Arc<str>, doc: &DocInput) -> u32 {
        let print = fingerprint(doc);
        self.maxima.cover(&doc.meta);
        if let Some(&slot) = self.slots.get(key) {
            let at = slot as usize;
            if self.fingerprints[at] == print {
                if self.meta[at].expires_at_ms == 0 && doc.meta.expires_at_ms != 0 {
                    self.expiring.push(slot);
                }
                self.meta[at] = doc.meta.clone();
                return slot;
            }
            self.remove(key);
        }
        let slot = (self.free.pop())
            .or_else(|| self.vectors.take_released())
            .unwrap_or(self.keys.len() as u32);
        let at = slot as usize;
        if at == self.keys.len() {
            self.keys.push(None);
            self.meta.push(DocMeta::default());
            self.doc_labels.push(Box::default());
            self.fingerprints.push(0);
        }
        let labels = self.labels.acquire(doc.tags, doc.metadata);
        self.labels.add_refs(&labels, slot);
        self.keys[at] = Some(key.clone());
        self.set_live(slot, true);
        self.meta[at] = doc.meta.clone();
        self.doc_labels[at] = labels;
        self.fingerprints[at] = print;
        self.text.insert(slot, doc.text, doc.context);
        if doc.meta.expires_at_ms != 0 {
            self.expiring.push(slot);
        }
        if let Some(e) = doc.embedding {
            self.vectors.insert(slot, e);
        }
        self.slots.insert(key.clone(), slot);
        slot
    }

    /// Removes `key`; returns whether it was indexed.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(slot) = self.slots.remove(key) else {
            return false;
        };
        let at = slot as usize;
        self.keys[at] = None;
        self.set_live(slot, false);
        let ids = std::mem::take(&mut self.doc_labels[at]);
        let doc_labels = &self.doc_labels;
        self.labels.release(&ids, |s, id| doc_labels[s as usize].binary_search(&id).is_ok());
        self.text.remove(slot);
        self.vectors.remove(slot);
        self.dead.push(slot);
        if self.dead.len() >= PURGE_MIN && self.dead.len() * 4 >= self.keys.len() {
            self.purge();
        }
        true
    }

    /// Drops tombstoned postings and makes their slots reusable.
    pub fn purge(&mut self) {
        let live = &self.live;
        self.text.purge(|slot| live[slot as usize / 64] >> (slot % 64) & 1 == 1);
        let (live, meta) = (&self.live, &self.meta);
        self.expiring.retain(|&slot| {
            live[slot as usize / 64] >> (slot % 64) & 1 == 1
                && meta[slot as usize].expires_at_ms != 0
        });
        let dead = std::mem::take(&mut self.dead);
        self.free.extend(self.vectors.purge(dead));
    }

    /// The slot of `key`, trying `hint` first: a slot the caller saw this key in
    /// (`KeyMeta::slot`, `NO_SLOT` if none). The hint is checked against the key the
    /// slot holds (the same `Arc` as the caller's when both came from one write, so
    /// the check is a pointer comparison), and a stale or missing one falls back to
    /// the key map and is refreshed. A read that counts an access thus costs one
    /// hash lookup (the state's key map) instead of two: on maps of 10^5 keys each
    /// lookup is a cache miss or two, a quarter of a counted read (docs/daemon.md).
    fn slot_hinted(&self, key: &str, hint: &mut u32) -> Option<u32> {
        if let Some(Some(held)) = self.keys.get(*hint as usize) {
            if std::ptr::eq(held.as_ptr(), key.as_ptr()) || **held == *key {
                return Some(*hint);
            }
        }
        let slot = *self.slots.get(key)?;
        *hint = slot;
        Some(slot)
    }

    /// Records new access statistics of `key`; `hint` as for `slot_hinted`.
    pub fn set_access(
        &mut self,
        key: &str,
        hint: &mut u32,
        last_access_ms: u64,
        access_count: u64,
    ) {
        if let Some(slot) = self.slot_hinted(key, hint) {
            let m = &mut self.meta[slot as usize];
            m.set_access(last_access_ms, access_count);
            self.maxima.cover(m);
        }
    }

    /// Records that `key` moved to tier `tier` (its content is unchanged); `hint`
    /// as for `slot_hinted`.
    pub fn set_tier(&mut self, key: &str, hint: &mut u32, tier: u8) {
        if let Some(slot) = self.slot_hinted(key, hint) {
            self.meta[slot as usize].tier = tier;
        }
    }

    /// The live, unexpired memory whose embedding is most similar to `vector`, and
    /// the cosine (used by near-duplicate detection on store: the graph's nearest in
    /// a large namespace, where a near duplicate is what HNSW finds most surely).
    pub fn nearest(&self, vector: &[f32], now_ms: u64) -> Option<(Arc<str>, f32)> {
        let query = super::vector::unit(vector)?;
        let mut best: Option<(u32, f32)> = None;
        let live = |slot: u32| {
            self.alive(slot) && {
                let e = self.meta[slot as usize].expires_at_ms;
                e == 0 || e > now_ms
            }
        };
        self.vectors.visit(&query, Reach::Nearest(1), live, |slot, sim| {
            if best.is_none_or(|(_, b)| sim > b) {
                best = Some((slot, sim));
            }
        });
        let (slot, sim) = best?;
        Some((self.keys[slot as usize].clone()?, sim))
    }

    /// The vector index (graph state for reports and tests).
    pub fn vectors(&self) -> &AnnIndex {
        &self.vectors
    }

    /// True when the writer has graph work to do in this namespace.
    pub fn has_vector_work(&self) -> bool {
        self.vectors.has_work()
    }

    /// Plans a bounded step of graph work (read-only: runs under the read lock).
    pub fn plan_vector_work(&self) -> Option<super::ann::Work> {
        self.vectors.plan_work()
    }

    /// Applies a step from `plan_vector_work`; false if the index changed since.
    pub fn apply_vector_work(&mut self, work: super::ann::Work) -> bool {
        self.vectors.apply_work(work)
    }

    /// Live documents expired at `now_ms` (not swept yet), sorted: a pass over the
    /// documents that have an expiry, none in a namespace without TTLs.
    pub(super) fn expired(&self, now_ms: u64) -> Vec<u32> {
        let mut out: Vec<u32> = (self.expiring.iter().copied())
            .filter(|&s| {
                let e = self.meta[s as usize].expires_at_ms;
                self.alive(s) && e != 0 && e <= now_ms
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether some postings may belong to removed documents (until the next purge).
    pub(super) fn has_tombstones(&self) -> bool {
        !self.dead.is_empty()
    }

    /// Whether the slot holds a live document.
    #[inline]
    pub(super) fn alive(&self, slot: u32) -> bool {
        self.live[slot as usize / 64] >> (slot % 64) & 1 == 1
    }

    fn set_live(&mut self, slot: u32, live: bool) {
        let word = slot as usize / 64;
        if self.live.len() <= word {
            self.live.resize(word + 1, 0);
        }
        let bit = 1u64 << (slot % 64);
        if live {
            self.live[word] |= bit;
        } else {
            self.live[word] &= !bit;
        }
    }
}

/// Snapshot entry points (`search::persist`): the index slot for slot, so a reopen
/// keeps slots, postings and the graph exactly; the key map and the live bits are
/// derived from the keys.
impl SearchIndex {
    /// Writes the index.
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        w.len(self.keys.len());
        for (at, key) in self.keys.iter().enumerate() {
            w.str(key.as_deref().unwrap_or(""));
            w.u8(u8::from(key.is_some()));
            let m = &self.meta[at];
            w.u8(m.tier);
            w.f32(m.importance);
            w.u64(m.created_ms);
            w.u64(m.last_access_ms);
            w.u64(m.access_count);
            w.f32(m.ln_accesses);
            w.u64(m.expires_at_ms);
            w.u32s(&self.doc_labels[at]);
            w.u64(self.fingerprints[at]);
        }
        w.u32s(&self.free);
        w.u32s(&self.dead);
        let x = &self.maxima;
        w.f32(x.importance);
        w.f32(x.ln_accesses);
        w.u64(x.last_access_ms);
        w.u64(x.created_ms);
        self.labels.encode(w);
        self.text.encode(w);
        self.vectors.encode(w);
    }

    /// Reads what `encode` wrote, for text analyzed by `analyzer` and a graph with
    /// settings `params`.
    pub(crate) fn decode(
        analyzer: super::Analyzer,
        params: super::ann::Params,
        quant: Quantization,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<SearchIndex> {
        let bad = |what: &str| Err(super::persist::Bad::malformed(what));
        let n = r.len(55)?;
        let mut ix = SearchIndex::with_quantization(analyzer, quant);
        ix.keys.reserve_exact(n);
        ix.meta.reserve_exact(n);
        ix.doc_labels.reserve_exact(n);
        ix.fingerprints.reserve_exact(n);
        ix.slots.reserve(n);
        ix.live = vec![0; n.div_ceil(64)];
        for slot in 0..n as u32 {
            let name = r.str()?;
            let key: Option<Arc<str>> = (r.u8()? == 1).then(|| Arc::from(name));
            if let Some(k) = &key {
                if ix.slots.insert(k.clone(), slot).is_some() {
                    return bad("a key in two slots");
                }
                ix.set_live(slot, true);
            }
            ix.keys.push(key);
            ix.meta.push(DocMeta {
                tier: r.u8()?,
                importance: r.f32()?,
                created_ms: r.u64()?,
                last_access_ms: r.u64()?,
                access_count: r.u64()?,
                ln_accesses: r.f32()?,
                expires_at_ms: r.u64()?,
            });
            ix.doc_labels.push(r.u32s()?.into_boxed_slice());
            ix.fingerprints.push(r.u64()?);
        }
        ix.free = r.u32s()?;
        ix.dead = r.u32s()?;
        ix.maxima = Maxima {
            importance: r.f32()?,
            ln_accesses: r.f32()?,
            last_access_ms: r.u64()?,
            created_ms: r.u64()?,
        };
        ix.labels = Labels::decode(n, r)?;
        ix.text = TextIndex::decode(analyzer, n, r)?;
        ix.vectors = AnnIndex::decode(params, quant, r)?;
        let labels = ix.labels.id_count();
        if ix.free.iter().chain(&ix.dead).any(|&s| s as usize >= n || ix.alive(s))
            || ix.doc_labels.iter().flat_map(|l| l.iter()).any(|&id| id as usize >= labels)
            || ix.vectors.exact().slots() > n
        {
            return bad("slots");
        }
        Ok(ix)
    }

    /// The wrapping sum of `persist::entry_digest` over every indexed key and its
    /// attributes: equal to the same sum over LMDB's keys and record headers exactly
    /// when (but for a 2^-64 chance) both hold the same keys with the same attributes.
    /// One sequential pass over the slots, where looking each key up would be a
    /// random access per key.
    pub(crate) fn key_digest(&self) -> u64 {
        self.keys
            .iter()
            .zip(&self.meta)
            .filter_map(|(key, meta)| Some(super::persist::entry_digest(key.as_deref()?, meta)))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(text: &'a str, tags: &'a [String]) -> DocInput<'a> {
        DocInput {
            text,
            context: "",
            embedding: None,
            tags,
            metadata: &[],
            meta: DocMeta::default(),
        }
    }

    #[test]
    fn same_content_keeps_the_slot_new_content_moves_it() {
        let mut ix = SearchIndex::default();
        let k: Arc<str> = Arc::from("k");
        ix.upsert(&k, &doc("hello", &[]));
        let slot = ix.slots["k"];
        let mut moved = doc("hello", &[]);
        moved.meta.tier = 3;
        ix.upsert(&k, &moved);
        assert_eq!((ix.slots["k"], ix.meta_of("k").unwrap().tier), (slot, 3));
        ix.upsert(&k, &doc("bye", &[]));
        assert_ne!(ix.slots["k"], slot);
        assert_eq!(ix.len(), 1);
    }

    #[test]
    fn a_stale_slot_hint_falls_back_to_the_key() {
        let mut ix = SearchIndex::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let old = ix.upsert(&a, &doc("one", &[]));
        let slot_b = ix.upsert(&b, &doc("two", &[]));
        // A hint naming another key's slot, and one past the end: neither may
        // touch "b", and both end up naming "a"'s slot.
        for stale in [slot_b, 99] {
            let mut hint = stale;
            ix.set_access(&a, &mut hint, 500, 7);
            assert_eq!(hint, old);
            assert_eq!(ix.meta_of("a").map(|m| m.last_access_ms), Some(500));
            assert_eq!(ix.meta_of("b").map(|m| m.last_access_ms), Some(0));
        }
        // A content change moves "a" to a new slot; the old hint is refreshed.
        let mut hint_a = old;
        ix.upsert(&a, &doc("changed", &[]));
        ix.set_tier(&a, &mut hint_a, 3);
        assert_ne!(ix.slots["a"], old);
        assert_eq!((hint_a, ix.meta_of("a").map(|m| m.tier)), (ix.slots["a"], Some(3)));
    }

    #[test]
    fn purge_recycles_slots() {
        let mut ix = SearchIndex::default();
        let keys: Vec<Arc<str>> = (0..PURGE_MIN * 2).map(|i| Arc::from(i.to_string())).collect();
        for k in &keys {
            ix.upsert(k, &doc("word", &[]));
        }
        for k in &keys[..PURGE_MIN] {
            assert!(ix.remove(k));
        }
        assert!(ix.dead.is_empty() && ix.free.len() == PURGE_MIN);
        ix.upsert(&keys[0], &doc("word", &[]));
        assert_eq!(ix.keys.len(), PURGE_MIN * 2, "a freed slot was reused");
        assert!(!ix.remove("nope"));
    }

    #[test]
    fn expired_lists_live_documents_past_their_expiry_once() {
        let mut ix = SearchIndex::default();
        let ttl = |text: &'static str, at: u64| {
            let mut d = doc(text, &[]);
            d.meta.expires_at_ms = at;
            d
        };
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        ix.upsert(&a, &doc("kept", &[]));
        ix.upsert(&b, &ttl("going", 100));
        ix.upsert(&c, &ttl("later", 500));
        // Same content, an expiry again: listed once.
        ix.upsert(&b, &ttl("going", 100));
        assert_eq!(ix.expired(99), Vec::<u32>::new());
        assert_eq!(ix.expired(100), vec![ix.slots["b"]]);
        assert_eq!(ix.expired(500).len(), 2);
        ix.remove("b");
        assert_eq!(ix.expired(500), vec![ix.slots["c"]]);
        // An expiry lifted by a same-content put: no longer expired.
        ix.upsert(&c, &doc("later", &[]));
        assert!(ix.expired(1_000).is_empty());
        ix.purge();
        assert!(ix.expiring.is_empty());
    }
}
