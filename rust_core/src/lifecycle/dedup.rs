//! Exact-duplicate detection: which memories of a namespace hold a given text.
//!
//! Every memory's text is hashed (64-bit foldhash) when it is written or loaded, and
//! the hash is kept in its `KeyMeta`, so removing it from this index needs no read.
//! A lookup returns the keys whose text has the same hash; the caller compares the
//! stored texts, so a hash collision can never merge two different texts.
//! Near-duplicates (cosine over embeddings) use the search index's vectors instead.

use std::hash::BuildHasher;
use std::sync::Arc;

type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// The hash of a text; 0 for the empty text, which is never deduplicated.
pub fn text_hash(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    foldhash::quality::FixedState::with_seed(0x0064_6564_7570).hash_one(text).max(1)
}

/// Keys by text hash, for one namespace.
#[derive(Clone, Debug, Default)]
pub struct TextHashes {
    by_hash: Map<u64, Vec<Arc<str>>>,
}

impl TextHashes {
    /// Registers `key` as holding a text of hash `hash` (0 is ignored), after the
    /// keys that held it before, or back at `position` (what `remove` returned) when a
    /// rewrite of the same memory puts it back.
    pub fn insert(&mut self, hash: u64, key: &Arc<str>, position: Option<usize>) {
        if hash != 0 {
            let keys = self.by_hash.entry(hash).or_default();
            let at = position.map_or(keys.len(), |p| p.min(keys.len()));
            keys.insert(at, key.clone());
        }
    }

    /// Forgets `key` under `hash`; returns the position it had among the holders.
    pub fn remove(&mut self, hash: u64, key: &str) -> Option<usize> {
        let keys = self.by_hash.get_mut(&hash)?;
        let position = keys.iter().position(|k| &**k == key)?;
        keys.remove(position);
        if keys.is_empty() {
            self.by_hash.remove(&hash);
        }
        Some(position)
    }

    /// Keys whose text has hash `hash` (compare the texts before trusting one).
    pub fn candidates(&self, hash: u64) -> &[Arc<str>] {
        if hash == 0 {
            return &[];
        }
        self.by_hash.get(&hash).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_by_text_and_forgets_them() {
        let mut t = TextHashes::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let h = text_hash("same text");
        t.insert(h, &a, None);
        t.insert(h, &b, None);
        assert_eq!(t.candidates(h).len(), 2);
        // A rewrite of `a` keeps it first: merges go to the key that held the text first.
        let at = t.remove(h, "a");
        t.insert(h, &a, at);
        assert_eq!(t.candidates(h), [a.clone(), b.clone()]);
        t.remove(h, "a");
        assert_eq!(t.candidates(h), std::slice::from_ref(&b));
        t.remove(h, "b");
        assert!(t.candidates(h).is_empty());
    }

    #[test]
    fn empty_text_is_never_a_duplicate() {
        let mut t = TextHashes::default();
        t.insert(text_hash(""), &Arc::from("k"), None);
        assert!(t.candidates(text_hash("")).is_empty());
        assert_ne!(text_hash("x"), text_hash("y"));
    }
}
