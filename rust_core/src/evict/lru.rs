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
//!
//! Each entry also carries what the retention score reads besides the access time
//! (importance, creation time, access count), outside the order: comparing up to
//! `TIE_SCAN` ties per eviction then reads the entries the scan walks anyway
//! instead of looking every tied key up in the namespace's key map (one hash lookup
//! each; with the default tiers a put demotes up to three times, each scanning 64
//! ties of the batch written in the same millisecond). The caller keeps the copy
//! current: it re-inserts the entry whenever one of these fields changes.

use std::collections::BTreeSet;
use std::sync::Arc;

/// Position of one memory in the eviction order. Ordered and compared by
/// `(priority, last_access_ms, key)` only; the other fields ride along.
#[derive(Clone, Debug)]
pub struct LruEntry {
    /// Eviction class: lower leaves first.
    pub priority: i32,
    /// Last read or write.
    pub last_access_ms: u64,
    /// Tie-break and identity.
    pub key: Arc<str>,
    /// The retention score's other inputs (see the module docs).
    pub importance: f32,
    /// Creation time.
    pub created_ms: u64,
    /// Reads and writes so far.
    pub access_count: u64,
}

impl LruEntry {
    fn position(&self) -> (i32, u64, &str) {
        (self.priority, self.last_access_ms, &self.key)
    }
}

impl PartialEq for LruEntry {
    fn eq(&self, other: &Self) -> bool {
        self.position() == other.position()
    }
}

impl Eq for LruEntry {}

impl PartialOrd for LruEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LruEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
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

    /// Moves a memory from its old position to `new` (its new access time and
    /// statistics).
    pub fn touch(&mut self, old: &LruEntry, new: LruEntry) {
        self.order.remove(old);
        self.order.insert(new);
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
        LruEntry {
            priority,
            last_access_ms: t,
            key: Arc::from(key),
            importance: 0.5,
            created_ms: 0,
            access_count: 0,
        }
    }

    #[test]
    fn carried_statistics_are_outside_the_order() {
        let mut lru = LruPolicy::default();
        let stale = LruEntry { importance: 0.9, access_count: 7, ..e(0, 1, "a") };
        lru.insert(e(0, 1, "a"));
        assert!(!lru.insert(stale.clone()), "same position, so the same entry");
        lru.touch(&stale, LruEntry { access_count: 8, ..e(0, 5, "a") });
        assert_eq!(lru.len(), 1);
        let now = lru.victim().unwrap();
        assert_eq!((now.last_access_ms, now.access_count), (5, 8));
        assert!(lru.remove(&e(0, 5, "a")));
        assert!(lru.is_empty());
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
        lru.touch(&e(0, 1, "old"), e(0, 10, "old"));
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
                            let new = LruEntry { last_access_ms: now, ..old.clone() };
                            lru.touch(&old, new.clone());
                            pos.insert(key.clone(), new);
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
