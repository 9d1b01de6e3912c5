//! TTL sweeps of chosen namespaces: cluster mode's `sweep` log entry, which removes
//! the expired memories of one partition's namespaces at the entry's `now_ms`.
//!
//! # Algorithm
//!
//! The global sweep (`apply::sweep`) takes the front of the `TtlIndex`, ordered by
//! `(expires_at_ms, namespace id, key)`. Namespace ids are assigned by each process
//! as it loads or creates namespaces, so two replicas of the same namespaces may number
//! them differently: a *bounded* sweep ordered by id could then remove different
//! memories on different replicas. A replicated sweep must remove exactly the same
//! memories, in the same order (a deletion frees the memory's vector slot: the order of
//! the free list is part of the bytes), so it orders by `(expires_at_ms, namespace
//! name, key)`, which every replica agrees on:
//!
//! 1. walk the index's expired prefix (`expires_at_ms <= now_ms`: it never looks at
//!    a live memory) and keep the entries of the named namespaces;
//! 2. sort them by `(expires_at_ms, name, key)` and keep the first `max`;
//! 3. delete them in that order in the writer's transaction, which also records the
//!    entry's mark (`engine/mark.rs`), so the sweep and its sequence commit together.
//!
//! Cost: O(e log e) for the e expired memories of the whole store (those of other
//! partitions are skipped, they wait for their own partition's entry), plus the
//! deletions. Returns `(removed, more)`: `more` when expired memories of the named
//! namespaces remain (the owner appends another entry).

use super::apply::{Op, Reply};
use super::Engine;
use crate::error::{CoreError, Result};
use crate::tier::migrate::Txn;
use crate::tier::State;
use crate::validate;
use std::collections::HashMap;
use std::sync::Arc;

/// One expired memory: `(expires_at_ms, namespace name, namespace id, key)`.
type Expired = (u64, Arc<str>, u32, Arc<str>);

impl Engine {
    /// Removes at most `max` memories of the namespaces `names` expired at `now_ms`,
    /// in the order of the module docs: `(removed, more expired remain)`. Unknown
    /// namespaces are skipped (a partition may hold none yet).
    pub fn sweep_namespaces(
        &self,
        names: &[String],
        now_ms: u64,
        max: usize,
    ) -> Result<(u64, bool)> {
        if max == 0 {
            return Err(CoreError::invalid("max_items must be at least 1"));
        }
        let shared = self.shared_quietly()?;
        for ns in names {
            validate::namespace(ns, &shared.cfg.limits)?;
        }
        let op = Op::SweepNamespaces { names: names.to_vec(), now_ms, max };
        let Reply::Swept(n, more) = shared.submit(op)? else { unreachable!("sweep replies Swept") };
        Ok((n, more))
    }

    /// How many memories of `names` have expired at `now_ms` (what a sweep without a
    /// bound would remove): lets an owner skip appending a sweep with nothing to do.
    pub fn expired_count(&self, names: &[String], now_ms: u64) -> Result<u64> {
        let shared = self.shared_quietly()?;
        let state = shared.state.read().expect("state lock");
        Ok(expired(&state, names, now_ms, usize::MAX).0.len() as u64)
    }
}

/// The first `max` expired memories of `names` in `(expires_at_ms, name, key)` order,
/// and whether more have expired.
fn expired(state: &State, names: &[String], now_ms: u64, max: usize) -> (Vec<Expired>, bool) {
    let ids: HashMap<u32, Arc<str>> = names
        .iter()
        .filter_map(|n| state.namespace(n))
        .map(|space| (space.id, space.name.clone()))
        .collect();
    if ids.is_empty() {
        return (Vec::new(), false);
    }
    let mut found: Vec<Expired> = state
        .ttl
        .expired_iter(now_ms)
        .filter_map(|(t, id, key)| ids.get(id).map(|name| (*t, name.clone(), *id, key.clone())))
        .collect();
    found.sort_unstable_by(|a, b| (a.0, &a.1, &a.3).cmp(&(b.0, &b.1, &b.3)));
    let more = found.len() > max;
    found.truncate(max);
    (found, more)
}

/// Applies a sweep of `names` inside the writer's transaction (`Op::SweepNamespaces`).
pub(super) fn apply(txn: &mut Txn, names: &[String], now_ms: u64, max: usize) -> Result<Reply> {
    let (batch, more) = expired(txn.state, names, now_ms, max);
    let mut n = 0;
    for (_, _, ns_id, key) in batch {
        if let Some(meta) = txn.delete(ns_id, &key)? {
            txn.state.by_id(ns_id).counters(meta.tier).expired_sweep += 1;
            n += 1;
        }
    }
    Ok(Reply::Swept(n, more))
}
