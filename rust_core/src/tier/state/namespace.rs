//! A namespace's part of the in-memory view (`State`): its keys, its four tiers (LRU
//! order, size sums, event counters) and its search index.

use super::{HashMap, KeyMeta};
use crate::evict::LruPolicy;
use crate::lifecycle::dedup::TextHashes;
use crate::model::Tier;
use crate::search::SearchIndex;
use std::sync::Arc;

/// Event counters of one tier since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reads that found a live memory here.
    pub hits: u64,
    /// Expired memories found by a read.
    pub expired_lazy: u64,
    /// Expired memories removed by a sweep.
    pub expired_sweep: u64,
    /// Memories deleted because the coldest tier was full.
    pub evicted_capacity: u64,
    /// Memories demoted out of this tier because it was full.
    pub demoted_capacity: u64,
    /// Promoted out of this tier for frequent reads.
    pub promoted_frequency: u64,
    /// Promoted out of this tier for importance.
    pub promoted_importance: u64,
    /// Explicit deletes.
    pub deleted: u64,
    /// Consolidated into `LONG_TERM` (out of this tier).
    pub consolidated: u64,
    /// Archived by a policy (out of this tier).
    pub policy_archived: u64,
    /// Demoted by a policy (out of this tier).
    pub policy_demoted: u64,
    /// Deleted by a policy.
    pub policy_deleted: u64,
    /// Refreshed by a policy.
    pub policy_refreshed: u64,
    /// Stores merged into a memory of this tier (exact or near duplicate).
    pub dedup_merged: u64,
    /// Stores flagged as near-duplicates of a memory of this tier.
    pub dedup_flagged: u64,
    /// Memories transferred (moved or copied) into this tier of the namespace.
    pub transferred_in: u64,
    /// Memories moved out of this tier to another namespace.
    pub transferred_out: u64,
    /// Memories removed by a Clear.
    pub cleared: u64,
}

impl Counters {
    /// (name, value) pairs, as reported in stats.
    pub fn pairs(&self) -> [(&'static str, u64); 18] {
        [
            ("hits", self.hits),
            ("expired.lazy", self.expired_lazy),
            ("expired.sweep", self.expired_sweep),
            ("evicted.capacity", self.evicted_capacity),
            ("demoted.capacity", self.demoted_capacity),
            ("promoted.frequency", self.promoted_frequency),
            ("promoted.importance", self.promoted_importance),
            ("deleted", self.deleted),
            ("consolidated", self.consolidated),
            ("policy.archived", self.policy_archived),
            ("policy.demoted", self.policy_demoted),
            ("policy.deleted", self.policy_deleted),
            ("policy.refreshed", self.policy_refreshed),
            ("dedup.merged", self.dedup_merged),
            ("dedup.flagged", self.dedup_flagged),
            ("transferred.in", self.transferred_in),
            ("transferred.out", self.transferred_out),
            ("cleared", self.cleared),
        ]
    }
}

/// One tier of one namespace.
#[derive(Clone, Debug, Default)]
pub struct TierState {
    /// Eviction order (and the count: `lru.len()`).
    pub lru: LruPolicy,
    /// Sum of encoded record sizes.
    pub bytes: u64,
    /// Sum of value sizes as stored by clients.
    pub value_raw: u64,
    /// Sum of value sizes on disk.
    pub value_stored: u64,
    /// Memories whose value is stored compressed.
    pub compressed: u64,
    /// Sum of importances, in millionths (integers: no drift over adds and removes).
    pub importance_micros: u64,
    /// Sum of creation times.
    pub created_sum: u128,
    /// Events since open.
    pub counters: Counters,
}

impl TierState {
    pub(super) fn add(&mut self, meta: &KeyMeta) {
        self.bytes += u64::from(meta.bytes);
        self.value_raw += u64::from(meta.value_raw);
        self.value_stored += u64::from(meta.value_stored);
        self.compressed += u64::from(meta.value_stored < meta.value_raw);
        self.importance_micros += micros(meta.importance);
        self.created_sum += u128::from(meta.created_ms);
    }

    pub(super) fn sub(&mut self, meta: &KeyMeta) {
        self.bytes -= u64::from(meta.bytes);
        self.value_raw -= u64::from(meta.value_raw);
        self.value_stored -= u64::from(meta.value_stored);
        self.compressed -= u64::from(meta.value_stored < meta.value_raw);
        self.importance_micros -= micros(meta.importance);
        self.created_sum -= u128::from(meta.created_ms);
    }
}

fn micros(importance: f32) -> u64 {
    (f64::from(importance.clamp(0.0, 1.0)) * 1e6).round() as u64
}

/// One namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Process-local id (not persisted).
    pub id: u32,
    /// Name.
    pub name: Arc<str>,
    /// Embedding dimension, 0 until the first vector.
    pub dim: u32,
    /// Every memory of the namespace.
    pub keys: HashMap<Arc<str>, KeyMeta>,
    /// WORKING, `SHORT_TERM`, `LONG_TERM`, ARCHIVE.
    pub tiers: [TierState; 4],
    /// Reads of missing or expired keys.
    pub misses: u64,
    /// Text, vector and attribute index for search, kept in step by `Txn`.
    pub index: SearchIndex,
    /// Keys by text hash, for exact dedup.
    pub texts: TextHashes,
}

impl Namespace {
    /// Memories in `tier`.
    pub fn count(&self, tier: Tier) -> usize {
        self.tiers[tier.index()].lru.len()
    }

    /// Counters of `tier`.
    pub fn counters(&mut self, tier: Tier) -> &mut Counters {
        &mut self.tiers[tier.index()].counters
    }
}
