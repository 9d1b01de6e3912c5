//! `Txn`: one write transaction together with the in-memory view it keeps in step,
//! and the moves between tiers (demotion on overflow, promotion on read).
//!
//! With `pending` set (the writer does it for a put), records are kept here until
//! `flush_pending`, and every read of a record inside the op goes through `record`:
//! a batch put into a full tier demotes most of its own items at once (with the
//! default capacities a 1 000-memory batch into WORKING pushes up to three colder
//! tiers), and each memory then reaches LMDB once, in its final tier, instead of
//! being written and rewritten once per tier it passed through.

use crate::archive::{Archive, Pointer};
use crate::config::EngineConfig;
use crate::error::{CoreError, Result};
use crate::lifecycle::retention;
use crate::model::{Memory, Tier};
use crate::search::DocInput;
use crate::store::{codec, keys, Store};
use crate::tier::state::{KeyMeta, State};
use heed::RwTxn;
use std::sync::Arc;

/// Records of one op not yet in LMDB, by database key. foldhash (seeded per map, as
/// the state's maps are): std's `SipHash` cost a put batch about 4 % of its CPU.
pub type Pending = hashbrown::HashMap<Vec<u8>, Vec<u8>, foldhash::fast::RandomState>;

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
    /// Records written but not yet put into LMDB, by database key (`None`: every
    /// write goes straight to LMDB); see the module documentation.
    pub pending: Option<Pending>,
}

impl Txn<'_, '_> {
    /// The record stored under `db_key` in this transaction, pending or in LMDB.
    pub fn record(&self, db_key: &[u8]) -> Result<Option<&[u8]>> {
        if let Some(bytes) = self.pending.as_ref().and_then(|p| p.get(db_key)) {
            return Ok(Some(bytes));
        }
        Ok(self.store.memories.get(self.wtxn, db_key)?)
    }

    fn put_record(&mut self, db_key: Vec<u8>, bytes: Vec<u8>) -> Result<()> {
        match &mut self.pending {
            Some(pending) => {
                pending.insert(db_key, bytes);
            }
            None => self.store.memories.put(self.wtxn, &db_key, &bytes)?,
        }
        Ok(())
    }

    /// Puts the pending records into LMDB, in key order (sequential B-tree
    /// inserts), and keeps buffering if it was.
    pub fn flush_pending(&mut self) -> Result<()> {
        let Some(pending) = self.pending.as_mut() else { return Ok(()) };
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = pending.drain().collect();
        records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (db_key, bytes) in records {
            self.store.memories.put(self.wtxn, &db_key, &bytes)?;
        }
        Ok(())
    }

    /// Reads and decodes one record inside the transaction.
    pub fn read(&self, ns: &Arc<str>, key: &str) -> Result<Option<Memory>> {
        let db_key = keys::db_key(ns, key);
        match self.record(&db_key)? {
            Some(bytes) => Ok(Some(codec::decode(ns.clone(), key.to_owned(), bytes)?)),
            None => Ok(None),
        }
    }

    /// Writes a record and registers it in the state (the key must not be registered).
    pub fn write(&mut self, ns_id: u32, m: &Memory) -> Result<()> {
        let compress = self.cfg.lifecycle.compresses(m.header.tier, m.value.len());
        let bytes = codec::encode(m, compress);
        let meta = KeyMeta::of_record(&codec::decode_header(&bytes)?, &bytes);
        self.put_record(keys::db_key(&m.namespace, &m.key), bytes)?;
        let key: Arc<str> = Arc::from(m.key.as_str());
        // Unchanged content (a rewrite of the same memory) only updates the indexed
        // attributes.
        self.state.by_id(ns_id).index.upsert(&key, &DocInput::of(m));
        self.state.insert(ns_id, key, meta);
        Ok(())
    }

    /// Deletes a record and unregisters it; returns its metadata if it existed.
    pub fn delete(&mut self, ns_id: u32, key: &str) -> Result<Option<KeyMeta>> {
        let name = self.state.by_id(ns_id).name.clone();
        let db_key = keys::db_key(&name, key);
        if let Some(pending) = &mut self.pending {
            pending.remove(&db_key);
        }
        self.store.memories.delete(self.wtxn, &db_key)?;
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
        let record = self
            .record(&db_key)?
            .ok_or_else(|| CoreError::Internal(format!("{name}/{key} indexed but not stored")))?;
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
            let mut m = codec::decode(name.clone(), key.to_owned(), record)?;
            if let Some(value) = local {
                m.value = value;
                m.header.offloaded = false;
            }
            m.header.tier = to;
            m.header.last_access_ms = last;
            m.header.access_count = count;
            codec::encode(&m, compress)
        };
        let (_, stored) = codec::value_sizes(&bytes)?;
        let size = bytes.len();
        self.put_record(db_key, bytes)?;
        self.state.set_tier(ns_id, key, to, size, stored);
        self.state.by_id(ns_id).index.set_tier(key, to.number());
        // The access statistics were just written with the record.
        if let Some(meta) = self.state.meta_mut(ns_id, key) {
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
    fn victim(&self, ns_id: u32, t: Tier, now_ms: u64) -> Option<Arc<str>> {
        let space = self.state.namespace_by_id(ns_id)?;
        let mut best: Option<(f64, &Arc<str>)> = None;
        for entry in space.tiers[t.index()].lru.first_ties(TIE_SCAN) {
            let score = space
                .keys
                .get(&entry.key)
                .map_or(0.0, |m| retention::score(&m.retention(), now_ms));
            if best.is_none_or(|(s, _)| score < s) {
                best = Some((score, &entry.key));
            }
        }
        best.map(|(_, key)| key.clone())
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
