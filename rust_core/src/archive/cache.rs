//! The bounded cache of opened objects (decrypted, decompressed plaintexts), so
//! reading several memories of one object, or one memory again, costs one fetch.
//! Least recently used out first, bounded by bytes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Object name -> plaintext.
pub struct ObjectCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Least recently used first.
    order: VecDeque<(String, Arc<Vec<u8>>)>,
    bytes: usize,
}

impl ObjectCache {
    /// A cache of at most `max_bytes` of plaintext (0: nothing is kept).
    pub fn new(max_bytes: usize) -> ObjectCache {
        ObjectCache { max_bytes, inner: Mutex::new(Inner::default()) }
    }

    /// The plaintext of `name`, marking it recently used.
    pub fn get(&self, name: &str) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.inner.lock().expect("cache lock");
        let at = inner.order.iter().position(|(n, _)| n == name)?;
        let entry = inner.order.remove(at).expect("position is in range");
        let plain = entry.1.clone();
        inner.order.push_back(entry);
        Some(plain)
    }

    /// Keeps `plain` as `name`'s plaintext, dropping the least recently used ones
    /// beyond the bound (an object larger than the bound is not kept).
    pub fn put(&self, name: &str, plain: Arc<Vec<u8>>) {
        if plain.len() > self.max_bytes {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some(at) = inner.order.iter().position(|(n, _)| n == name) {
            let (_, old) = inner.order.remove(at).expect("position is in range");
            inner.bytes -= old.len();
        }
        inner.bytes += plain.len();
        inner.order.push_back((name.to_owned(), plain));
        while inner.bytes > self.max_bytes {
            let (_, dropped) = inner.order.pop_front().expect("bytes > 0 means entries");
            inner.bytes -= dropped.len();
        }
    }

    /// Forgets `name` (its object was deleted).
    pub fn remove(&self, name: &str) {
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some(at) = inner.order.iter().position(|(n, _)| n == name) {
            let (_, old) = inner.order.remove(at).expect("position is in range");
            inner.bytes -= old.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_within_the_bound() {
        let cache = ObjectCache::new(10);
        cache.put("a", Arc::new(vec![0; 4]));
        cache.put("b", Arc::new(vec![0; 4]));
        assert!(cache.get("a").is_some()); // b is now the least recent
        cache.put("c", Arc::new(vec![0; 4]));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        cache.put("huge", Arc::new(vec![0; 11]));
        assert!(cache.get("huge").is_none());
        cache.remove("a");
        assert!(cache.get("a").is_none());
    }
}
