//! Statistics snapshots, taken from the in-memory view under its lock.

use crate::engine::Shared;
use crate::model::Tier;
use crate::search::ann::AnnStats;
use crate::tier::Namespace;

/// One tier of one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct TierStats {
    /// The tier.
    pub tier: Tier,
    /// Memories in it.
    pub count: u64,
    /// Configured capacity (0 = unbounded).
    pub capacity: u64,
    /// Sum of encoded record sizes.
    pub bytes: u64,
    /// Sum of value sizes as stored by clients.
    pub value_bytes: u64,
    /// Sum of value sizes on disk (after compression).
    pub stored_value_bytes: u64,
    /// Memories whose value is compressed.
    pub compressed: u64,
    /// Mean importance (0 when empty).
    pub importance_avg: f64,
    /// Mean creation time (0 when empty).
    pub created_avg_ms: u64,
    /// Event counters since open, by name.
    pub counters: Vec<(&'static str, u64)>,
}

/// One namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceStats {
    /// Name.
    pub namespace: String,
    /// Embedding dimension (0 = unset).
    pub dimension: u32,
    /// Reads of missing or expired keys since open.
    pub misses: u64,
    /// WORKING, `SHORT_TERM`, `LONG_TERM`, ARCHIVE.
    pub tiers: Vec<TierStats>,
    /// The vector index: live vectors, HNSW nodes, vectors not in the graph yet.
    pub vectors: AnnStats,
}

/// LMDB map usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapInfo {
    /// Map size in bytes.
    pub map_size: u64,
    /// Bytes of pages in use.
    pub used_bytes: u64,
}

fn of(space: &Namespace, shared: &Shared) -> NamespaceStats {
    NamespaceStats {
        namespace: space.name.to_string(),
        dimension: space.dim,
        misses: space.misses,
        vectors: space.index.vectors().stats(),
        tiers: Tier::ALL
            .iter()
            .map(|&tier| {
                let t = &space.tiers[tier.index()];
                let n = t.lru.len() as u64;
                TierStats {
                    tier,
                    count: n,
                    capacity: shared.cfg.tier(tier).capacity,
                    bytes: t.bytes,
                    value_bytes: t.value_raw,
                    stored_value_bytes: t.value_stored,
                    compressed: t.compressed,
                    importance_avg: if n == 0 {
                        0.0
                    } else {
                        t.importance_micros as f64 / 1e6 / n as f64
                    },
                    created_avg_ms: if n == 0 { 0 } else { (t.created_sum / u128::from(n)) as u64 },
                    counters: t.counters.pairs().to_vec(),
                }
            })
            .collect(),
    }
}

pub(super) fn collect(shared: &Shared, ns: Option<&str>) -> Vec<NamespaceStats> {
    let state = shared.state.read().expect("state lock");
    match ns {
        Some(name) => state.namespace(name).map(|s| of(s, shared)).into_iter().collect(),
        None => state.namespaces().into_iter().map(|s| of(s, shared)).collect(),
    }
}
