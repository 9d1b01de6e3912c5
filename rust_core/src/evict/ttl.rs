//! `TtlIndex`: every memory with an expiry, ordered by expiry time, across namespaces.
//!
//! # Algorithm
//!
//! Expiry is both lazy and active, as in Redis's expire.c. *Lazy*: a read checks the
//! record's own `expires_at_ms` and never returns an expired memory, whether or not
//! it has been removed yet; this alone makes expiry correct. *Active*: a sweep
//! removes expired memories so they stop taking space. Redis samples random keys
//! with a TTL because it keeps no expiry order; memd keeps an exact order
//! (`BTreeSet` of `(expires_at_ms, namespace id, key)`), so a sweep takes the
//! earliest-expiring entries from the front and stops at the first one still alive:
//! it never looks at a live memory, and its cost is O(k log n) for k removals.
//!
//! A sweep is bounded (`max`): the caller gets at most `max` entries and a flag
//! saying whether more have expired, so a scheduler can spread a large expiry wave
//! over several short write transactions instead of one long one that would stall
//! writers (Redis bounds its active cycle by time for the same reason).

use std::collections::BTreeSet;
use std::sync::Arc;

/// One expiring memory.
pub type TtlEntry = (u64, u32, Arc<str>);

/// Expiry order of every memory that has a TTL.
#[derive(Debug, Default, Clone)]
pub struct TtlIndex {
    order: BTreeSet<TtlEntry>,
}

impl TtlIndex {
    /// Registers a memory expiring at `expires_at_ms` (0 = never: not registered).
    pub fn insert(&mut self, expires_at_ms: u64, ns: u32, key: Arc<str>) {
        if expires_at_ms != 0 {
            self.order.insert((expires_at_ms, ns, key));
        }
    }

    /// Forgets a memory.
    pub fn remove(&mut self, expires_at_ms: u64, ns: u32, key: &Arc<str>) {
        if expires_at_ms != 0 {
            self.order.remove(&(expires_at_ms, ns, key.clone()));
        }
    }

    /// Up to `max` expired entries (earliest first), and whether more have expired.
    /// Entries are not removed: the caller removes each one it deletes.
    pub fn expired(&self, now_ms: u64, max: usize) -> (Vec<TtlEntry>, bool) {
        let mut alive = self.order.iter().take_while(|(t, _, _)| *t <= now_ms);
        let batch: Vec<TtlEntry> = alive.by_ref().take(max).cloned().collect();
        let more = alive.next().is_some();
        (batch, more)
    }

    /// Every entry expired at `now_ms` (earliest first), without a bound.
    pub fn expired_iter(&self, now_ms: u64) -> impl Iterator<Item = &TtlEntry> {
        self.order.iter().take_while(move |(t, _, _)| *t <= now_ms)
    }

    /// Memories with an expiry.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing expires.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Bounded sweeps agree with a sorted-set model: after sweeping until `more` is
        /// false, exactly the entries with expiry <= now are gone, earliest first.
        #[test]
        fn sweep_matches_sorted_map(
            entries in proptest::collection::btree_map(0u16..500, 1u64..1000, 0..100),
            now in 0u64..1200,
            max in 1usize..10,
        ) {
            let mut idx = TtlIndex::default();
            let mut model: BTreeSet<(u64, String)> = BTreeSet::new();
            for (k, t) in &entries {
                let key = format!("{k:03}");
                idx.insert(*t, 0, Arc::from(key.as_str()));
                model.insert((*t, key));
            }
            let mut swept = Vec::new();
            loop {
                let (batch, more) = idx.expired(now, max);
                prop_assert!(batch.len() <= max);
                for (t, ns, key) in &batch {
                    idx.remove(*t, *ns, key);
                    swept.push((*t, key.to_string()));
                }
                if !more { break; }
            }
            let expected: Vec<(u64, String)> =
                model.iter().filter(|(t, _)| *t <= now).cloned().collect();
            prop_assert_eq!(swept, expected);
            prop_assert_eq!(idx.len(), model.iter().filter(|(t, _)| *t > now).count());
        }
    }
}
