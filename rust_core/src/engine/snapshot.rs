//! A partition's copy, for cluster mode's log compaction: read on a node that holds
//! the partition (`Engine::read_partition`), installed on one whose log entries are
//! gone (`Engine::install_partition`).
//!
//! The copy is the partition's namespaces as LMDB holds them, byte for byte: their
//! `namespaces` entries, records, packed vector groups and free-group list. Copying
//! records through the write path instead (a store with history, as a Transfer does)
//! would not be exact: vector slots are allocated in the order memories were stored
//! and freed, so the vector groups of a replayed copy differ from the original's.
//!
//! Reading takes one LMDB read transaction, so the copy is of one committed state; the
//! caller holds the partition's log still meanwhile and names the sequence it applied.
//! Installing is one writer job, so ONE transaction: the partition's namespaces this
//! store held are deleted, the copy's records put, and (the job's mark) the
//! partition's applied sequence set to the copy's; a crash leaves either the old state
//! and its old mark, or the copy and its sequence. The in-memory view of the installed
//! namespaces is then loaded from the transaction, as an open would
//! (`State::load_namespace`); if the commit fails, the writer rebuilds the whole view
//! from LMDB, as after any failed commit.

use super::apply::{Op, Reply};
use super::snapshot_wire::{self, Chunk, Database, StoreRecord};
use super::Engine;
use crate::error::Result;
use crate::store::{keys, Store};
use crate::tier::migrate::Txn;
use crate::validate;
use heed::RoTxn;
use prost::Message;
use std::ops::Bound;

/// What `Op::Install` writes.
#[derive(Debug)]
pub struct Install {
    /// Namespaces deleted first: those this store holds in the partition, and the copy's.
    pub replace: Vec<String>,
    /// The copy's namespaces.
    pub names: Vec<String>,
    /// The copy's records.
    pub records: Vec<StoreRecord>,
}

impl Engine {
    /// Reads namespaces `names` (a partition's, as the caller knows them) in one read
    /// transaction, as chunks of `memd.v1.PartitionSnapshotChunk` of about
    /// `chunk_bytes` each, all carrying `sequence`. Names this store does not hold are
    /// left out of the copy's list.
    pub fn read_partition(
        &self,
        names: &[String],
        sequence: u64,
        chunk_bytes: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let shared = self.shared_quietly()?;
        for name in names {
            validate::namespace(name, &shared.cfg.limits)?;
        }
        let rtxn = shared.store.env.read_txn()?;
        let mut out = Chunks { sequence, limit: chunk_bytes.max(1), done: Vec::new(), open: None };
        let mut held = Vec::new();
        for name in names {
            if read_namespace(&shared.store, &rtxn, name, &mut out)? {
                held.push(name.clone());
            }
        }
        let mut chunks = out.finish();
        chunks[0].namespaces = held;
        Ok(chunks.iter().map(Message::encode_to_vec).collect())
    }

    /// Installs a partition's copy (`read_partition`'s chunks) in place of the
    /// partition's namespaces `held` (those this store holds now), in one transaction
    /// with the caller's mark. Returns the copy's sequence.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` when the chunks do not make one copy (`snapshot_wire::decode`)
    /// or name an invalid namespace; nothing changes then.
    pub fn install_partition(&self, chunks: &[&[u8]], held: &[String]) -> Result<u64> {
        let shared = self.shared_quietly()?;
        let (sequence, names, records) = snapshot_wire::decode(chunks)?;
        for name in held.iter().chain(&names) {
            validate::namespace(name, &shared.cfg.limits)?;
        }
        let mut replace: Vec<String> = held.iter().chain(&names).cloned().collect();
        replace.sort_unstable();
        replace.dedup();
        let install = Install { replace, names, records };
        let Reply::Count(_) = shared.submit(Op::Install(Box::new(install)))? else {
            unreachable!("install replies Count")
        };
        Ok(sequence)
    }
}

/// Chunks being filled.
struct Chunks {
    sequence: u64,
    limit: usize,
    done: Vec<Chunk>,
    open: Option<(Chunk, usize)>,
}

impl Chunks {
    fn push(&mut self, database: Database, key: &[u8], value: &[u8]) {
        let (size, sequence) = (key.len() + value.len() + 16, self.sequence);
        let (chunk, bytes) = self.open.get_or_insert_with(|| {
            (Chunk { sequence, namespaces: Vec::new(), records: Vec::new() }, 0)
        });
        let record =
            StoreRecord { database: database as i32, key: key.to_vec(), value: value.to_vec() };
        chunk.records.push(record);
        *bytes += size;
        if *bytes >= self.limit {
            let (full, _) = self.open.take().expect("just filled");
            self.done.push(full);
        }
    }

    /// At least one chunk, even for an empty copy (it carries the sequence).
    fn finish(mut self) -> Vec<Chunk> {
        if let Some((chunk, _)) = self.open.take() {
            self.done.push(chunk);
        }
        if self.done.is_empty() {
            self.done.push(Chunk {
                sequence: self.sequence,
                namespaces: Vec::new(),
                records: Vec::new(),
            });
        }
        self.done
    }
}

/// The keys of `name` in a database keyed `name ++ 0x00 ++ ...`.
fn range_of(name: &str) -> (Vec<u8>, Vec<u8>) {
    let mut end = name.as_bytes().to_vec();
    end.push(1);
    (keys::namespace_prefix(name), end)
}

/// Adds namespace `name`'s records to `out`; false when the store does not hold it.
fn read_namespace(store: &Store, rtxn: &RoTxn, name: &str, out: &mut Chunks) -> Result<bool> {
    let mut held = false;
    if let Some(value) = store.namespaces.get(rtxn, name.as_bytes())? {
        out.push(Database::Namespaces, name.as_bytes(), value);
        held = true;
    }
    let (start, end) = range_of(name);
    let range = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
    for (db, database) in [
        (store.memories, Database::Memories),
        (store.vectors.groups, Database::Vectors),
        (store.vectors.free, Database::VectorFree),
    ] {
        for entry in db.range(rtxn, &range)? {
            let (key, value) = entry?;
            out.push(database, key, value);
            held = true;
        }
    }
    Ok(held)
}

/// Applies an install inside the writer's transaction (`Op::Install`, module docs).
pub(super) fn apply(txn: &mut Txn, install: &Install) -> Result<Reply> {
    for name in &install.replace {
        let (start, end) = range_of(name);
        let range = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
        txn.store.memories.delete_range(txn.wtxn, &range)?;
        txn.store.vectors.drop_namespace(txn.wtxn, name)?;
        txn.store.namespaces.delete(txn.wtxn, name.as_bytes())?;
        txn.state.drop_namespace(name);
    }
    let mut memories = 0;
    for record in &install.records {
        let db = match Database::try_from(record.database) {
            Ok(Database::Namespaces) => txn.store.namespaces,
            Ok(Database::Memories) => {
                memories += 1;
                txn.store.memories
            }
            Ok(Database::Vectors) => txn.store.vectors.groups,
            // Checked by `snapshot_wire::decode`: only the free list is left.
            _ => txn.store.vectors.free,
        };
        db.put(txn.wtxn, &record.key, &record.value)?;
    }
    for name in &install.names {
        txn.state.load_namespace(txn.store, txn.wtxn, name)?;
    }
    Ok(Reply::Count(memories))
}
