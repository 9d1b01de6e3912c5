//! `Engine::clear`: emptying one tier of a namespace, or all of them, in one
//! transaction (seed 001's `clear_short_term`, `clear_long_term`, `clear_all`).
//!
//! Unlike `drop_namespace`, the namespace stays: its embedding dimension and its
//! counters (a clear counts `cleared` per tier) survive, so an agent can empty its
//! working memory and go on. Each memory is deleted like a `Delete` of its key
//! (record, search index, LRU and TTL entries), in key order, so the cost is linear
//! in the memories removed, all in the writer's one transaction.

use super::apply::{Op, Reply};
use super::Engine;
use crate::error::{CoreError, Result};
use crate::model::Tier;
use crate::tier::migrate::Txn;
use crate::validate;
use std::sync::Arc;

impl Engine {
    /// Deletes every memory of `tier` (`None`: of every tier) in `ns`; returns how
    /// many were removed (expired ones included). `NotFound` for an unknown namespace.
    pub fn clear(&self, ns: &str, tier: Option<Tier>) -> Result<u64> {
        let shared = self.shared()?;
        validate::namespace(ns, &shared.cfg.limits)?;
        let Reply::Count(n) = shared.submit(Op::Clear { ns: ns.to_owned(), tier })? else {
            unreachable!("clear replies Count")
        };
        Ok(n)
    }
}

/// Applies a clear inside the writer's transaction (`Op::Clear`).
pub(super) fn apply(txn: &mut Txn, ns: &str, tier: Option<Tier>) -> Result<Reply> {
    let space = txn
        .state
        .namespace(ns)
        .ok_or_else(|| CoreError::NotFound(format!("namespace {ns:?} does not exist")))?;
    let id = space.id;
    let mut keys: Vec<Arc<str>> = space
        .keys
        .iter()
        .filter(|(_, m)| tier.is_none_or(|t| m.tier == t))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort_unstable();
    let mut removed = 0;
    for key in keys {
        if let Some(meta) = txn.delete(id, &key)? {
            txn.state.by_id(id).counters(meta.tier).cleared += 1;
            removed += 1;
        }
    }
    Ok(Reply::Count(removed))
}
