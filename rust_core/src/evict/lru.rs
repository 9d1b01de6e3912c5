//! `LruPolicy`: the eviction order of one tier of one namespace.
//!
//! # Algorithm
//!
//! The victim of a full tier is the least recently used memory *of the lowest
//! priority class present*: a memory with priority 0 is never evicted while one with
//! priority -1 remains, whatever their ages. So the order is the tuple
//! `(priority, last_access_ms, key)`, smallest first. Memories tied on priority and
//! access time (a batch is written in one millisecond) are told apart by the
//! caller with the retention score (`tier::migrate`, `first_ties`), and the key
//! breaks the remaining ties deterministically (smaller key leaves first).
//!
//! Redis approximates LRU by sampling a few keys per eviction because its keyspace
//! is huge and a precise order would cost memory per key. memd's tiers are bounded
//! per namespace and the hot ones are small (100 / 1 000 by default), so an exact
//! order is affordable: a `BTreeSet` gives O(log n) insert, remove and touch, and
//! O(log n) victim selection (the first element). Exactness buys determinism, which
//! the property tests compare against a plain model.
//!
//! A touch (read or write) is remove-then-insert with the new `last_access_ms`; the
//! caller supplies the old position (it keeps it in its per-key metadata), so no
//! lookup by key is needed here.

use std::collections::BTreeSet;
use std::sync::Arc;

/// Position of one memory in the eviction order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LruEntry {
    /// Eviction class: lower leaves first.
    pub priority: i32,
    /// Last read or write.
    pub last_access_ms: u64,
    /// Tie-break and identity.
    pub key: Arc<str>,
}

/// Exact LRU order with priority classes.
#[derive(Debug, Default, Clone)]
pub struct LruPolicy {
    order: BTreeSet<LruEntry>,
}

impl LruPolicy {
    /// Adds a memory. Returns false if it was already present (a caller bug).
    pub fn insert(&mut self, entry: LruEntry) -> bool {
        self.order.insert(entry)
    }

    /// Removes a memory at its recorded position.
    pub fn remove(&mut self, entry: &LruEntry) -> bool {
        self.order.remove(entry)
    }

    /// Moves a memory from `old` to its new access time.
    pub fn touch(&mut self, old: &LruEntry, last_access_ms: u64) {
        self.order.remove(old);
        self.order.insert(LruEntry { last_access_ms, ..old.clone() });
    }

    /// The memory eviction takes next, without removing it.
    pub fn victim(&self) -> Option<&LruEntry> {
        self.order.first()
    }

    /// The victim and up to `max - 1` entries tied with it on priority and access
    /// time, in order (a batch written in one millisecond ties).
    pub fn first_ties(&self, max: usize) -> impl Iterator<Item = &LruEntry> {
        let first = self.order.first().map(|e| (e.priority, e.last_access_ms));
        self.order
            .iter()
            .take_while(move |e| Some((e.priority, e.last_access_ms)) == first)
            .take(max)
    }

    /// Memories in the tier.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when the tier is empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Entries in eviction order (first leaves first).
    pub fn iter(&self) -> impl Iterator<Item = &LruEntry> {
        self.order.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn e(priority: i32, t: u64, key: &str) -> LruEntry {
        LruEntry { priority, last_access_ms: t, key: Arc::from(key) }
    }

    #[test]
    fn lowest_priority_class_first_then_oldest() {
        let mut lru = LruPolicy::default();
        lru.insert(e(0, 1, "old"));
        lru.insert(e(-1, 50, "low"));
        lru.insert(e(0, 2, "newer"));
        assert_eq!(&*lru.victim().unwrap().key, "low");
        lru.remove(&e(-1, 50, "low"));
        assert_eq!(&*lru.victim().unwrap().key, "old");
        lru.touch(&e(0, 1, "old"), 10);
        assert_eq!(&*lru.victim().unwrap().key, "newer");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, i8),
        Touch(u8),
        Evict,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..16, -2i8..2).prop_map(|(k, p)| Op::Put(k, p)),
            (0u8..16).prop_map(Op::Touch),
            Just(Op::Evict),
        ]
    }

    proptest! {
        /// The policy agrees with a naive model: a VecDeque per priority class,
        /// most recent at the back, victim = front of the lowest non-empty class.
        #[test]
        fn matches_deque_model(ops in proptest::collection::vec(op(), 1..200)) {
            let mut lru = LruPolicy::default();
            let mut pos: HashMap<String, LruEntry> = HashMap::new();
            let mut model: std::collections::BTreeMap<i32, std::collections::VecDeque<String>> =
                std::collections::BTreeMap::new();
            for (now, op) in (1u64..).zip(ops) {
                match op {
                    Op::Put(k, p) => {
                        let key = format!("k{k:02}");
                        if let Some(old) = pos.remove(&key) {
                            lru.remove(&old);
                            model.get_mut(&old.priority).unwrap().retain(|x| *x != key);
                        }
                        let entry = e(i32::from(p), now, &key);
                        lru.insert(entry.clone());
                        pos.insert(key.clone(), entry);
                        model.entry(i32::from(p)).or_default().push_back(key);
                    }
                    Op::Touch(k) => {
                        let key = format!("k{k:02}");
                        if let Some(old) = pos.get(&key).cloned() {
                            lru.touch(&old, now);
                            pos.insert(key.clone(), LruEntry { last_access_ms: now, ..old.clone() });
                            let q = model.get_mut(&old.priority).unwrap();
                            q.retain(|x| *x != key);
                            q.push_back(key);
                        }
                    }
                    Op::Evict => {
                        let expected = model.values_mut().find(|q| !q.is_empty()).and_then(std::collections::VecDeque::pop_front);
                        let got = lru.victim().cloned();
                        prop_assert_eq!(got.as_ref().map(|v| v.key.to_string()), expected.clone());
                        if let Some(v) = got {
                            lru.remove(&v);
                            pos.remove(&*v.key);
                        }
                    }
                }
                prop_assert_eq!(lru.len(), pos.len());
            }
        }
    }
}
