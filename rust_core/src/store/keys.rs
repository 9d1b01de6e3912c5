//! Key layout of the `memories` database, and server-made keys.
//!
//! An LMDB key is `namespace ++ 0x00 ++ key`. Namespaces and keys never contain NUL
//! (validated), so a namespace's memories are exactly the keys with prefix
//! `namespace ++ 0x00`, in key order, and plain LMDB tools can read them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The LMDB key of `key` in `namespace`.
pub fn db_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace.len() + 1 + key.len());
    out.extend_from_slice(namespace.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The prefix shared by every key of `namespace`.
pub fn namespace_prefix(namespace: &str) -> Vec<u8> {
    db_key(namespace, "")
}

/// Splits an LMDB key into (namespace, key). `None` for a malformed key.
pub fn split(db_key: &[u8]) -> Option<(&str, &str)> {
    let nul = db_key.iter().position(|&b| b == 0)?;
    let ns = std::str::from_utf8(&db_key[..nul]).ok()?;
    let key = std::str::from_utf8(&db_key[nul + 1..]).ok()?;
    Some((ns, key))
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Makes ULIDs: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32
/// characters. Keys sort by creation time; within one millisecond the random part
/// is incremented, so keys made by one generator are strictly increasing even when
/// the clock stands still or steps back.
#[derive(Debug)]
pub struct KeyGen {
    last_ms: u64,
    last_rand: u128,
    seed: RandomState,
    counter: u64,
}

impl Default for KeyGen {
    fn default() -> Self {
        Self { last_ms: 0, last_rand: 0, seed: RandomState::new(), counter: 0 }
    }
}

impl KeyGen {
    fn random80(&mut self) -> u128 {
        let mut word = || {
            self.counter += 1;
            let mut h = self.seed.build_hasher();
            h.write_u64(self.counter);
            u128::from(h.finish())
        };
        ((word() << 64) | word()) & ((1u128 << 80) - 1)
    }

    /// The next key at time `now_ms`.
    pub fn next(&mut self, now_ms: u64) -> String {
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            // Leave headroom so increments within this millisecond cannot overflow.
            self.last_rand = self.random80() >> 1;
        } else {
            self.last_rand += 1;
        }
        let value = (u128::from(self.last_ms & 0xFFFF_FFFF_FFFF) << 80) | self.last_rand;
        (0..26).rev().map(|i| CROCKFORD[((value >> (i * 5)) & 31) as usize] as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_round_trips() {
        let k = db_key("agent:a/user:1", "k1");
        assert_eq!(split(&k), Some(("agent:a/user:1", "k1")));
        assert!(k.starts_with(&namespace_prefix("agent:a/user:1")));
        assert!(!k.starts_with(&namespace_prefix("agent:a")));
    }

    #[test]
    fn ulids_increase_even_when_clock_stalls_or_steps_back() {
        let mut g = KeyGen::default();
        let mut keys = vec![g.next(1000), g.next(1000), g.next(999), g.next(2000)];
        assert!(keys.iter().all(|k| k.len() == 26));
        let sorted = {
            keys.sort();
            keys.clone()
        };
        keys.dedup();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 4);
    }
}
