//! Reads: `get_many` and `list`, in the caller's thread on an LMDB read transaction.
//!
//! A read never writes to LMDB itself. It records accesses in the in-memory view
//! (flushed in batches by the writer), hands expired keys it met to the writer for
//! removal without waiting, and only waits for the writer when a hit must be
//! promoted, which happens once per `promote_min_reads` reads of a memory at most.

use crate::engine::apply::{Op, Promotion, Reply};
use crate::engine::Shared;
use crate::error::{CoreError, Result};
use crate::model::{Memory, Tier};
use crate::store::{codec, keys};
use crate::tier::KeyMeta;
use crate::validate;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

fn promotion(meta: &KeyMeta, shared: &Shared) -> Option<Promotion> {
    meta.tier.warmer()?;
    if meta.importance > shared.cfg.promote_importance {
        Some(Promotion::Importance)
    } else if meta.reads.len() >= shared.cfg.promote_min_reads as usize {
        Some(Promotion::Frequency)
    } else {
        None
    }
}

pub(super) fn get_many(
    shared: &Shared,
    ns: &str,
    keys: &[String],
    now_ms: u64,
    count_access: bool,
) -> Result<Vec<Option<Memory>>> {
    let mut out = lookup(shared, ns, keys, now_ms)?;
    account(shared, ns, &mut out, now_ms, count_access)?;
    Ok(out)
}

/// Reads a batch without recording anything about it (see `account`); expired
/// keys met are handed to the writer.
pub(super) fn lookup(
    shared: &Shared,
    ns: &str,
    keys: &[String],
    now_ms: u64,
) -> Result<Vec<Option<Memory>>> {
    let limits = &shared.cfg.limits;
    validate::namespace(ns, limits)?;
    validate::batch_len(keys.len(), limits)?;
    for key in keys {
        validate::key(key, limits, false)?;
    }
    let name: Arc<str> = Arc::from(ns);
    let mut out = Vec::with_capacity(keys.len());
    let mut expired = Vec::new();
    {
        let rtxn = shared.store.env.read_txn()?;
        let mut db_key = keys::namespace_prefix(ns);
        let prefix_len = db_key.len();
        for key in keys {
            db_key.truncate(prefix_len);
            db_key.extend_from_slice(key.as_bytes());
            let found = match shared.store.memories.get(&rtxn, &db_key)? {
                Some(record) if codec::decode_header(record)?.is_expired(now_ms) => {
                    expired.push(key.clone());
                    None
                }
                Some(record) => {
                    Some(shared.store.decode(&rtxn, name.clone(), key.clone(), record, true)?)
                }
                None => None,
            };
            out.push(found);
        }
    }
    if !expired.is_empty() && shared.cfg.lazy_expiry {
        shared.submit_detached(Op::Expire { ns: ns.to_owned(), keys: expired, now_ms });
    }
    crate::archive::hydrate(shared, &mut out, now_ms)?;
    Ok(out)
}

/// One result of a read, in whatever form the caller returns it (a `Memory`, or
/// an already converted wire message), so accounting needs no second conversion.
pub(crate) trait ReadSlot {
    /// The key and tier of a hit; `None` for a miss.
    fn hit(&self) -> Option<(&str, Tier)>;
    /// Reports a hit's current access statistics.
    fn set_access(&mut self, last_access_ms: u64, access_count: u64);
    /// Reports a hit's tier after a promotion.
    fn set_tier(&mut self, tier: Tier);
}

impl ReadSlot for Option<Memory> {
    fn hit(&self) -> Option<(&str, Tier)> {
        self.as_ref().map(|m| (m.key.as_str(), m.header.tier))
    }
    fn set_access(&mut self, last_access_ms: u64, access_count: u64) {
        if let Some(m) = self {
            m.header.last_access_ms = last_access_ms;
            m.header.access_count = access_count;
        }
    }
    fn set_tier(&mut self, tier: Tier) {
        if let Some(m) = self {
            m.header.tier = tier;
        }
    }
}

/// Records the hits of a read (or a search) in `out`: hit and miss counters, and
/// with `count_access` their access statistics, then promotes the hits that earned
/// it (waiting for the writer) and updates their tier in `out`.
pub(super) fn account<S: ReadSlot>(
    shared: &Shared,
    ns: &str,
    out: &mut [S],
    now_ms: u64,
    count_access: bool,
) -> Result<()> {
    let promote = record_access(shared, ns, out, now_ms, count_access);
    if !promote.is_empty() {
        let moved: Vec<String> = promote.iter().map(|(key, _, _)| key.clone()).collect();
        let op = Op::Promote { ns: ns.to_owned(), keys: promote, now_ms };
        let Reply::Promoted(tiers) = shared.submit(op)? else { unreachable!("promote") };
        let new_tier: HashMap<String, Tier> =
            moved.into_iter().zip(tiers).filter_map(|(k, t)| Some((k, t?))).collect();
        for slot in out.iter_mut() {
            let tier = slot.hit().and_then(|(key, _)| new_tier.get(key).copied());
            if let Some(tier) = tier {
                slot.set_tier(tier);
            }
        }
    }
    Ok(())
}

/// Counts hits and misses, records accesses, and returns the promotion candidates
/// in the order of the hits that are not in WORKING.
fn record_access<S: ReadSlot>(
    shared: &Shared,
    ns: &str,
    out: &mut [S],
    now_ms: u64,
    count_access: bool,
) -> Vec<(String, Tier, Promotion)> {
    let mut promote = Vec::new();
    let mut state = shared.state.write().expect("state lock");
    let Some(ns_id) = state.namespace(ns).map(|s| s.id) else {
        return promote;
    };
    let misses = out.iter().filter(|m| m.hit().is_none()).count() as u64;
    state.by_id(ns_id).misses += misses;
    // Counted per tier first: one namespace lookup per batch, not one per hit.
    let mut hits = [0u64; 4];
    for (_, tier) in out.iter().filter_map(ReadSlot::hit) {
        hits[tier.index()] += 1;
    }
    for tier in Tier::ALL {
        state.by_id(ns_id).counters(tier).hits += hits[tier.index()];
    }
    let reads_kept = shared.cfg.promote_min_reads as usize;
    // Cluster mode: the access waits for the owner's `touch` entry (`touch.rs`).
    let deferred = count_access && shared.cfg.deferred_access;
    let count_access = count_access && !deferred;
    let mut deferred_keys = Vec::new();
    for slot in out.iter_mut() {
        let Some((key, _)) = slot.hit() else { continue };
        if deferred {
            deferred_keys.push(key.to_owned());
        }
        let meta = if count_access {
            state.touch(ns_id, key, now_ms, reads_kept, shared.cfg.promote_window_ms)
        } else {
            state.meta_mut(ns_id, key).map(|meta| &*meta)
        };
        let Some(meta) = meta else {
            continue;
        };
        if count_access {
            if let Some(why) = promotion(meta, shared) {
                promote.push((key.to_owned(), meta.tier, why));
            }
        }
        // The record on disk may lag the in-memory statistics until the next flush.
        let (last, count) = (meta.last_access_ms, meta.access_count);
        slot.set_access(last, count);
    }
    drop(state);
    if !deferred_keys.is_empty() {
        shared.pending.record(ns, &deferred_keys, now_ms, reads_kept);
    }
    promote
}

/// A `list` request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Namespace.
    pub ns: String,
    /// Time for the expiry check.
    pub now_ms: u64,
    /// Only this tier (`None`: all).
    pub tier: Option<Tier>,
    /// Continue after this key (exclusive); empty to start.
    pub cursor: String,
    /// Page size, 1..=10 000.
    pub limit: usize,
    /// Newest (largest key) first.
    pub reverse: bool,
    /// Only memories created at or after this time (0: no bound).
    pub created_after_ms: u64,
    /// Only memories created before this time (0: no bound).
    pub created_before_ms: u64,
}

/// Records of one namespace, in either direction.
type RecordIter<'t> = Box<dyn Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>> + 't>;

/// Most items in one page.
pub const MAX_PAGE: usize = 10_000;

pub(super) fn list(shared: &Shared, q: &ListQuery) -> Result<(Vec<Memory>, String)> {
    validate::namespace(&q.ns, &shared.cfg.limits)?;
    validate::key(&q.cursor, &shared.cfg.limits, true)?;
    if q.limit == 0 || q.limit > MAX_PAGE {
        return Err(CoreError::invalid(format!("limit must be in 1..={MAX_PAGE}")));
    }
    validate::int63("created_after_ms", i128::from(q.created_after_ms))?;
    validate::int63("created_before_ms", i128::from(q.created_before_ms))?;
    let prefix = keys::namespace_prefix(&q.ns);
    let cursor = keys::db_key(&q.ns, &q.cursor);
    let mut end = q.ns.as_bytes().to_vec();
    end.push(1);
    let after = if q.cursor.is_empty() {
        Bound::Included(&prefix[..])
    } else {
        Bound::Excluded(&cursor[..])
    };
    let before =
        if q.cursor.is_empty() { Bound::Excluded(&end[..]) } else { Bound::Excluded(&cursor[..]) };
    let name: Arc<str> = Arc::from(q.ns.as_str());
    let rtxn = shared.store.env.read_txn()?;
    let iter: RecordIter<'_> = if q.reverse {
        Box::new(shared.store.memories.rev_range(&rtxn, &(Bound::Included(&prefix[..]), before))?)
    } else {
        Box::new(shared.store.memories.range(&rtxn, &(after, Bound::Excluded(&end[..])))?)
    };
    let mut items = Vec::new();
    let mut more = false;
    for entry in iter {
        let (db_key, record) = entry?;
        let h = codec::decode_header(record)?;
        let wanted = !h.is_expired(q.now_ms)
            && q.tier.is_none_or(|t| t == h.tier)
            && h.created_ms >= q.created_after_ms
            && (q.created_before_ms == 0 || h.created_ms < q.created_before_ms);
        if !wanted {
            continue;
        }
        if items.len() == q.limit {
            more = true;
            break;
        }
        let (_, key) = keys::split(db_key).ok_or_else(|| CoreError::Internal("bad key".into()))?;
        items.push(shared.store.decode(&rtxn, name.clone(), key.to_owned(), record, true)?);
    }
    drop(rtxn);
    let next =
        if more { items.last().map(|m| m.key.clone()).unwrap_or_default() } else { String::new() };
    let mut items: Vec<Option<Memory>> = items.into_iter().map(Some).collect();
    crate::archive::hydrate(shared, &mut items, q.now_ms)?;
    let mut items: Vec<Memory> = items.into_iter().flatten().collect();
    // Records lag the in-memory access statistics until the next flush; report the
    // current ones, as `get_many` does.
    let state = shared.state.read().expect("state lock");
    if let Some(space) = state.namespace(&q.ns) {
        for m in &mut items {
            if let Some(meta) = space.keys.get(m.key.as_str()) {
                m.header.last_access_ms = meta.last_access_ms;
                m.header.access_count = meta.access_count;
            }
        }
    }
    Ok((items, next))
}
