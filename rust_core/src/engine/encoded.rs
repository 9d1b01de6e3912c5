//! Store, Retrieve and List on serialized `memd.v1` messages: the gRPC fast path.
//! The servicer passes the request bytes through untouched and returns the reply
//! bytes, so a 1 000-memory batch costs Python one call instead of a thousand
//! conversions. Invariant: a reply never exceeds the `max_reply_bytes` it is given
//! (the server's maximum message size), and a read refused for size changes nothing.

use crate::engine::read::{self, ReadSlot};
use crate::engine::{Engine, ListQuery};
use crate::error::{CoreError, Result};
use crate::model::{RawMemory, Tier};
use crate::validate;
use crate::wire::{self, ItemError, RetrieveResult, StoreResponse};
use prost::Message;

impl Engine {
    /// Decodes a `StoreRequest`, stores it like `put_many` and returns the encoded
    /// `StoreResponse` and the number of items. More than `max_items` items, an
    /// atomic batch with an invalid item, or a bad namespace is an error for the whole
    /// call (nothing stored).
    pub fn store_encoded(
        &self,
        request: &[u8],
        now_ms: u64,
        max_items: usize,
    ) -> Result<(Vec<u8>, usize)> {
        let req: wire::StoreRequest = wire::decode(request)?;
        let n = req.memories.len();
        check_items(n, max_items)?;
        let raw: Vec<RawMemory> = req.memories.into_iter().map(RawMemory::from).collect();
        let results = self.put_many(&req.namespace, raw, now_ms, req.atomic)?;
        Ok((store_response(results, req.batch_id), n))
    }

    /// Decodes a `RetrieveRequest`, reads like `get_many` (counting an access unless
    /// `peek`) and returns the encoded `RetrieveResponse` and the number of keys.
    /// A reply that would exceed `max_reply_bytes` is `Capacity`, found before any
    /// access is recorded: a refused read changes nothing.
    pub fn retrieve_encoded(
        &self,
        request: &[u8],
        now_ms: u64,
        max_items: usize,
        max_reply_bytes: usize,
    ) -> Result<(Vec<u8>, usize)> {
        let req: wire::RetrieveRequest = wire::decode(request)?;
        check_items(req.keys.len(), max_items)?;
        let shared = self.shared()?;
        let found = read::lookup(&shared, &req.namespace, &req.keys, now_ms)?;
        let n = req.keys.len();
        let mut resp = wire::RetrieveResponse {
            results: req
                .keys
                .into_iter()
                .zip(found)
                .map(|(key, m)| RetrieveResult {
                    key,
                    found: m.is_some(),
                    memory: m.map(wire::MemoryPb::from),
                })
                .collect(),
        };
        let hits = resp.results.iter().filter(|r| r.found).count();
        let len = resp.encoded_len() + hits * ACCOUNTING_GROWTH;
        if len > max_reply_bytes {
            return Err(CoreError::Capacity(format!(
                "reply of {len} bytes exceeds the {max_reply_bytes}-byte limit; ask for fewer keys"
            )));
        }
        read::account(&shared, &req.namespace, &mut resp.results, now_ms, !req.peek)?;
        Ok((resp.encode_to_vec(), n))
    }
}

/// Most bytes accounting can add to one encoded memory: `last_access_ms` and
/// `access_count` may each grow from absent (0) to a 10-byte varint plus its tag.
/// The tier stays a one-byte varint.
const ACCOUNTING_GROWTH: usize = 2 * 11;

impl ReadSlot for RetrieveResult {
    fn hit(&self) -> Option<(&str, Tier)> {
        let m = self.memory.as_ref()?;
        Some((m.key.as_str(), Tier::from_number(i64::from(m.tier))?))
    }
    fn set_access(&mut self, last_access_ms: u64, access_count: u64) {
        if let Some(m) = &mut self.memory {
            m.last_access_ms = last_access_ms;
            m.access_count = access_count;
        }
    }
    fn set_tier(&mut self, tier: Tier) {
        if let Some(m) = &mut self.memory {
            m.tier = i32::from(tier.number());
        }
    }
}

impl Engine {
    /// Decodes a `ListRequest` and returns the encoded `ListResponse` and the page
    /// length. A page size of 0 means `default_page`; larger ones are capped at
    /// `max_page`. The page also ends before the reply would exceed
    /// `max_reply_bytes` (its token then continues after the last memory sent); a
    /// single memory too large to send alone is `Capacity`.
    pub fn list_encoded(
        &self,
        request: &[u8],
        now_ms: u64,
        default_page: usize,
        max_page: usize,
        max_reply_bytes: usize,
    ) -> Result<(Vec<u8>, usize)> {
        let req: wire::ListRequest = wire::decode(request)?;
        let tier = validate::optional_tier(i128::from(req.tier))?;
        let page = match req.page_size as usize {
            0 => default_page,
            n => n.min(max_page),
        };
        let query = ListQuery {
            ns: req.namespace,
            now_ms,
            tier,
            cursor: req.page_token,
            limit: page,
            reverse: req.reverse,
            created_after_ms: req.created_after_ms,
            created_before_ms: req.created_before_ms,
        };
        let (items, mut next_page_token) = self.list(&query)?;
        // Room for the page token: a key, at most `max_key_bytes`, tag and length.
        let token_room = self.shared()?.cfg.limits.max_key_bytes + 3;
        let mut used = token_room;
        let mut memories: Vec<wire::MemoryPb> = Vec::with_capacity(items.len());
        for m in items {
            let pb = wire::MemoryPb::from(m);
            let len = prost::encoding::message::encoded_len(1, &pb);
            if used + len > max_reply_bytes {
                let Some(last) = memories.last() else {
                    return Err(CoreError::Capacity(format!(
                        "memory {:?} takes {len} bytes, over the {max_reply_bytes}-byte reply \
                         limit; read it with Retrieve after raising the limit",
                        pb.key
                    )));
                };
                next_page_token.clone_from(&last.key);
                break;
            }
            used += len;
            memories.push(pb);
        }
        let n = memories.len();
        Ok((wire::ListResponse { memories, next_page_token }.encode_to_vec(), n))
    }
}

pub(super) fn check_items(n: usize, max_items: usize) -> Result<()> {
    if n > max_items {
        return Err(CoreError::Capacity(format!(
            "{n} items in one message; the limit is {max_items} (--max-batch-items)"
        )));
    }
    Ok(())
}

/// The encoded `StoreResponse` of a stored batch's per-item results.
pub(super) fn store_response(results: Vec<crate::engine::PutResult>, batch_id: u64) -> Vec<u8> {
    let n = results.len();
    let mut resp = StoreResponse {
        keys: Vec::with_capacity(n),
        versions: Vec::with_capacity(n),
        tiers: Vec::with_capacity(n),
        errors: Vec::new(),
        batch_id,
        merged_into: Vec::new(),
        similar_to: Vec::new(),
    };
    // Columns that are almost always empty are sent only when some item has one.
    if results.iter().any(|r| r.merged_into.is_some()) {
        resp.merged_into =
            results.iter().map(|r| r.merged_into.clone().unwrap_or_default()).collect();
    }
    if results.iter().any(|r| r.similar_to.is_some()) {
        resp.similar_to =
            results.iter().map(|r| r.similar_to.clone().unwrap_or_default()).collect();
    }
    for (index, r) in results.into_iter().enumerate() {
        if let Some(err) = &r.error {
            resp.errors.push(ItemError {
                index: index as u32,
                code: wire::grpc_code(err),
                message: err.message().to_owned(),
            });
        }
        resp.keys.push(r.key);
        resp.versions.push(r.version);
        resp.tiers.push(r.tier.map_or(0, |t| i32::from(t.number())));
    }
    resp.encode_to_vec()
}
