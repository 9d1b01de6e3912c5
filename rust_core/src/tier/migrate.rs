//! `Txn`: one write transaction together with the in-memory view it keeps in step,
//! and the moves between tiers (demotion on overflow, promotion on read).

use crate::archive::{Archive, Pointer};
use crate::config::EngineConfig;
use crate::error::{CoreError, Result};
use crate::lifecycle::{retention, RetentionInput};
use crate::model::{Memory, MemoryView, Tier};
use crate::search::DocInput;
use crate::store::{codec, keys, Store};
use crate::tier::state::{KeyMeta, State};
use heed::RwTxn;
use std::sync::Arc;

/// LRU ties compared by retention score per eviction.
const TIE_SCAN: usize = 64;

/// A write transaction and the state it updates. State changes made through it are
/// only valid if the transaction commits; the writer rebuilds the state from LMDB
/// when a commit fails.
pub struct Txn<'a, 't> {
    /// The store.
    pub store: &'a Store,
    /// The open write transaction.
    pub wtxn: &'a mut RwTxn<'t>,
    /// The in-memory view.
    pub state: &'a mut State,
    /// Engine configuration.
    pub cfg: &'a EngineConfig,
    /// The object-storage archive, if configured: a memory promoted out of ARCHIVE
    /// gets its value back from the archive's cache (no I/O here).
    pub archive: Option<&'a Archive>,
}

impl Txn<'_, '_> {
    /// Reads and decodes one record inside the transaction.
    pub fn read(&self, ns: &Arc<str>, key: &str) -> Result<Option<Memory>> {
        let db_key = keys::db_key(ns, key);
        match self.store.memories.get(self.wtxn, &db_key)? {
            Some(bytes) => {
                Ok(Some(self.store.decode(self.wtxn, ns.clone(), key.to_owned(), bytes, true)?))
            }
            None => Ok(None),
        }
    }

    /// Writes a record and registers it in the state (the key must not be registered).
    pub fn write(&mut self, ns_id: u32, m: &MemoryView) -> Result<()> {
        self.write_record(ns_id, m, true)
    }

    /// As `write`, for a key that has no record: the state, which mirrors every
    /// stored key, did not know it. Skips looking for an old vector to replace.
    pub fn write_new(&mut self, ns_id: u32, m: &MemoryView) -> Result<()> {
        self.write_record(ns_id, m, false)
    }

    fn write_record(&mut self, ns_id: u32, m: &MemoryView, replacing: bool) -> Result<()> {
        let compress = self.cfg.lifecycle.compresses(m.header.tier, m.value.len());
        let bytes = self.store.put_memory(self.wtxn, m, compress, replacing)?;
        let mut meta = KeyMeta::of_record(&codec::decode_header(&bytes)?, &bytes);
        let key: Arc<str> = Arc::from(m.key);
        // Unchanged content (a rewrite of the same memory) only updates the indexed
        // attributes.
        meta.slot = self.state.by_id(ns_id).index.upsert(&key, &DocInput::of(m));
        self.state.insert(ns_id, key, meta);
        Ok(())
    }

    /// Deletes a record and unregisters it; returns its metadata if it existed.
    pub fn delete(&mut self, ns_id: u32, key: &str) -> Result<Option<KeyMeta>> {
        let name = self.state.by_id(ns_id).name.clone();
        self.store.delete_memory(self.wtxn, &name, key)?;
        self.state.by_id(ns_id).index.remove(key);
        Ok(self.state.remove(ns_id, key).map(|(_, meta)| meta))
    }

    /// Rewrites a memory into tier `to`, persisting its in-memory access statistics
    /// and keeping its read history. When the move changes whether the value should
    /// be compressed (`LifecycleConfig::compresses`), the record is re-encoded;
    /// otherwise only its fixed header is patched, and the search index only learns
    /// the new tier. An offloaded memory leaving ARCHIVE becomes local again when
    /// its object is in the archive's cache (a read that promotes has just fetched
    /// it); otherwise it moves with its pointer, and a later read fetches it.
    pub fn move_to(&mut self, ns_id: u32, key: &str, to: Tier) -> Result<()> {
        let name = self.state.by_id(ns_id).name.clone();
        let (last, count, raw) = self
            .state
            .meta_mut(ns_id, key)
            .map(|m| (m.last_access_ms, m.access_count, m.value_raw))
            .ok_or_else(|| CoreError::Internal(format!("{name}/{key} stored but not indexed")))?;
        let db_key = keys::db_key(&name, key);
        let record =
            self.store.memories.get(self.wtxn, &db_key)?.ok_or_else(|| {
                CoreError::Internal(format!("{name}/{key} indexed but not stored"))
            })?;
        let h = codec::decode_header(record)?;
        let local = match self.archive {
            Some(archive) if h.offloaded && to != Tier::Archive => {
                let m = codec::decode(name.clone(), key.to_owned(), record)?;
                archive.cached_value(&Pointer::decode(&m.value)?)
            }
            _ => None,
        };
        let offloaded = h.offloaded && local.is_none();
        let compress = self.cfg.lifecycle.compresses(to, raw as usize);
        let bytes = if offloaded || (local.is_none() && compress == h.compressed) {
            codec::with_tier(record, to, last, count)
        } else {
            let mut m = codec::decode_with(name.clone(), key.to_owned(), record, false)?;
            if let Some(value) = local {
                m.value = value;
                m.header.offloaded = false;
            }
            m.header.tier = to;
            m.header.last_access_ms = last;
            m.header.access_count = count;
            codec::encode_like(record, &m, compress)?
        };
        self.store.memories.put(self.wtxn, &db_key, &bytes)?;
        let (_, stored) = codec::value_sizes(&bytes)?;
        // The access statistics were just written with the record.
        if let Some(meta) = self.state.set_tier(ns_id, key, to, bytes.len(), stored) {
            meta.dirty = false;
            meta.offloaded = offloaded;
        }
        Ok(())
    }

    /// The memory eviction takes next from tier `t`: the first in LRU order (lowest
    /// priority class, least recently used), and among the memories tied with it on
    /// both (a batch written in the same millisecond) the one with the lowest
    /// retention score, then the smallest key. At most `TIE_SCAN` ties are compared,
    /// so a huge batch written at once costs a bounded scan per eviction.
    /// The scores come from the LRU entries' own copy of the retention inputs
    /// (`LruEntry`), not from the key map: no lookup per tie.
    /// Ties with the same inputs as the best so far (a batch's memories usually have
    /// the same importance, creation time and count) cannot beat it: their score is
    /// not computed.
    fn victim(&self, ns_id: u32, t: Tier, now_ms: u64) -> Option<Arc<str>> {
        let space = self.state.namespace_by_id(ns_id)?;
        let mut best: Option<(f64, RetentionInput, &Arc<str>)> = None;
        for entry in space.tiers[t.index()].lru.first_ties(TIE_SCAN) {
            let input = RetentionInput {
                importance: entry.importance,
                created_ms: entry.created_ms,
                last_access_ms: entry.last_access_ms,
                access_count: entry.access_count,
            };
            if best.is_some_and(|(_, seen, _)| seen == input) {
                continue;
            }
            let score = retention::score(&input, now_ms);
            if best.is_none_or(|(s, _, _)| score < s) {
                best = Some((score, input, &entry.key));
            }
        }
        best.map(|(_, _, key)| key.clone())
    }

    /// Brings `from` and every colder tier back within capacity.
    ///
    /// # Algorithm
    ///
    /// While a tier holds more memories than its capacity (0 = unbounded), its
    /// victim (see `LruPolicy`: lowest priority class, then least recently used,
    /// then lowest retention score; `victim`) is demoted one tier colder. A demotion can overfill the next tier, so the loop
    /// then moves on to that tier, down to ARCHIVE, where a victim has nowhere
    /// colder to go and is deleted. Nothing is lost before ARCHIVE.
    ///
    /// Cost: a put or promotion adds one memory to one tier, so it causes at most
    /// one demotion per tier below it (each a read and a rewrite of one record in
    /// the same transaction). A capacity lowered between runs is enforced on the
    /// next write into that tier, demoting the whole overflow at once.
    ///
    /// Returns the number of memories demoted or deleted.
    pub fn enforce_capacity(&mut self, ns_id: u32, from: Tier, now_ms: u64) -> Result<u64> {
        let mut moved = 0;
        let mut tier = Some(from);
        while let Some(t) = tier {
            let capacity = self.cfg.tier(t).capacity;
            while capacity > 0 && self.state.by_id(ns_id).count(t) as u64 > capacity {
                let victim =
                    self.victim(ns_id, t, now_ms).expect("an over-capacity tier is not empty");
                if let Some(colder) = t.colder() {
                    self.move_to(ns_id, &victim, colder)?;
                    self.state.by_id(ns_id).counters(t).demoted_capacity += 1;
                } else {
                    self.delete(ns_id, &victim)?;
                    self.state.by_id(ns_id).counters(t).evicted_capacity += 1;
                }
                moved += 1;
            }
            tier = t.colder();
        }
        Ok(moved)
    }
}
