//! One archive pass: offload, then collect.
//!
//! # Offload
//!
//! 1. Under the state's read lock, list the ARCHIVE memories that qualify: local,
//!    not expired, a value of at least `offload_min_bytes`, and either not accessed
//!    for `offload_after_ms` or a value of at least `offload_large_bytes` (when set).
//! 2. In one LMDB read transaction, read their values (and versions), in batches of
//!    about `object_bytes`, at most `max_objects` batches per pass.
//! 3. Per batch: register a fresh object name (a writer job), pack, compress and seal
//!    the values, upload the object (no lock or transaction held), then commit the
//!    pointers in one writer job; a memory that changed meanwhile keeps its value.
//!
//! # Collection
//!
//! Mark and sweep: one read transaction lists every object a record points at;
//! every registered object not among them (all its memories were deleted, expired,
//! evicted, overwritten, or its pointers never committed) is deleted from the store,
//! then forgotten. It runs under the same lock as offloading, so it never sees an
//! object between its registration and its commit. Cost: a pass over the records'
//! headers, plus the pointer of each offloaded one.

use super::apply::{ArchiveOp, Offloaded};
use super::{object, Archive, Pointer};
use crate::engine::Shared;
use crate::error::Result;
use crate::model::Tier;
use crate::store::{codec, keys};
use std::collections::HashSet;
use std::sync::Arc;

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Memories whose value went to the archive.
    pub offloaded: u64,
    /// Objects uploaded.
    pub objects: u64,
    /// Plaintext bytes uploaded (values, before compression).
    pub bytes: u64,
    /// Objects deleted by collection.
    pub collected: u64,
    /// More memories qualify than this pass offloaded.
    pub more: bool,
}

/// A memory chosen for offloading.
struct Candidate {
    ns: Arc<str>,
    key: Arc<str>,
}

fn candidates(
    shared: &Shared,
    archive: &Archive,
    now_ms: u64,
    budget: usize,
) -> (Vec<Candidate>, bool) {
    let cfg = archive.config();
    let state = shared.state.read().expect("state lock");
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for space in state.namespaces() {
        for (key, meta) in &space.keys {
            let old = now_ms.saturating_sub(meta.last_access_ms) >= cfg.offload_after_ms;
            let large = cfg.offload_large_bytes > 0 && meta.value_raw >= cfg.offload_large_bytes;
            if meta.tier != Tier::Archive
                || meta.offloaded
                || meta.is_expired(now_ms)
                || meta.value_raw < cfg.offload_min_bytes.max(1)
                || !(old || large)
            {
                continue;
            }
            if bytes >= budget {
                return (out, true);
            }
            bytes += meta.value_raw as usize;
            out.push(Candidate { ns: space.name.clone(), key: key.clone() });
        }
    }
    (out, false)
}

/// Values to upload, one batch per object: `(ns, key, version, value)`.
type Batch = Vec<(Arc<str>, Arc<str>, u64, Vec<u8>)>;

fn read_batches(shared: &Shared, archive: &Archive, chosen: Vec<Candidate>) -> Result<Vec<Batch>> {
    let target = archive.config().object_bytes;
    let rtxn = shared.store.env.read_txn()?;
    let mut batches: Vec<Batch> = vec![Vec::new()];
    let mut size = 0;
    for c in chosen {
        let Some(record) = shared.store.memories.get(&rtxn, &keys::db_key(&c.ns, &c.key))? else {
            continue;
        };
        let m = codec::decode(c.ns.clone(), c.key.to_string(), record)?;
        if m.header.offloaded || m.header.tier != Tier::Archive {
            continue;
        }
        if size >= target {
            batches.push(Vec::new());
            size = 0;
        }
        size += m.value.len();
        batches.last_mut().expect("one batch at least").push((
            c.ns,
            c.key,
            m.header.version,
            m.value,
        ));
    }
    batches.retain(|b| !b.is_empty());
    Ok(batches)
}

fn upload(shared: &Shared, archive: &Archive, batch: Batch, now_ms: u64) -> Result<(u64, u64)> {
    let name = archive.new_object_name();
    shared.submit_archive(ArchiveOp::Register { names: vec![name.clone()], now_ms })?;
    let (packed, offsets) = object::pack(batch.iter().map(|(_, _, _, v)| v.as_slice()));
    let sealed = archive.cfg.keyring.seal(&name, &packed);
    archive.s3.put(&name, &sealed, now_ms)?;
    let bytes: u64 = batch.iter().map(|(_, _, _, v)| v.len() as u64).sum();
    let items = batch
        .into_iter()
        .zip(offsets)
        .map(|((ns, key, version, value), offset)| Offloaded {
            ns: ns.to_string(),
            key: key.to_string(),
            version,
            pointer: Pointer { object: name.clone(), offset, len: value.len() as u32 }.encode(),
        })
        .collect();
    let n = shared.submit_archive(ArchiveOp::Commit(items))?;
    Ok((n, bytes))
}

/// Object names some record points at, and the registered ones none does.
fn unreferenced(shared: &Shared) -> Result<Vec<String>> {
    let rtxn = shared.store.env.read_txn()?;
    if shared.store.archive_objects.is_empty(&rtxn)? {
        return Ok(Vec::new());
    }
    let mut used = HashSet::new();
    for entry in shared.store.memories.iter(&rtxn)? {
        let (_, record) = entry?;
        if codec::decode_header(record)?.offloaded {
            let ptr = codec::decode(Arc::from(""), String::new(), record)?;
            used.insert(Pointer::decode(&ptr.value)?.object);
        }
    }
    let mut out = Vec::new();
    for entry in shared.store.archive_objects.iter(&rtxn)? {
        let (name, _) = entry?;
        let name = String::from_utf8_lossy(name).into_owned();
        if !used.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn collect(shared: &Shared, archive: &Archive, now_ms: u64) -> Result<u64> {
    let garbage = unreferenced(shared)?;
    let mut deleted = Vec::with_capacity(garbage.len());
    for name in garbage {
        archive.s3.delete(&name, now_ms)?;
        archive.cache.remove(&name);
        deleted.push(name);
    }
    if deleted.is_empty() {
        return Ok(0);
    }
    shared.submit_archive(ArchiveOp::Forget(deleted))
}

/// Runs one pass (see the module documentation). Without a configured archive it
/// does nothing. An unreachable store fails the pass with `Unavailable` after what
/// was already committed; the next pass resumes.
pub(crate) fn run_pass(shared: &Shared, now_ms: u64) -> Result<ArchiveReport> {
    let Some(archive) = shared.archive() else { return Ok(ArchiveReport::default()) };
    let _one_pass = archive.run.lock().expect("archive pass lock");
    let budget = archive.cfg.object_bytes.saturating_mul(archive.cfg.max_objects);
    let (chosen, more) = candidates(shared, &archive, now_ms, budget);
    let mut report = ArchiveReport { more, ..ArchiveReport::default() };
    for batch in read_batches(shared, &archive, chosen)? {
        let (n, bytes) = upload(shared, &archive, batch, now_ms)?;
        report.offloaded += n;
        report.objects += 1;
        report.bytes += bytes;
    }
    report.collected = collect(shared, &archive, now_ms)?;
    Ok(report)
}
