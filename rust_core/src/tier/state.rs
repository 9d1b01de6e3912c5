//! `State`: the in-memory view of the store that eviction, expiry, promotion and
//! stats run on. LMDB is the source of truth; `State::load` rebuilds this view from
//! the record headers at open (and after a failed commit), so nothing here needs
//! its own persistence except access statistics, which the writer flushes in batches.

use crate::config::QuantRules;
use crate::error::Result;
use crate::evict::lru::LruEntry;
use crate::evict::{LruPolicy, TtlIndex};
use crate::lifecycle::dedup::{text_hash, TextHashes};
use crate::lifecycle::RetentionInput;
use crate::model::{Header, Tier};
use crate::search::quant::Quantization;
use crate::search::{Analyzer, DocInput, DocMeta, SearchIndex};
use crate::store::{codec, keys, Store};
// foldhash: several times faster than SipHash on short keys, and randomly seeded
// per map, so clients choosing keys cannot force collisions the way they could
// with an unseeded hash.
// hashbrown (the map behind std's) for `get_key_value_mut`: a touch finds the key's
// shared name and its metadata in one lookup.
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

/// What the engine keeps in memory per memory.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMeta {
    /// Current tier.
    pub tier: Tier,
    /// Eviction class.
    pub priority: i32,
    /// For importance promotion.
    pub importance: f32,
    /// Last read or write (may be newer than on disk until flushed).
    pub last_access_ms: u64,
    /// Reads and writes (may be newer than on disk until flushed).
    pub access_count: u64,
    /// 0 = never.
    pub expires_at_ms: u64,
    /// Encoded record size.
    pub bytes: u32,
    /// Recent read times, newest last, at most `promote_min_reads` of them.
    pub reads: Vec<u64>,
    /// Access statistics are newer than the stored record (listed in `State::dirty`).
    pub dirty: bool,
    /// Creation time (for the retention score and mean age).
    pub created_ms: u64,
    /// `lifecycle::dedup::text_hash` of the text (0: empty).
    pub text_hash: u64,
    /// Value size as stored by the client.
    pub value_raw: u32,
    /// Value size on disk (smaller when compressed; a pointer's when offloaded).
    pub value_stored: u32,
    /// The value is in the object archive.
    pub offloaded: bool,
    /// Its slot in the namespace's search index when last seen (`NO_SLOT`: not
    /// known): a hint, checked before use (`SearchIndex::set_access`), so that a
    /// counted read or a tier move does not look the key up in the index's map too.
    pub slot: u32,
}

/// `KeyMeta::slot` when the search slot is not known (yet): after a load, whose
/// index is built on another thread, the first access finds and keeps it.
pub const NO_SLOT: u32 = u32::MAX;

impl KeyMeta {
    /// Metadata of a stored record (`h` is its decoded header).
    pub fn of_record(h: &Header, record: &[u8]) -> KeyMeta {
        let (text, value_raw, value_stored) =
            codec::text_and_value_sizes(h, record).unwrap_or(("", 0, 0));
        KeyMeta {
            tier: h.tier,
            priority: h.priority,
            importance: h.importance,
            last_access_ms: h.last_access_ms,
            access_count: h.access_count,
            expires_at_ms: h.expires_at_ms,
            bytes: record.len() as u32,
            reads: Vec::new(),
            dirty: false,
            created_ms: h.created_ms,
            text_hash: text_hash(text),
            value_raw,
            value_stored,
            offloaded: h.offloaded,
            slot: NO_SLOT,
        }
    }

    /// The retention score's inputs.
    pub fn retention(&self) -> RetentionInput {
        RetentionInput {
            importance: self.importance,
            created_ms: self.created_ms,
            last_access_ms: self.last_access_ms,
            access_count: self.access_count,
        }
    }

    /// True when the memory must no longer be returned.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }

    /// Its position in its tier's eviction order, with the retention score's inputs
    /// (kept current: every change of them re-inserts the entry).
    fn lru_entry(&self, key: &Arc<str>) -> LruEntry {
        LruEntry {
            priority: self.priority,
            last_access_ms: self.last_access_ms,
            key: key.clone(),
            importance: self.importance,
            created_ms: self.created_ms,
            access_count: self.access_count,
        }
    }
}

/// Event counters of one tier since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reads that found a live memory here.
    pub hits: u64,
    /// Expired memories found by a read.
    pub expired_lazy: u64,
    /// Expired memories removed by a sweep.
    pub expired_sweep: u64,
    /// Memories deleted because the coldest tier was full.
    pub evicted_capacity: u64,
    /// Memories demoted out of this tier because it was full.
    pub demoted_capacity: u64,
    /// Promoted out of this tier for frequent reads.
    pub promoted_frequency: u64,
    /// Promoted out of this tier for importance.
    pub promoted_importance: u64,
    /// Explicit deletes.
    pub deleted: u64,
    /// Consolidated into `LONG_TERM` (out of this tier).
    pub consolidated: u64,
    /// Archived by a policy (out of this tier).
    pub policy_archived: u64,
    /// Demoted by a policy (out of this tier).
    pub policy_demoted: u64,
    /// Deleted by a policy.
    pub policy_deleted: u64,
    /// Refreshed by a policy.
    pub policy_refreshed: u64,
    /// Stores merged into a memory of this tier (exact or near duplicate).
    pub dedup_merged: u64,
    /// Stores flagged as near-duplicates of a memory of this tier.
    pub dedup_flagged: u64,
    /// Memories transferred (moved or copied) into this tier of the namespace.
    pub transferred_in: u64,
    /// Memories moved out of this tier to another namespace.
    pub transferred_out: u64,
    /// Memories removed by a Clear.
    pub cleared: u64,
}

impl Counters {
    /// (name, value) pairs, as reported in stats.
    pub fn pairs(&self) -> [(&'static str, u64); 18] {
        [
            ("hits", self.hits),
            ("expired.lazy", self.expired_lazy),
            ("expired.sweep", self.expired_sweep),
            ("evicted.capacity", self.evicted_capacity),
            ("demoted.capacity", self.demoted_capacity),
            ("promoted.frequency", self.promoted_frequency),
            ("promoted.importance", self.promoted_importance),
            ("deleted", self.deleted),
            ("consolidated", self.consolidated),
            ("policy.archived", self.policy_archived),
            ("policy.demoted", self.policy_demoted),
            ("policy.deleted", self.policy_deleted),
            ("policy.refreshed", self.policy_refreshed),
            ("dedup.merged", self.dedup_merged),
            ("dedup.flagged", self.dedup_flagged),
            ("transferred.in", self.transferred_in),
            ("transferred.out", self.transferred_out),
            ("cleared", self.cleared),
        ]
    }
}

/// One tier of one namespace.
#[derive(Clone, Debug, Default)]
pub struct TierState {
    /// Eviction order (and the count: `lru.len()`).
    pub lru: LruPolicy,
    /// Sum of encoded record sizes.
    pub bytes: u64,
    /// Sum of value sizes as stored by clients.
    pub value_raw: u64,
    /// Sum of value sizes on disk.
    pub value_stored: u64,
    /// Memories whose value is stored compressed.
    pub compressed: u64,
    /// Sum of importances, in millionths (integers: no drift over adds and removes).
    pub importance_micros: u64,
    /// Sum of creation times.
    pub created_sum: u128,
    /// Events since open.
    pub counters: Counters,
}

impl TierState {
    fn add(&mut self, meta: &KeyMeta) {
        self.bytes += u64::from(meta.bytes);
        self.value_raw += u64::from(meta.value_raw);
        self.value_stored += u64::from(meta.value_stored);
        self.compressed += u64::from(meta.value_stored < meta.value_raw);
        self.importance_micros += micros(meta.importance);
        self.created_sum += u128::from(meta.created_ms);
    }

    fn sub(&mut self, meta: &KeyMeta) {
        self.bytes -= u64::from(meta.bytes);
        self.value_raw -= u64::from(meta.value_raw);
        self.value_stored -= u64::from(meta.value_stored);
        self.compressed -= u64::from(meta.value_stored < meta.value_raw);
        self.importance_micros -= micros(meta.importance);
        self.created_sum -= u128::from(meta.created_ms);
    }
}

fn micros(importance: f32) -> u64 {
    (f64::from(importance.clamp(0.0, 1.0)) * 1e6).round() as u64
}

/// One namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Process-local id (not persisted).
    pub id: u32,
    /// Name.
    pub name: Arc<str>,
    /// Embedding dimension, 0 until the first vector.
    pub dim: u32,
    /// Every memory of the namespace.
    pub keys: HashMap<Arc<str>, KeyMeta>,
    /// WORKING, `SHORT_TERM`, `LONG_TERM`, ARCHIVE.
    pub tiers: [TierState; 4],
    /// Reads of missing or expired keys.
    pub misses: u64,
    /// Text, vector and attribute index for search, kept in step by `Txn`.
    pub index: SearchIndex,
    /// Keys by text hash, for exact dedup.
    pub texts: TextHashes,
}

impl Namespace {
    /// Memories in `tier`.
    pub fn count(&self, tier: Tier) -> usize {
        self.tiers[tier.index()].lru.len()
    }

    /// Counters of `tier`.
    pub fn counters(&mut self, tier: Tier) -> &mut Counters {
        &mut self.tiers[tier.index()].counters
    }
}

/// Records handed to the search indexer at a time while loading.
const LOAD_BATCH: usize = 1024;

/// Adds a stored record to a search index. A record whose body does not decode is
/// still indexed (without content), so the index and the key map hold the same keys.
/// `vector` is the record's stored embedding (`Store::embedding_bytes`).
fn index_record(index: &mut SearchIndex, key: &Arc<str>, record: &[u8], vector: Option<&[u8]>) {
    let Ok(header) = codec::decode_header(record) else { return };
    let body = codec::decode_searchable(record).unwrap_or(codec::Searchable {
        text: "",
        tags: Vec::new(),
        metadata: Vec::new(),
        context: "",
    });
    let embedding = vector.map(codec::floats);
    let doc = DocInput {
        text: body.text,
        context: body.context,
        embedding: embedding.as_deref(),
        tags: &body.tags,
        metadata: &body.metadata,
        meta: DocMeta::from_header(&header),
    };
    index.upsert(key, &doc);
}

/// The whole in-memory view.
#[derive(Debug, Default)]
pub struct State {
    ids: HashMap<Arc<str>, u32>,
    spaces: HashMap<u32, Namespace>,
    next_id: u32,
    /// Expiry order across namespaces.
    pub ttl: TtlIndex,
    /// Memories whose access statistics changed since the last flush, each listed
    /// once (its `KeyMeta::dirty` is set). An entry whose memory was since removed or
    /// rewritten (flag cleared) is skipped by the flush: a flag and a list make the
    /// per-read bookkeeping a bool test instead of a hash-set insert.
    pub dirty: Vec<(u32, Arc<str>)>,
    /// The last memory `remove` took out of its text's holder list, and where it was:
    /// a rewrite is a remove then an insert of the same key, and putting it back in its
    /// place keeps dedup merging into the memory that held the text first.
    text_slot: Option<(u32, Arc<str>, u64, usize)>,
    /// How every namespace's search index turns text into terms (per daemon).
    analyzer: Analyzer,
    /// How each namespace's vector matrix stores its rows (per namespace rules).
    quantization: QuantRules,
}

impl State {
    /// Rebuilds the view from LMDB: one pass over the record headers.
    pub fn load(store: &Store, analyzer: Analyzer, quantization: QuantRules) -> Result<State> {
        State::load_view(store, analyzer, quantization, true)
    }

    /// Like `load`, but every namespace's search index is left empty: the open
    /// path fills them from the search snapshot (`engine/reopen.rs`).
    pub fn load_headers(
        store: &Store,
        analyzer: Analyzer,
        quantization: QuantRules,
    ) -> Result<State> {
        State::load_view(store, analyzer, quantization, false)
    }

    fn load_view(
        store: &Store,
        analyzer: Analyzer,
        quantization: QuantRules,
        index: bool,
    ) -> Result<State> {
        let rules = quantization.clone();
        let mut state = State { analyzer, quantization, ..State::default() };
        let rtxn = store.env.read_txn()?;
        for entry in store.namespaces.iter(&rtxn)? {
            let (name, dim) = entry?;
            let dim = dim.get(..4).map_or(0, |d| u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
            state.ensure(std::str::from_utf8(name).unwrap_or_default()).dim = dim;
        }
        // Search indexing (decoding bodies, tokenizing, copying vectors) is most of
        // the work; a second thread does it, fed the records in order, while this one
        // rebuilds the LRU and TTL view (about halves the time on two cores).
        let indexes = std::thread::scope(|s| -> Result<HashMap<u32, SearchIndex>> {
            // Batches: one channel message per record costs more than indexing it.
            type Loaded<'t> = Vec<(u32, Quantization, Arc<str>, &'t [u8], Option<&'t [u8]>)>;
            let (tx, rx) = std::sync::mpsc::sync_channel::<Loaded>(8);
            let indexer = s.spawn(move || {
                let mut indexes: HashMap<u32, SearchIndex> = HashMap::default();
                for (id, quant, key, record, vector) in rx.into_iter().flatten() {
                    index_record(
                        indexes
                            .entry(id)
                            .or_insert_with(|| SearchIndex::with_quantization(analyzer, quant)),
                        &key,
                        record,
                        vector,
                    );
                }
                indexes
            });
            let mut batch = Vec::with_capacity(LOAD_BATCH);
            for entry in store.memories.iter(&rtxn)? {
                let (db_key, record) = entry?;
                let Some((ns, key)) = keys::split(db_key) else {
                    continue;
                };
                let header = codec::decode_header(record)?;
                let id = state.ensure(ns).id;
                let key: Arc<str> = Arc::from(key);
                if index {
                    let vector = store.embedding_bytes(&rtxn, ns, record).ok().flatten();
                    batch.push((id, rules.of(ns), key.clone(), record, vector));
                }
                if batch.len() == LOAD_BATCH {
                    // The indexer only stops early if it panicked; join reports that.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)));
                }
                state.insert(id, key, KeyMeta::of_record(&header, record));
            }
            let _ = tx.send(batch);
            drop(tx);
            Ok(indexer.join().expect("the search indexer panicked"))
        })?;
        for (id, index) in indexes {
            state.by_id(id).index = index;
        }
        Ok(state)
    }

    /// Keeps what a rebuild cannot recover from LMDB: counters, and access
    /// statistics not yet flushed (for memories that still exist).
    pub fn carry_over(&mut self, old: State) {
        for (_, old_ns) in old.spaces {
            let Some(&id) = self.ids.get(&old_ns.name) else {
                continue;
            };
            let ns = self.by_id(id);
            ns.misses = old_ns.misses;
            for tier in Tier::ALL {
                ns.tiers[tier.index()].counters = old_ns.tiers[tier.index()].counters;
            }
            for (key, old_meta) in old_ns.keys {
                let newer = self
                    .meta_mut(id, &key)
                    .is_some_and(|m| old_meta.last_access_ms > m.last_access_ms);
                if newer {
                    self.touch(id, &key, old_meta.last_access_ms, 0, 0);
                    let space = self.by_id(id);
                    let (key, meta) = space.keys.get_key_value_mut(&*key).expect("just touched");
                    let before = meta.lru_entry(key);
                    meta.access_count = old_meta.access_count;
                    meta.reads = old_meta.reads;
                    space.tiers[meta.tier.index()].lru.touch(&before, meta.lru_entry(key));
                    let (last, count) = (meta.last_access_ms, meta.access_count);
                    space.index.set_access(key, &mut meta.slot, last, count);
                }
            }
        }
    }

    /// The namespace called `name`, if any.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.ids.get(name).and_then(|id| self.spaces.get(id))
    }

    /// Namespace by id.
    pub fn namespace_by_id(&self, id: u32) -> Option<&Namespace> {
        self.spaces.get(&id)
    }

    /// Mutable namespace by id.
    pub fn by_id(&mut self, id: u32) -> &mut Namespace {
        self.spaces.get_mut(&id).expect("namespace ids are never dangling")
    }

    /// The namespace called `name`, created empty if missing.
    pub fn ensure(&mut self, name: &str) -> &mut Namespace {
        if let Some(&id) = self.ids.get(name) {
            return self.by_id(id);
        }
        let id = self.next_id;
        self.next_id += 1;
        let name: Arc<str> = Arc::from(name);
        self.ids.insert(name.clone(), id);
        let quant = self.quantization.of(&name);
        let space = Namespace {
            id,
            name,
            dim: 0,
            keys: HashMap::default(),
            tiers: Default::default(),
            misses: 0,
            index: SearchIndex::with_quantization(self.analyzer, quant),
            texts: TextHashes::default(),
        };
        self.spaces.insert(id, space);
        self.by_id(id)
    }

    /// The namespace with HNSW work to do that comes after id `after` (round robin
    /// over namespace ids), if any.
    pub fn next_vector_work(&self, after: u32) -> Option<u32> {
        let ids =
            self.spaces.iter().filter(|(_, ns)| ns.index.has_vector_work()).map(|(&id, _)| id);
        let (mut next, mut first) = (None::<u32>, None::<u32>);
        for id in ids {
            first = Some(first.map_or(id, |f| f.min(id)));
            if id > after {
                next = Some(next.map_or(id, |n| n.min(id)));
            }
        }
        next.or(first)
    }

    /// Every namespace, by name.
    pub fn namespaces(&self) -> Vec<&Namespace> {
        let mut all: Vec<&Namespace> = self.spaces.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Metadata of one memory.
    pub fn meta_mut(&mut self, ns: u32, key: &str) -> Option<&mut KeyMeta> {
        self.spaces.get_mut(&ns)?.keys.get_mut(key)
    }

    /// Adds a memory to every index. The key must not be present.
    pub fn insert(&mut self, ns: u32, key: Arc<str>, meta: KeyMeta) {
        let space = self.spaces.get_mut(&ns).expect("namespace ids are never dangling");
        let tier = &mut space.tiers[meta.tier.index()];
        tier.lru.insert(meta.lru_entry(&key));
        tier.add(&meta);
        let position = match self.text_slot.take() {
            Some((n, k, hash, at)) if n == ns && k == key && hash == meta.text_hash => Some(at),
            _ => None,
        };
        space.texts.insert(meta.text_hash, &key, position);
        self.ttl.insert(meta.expires_at_ms, ns, key.clone());
        space.keys.insert(key, meta);
    }

    /// Removes a memory from every index.
    pub fn remove(&mut self, ns: u32, key: &str) -> Option<(Arc<str>, KeyMeta)> {
        let space = self.spaces.get_mut(&ns)?;
        let (key, meta) = space.keys.remove_entry(key)?;
        let tier = &mut space.tiers[meta.tier.index()];
        tier.lru.remove(&meta.lru_entry(&key));
        tier.sub(&meta);
        self.text_slot = space
            .texts
            .remove(meta.text_hash, &key)
            .map(|at| (ns, key.clone(), meta.text_hash, at));
        self.ttl.remove(meta.expires_at_ms, ns, &key);
        Some((key, meta))
    }

    /// Records an access at `now_ms`: moves the memory to the recent end of its
    /// tier's LRU order and, with `reads_kept > 0`, remembers the read time for
    /// promotion (dropping reads older than `window_ms`). Returns the updated
    /// metadata, or `None` for an unknown key. One hash lookup in all.
    pub fn touch(
        &mut self,
        ns: u32,
        key: &str,
        now_ms: u64,
        reads_kept: usize,
        window_ms: u64,
    ) -> Option<&KeyMeta> {
        let meta = self.mark_used(ns, key, now_ms, 1)?;
        if reads_kept > 0 {
            remember_read(&mut meta.reads, meta.last_access_ms, reads_kept, window_ms);
        }
        Some(meta)
    }

    /// Records `count` accesses whose last ones were at `times` (oldest first, at
    /// least one): the earlier `count - times.len()` are counted at the first time
    /// (their own times were older, so they change nothing else), then each time is a
    /// `touch`. Cluster mode's `touch` entry (`engine/touch.rs`). Returns false for an
    /// unknown key.
    pub fn touch_many(
        &mut self,
        ns: u32,
        key: &str,
        count: u64,
        times: &[u64],
        reads_kept: usize,
        window_ms: u64,
    ) -> bool {
        let earlier = count.saturating_sub(times.len() as u64);
        let first = times.first().copied().unwrap_or(0);
        if self.mark_used(ns, key, first, earlier).is_none() {
            return false;
        }
        for &t in times {
            self.touch(ns, key, t, reads_kept, window_ms);
        }
        true
    }

    /// What a touch and a refresh share: the memory moves to the recent end of its
    /// LRU order at `now_ms` (never back in time), the search index learns the new
    /// statistics, and it is listed for the next flush; `counted` accesses are added.
    fn mark_used(&mut self, ns: u32, key: &str, now_ms: u64, counted: u64) -> Option<&mut KeyMeta> {
        let space = self.spaces.get_mut(&ns)?;
        let (key, meta) = space.keys.get_key_value_mut(key)?;
        let old = meta.lru_entry(key);
        meta.last_access_ms = now_ms.max(meta.last_access_ms);
        meta.access_count += counted;
        let now_ms = meta.last_access_ms;
        space.tiers[meta.tier.index()].lru.touch(&old, meta.lru_entry(key));
        space.index.set_access(key, &mut meta.slot, now_ms, meta.access_count);
        if !meta.dirty {
            meta.dirty = true;
            self.dirty.push((ns, key.clone()));
        }
        Some(meta)
    }

    /// Moves a memory to `tier` (at the same LRU position within its priority class
    /// and access time) with a new encoded record size and stored value size, and
    /// tells the search index. Returns its metadata (for the caller's own updates,
    /// without another lookup).
    pub fn set_tier(
        &mut self,
        ns: u32,
        key: &str,
        tier: Tier,
        bytes: usize,
        value_stored: u32,
    ) -> Option<&mut KeyMeta> {
        let space = self.spaces.get_mut(&ns)?;
        let (key, meta) = space.keys.get_key_value_mut(key)?;
        space.index.set_tier(key, &mut meta.slot, tier.number());
        let entry = meta.lru_entry(key);
        let from = &mut space.tiers[meta.tier.index()];
        from.lru.remove(&entry);
        from.sub(meta);
        meta.tier = tier;
        meta.bytes = bytes as u32;
        meta.value_stored = value_stored;
        let to = &mut space.tiers[tier.index()];
        to.lru.insert(entry);
        to.add(meta);
        Some(meta)
    }

    /// Marks a memory as used at `now_ms` without counting an access (a policy's
    /// refresh): it moves to the recent end of its LRU order and its recency resets.
    pub fn refresh(&mut self, ns: u32, key: &str, now_ms: u64) {
        if self.meta_mut(ns, key).is_some_and(|m| now_ms > m.last_access_ms) {
            self.mark_used(ns, key, now_ms, 0);
        }
    }

    /// Removes a namespace and all its index entries.
    pub fn drop_namespace(&mut self, name: &str) -> Option<Namespace> {
        let id = self.ids.remove(name)?;
        let space = self.spaces.remove(&id)?;
        for (key, meta) in &space.keys {
            self.ttl.remove(meta.expires_at_ms, id, key);
        }
        Some(space)
    }
}

/// Adds a read at `now_ms` to a memory's recent reads (`KeyMeta::reads`): reads
/// older than `window_ms` are dropped, and at most `reads_kept` are kept, newest
/// last. Promotion by frequency asks whether `reads_kept` of them are left.
pub fn remember_read(reads: &mut Vec<u64>, now_ms: u64, reads_kept: usize, window_ms: u64) {
    reads.retain(|&t| t.saturating_add(window_ms) > now_ms);
    if reads.len() == reads_kept {
        reads.remove(0);
    }
    reads.push(now_ms);
}
