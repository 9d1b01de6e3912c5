//! The memory lifecycle (issue 6, seeds 001, 002 and 004): what moves, merges and
//! forgets memories besides reads, writes, capacity and TTL.
//!
//! - `config`: consolidation thresholds, policies, categories, dedup, compression.
//! - `retention`: the retention score (eviction tie-breaks, policy conditions).
//! - `policy`: what a pass does to one memory (policies, then consolidation).
//! - `dedup`: the exact-text index that finds a stored duplicate in O(1).
//!
//! A pass (`engine/lifecycle.rs`) plans in bounded batches under a read lock, then
//! applies each batch in one write transaction that re-checks every action
//! (`engine/apply.rs`). Category defaults and dedup act at store time (`apply::put`).

pub mod config;
pub mod dedup;
pub mod policy;
pub mod retention;

pub use config::{Category, Conditions, LifecycleConfig, NearAction, Policy, PolicyAction};
pub use policy::{decide, Decision, Jobs, Rule, Subject, Verdict};
pub use retention::RetentionInput;
