//! The write operations, applied inside the writer's transaction (`Txn`). Each op
//! checks everything it can before its first write, so an op-level error leaves the
//! transaction as it found it. Put, the largest, is in `put.rs`.

use crate::error::{CoreError, Result};
use crate::lifecycle::{decide, retention, Decision, Jobs, PolicyAction, Rule, Subject, Verdict};
use crate::model::{NewMemory, Tier};
use crate::store::{codec, keys, keys::KeyGen};
use crate::tier::migrate::Txn;
use std::ops::Bound;

/// Why a read promotes a memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// Read at least `promote_min_reads` times within the window.
    Frequency,
    /// Importance above `promote_importance`.
    Importance,
}

/// A write operation.
#[derive(Debug)]
pub enum Op {
    /// Store validated items `(index in the caller's batch, item)`; `model`: the
    /// server's embedder made some of their vectors (recorded with the namespace).
    Put {
        ns: String,
        items: Vec<(usize, NewMemory)>,
        now_ms: u64,
        atomic: bool,
        model: Option<String>,
    },
    /// Delete keys (expired ones are removed too, but reported as absent). With
    /// `unchanged`, key `i` is deleted only while its record still has the version
    /// and update time `unchanged[i]` (a cross-partition move's last step).
    Delete { ns: String, keys: Vec<String>, now_ms: u64, unchanged: Option<Vec<(u64, u64)>> },
    /// Move memories one tier warmer if they are still in the given tier.
    Promote { ns: String, keys: Vec<(String, Tier, Promotion)>, now_ms: u64 },
    /// Apply planned lifecycle decisions that still hold (`engine/lifecycle.rs`).
    Lifecycle { ns: String, planned: Vec<(String, Decision)>, jobs: Jobs, now_ms: u64 },
    /// Remove memories a read found expired (if they still are).
    Expire { ns: String, keys: Vec<String>, now_ms: u64 },
    /// Remove up to `max` expired memories.
    Sweep { now_ms: u64, max: usize },
    /// Remove up to `max` expired memories of the namespaces `names` (`sweep.rs`).
    SweepNamespaces { names: Vec<String>, now_ms: u64, max: usize },
    /// Delete a namespace.
    DropNamespace { ns: String },
    /// Persist access statistics now.
    Flush,
    /// Insert or replace an access token record (checked by the caller).
    PutToken { digest: Vec<u8>, record: Vec<u8> },
    /// Remove an access token record.
    DeleteToken { digest: Vec<u8> },
    /// Move or copy memories to another namespace (`transfer.rs`).
    Transfer(Box<super::TransferRequest>),
    /// Delete every memory of one tier, or all, of a namespace (`clear.rs`).
    Clear { ns: String, tier: Option<Tier> },
    /// A write of the object-storage archive (`archive/apply.rs`).
    Archive(crate::archive::apply::ArchiveOp),
    /// Cluster mode's logged reads and promotions (`touch.rs`).
    Touch { entry: Box<super::touch_wire::TouchEntry>, now_ms: u64 },
    /// Cluster mode's group commit: puts applied in order, each on its own; `after`
    /// and `refused` as in `grouped.rs` (`None` ops: nothing to apply).
    Group { ops: Vec<Option<Op>>, after: Vec<Option<usize>>, refused: Vec<bool> },
    /// Cluster mode: a partition's copy replaces its namespaces (`snapshot.rs`).
    Install(Box<super::snapshot::Install>),
}

/// A stored put item.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The key written (the existing memory's key when merged).
    pub key: String,
    /// Its new version.
    pub version: u64,
    /// Its tier after the whole batch, when the writer knows it without a lookup
    /// (no item of the batch moved or replaced another); `None`: look it up.
    pub tier: Option<Tier>,
    /// Merged into the existing memory `key` (dedup) instead of adding one.
    pub merged: bool,
    /// A near-duplicate found in flag mode.
    pub similar_to: Option<String>,
}

/// Outcome of one put item, or why it was rejected.
pub type ItemOutcome = std::result::Result<Stored, CoreError>;

/// What a lifecycle batch did: per planned item, `(tier before, retention score)`
/// when applied, and how many other memories capacity moved as a consequence.
#[derive(Debug, Default)]
pub struct Applied {
    /// Per planned item, in order.
    pub items: Vec<Option<(Tier, f64)>>,
    /// Demotions and evictions the moves caused.
    pub cascaded: u64,
}

/// Replies, one variant per op.
#[derive(Debug)]
pub enum Reply {
    /// Per item, in the order given.
    Put(Vec<ItemOutcome>),
    /// Per key: removed?
    Deleted(Vec<bool>),
    /// Per key: the new tier, if moved.
    Promoted(Vec<Option<Tier>>),
    /// A count (expired, dropped, flushed).
    Count(u64),
    /// Sweep: removed, and whether more have expired.
    Swept(u64, bool),
    /// Lifecycle batch.
    Lifecycle(Applied),
    /// Transfer.
    Transferred(super::TransferReport),
    /// Touch: memories touched, memories promoted.
    Touched(u64, u64),
    /// Group: per op, its reply (`None`: nothing was applied for it).
    Group(Vec<Option<Result<Reply>>>),
}

/// Applies one op.
pub fn apply(txn: &mut Txn, keygen: &mut KeyGen, op: &Op) -> Result<Reply> {
    match op {
        Op::Put { ns, items, now_ms, atomic, model } => {
            super::put::put(txn, keygen, ns, items, *now_ms, *atomic, model.as_deref())
        }
        Op::Delete { ns, keys, now_ms, unchanged } => {
            delete(txn, ns, keys, *now_ms, unchanged.as_deref())
        }
        Op::Promote { ns, keys, now_ms } => promote(txn, ns, keys, *now_ms),
        Op::Lifecycle { ns, planned, jobs, now_ms } => {
            lifecycle(txn, ns, planned, *jobs, *now_ms).map(Reply::Lifecycle)
        }
        Op::Expire { ns, keys, now_ms } => expire(txn, ns, keys, *now_ms),
        Op::Sweep { now_ms, max } => sweep(txn, *now_ms, *max),
        Op::SweepNamespaces { names, now_ms, max } => {
            super::sweep::apply(txn, names, *now_ms, *max)
        }
        Op::DropNamespace { ns } => drop_namespace(txn, ns),
        Op::Flush => flush_access(txn).map(Reply::Count),
        Op::PutToken { digest, record } => {
            txn.store.put_token(txn.wtxn, digest, record).map(|()| Reply::Count(1))
        }
        Op::DeleteToken { digest } => {
            txn.store.delete_token(txn.wtxn, digest).map(|found| Reply::Count(found.into()))
        }
        Op::Transfer(req) => super::transfer::apply(txn, req),
        Op::Clear { ns, tier } => super::clear::apply(txn, ns, *tier),
        Op::Archive(op) => crate::archive::apply::apply(txn, op).map(Reply::Count),
        Op::Touch { entry, now_ms } => super::touch::apply(txn, entry, *now_ms),
        Op::Group { ops, after, refused } => {
            super::grouped::apply_group(txn, keygen, ops, after, refused)
        }
        Op::Install(install) => super::snapshot::apply(txn, install),
    }
}

fn namespace_id(txn: &Txn, ns: &str) -> Option<u32> {
    txn.state.namespace(ns).map(|s| s.id)
}

fn delete(
    txn: &mut Txn,
    ns: &str,
    keys: &[String],
    now_ms: u64,
    unchanged: Option<&[(u64, u64)]>,
) -> Result<Reply> {
    let Some(ns_id) = namespace_id(txn, ns) else {
        return Ok(Reply::Deleted(vec![false; keys.len()]));
    };
    let mut out = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if let Some(expected) = unchanged {
            if !still_unchanged(txn, ns, key, expected[i])? {
                out.push(false);
                continue;
            }
        }
        let removed = txn.delete(ns_id, key)?;
        // An expired memory is already gone as far as clients can tell: remove it,
        // count it as expired, and report that nothing live was deleted.
        let live = removed.as_ref().is_some_and(|m| !m.is_expired(now_ms));
        if let Some(meta) = &removed {
            let counters = txn.state.by_id(ns_id).counters(meta.tier);
            if live {
                counters.deleted += 1;
            } else {
                counters.expired_lazy += 1;
            }
        }
        out.push(live);
    }
    Ok(Reply::Deleted(out))
}

/// True while `ns/key`'s record has the `(version, updated_ms)` it had when it was
/// read. Every write of a memory (a store, an import) sets both anew, and reads and
/// tier moves change neither, so a write that raced the read is seen here, inside
/// the writer's transaction, where nothing else can come between check and delete.
fn still_unchanged(
    txn: &Txn,
    ns: &str,
    key: &str,
    (version, updated_ms): (u64, u64),
) -> Result<bool> {
    let Some(record) = txn.store.memories.get(txn.wtxn, &keys::db_key(ns, key))? else {
        return Ok(false);
    };
    let header = codec::decode_header(record)?;
    Ok(header.version == version && header.updated_ms == updated_ms)
}

/// Moves each memory one tier warmer if it is still in the tier given with it
/// (a read's promotion, or an owner's decision carried by a `touch` entry).
pub(super) fn promote(
    txn: &mut Txn,
    ns: &str,
    keys: &[(String, Tier, Promotion)],
    now_ms: u64,
) -> Result<Reply> {
    let Some(ns_id) = namespace_id(txn, ns) else {
        return Ok(Reply::Promoted(vec![None; keys.len()]));
    };
    let mut out = Vec::with_capacity(keys.len());
    for (key, from, why) in keys {
        let still_there = txn.state.meta_mut(ns_id, key).is_some_and(|m| m.tier == *from);
        let Some(to) = from.warmer().filter(|_| still_there) else {
            out.push(None);
            continue;
        };
        txn.move_to(ns_id, key, to)?;
        let counters = txn.state.by_id(ns_id).counters(*from);
        match why {
            Promotion::Frequency => counters.promoted_frequency += 1,
            Promotion::Importance => counters.promoted_importance += 1,
        }
        // A promotion needs fresh reads to go up again.
        if let Some(meta) = txn.state.meta_mut(ns_id, key) {
            meta.reads.clear();
        }
        txn.enforce_capacity(ns_id, to, now_ms)?;
        out.push(txn.state.meta_mut(ns_id, key).map(|m| m.tier));
    }
    Ok(Reply::Promoted(out))
}

/// Applies the planned lifecycle decisions that still follow from the memories as
/// they are now (`lifecycle::decide` again); the others are skipped (`None`).
fn lifecycle(
    txn: &mut Txn,
    ns: &str,
    planned: &[(String, Decision)],
    jobs: Jobs,
    now_ms: u64,
) -> Result<Applied> {
    let mut out = Applied::default();
    let Some(ns_id) = namespace_id(txn, ns) else {
        out.items = vec![None; planned.len()];
        return Ok(out);
    };
    let cfg = txn.cfg;
    for (key, plan) in planned {
        let Some(meta) = txn.state.meta_mut(ns_id, key).filter(|m| !m.is_expired(now_ms)) else {
            out.items.push(None);
            continue;
        };
        let (from, retention) = (meta.tier, meta.retention());
        let category = if cfg.lifecycle.uses_categories() {
            let record = txn
                .store
                .memories
                .get(txn.wtxn, &keys::db_key(&txn.state.by_id(ns_id).name, key))?;
            record.map(|r| codec::metadata_value(r, "category")).transpose()?.flatten()
        } else {
            None
        };
        let subject = Subject { tier: from, retention, category };
        if decide(&cfg.lifecycle, jobs, &subject, now_ms) != Some(*plan) {
            out.items.push(None);
            continue;
        }
        match plan.verdict {
            Verdict::Move(to) => {
                txn.move_to(ns_id, key, to)?;
                verify_moved(txn, ns_id, key, to)?;
            }
            Verdict::Delete => {
                txn.delete(ns_id, key)?;
            }
            Verdict::Refresh => txn.state.refresh(ns_id, key, now_ms),
        }
        let counters = txn.state.by_id(ns_id).counters(from);
        *match plan.rule {
            Rule::Consolidate => &mut counters.consolidated,
            Rule::Policy(i) => match cfg.lifecycle.policies[i].action {
                PolicyAction::Archive => &mut counters.policy_archived,
                PolicyAction::Demote => &mut counters.policy_demoted,
                PolicyAction::Delete => &mut counters.policy_deleted,
                PolicyAction::Refresh => &mut counters.policy_refreshed,
            },
        } += 1;
        if let Verdict::Move(to) = plan.verdict {
            out.cascaded += txn.enforce_capacity(ns_id, to, now_ms)?;
        }
        out.items.push(Some((from, retention::score(&retention, now_ms))));
    }
    Ok(out)
}

/// Reads a moved record back inside the transaction: it must decode and be in `to`
/// (seed 001's "verify the transfer"). A failure aborts the whole transaction.
fn verify_moved(txn: &Txn, ns_id: u32, key: &str, to: Tier) -> Result<()> {
    let name = txn.state.namespace_by_id(ns_id).map(|s| s.name.clone()).unwrap_or_default();
    match txn.read(&name, key)? {
        Some(m) if m.header.tier == to => Ok(()),
        _ => Err(CoreError::Internal(format!(
            "{name}/{key}: move to tier {} did not verify",
            to.number()
        ))),
    }
}

fn expire(txn: &mut Txn, ns: &str, keys: &[String], now_ms: u64) -> Result<Reply> {
    let Some(ns_id) = namespace_id(txn, ns) else {
        return Ok(Reply::Count(0));
    };
    let mut n = 0;
    for key in keys {
        let expired = txn
            .state
            .meta_mut(ns_id, key)
            .is_some_and(|m| m.expires_at_ms != 0 && m.expires_at_ms <= now_ms);
        if expired {
            if let Some(meta) = txn.delete(ns_id, key)? {
                txn.state.by_id(ns_id).counters(meta.tier).expired_lazy += 1;
                n += 1;
            }
        }
    }
    Ok(Reply::Count(n))
}

fn sweep(txn: &mut Txn, now_ms: u64, max: usize) -> Result<Reply> {
    let (batch, more) = txn.state.ttl.expired(now_ms, max);
    let mut n = 0;
    for (_, ns_id, key) in batch {
        if let Some(meta) = txn.delete(ns_id, &key)? {
            txn.state.by_id(ns_id).counters(meta.tier).expired_sweep += 1;
            n += 1;
        }
    }
    Ok(Reply::Swept(n, more))
}

fn drop_namespace(txn: &mut Txn, ns: &str) -> Result<Reply> {
    if txn.state.namespace(ns).is_none() {
        return Err(CoreError::NotFound(format!("namespace {ns:?} does not exist")));
    }
    let start = keys::namespace_prefix(ns);
    let mut end = ns.as_bytes().to_vec();
    end.push(1);
    let range = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
    let removed = txn.store.memories.delete_range(txn.wtxn, &range)?;
    txn.store.vectors.drop_namespace(txn.wtxn, ns)?;
    txn.store.namespaces.delete(txn.wtxn, ns.as_bytes())?;
    txn.state.drop_namespace(ns);
    Ok(Reply::Count(removed as u64))
}

/// Writes pending access statistics (last access, access count) into their records,
/// patching the fixed header in place. Returns how many records were updated.
///
/// Each record is found once: a cursor positioned on it reads it and overwrites it
/// where it is (same size: LMDB copies the new bytes over the old in the page this
/// transaction already owns), where a `get` then a `put` searched the B-tree twice.
/// A read-heavy workload lists every record it read, so this is a record rewrite
/// per read memory per flush interval.
pub fn flush_access(txn: &mut Txn) -> Result<u64> {
    let dirty = std::mem::take(&mut txn.state.dirty);
    let mut n = 0;
    // One key buffer and one record buffer for the whole flush, instead of two
    // allocations per record.
    let (mut db_key, mut patched) = (Vec::new(), Vec::new());
    for (ns_id, key) in dirty {
        // Gone, or rewritten with its statistics since it was listed.
        let Some(meta) = txn.state.meta_mut(ns_id, &key).filter(|m| m.dirty) else {
            continue;
        };
        meta.dirty = false;
        let (last, count) = (meta.last_access_ms, meta.access_count);
        db_key.clear();
        db_key.extend_from_slice(txn.state.by_id(ns_id).name.as_bytes());
        db_key.push(0);
        db_key.extend_from_slice(key.as_bytes());
        debug_assert_eq!(db_key, keys::db_key(&txn.state.by_id(ns_id).name, &key));
        let bounds = (Bound::Included(&db_key[..]), Bound::Included(&db_key[..]));
        let mut at = txn.store.memories.range_mut(txn.wtxn, &bounds)?;
        let Some(entry) = at.next() else { continue };
        codec::patch_access(entry?.1, last, count, &mut patched);
        // SAFETY: the record borrowed from the cursor was copied into `patched`
        // above and is not used after this write; the key is the one the cursor
        // stands on (the range holds exactly it).
        unsafe { at.put_current(&db_key, &patched)? };
        n += 1;
    }
    Ok(n)
}
