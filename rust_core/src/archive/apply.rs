//! The archive's writes, applied by the writer inside its transaction like every
//! other op: registering an object before its upload, committing pointers after
//! it, forgetting collected objects. None of them does network I/O.
//!
//! `archive_objects` (`store/env.rs`): object name -> u64 LE time it was registered.
//! Registering before uploading makes every object memd may have written known to
//! the collector, including one whose upload succeeded but whose pointers never
//! committed (a crash, a failed commit).

use crate::error::Result;
use crate::model::Tier;
use crate::store::{codec, keys};
use crate::tier::migrate::Txn;

/// A value uploaded into an object, to point at if the memory is unchanged.
#[derive(Debug, Clone)]
pub struct Offloaded {
    /// Namespace.
    pub ns: String,
    /// Key.
    pub key: String,
    /// The version whose value was uploaded.
    pub version: u64,
    /// The encoded `Pointer`.
    pub pointer: Vec<u8>,
}

/// A write of the archive.
#[derive(Debug)]
pub enum ArchiveOp {
    /// Record object names about to be uploaded.
    Register {
        /// Object names.
        names: Vec<String>,
        /// Registration time.
        now_ms: u64,
    },
    /// Replace the values of memories still as uploaded by their pointers.
    Commit(Vec<Offloaded>),
    /// Remove collected objects' names.
    Forget(Vec<String>),
}

/// Applies one archive op; returns how many items it changed.
pub fn apply(txn: &mut Txn, op: &ArchiveOp) -> Result<u64> {
    match op {
        ArchiveOp::Register { names, now_ms } => {
            for name in names {
                txn.store.archive_objects.put(txn.wtxn, name.as_bytes(), &now_ms.to_le_bytes())?;
            }
            Ok(names.len() as u64)
        }
        ArchiveOp::Commit(items) => {
            let mut n = 0;
            for item in items {
                n += u64::from(commit_one(txn, item)?);
            }
            Ok(n)
        }
        ArchiveOp::Forget(names) => {
            for name in names {
                txn.store.archive_objects.delete(txn.wtxn, name.as_bytes())?;
            }
            Ok(names.len() as u64)
        }
    }
}

/// Points one memory at its uploaded value, if it is still the version uploaded,
/// in ARCHIVE and local. A memory changed, moved or deleted since is left alone;
/// its copy in the object is garbage once nothing points at the object.
fn commit_one(txn: &mut Txn, item: &Offloaded) -> Result<bool> {
    let Some(ns_id) = txn.state.namespace(&item.ns).map(|s| s.id) else { return Ok(false) };
    let db_key = keys::db_key(&item.ns, &item.key);
    let Some(record) = txn.store.memories.get(txn.wtxn, &db_key)? else { return Ok(false) };
    let h = codec::decode_header(record)?;
    if h.version != item.version || h.tier != Tier::Archive || h.offloaded {
        return Ok(false);
    }
    let name = txn.state.by_id(ns_id).name.clone();
    let mut m = codec::decode_with(name, item.key.clone(), record, false)?;
    m.value.clone_from(&item.pointer);
    m.header.offloaded = true;
    m.header.compressed = false;
    let bytes = codec::encode_like(record, &m, false)?;
    txn.store.memories.put(txn.wtxn, &db_key, &bytes)?;
    let (_, stored) = codec::value_sizes(&bytes)?;
    txn.state.set_tier(ns_id, &item.key, Tier::Archive, bytes.len(), stored);
    if let Some(meta) = txn.state.meta_mut(ns_id, &item.key) {
        meta.offloaded = true;
    }
    Ok(true)
}
