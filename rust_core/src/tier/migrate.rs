//! `Txn`: one write transaction together with the in-memory view it keeps in step,
//! and the moves between tiers (demotion on overflow, promotion on read).

use crate::config::EngineConfig;
use crate::error::{CoreError, Result};
use crate::model::{Memory, Tier};
use crate::search::DocInput;
use crate::store::{codec, keys, Store};
use crate::tier::state::{KeyMeta, State};
use heed::RwTxn;
use std::sync::Arc;

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
}

impl Txn<'_, '_> {
    /// Reads and decodes one record inside the transaction.
    pub fn read(&self, ns: &Arc<str>, key: &str) -> Result<Option<Memory>> {
        let db_key = keys::db_key(ns, key);
        match self.store.memories.get(self.wtxn, &db_key)? {
            Some(bytes) => Ok(Some(codec::decode(ns.clone(), key.to_owned(), bytes)?)),
            None => Ok(None),
        }
    }

    /// Writes a record and registers it in the state (the key must not be registered).
    pub fn write(&mut self, ns_id: u32, m: &Memory) -> Result<()> {
        let bytes = codec::encode(m);
        self.store.memories.put(self.wtxn, &keys::db_key(&m.namespace, &m.key), &bytes)?;
        let meta = KeyMeta::from_header(&m.header, bytes.len());
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
        self.store.memories.delete(self.wtxn, &keys::db_key(&name, key))?;
        self.state.by_id(ns_id).index.remove(key);
        Ok(self.state.remove(ns_id, key).map(|(_, meta)| meta))
    }

    /// Rewrites a memory into tier `to`, persisting its in-memory access statistics
    /// and keeping its read history. Entering ARCHIVE compresses the value and leaving
    /// it decompresses (a full re-encode); every other move patches the fixed header
    /// of the stored record, and the search index only learns the new tier.
    pub fn move_to(&mut self, ns_id: u32, key: &str, to: Tier) -> Result<()> {
        let name = self.state.by_id(ns_id).name.clone();
        let (last, count) = self
            .state
            .meta_mut(ns_id, key)
            .map(|m| (m.last_access_ms, m.access_count))
            .ok_or_else(|| CoreError::Internal(format!("{name}/{key} stored but not indexed")))?;
        let db_key = keys::db_key(&name, key);
        let record =
            self.store.memories.get(self.wtxn, &db_key)?.ok_or_else(|| {
                CoreError::Internal(format!("{name}/{key} indexed but not stored"))
            })?;
        let from = codec::decode_header(record)?.tier;
        let bytes = if (from == Tier::Archive) == (to == Tier::Archive) {
            codec::with_tier(record, to, last, count)
        } else {
            let mut m = codec::decode(name.clone(), key.to_owned(), record)?;
            m.header.tier = to;
            m.header.last_access_ms = last;
            m.header.access_count = count;
            codec::encode(&m)
        };
        self.store.memories.put(self.wtxn, &db_key, &bytes)?;
        self.state.set_tier(ns_id, key, to, bytes.len());
        self.state.by_id(ns_id).index.set_tier(key, to.number());
        // The access statistics were just written with the record.
        if let Some(meta) = self.state.meta_mut(ns_id, key) {
            meta.dirty = false;
        }
        Ok(())
    }

    /// Brings `from` and every colder tier back within capacity.
    ///
    /// # Algorithm
    ///
    /// While a tier holds more memories than its capacity (0 = unbounded), its
    /// victim (see `LruPolicy`: lowest priority class, then least recently used) is
    /// demoted one tier colder. A demotion can overfill the next tier, so the loop
    /// then moves on to that tier, down to ARCHIVE, where a victim has nowhere
    /// colder to go and is deleted. Nothing is lost before ARCHIVE.
    ///
    /// Cost: a put or promotion adds one memory to one tier, so it causes at most
    /// one demotion per tier below it (each a read and a rewrite of one record in
    /// the same transaction). A capacity lowered between runs is enforced on the
    /// next write into that tier, demoting the whole overflow at once.
    ///
    /// Returns the number of memories demoted or deleted.
    pub fn enforce_capacity(&mut self, ns_id: u32, from: Tier) -> Result<u64> {
        let mut moved = 0;
        let mut tier = Some(from);
        while let Some(t) = tier {
            let capacity = self.cfg.tier(t).capacity;
            while capacity > 0 && self.state.by_id(ns_id).count(t) as u64 > capacity {
                let victim = self.state.by_id(ns_id).tiers[t.index()]
                    .lru
                    .victim()
                    .map(|v| v.key.clone())
                    .expect("an over-capacity tier is not empty");
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
