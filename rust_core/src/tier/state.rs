//! `State`: the in-memory view of the store that eviction, expiry, promotion and
//! stats run on. LMDB is the source of truth; `State::load` rebuilds this view from
//! the record headers at open (and after a failed commit), so nothing here needs
//! its own persistence except access statistics, which the writer flushes in batches.

use crate::config::QuantRules;
use crate::evict::lru::LruEntry;
use crate::evict::TtlIndex;
use crate::lifecycle::dedup::{text_hash, TextHashes};
use crate::lifecycle::RetentionInput;
use crate::model::{Header, Tier};
use crate::search::{Analyzer, SearchIndex};
use crate::store::codec;
// foldhash: several times faster than SipHash on short keys, and randomly seeded
// per map, so clients choosing keys cannot force collisions the way they could
// with an unseeded hash.
// hashbrown (the map behind std's) for `get_key_value_mut`: a touch finds the key's
// shared name and its metadata in one lookup.
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

mod load;
mod namespace;

pub use namespace::{Counters, Namespace, TierState};

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
        let position = match self.text_slot.take() {
            Some((n, k, hash, at)) if n == ns && k == key && hash == meta.text_hash => Some(at),
            _ => None,
        };
        self.by_id(ns).texts.insert(meta.text_hash, &key, position);
        self.insert_but_text(ns, key, meta);
    }

    /// `insert` without the text-hash index, which the load builds on a thread of
    /// its own (`load.rs`).
    fn insert_but_text(&mut self, ns: u32, key: Arc<str>, meta: KeyMeta) {
        let space = self.spaces.get_mut(&ns).expect("namespace ids are never dangling");
        let tier = &mut space.tiers[meta.tier.index()];
        tier.lru.insert(meta.lru_entry(&key));
        tier.add(&meta);
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
