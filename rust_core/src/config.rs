//! Engine configuration: map size, durability, tier capacities and TTLs, promotion
//! rules and input limits. Mirrors `memd.types.EngineOptions`.

use crate::error::{CoreError, Result};
use crate::lifecycle::LifecycleConfig;
use crate::model::Tier;
use crate::search::quant::Quantization;
use crate::search::Analyzer;
use std::sync::Arc;

/// When a commit reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync at every commit. Concurrent writers share one commit (group commit),
    /// so the ~0.6 ms fsync is paid per group, not per write.
    Sync,
    /// Commits go to the OS page cache; a writer-thread fsync every
    /// `sync_interval_ms` bounds what an OS crash can lose. A process crash loses
    /// nothing committed.
    NoSync,
}

/// Limits and defaults of one tier, for every namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierConfig {
    /// Maximum memories per namespace; 0 is unbounded.
    pub capacity: u64,
    /// TTL for memories stored without one; 0 never expires.
    pub default_ttl_ms: u64,
}

/// Input size limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest namespace, in UTF-8 bytes.
    pub max_namespace_bytes: usize,
    /// Longest key, in UTF-8 bytes (LMDB keys are at most 511 bytes in all).
    pub max_key_bytes: usize,
    /// Largest value.
    pub max_value_bytes: usize,
    /// Largest text.
    pub max_text_bytes: usize,
    /// Largest embedding dimension.
    pub max_embedding_dim: usize,
    /// Most tags per memory.
    pub max_tags: usize,
    /// Most metadata entries per memory.
    pub max_metadata: usize,
    /// Longest tag, metadata key or metadata value.
    pub max_label_bytes: usize,
    /// Most items in one batch call.
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_namespace_bytes: 128,
            max_key_bytes: 256,
            max_value_bytes: 1 << 20,
            max_text_bytes: 256 << 10,
            max_embedding_dim: 4096,
            max_tags: 64,
            max_metadata: 64,
            max_label_bytes: 1024,
            max_batch: 100_000,
        }
    }
}

/// Everything needed to open an engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// LMDB map size in bytes (virtual; the file grows as used).
    pub map_size: usize,
    /// Commit durability.
    pub durability: Durability,
    /// Periodic fsync interval in `NoSync` mode.
    pub sync_interval_ms: u64,
    /// How often access statistics are persisted.
    pub flush_interval_ms: u64,
    /// WORKING, `SHORT_TERM`, `LONG_TERM`, ARCHIVE.
    pub tiers: [TierConfig; 4],
    /// Tier of new memories stored without one.
    pub default_tier: Tier,
    /// Reads within `promote_window_ms` that promote a memory one tier.
    pub promote_min_reads: u32,
    /// Window of `promote_min_reads`.
    pub promote_window_ms: u64,
    /// Importance above which any read promotes.
    pub promote_importance: f32,
    /// Input limits.
    pub limits: Limits,
    /// Consolidation, policies, categories, dedup, compression.
    pub lifecycle: LifecycleConfig,
    /// How search indexes turn text into BM25 terms (NFKC, stemming language).
    pub analyzer: Analyzer,
    /// How each namespace's vector matrix stores its rows (`search::quant`).
    pub vector_quantization: QuantRules,
    /// A read that meets an expired memory removes it (lazy expiry, `evict/ttl.rs`).
    /// Cluster mode turns it off: a removal on one replica alone would make replicas
    /// differ, and the owner's logged sweeps remove expired memories everywhere.
    pub lazy_expiry: bool,
    /// Reads that count an access only record it in a pending buffer
    /// (`engine/touch.rs`) instead of updating the memory; cluster mode's owner turns
    /// the buffer into replicated `touch` log entries that every replica applies.
    pub deferred_access: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let tier = |capacity| TierConfig { capacity, default_ttl_ms: 0 };
        Self {
            map_size: 64 << 30,
            durability: Durability::Sync,
            sync_interval_ms: 1_000,
            flush_interval_ms: 1_000,
            tiers: [tier(100), tier(1_000), tier(100_000), tier(0)],
            default_tier: Tier::ShortTerm,
            promote_min_reads: 3,
            promote_window_ms: 3_600_000,
            promote_importance: 0.8,
            limits: Limits::default(),
            lifecycle: LifecycleConfig::default(),
            analyzer: Analyzer::ENGLISH,
            vector_quantization: QuantRules::default(),
            lazy_expiry: true,
            deferred_access: false,
        }
    }
}

impl EngineConfig {
    /// The options of `tier`.
    pub fn tier(&self, tier: Tier) -> &TierConfig {
        &self.tiers[tier.index()]
    }

    /// Rejects settings the engine cannot run with.
    pub fn check(&self) -> Result<()> {
        if self.map_size < (1 << 20) {
            return Err(CoreError::invalid("map_size_bytes must be at least 1 MiB"));
        }
        if self.promote_min_reads == 0 {
            return Err(CoreError::invalid("promote_min_reads must be at least 1"));
        }
        // Values above 1 disable importance promotion; NaN or below 0 are errors.
        if self.promote_importance.is_nan() || self.promote_importance < 0.0 {
            return Err(CoreError::invalid("promote_importance must be >= 0"));
        }
        if self.limits.max_key_bytes + self.limits.max_namespace_bytes + 1 > 511 {
            return Err(CoreError::invalid("namespace + key limits exceed LMDB's 511-byte keys"));
        }
        self.lifecycle.check()
    }
}

/// Does namespace `ns` match `pattern`: a whole name, or a prefix followed by `*`
/// (the form of every per-namespace rule: embedders, quantization).
pub fn namespace_matches(pattern: &str, ns: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => ns.starts_with(prefix),
        None => ns == pattern,
    }
}

/// Which namespaces hold their vectors as int8 rows: a default and per-namespace
/// rules, first match wins. Chosen per namespace because it trades recall for
/// memory, and tenants differ in which they need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuantRules {
    /// For namespaces no rule matches (`engine.vector_quantization`).
    pub default: Quantization,
    /// `(pattern, quantization)` overrides (`engine.vector_quantization_namespaces`).
    pub rules: Arc<[(String, Quantization)]>,
}

impl QuantRules {
    /// The same quantization for every namespace.
    pub fn uniform(quantization: Quantization) -> QuantRules {
        QuantRules { default: quantization, rules: Arc::new([]) }
    }

    /// The quantization of namespace `ns`.
    pub fn of(&self, ns: &str) -> Quantization {
        self.rules
            .iter()
            .find(|(pattern, _)| namespace_matches(pattern, ns))
            .map_or(self.default, |&(_, q)| q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_rules_first_match_wins_else_the_default() {
        let rules = QuantRules {
            default: Quantization::None,
            rules: vec![
                ("team:big/exact".to_string(), Quantization::None),
                ("team:big/*".to_string(), Quantization::Int8),
            ]
            .into(),
        };
        assert_eq!(rules.of("team:big/logs"), Quantization::Int8);
        assert_eq!(rules.of("team:big/exact"), Quantization::None);
        assert_eq!(rules.of("team:bigger"), Quantization::None);
        assert_eq!(QuantRules::uniform(Quantization::Int8).of("any"), Quantization::Int8);
    }
}
