//! The payload of cluster mode's `touch` log entry: `memd.v1.TouchEntry` of
//! `proto/memd/v1/cluster_service.proto`, encoded and decoded here so the owner's
//! batch and a replica's apply never cross into Python item by item.
//!
//! Field numbers and types mirror the proto; `tests/unit/test_touch_wire.py` checks
//! byte compatibility against the Python classes generated from the same file.

use crate::error::{CoreError, Result};
use crate::model::Tier;
use prost::Message;

/// `memd.v1.TouchEntry`.
#[derive(Clone, PartialEq, Message)]
pub struct TouchEntry {
    /// Namespaces in byte order.
    #[prost(message, repeated, tag = "1")]
    pub namespaces: Vec<TouchNamespace>,
}

/// `memd.v1.TouchNamespace`.
#[derive(Clone, PartialEq, Message)]
pub struct TouchNamespace {
    /// The namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// Keys in byte order.
    #[prost(message, repeated, tag = "2")]
    pub accesses: Vec<KeyAccess>,
}

/// `memd.v1.KeyAccess`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyAccess {
    /// The memory's key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Reads counted.
    #[prost(uint64, tag = "2")]
    pub count: u64,
    /// Times of the last reads, oldest first.
    #[prost(uint64, repeated, tag = "3")]
    pub times_ms: Vec<u64>,
    /// `memd.v1.Tier` the owner promotes it out of (0: no promotion).
    #[prost(int32, tag = "4")]
    pub promote_from: i32,
    /// The promotion is for importance (else for frequent reads).
    #[prost(bool, tag = "5")]
    pub promote_for_importance: bool,
}

impl KeyAccess {
    /// The tier the owner decided to promote the memory out of, if any.
    pub fn promotion(&self) -> Option<Tier> {
        Tier::from_number(i64::from(self.promote_from))
    }
}

/// Most keys one entry may carry (the owner's batches are smaller, see `touch.rs`).
pub const MAX_ENTRY_KEYS: usize = 100_000;

/// Decodes and checks a payload; nothing is applied from a payload that fails here.
///
/// # Errors
///
/// `InvalidArgument` when it does not decode, or a key access has no time, fewer
/// reads than times, more times than `max_times`, or an unknown or unpromotable tier.
pub fn decode(payload: &[u8], max_times: usize) -> Result<TouchEntry> {
    let entry = TouchEntry::decode(payload)
        .map_err(|e| CoreError::invalid(format!("not a TouchEntry: {e}")))?;
    let mut keys = 0;
    for ns in &entry.namespaces {
        keys += ns.accesses.len();
        for a in &ns.accesses {
            let n = a.times_ms.len();
            if n == 0 || n > max_times || a.count < n as u64 {
                return Err(CoreError::invalid(format!(
                    "touch of {:?}/{:?}: {} reads with {n} times (1..={max_times} times, \
                     no more than reads)",
                    ns.namespace, a.key, a.count
                )));
            }
            let promotable = a.promotion().and_then(Tier::warmer).is_some();
            if a.promote_from != 0 && !promotable {
                return Err(CoreError::invalid(format!(
                    "touch of {:?}/{:?}: cannot promote out of tier {}",
                    ns.namespace, a.key, a.promote_from
                )));
            }
        }
    }
    if keys > MAX_ENTRY_KEYS {
        return Err(CoreError::invalid(format!(
            "a touch entry carries {keys} keys; the limit is {MAX_ENTRY_KEYS}"
        )));
    }
    Ok(entry)
}
