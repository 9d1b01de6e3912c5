//! Keys made before a Store is logged (cluster mode).
//!
//! A replicated Store must carry its keys: the engine would make the missing ones
//! itself, but differently on every replica. The owner fills them in here, before the
//! request becomes a log entry, with the engine's own key layout (`store::keys`:
//! 48-bit milliseconds then 80 random bits), so a replicated store's keys look and
//! sort like a single node's. Done in Rust because in Python (parse, one attribute
//! set per memory, serialize) it cost about 4 µs per memory on the owner's critical
//! path, more than the engine's whole store of the batch.

use crate::error::Result;
use crate::store::keys::KeyGen;
use crate::wire;
use prost::Message;

/// A `StoreRequest` with every key filled in.
#[derive(Debug)]
pub struct KeyedStore {
    /// The request re-encoded with the keys made; `None` when no key was missing
    /// (then the request goes on as it came).
    pub payload: Option<Vec<u8>>,
    /// Its namespace.
    pub namespace: String,
    /// Its number of memories.
    pub items: usize,
}

/// Decodes a serialized `StoreRequest` and gives every memory without a key one made
/// at `now_ms`.
///
/// The re-encoding keeps every field the engine reads (it decodes the same
/// `wire::StoreRequest`); fields unknown to this build are dropped, which the engine
/// would ignore anyway.
///
/// # Errors
/// `InvalidArgument` for bytes that are not a `StoreRequest`.
pub fn fill_keys(request: &[u8], now_ms: u64) -> Result<KeyedStore> {
    let mut req: wire::StoreRequest = wire::decode(request)?;
    let items = req.memories.len();
    let mut keygen: Option<KeyGen> = None;
    for memory in req.memories.iter_mut().filter(|m| m.key.is_empty()) {
        memory.key = keygen.get_or_insert_with(KeyGen::default).next(now_ms);
    }
    let payload = keygen.map(|_| req.encode_to_vec());
    Ok(KeyedStore { payload, namespace: req.namespace, items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(keys: &[&str]) -> Vec<u8> {
        let memories = keys
            .iter()
            .map(|k| wire::NewMemory { key: (*k).to_owned(), ..Default::default() })
            .collect();
        wire::StoreRequest { namespace: "n".into(), memories, atomic: true, batch_id: 7 }
            .encode_to_vec()
    }

    #[test]
    fn fills_only_missing_keys_in_increasing_order() {
        let out = fill_keys(&request(&["mine", "", ""]), 1_700_000_000_000).unwrap();
        assert_eq!((out.namespace.as_str(), out.items), ("n", 3));
        let req: wire::StoreRequest = wire::decode(&out.payload.unwrap()).unwrap();
        assert_eq!(req.memories[0].key, "mine");
        let (a, b) = (&req.memories[1].key, &req.memories[2].key);
        assert!(a.len() == 26 && b.len() == 26 && a < b, "{a} {b}");
        assert!(req.atomic && req.batch_id == 7);
    }

    #[test]
    fn a_request_with_every_key_is_left_as_it_came() {
        let out = fill_keys(&request(&["a", "b"]), 5).unwrap();
        assert!(out.payload.is_none());
        assert_eq!(out.items, 2);
    }

    #[test]
    fn malformed_bytes_are_invalid_argument() {
        let err = fill_keys(&[0xff, 0xff, 0xff], 5).unwrap_err();
        assert!(matches!(err, crate::error::CoreError::InvalidArgument(_)), "{err:?}");
    }
}
