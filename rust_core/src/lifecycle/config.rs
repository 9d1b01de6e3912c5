//! Lifecycle configuration: consolidation thresholds, policies, categories, dedup and
//! compression. Mirrors `memd.types.LifecycleOptions`.

use crate::error::{CoreError, Result};
use crate::model::Tier;

/// What a policy does to a memory that matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// Move to ARCHIVE.
    Archive,
    /// Move one tier colder.
    Demote,
    /// Delete.
    Delete,
    /// Mark as used now without counting an access.
    Refresh,
}

impl PolicyAction {
    /// The action's name in config, stats and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::Demote => "demote",
            Self::Delete => "delete",
            Self::Refresh => "refresh",
        }
    }

    /// Parses a config name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "archive" => Self::Archive,
            "demote" => Self::Demote,
            "delete" => Self::Delete,
            "refresh" => Self::Refresh,
            other => {
                return Err(CoreError::invalid(format!(
                    "unknown policy action {other:?} (archive, demote, delete, refresh)"
                )))
            }
        })
    }
}

/// Conditions of a policy; all must hold. `None` or empty restricts nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    /// Only these tiers.
    pub tiers: Vec<Tier>,
    /// Only memories whose metadata `category` is one of these.
    pub categories: Vec<String>,
    /// Last access at least this long ago.
    pub min_idle_ms: Option<u64>,
    /// Created at least this long ago.
    pub min_age_ms: Option<u64>,
    /// Importance strictly below.
    pub importance_below: Option<f32>,
    /// Importance strictly above.
    pub importance_above: Option<f32>,
    /// Fewer accesses than this.
    pub access_count_below: Option<u64>,
    /// Retention score strictly below.
    pub retention_below: Option<f64>,
}

/// A named rule: when `when` holds, do `action`.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Reported in stats and reports.
    pub name: String,
    /// What to do.
    pub action: PolicyAction,
    /// When.
    pub when: Conditions,
}

/// Defaults for the memories of one category (metadata `category`).
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    /// The category.
    pub name: String,
    /// Default TTL; 0 keeps forever.
    pub retention_ms: u64,
    /// Importance of memories stored without one.
    pub importance: Option<f32>,
}

/// What to do with a near-duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearAction {
    /// Merge it into the existing memory, like an exact duplicate.
    Merge,
    /// Store it anyway and name the similar memory in the result.
    Flag,
}

/// Everything the lifecycle needs.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleConfig {
    /// `SHORT_TERM` memories at least this important are consolidated...
    pub consolidate_min_importance: f32,
    /// ...and so are those accessed at least this often...
    pub consolidate_min_access_count: u64,
    /// ...once they are at least this old.
    pub consolidate_min_age_ms: u64,
    /// Evaluated in order; the first match acts.
    pub policies: Vec<Policy>,
    /// Per-category defaults.
    pub categories: Vec<Category>,
    /// Merge stores of an identical text into the existing memory.
    pub dedup_exact: bool,
    /// Cosine at or above which a vector is a near-duplicate; 0 disables.
    pub dedup_near_threshold: f32,
    /// Merge or flag near-duplicates.
    pub dedup_near_action: NearAction,
    /// Values are compressed in this tier and colder ones...
    pub compress_from_tier: Tier,
    /// ...when at least this many bytes.
    pub compress_min_bytes: usize,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            consolidate_min_importance: 0.7,
            consolidate_min_access_count: 3,
            consolidate_min_age_ms: 0,
            policies: Vec::new(),
            categories: Vec::new(),
            dedup_exact: false,
            dedup_near_threshold: 0.0,
            dedup_near_action: NearAction::Merge,
            compress_from_tier: Tier::LongTerm,
            compress_min_bytes: 512,
        }
    }
}

fn unit_interval(name: &str, v: Option<f32>) -> Result<()> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) => {
            Err(CoreError::invalid(format!("{name} must be in [0, 1], got {x}")))
        }
        _ => Ok(()),
    }
}

impl LifecycleConfig {
    /// The category called `name`, if configured.
    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// Whether a value of `len` bytes is stored compressed in `tier`.
    pub fn compresses(&self, tier: Tier, len: usize) -> bool {
        tier >= self.compress_from_tier && len >= self.compress_min_bytes.max(1)
    }

    /// True when some policy looks at categories (so planning must read them).
    pub fn uses_categories(&self) -> bool {
        self.policies.iter().any(|p| !p.when.categories.is_empty())
    }

    /// Rejects settings the lifecycle cannot run with.
    pub fn check(&self) -> Result<()> {
        unit_interval("consolidate_min_importance", Some(self.consolidate_min_importance))?;
        let near = self.dedup_near_threshold;
        if !(0.0..=1.0).contains(&near) {
            return Err(CoreError::invalid(format!(
                "dedup_near_threshold must be in [0, 1], got {near}"
            )));
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.policies {
            if p.name.is_empty() || p.name == "consolidate" || !names.insert(p.name.as_str()) {
                return Err(CoreError::invalid(format!(
                    "policy names must be unique, non-empty and not \"consolidate\": {:?}",
                    p.name
                )));
            }
            unit_interval("importance_below", p.when.importance_below)?;
            unit_interval("importance_above", p.when.importance_above)?;
        }
        let mut cats = std::collections::HashSet::new();
        for c in &self.categories {
            if c.name.is_empty() || !cats.insert(c.name.as_str()) {
                return Err(CoreError::invalid(format!(
                    "category names must be unique and non-empty: {:?}",
                    c.name
                )));
            }
            unit_interval("category importance", c.importance)?;
        }
        Ok(())
    }
}
