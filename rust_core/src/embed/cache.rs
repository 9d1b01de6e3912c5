//! A small LRU cache of query vectors: agents repeat questions ("what does the user
//! like?"), and a query embedding costs milliseconds locally and a round trip to an
//! endpoint. Keyed by model and text, so a reconfigured model never serves another's
//! vectors. Capacity is small (hundreds to thousands), so eviction scans for the
//! least recently used entry instead of keeping a linked list: O(capacity) per miss
//! on a full cache, negligible next to the embedding the miss costs anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// (model, text) -> (vector, tick of its last use).
type Entries = HashMap<(String, String), (Arc<[f32]>, u64)>;

#[derive(Default)]
struct Inner {
    capacity: usize,
    tick: u64,
    entries: Entries,
}

/// Query text -> vector, least recently used out first.
#[derive(Default)]
pub struct QueryCache {
    inner: Mutex<Inner>,
}

impl QueryCache {
    /// Sets the capacity (0 disables the cache) and empties it.
    pub fn resize(&self, capacity: usize) {
        let mut inner = self.inner.lock().expect("query cache lock");
        inner.capacity = capacity;
        inner.entries.clear();
    }

    /// The cached vector of `text` under `model`, marked as just used.
    pub fn get(&self, model: &str, text: &str) -> Option<Arc<[f32]>> {
        let mut inner = self.inner.lock().expect("query cache lock");
        inner.tick += 1;
        let tick = inner.tick;
        // Borrowed lookup keys would need a custom key type; queries are short.
        let entry = inner.entries.get_mut(&(model.to_owned(), text.to_owned()))?;
        entry.1 = tick;
        Some(entry.0.clone())
    }

    /// Caches `vector`, evicting the least recently used entry when full.
    pub fn put(&self, model: &str, text: &str, vector: Arc<[f32]>) {
        let mut inner = self.inner.lock().expect("query cache lock");
        if inner.capacity == 0 {
            return;
        }
        if inner.entries.len() >= inner.capacity {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                inner.entries.remove(&k);
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.insert((model.to_owned(), text.to_owned()), (vector, tick));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f32) -> Arc<[f32]> {
        vec![x].into()
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let c = QueryCache::default();
        c.resize(2);
        let a = v(1.0);
        c.put("m", "a", a.clone());
        c.put("m", "b", v(2.0));
        assert!(c.get("m", "a").is_some()); // a is now newer than b
        c.put("m", "c", v(3.0));
        assert!(c.get("m", "b").is_none());
        assert!(Arc::ptr_eq(&c.get("m", "a").unwrap(), &a));
        assert!(c.get("m", "c").is_some());
        assert!(c.get("other", "a").is_none());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let c = QueryCache::default();
        c.put("m", "a", v(1.0));
        assert!(c.get("m", "a").is_none());
    }
}
