//! `Engine::transfer`: moving or copying memories into another namespace.
//!
//! One writer job, so one transaction: a transfer is atomic. It is applied in two
//! passes. The first decides, from the in-memory view and the record headers only,
//! what happens to each memory: transferred, skipped (its key is live in the target,
//! or its embedding has the wrong dimension, by the request's choice) or missing;
//! a `Fail` choice that applies ends the job there, before anything was written, so
//! the group commit's other jobs are unaffected. The second pass reads, rewrites and
//! (for a move) deletes each memory; only a storage failure can stop it, and that
//! aborts the whole transaction.
//!
//! A transferred memory is the same memory under another namespace: same key,
//! content, tier and history (times, access count, version, expiry), with the access
//! statistics the source had in memory. Dedup does not apply (as for an import).
//! The target's tiers are then brought back within capacity, which may demote or
//! evict the target's own least recently used memories (counted in the report).

use super::apply::{Op, Reply};
use super::Engine;
use crate::error::{CoreError, Result};
use crate::model::Tier;
use crate::store::{codec, keys};
use crate::tier::migrate::Txn;
use crate::validate;
use std::collections::HashSet;
use std::sync::Arc;

/// What to do when a key is live in the target already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Conflict {
    /// Transfer nothing: `AlreadyExists`.
    #[default]
    Fail,
    /// Leave that memory where it is.
    Skip,
    /// Replace the target's memory.
    Overwrite,
}

/// What to do with an embedding of another dimension than the target's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DimensionMismatch {
    /// Transfer nothing: `InvalidArgument`.
    #[default]
    Fail,
    /// Leave that memory where it is.
    Skip,
    /// Transfer the memory without its embedding.
    DropEmbedding,
}

/// A transfer.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferRequest {
    /// Source namespace (must exist).
    pub source: String,
    /// Target namespace (another one; created if missing).
    pub target: String,
    /// The keys (duplicates count once); `None`: every live memory of the source.
    pub keys: Option<Vec<String>>,
    /// Move (remove from the source) rather than copy.
    pub moving: bool,
    /// Key collisions.
    pub on_conflict: Conflict,
    /// Dimension mismatches.
    pub on_dimension: DimensionMismatch,
    /// The request's time (what is expired).
    pub now_ms: u64,
}

/// What a transfer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferReport {
    /// Memories written into the target.
    pub transferred: u64,
    /// Of those, replacing a memory of the target.
    pub overwritten: u64,
    /// Of those, without their embedding.
    pub dropped_embeddings: u64,
    /// Left in place: the key is live in the target.
    pub skipped_existing: u64,
    /// Left in place: the embedding's dimension.
    pub skipped_dimension: u64,
    /// Requested keys missing or expired in the source.
    pub missing: u64,
    /// Target memories demoted or evicted by capacity afterwards.
    pub demoted_by_capacity: u64,
}

impl Engine {
    /// Moves or copies memories between namespaces, atomically; see the module
    /// documentation. `NotFound` for an unknown source, `AlreadyExists` or
    /// `InvalidArgument` for a conflict the request says to fail on.
    pub fn transfer(&self, req: &TransferRequest) -> Result<TransferReport> {
        let shared = self.shared()?;
        let limits = &shared.cfg.limits;
        validate::namespace(&req.source, limits)?;
        validate::namespace(&req.target, limits)?;
        if req.source == req.target {
            return Err(CoreError::invalid("the target namespace is the source"));
        }
        if let Some(keys) = &req.keys {
            if keys.is_empty() {
                return Err(CoreError::invalid(
                    "no keys to transfer: name the keys, or ask for the whole namespace",
                ));
            }
            validate::batch_len(keys.len(), limits)?;
            for key in keys {
                validate::key(key, limits, false)?;
            }
        }
        let Reply::Transferred(report) = shared.submit(Op::Transfer(Box::new(req.clone())))? else {
            unreachable!("transfer replies Transferred")
        };
        Ok(report)
    }
}

/// One memory the second pass writes.
struct Planned {
    key: Arc<str>,
    /// The target holds a record under this key (live or expired) to remove first.
    replaces: bool,
    drop_embedding: bool,
}

/// Applies a transfer inside the writer's transaction (`Op::Transfer`).
pub(super) fn apply(txn: &mut Txn, req: &TransferRequest) -> Result<Reply> {
    let (plan, mut report, dim) = decide(txn, req)?;
    if plan.is_empty() {
        // Nothing to write: in particular, no target namespace is created.
        return Ok(Reply::Transferred(report));
    }
    let existing = txn.state.namespace(&req.target).map(|t| t.dim);
    let (target_id, target_name) = {
        let space = txn.state.ensure(&req.target);
        space.dim = dim;
        (space.id, space.name.clone())
    };
    if existing != Some(dim) {
        txn.store.put_namespace(txn.wtxn, &req.target, dim)?;
    }
    let source = txn.state.namespace(&req.source).expect("decide checked it");
    let (source_id, source_name) = (source.id, source.name.clone());
    let now_ms = req.now_ms;
    for p in plan {
        let meta = txn.state.by_id(source_id).keys.get(&p.key).cloned();
        let meta =
            meta.ok_or_else(|| CoreError::Internal(format!("{source_name}/{} vanished", p.key)))?;
        let mut m = txn.read(&source_name, &p.key)?.ok_or_else(|| {
            CoreError::Internal(format!("{source_name}/{} indexed but not stored", p.key))
        })?;
        // The in-memory statistics may be newer than the record (until a flush).
        m.header.last_access_ms = m.header.last_access_ms.max(meta.last_access_ms);
        m.header.access_count = m.header.access_count.max(meta.access_count);
        if p.drop_embedding {
            m.embedding = None;
            m.header.dim = 0;
        }
        m.namespace = target_name.clone();
        if p.replaces {
            if let Some(old) = txn.delete(target_id, &p.key)? {
                if old.is_expired(now_ms) {
                    txn.state.by_id(target_id).counters(old.tier).expired_lazy += 1;
                }
            }
        }
        txn.write(target_id, &m.view())?;
        txn.state.by_id(target_id).counters(m.header.tier).transferred_in += 1;
        if req.moving {
            txn.delete(source_id, &p.key)?;
            txn.state.by_id(source_id).counters(meta.tier).transferred_out += 1;
        }
        report.transferred += 1;
    }
    report.demoted_by_capacity = txn.enforce_capacity(target_id, Tier::Working, now_ms)?;
    Ok(Reply::Transferred(report))
}

/// The first pass: what happens to each memory, the counts of what is skipped or
/// missing, and the target's dimension afterwards. Writes nothing.
fn decide(txn: &Txn, req: &TransferRequest) -> Result<(Vec<Planned>, TransferReport, u32)> {
    let now_ms = req.now_ms;
    let source = txn
        .state
        .namespace(&req.source)
        .ok_or_else(|| CoreError::NotFound(format!("namespace {:?} does not exist", req.source)))?;
    let target = txn.state.namespace(&req.target);
    let keys: Vec<Arc<str>> = match &req.keys {
        // Key order, so that the first conflict reported is always the same one.
        None => {
            let mut all: Vec<Arc<str>> = source.keys.keys().cloned().collect();
            all.sort_unstable();
            all
        }
        Some(keys) => {
            let mut seen = HashSet::with_capacity(keys.len());
            keys.iter().filter(|k| seen.insert(k.as_str())).map(|k| Arc::from(k.as_str())).collect()
        }
    };
    let mut dim = target.map_or(0, |t| t.dim);
    let mut report = TransferReport::default();
    let mut plan = Vec::with_capacity(keys.len());
    let prefix = keys::namespace_prefix(&source.name);
    let mut db_key = prefix.clone();
    for key in keys {
        if source.keys.get(&key).is_none_or(|m| m.is_expired(now_ms)) {
            report.missing += 1;
            continue;
        }
        let held = target.and_then(|t| t.keys.get(&key));
        let live_there = held.is_some_and(|m| !m.is_expired(now_ms));
        if live_there {
            match req.on_conflict {
                Conflict::Fail => {
                    return Err(CoreError::AlreadyExists(format!(
                        "key {key:?} is already in namespace {:?}; nothing was transferred \
                         (on_conflict: skip or overwrite)",
                        req.target
                    )))
                }
                Conflict::Skip => {
                    report.skipped_existing += 1;
                    continue;
                }
                Conflict::Overwrite => report.overwritten += 1,
            }
        }
        db_key.truncate(prefix.len());
        db_key.extend_from_slice(key.as_bytes());
        let record = txn.store.memories.get(txn.wtxn, &db_key)?.ok_or_else(|| {
            CoreError::Internal(format!("{}/{key} indexed but not stored", source.name))
        })?;
        let got = codec::decode_header(record)?.dim;
        let mut drop_embedding = false;
        if got != 0 && dim != 0 && got != dim {
            match req.on_dimension {
                DimensionMismatch::Fail => {
                    return Err(CoreError::invalid(format!(
                        "key {key:?} has a {got}-dimensional embedding; namespace {:?} uses \
                         {dim}; nothing was transferred (on_dimension_mismatch: skip or \
                         drop_embedding)",
                        req.target
                    )))
                }
                DimensionMismatch::Skip => {
                    report.skipped_dimension += 1;
                    report.overwritten -= u64::from(live_there);
                    continue;
                }
                DimensionMismatch::DropEmbedding => {
                    drop_embedding = true;
                    report.dropped_embeddings += 1;
                }
            }
        } else if dim == 0 {
            dim = got;
        }
        plan.push(Planned { key, replaces: held.is_some(), drop_embedding });
    }
    Ok((plan, report, dim))
}
