//! The `memd.v1` messages of the batch hot paths (Store, Retrieve), decoded and
//! encoded in Rust so that the Python servicer does no per-item work: gRPC hands the
//! request bytes to the engine and the engine's reply bytes back to gRPC.
//!
//! Field numbers and types mirror `proto/memd/v1/*.proto`; `tests/unit/test_wire.py`
//! checks byte compatibility against the classes generated from the same files.

use crate::error::CoreError;
use crate::model::{Memory, RawHistory, RawMemory};
use prost::Message;
use std::collections::HashMap;

/// `memd.v1.NewMemory`.
#[derive(Clone, PartialEq, Message)]
pub struct NewMemory {
    /// Key (empty: server-made).
    #[prost(string, tag = "1")]
    pub key: String,
    /// Text.
    #[prost(string, tag = "2")]
    pub text: String,
    /// Value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
    /// Packed little-endian float32; empty = none.
    #[prost(bytes = "vec", tag = "4")]
    pub embedding: Vec<u8>,
    /// Tags.
    #[prost(string, repeated, tag = "5")]
    pub tags: Vec<String>,
    /// Metadata.
    #[prost(map = "string, string", tag = "6")]
    pub metadata: HashMap<String, String>,
    /// Importance (unset: default or existing).
    #[prost(double, optional, tag = "7")]
    pub importance: Option<f64>,
    /// Eviction class.
    #[prost(int32, tag = "8")]
    pub priority: i32,
    /// TTL (unset: tier default).
    #[prost(uint64, optional, tag = "9")]
    pub ttl_ms: Option<u64>,
    /// `memd.v1.Tier` number.
    #[prost(int32, tag = "10")]
    pub tier: i32,
    /// The memory's past, for an import (unset: a write now).
    #[prost(message, optional, tag = "18")]
    pub history: Option<MemoryHistory>,
    /// Context: searched and embedded with the text (empty: none).
    #[prost(string, tag = "19")]
    pub context: String,
}

/// `memd.v1.MemoryHistory`: 0 is "not given" in every field.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct MemoryHistory {
    /// First stored (required).
    #[prost(uint64, tag = "1")]
    pub created_ms: u64,
    /// Last stored (0: `created_ms`).
    #[prost(uint64, tag = "2")]
    pub updated_ms: u64,
    /// Last read or write (0: `updated_ms`).
    #[prost(uint64, tag = "3")]
    pub last_access_ms: u64,
    /// Reads and writes.
    #[prost(uint64, tag = "4")]
    pub access_count: u64,
    /// Version (0: 1).
    #[prost(uint64, tag = "5")]
    pub version: u64,
    /// Expiry (0: from the TTL).
    #[prost(uint64, tag = "6")]
    pub expires_at_ms: u64,
}

/// `memd.v1.StoreRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct StoreRequest {
    /// Namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// The batch.
    #[prost(message, repeated, tag = "2")]
    pub memories: Vec<NewMemory>,
    /// All or nothing.
    #[prost(bool, tag = "3")]
    pub atomic: bool,
    /// Echoed in the response.
    #[prost(uint64, tag = "4")]
    pub batch_id: u64,
}

/// `memd.v1.ItemError`.
#[derive(Clone, PartialEq, Message)]
pub struct ItemError {
    /// Index in the request.
    #[prost(uint32, tag = "1")]
    pub index: u32,
    /// gRPC status code number.
    #[prost(int32, tag = "2")]
    pub code: i32,
    /// Reason.
    #[prost(string, tag = "3")]
    pub message: String,
}

/// `memd.v1.StoreResponse` (columnar).
#[derive(Clone, PartialEq, Message)]
pub struct StoreResponse {
    /// Keys, per item.
    #[prost(string, repeated, tag = "1")]
    pub keys: Vec<String>,
    /// Versions, per item (0 = failed).
    #[prost(uint64, repeated, tag = "2")]
    pub versions: Vec<u64>,
    /// Tiers, per item (0 = failed).
    #[prost(int32, repeated, tag = "3")]
    pub tiers: Vec<i32>,
    /// Failed items.
    #[prost(message, repeated, tag = "4")]
    pub errors: Vec<ItemError>,
    /// The request's `batch_id`.
    #[prost(uint64, tag = "5")]
    pub batch_id: u64,
    /// Per item, the key merged into (dedup); empty when no item merged.
    #[prost(string, repeated, tag = "6")]
    pub merged_into: Vec<String>,
    /// Per item, a near-duplicate's key (flag mode); empty when none was flagged.
    #[prost(string, repeated, tag = "7")]
    pub similar_to: Vec<String>,
}

/// `memd.v1.RetrieveRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct RetrieveRequest {
    /// Namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// Keys.
    #[prost(string, repeated, tag = "2")]
    pub keys: Vec<String>,
    /// Read without counting an access.
    #[prost(bool, tag = "3")]
    pub peek: bool,
}

/// `memd.v1.Memory`.
#[derive(Clone, PartialEq, Message)]
pub struct MemoryPb {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Text.
    #[prost(string, tag = "2")]
    pub text: String,
    /// Value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
    /// Packed little-endian float32.
    #[prost(bytes = "vec", tag = "4")]
    pub embedding: Vec<u8>,
    /// Tags.
    #[prost(string, repeated, tag = "5")]
    pub tags: Vec<String>,
    /// Metadata.
    #[prost(map = "string, string", tag = "6")]
    pub metadata: HashMap<String, String>,
    /// Importance.
    #[prost(double, tag = "7")]
    pub importance: f64,
    /// Priority.
    #[prost(int32, tag = "8")]
    pub priority: i32,
    /// TTL.
    #[prost(uint64, tag = "9")]
    pub ttl_ms: u64,
    /// Tier number.
    #[prost(int32, tag = "10")]
    pub tier: i32,
    /// Namespace.
    #[prost(string, tag = "11")]
    pub namespace: String,
    /// Expiry (0 = never).
    #[prost(uint64, tag = "12")]
    pub expires_at_ms: u64,
    /// Creation.
    #[prost(uint64, tag = "13")]
    pub created_ms: u64,
    /// Last write.
    #[prost(uint64, tag = "14")]
    pub updated_ms: u64,
    /// Last access.
    #[prost(uint64, tag = "15")]
    pub last_access_ms: u64,
    /// Accesses.
    #[prost(uint64, tag = "16")]
    pub access_count: u64,
    /// Version.
    #[prost(uint64, tag = "17")]
    pub version: u64,
    /// Context (empty: none).
    #[prost(string, tag = "19")]
    pub context: String,
}

/// `memd.v1.RetrieveResult`.
#[derive(Clone, PartialEq, Message)]
pub struct RetrieveResult {
    /// The key asked for.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Present and not expired.
    #[prost(bool, tag = "2")]
    pub found: bool,
    /// The memory, when found.
    #[prost(message, optional, tag = "3")]
    pub memory: Option<MemoryPb>,
}

/// `memd.v1.RetrieveResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct RetrieveResponse {
    /// One per requested key, in order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<RetrieveResult>,
}

/// `memd.v1.ListRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ListRequest {
    /// Namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
    /// Only this tier (0: all).
    #[prost(int32, tag = "2")]
    pub tier: i32,
    /// Page size (0: the server's default).
    #[prost(uint32, tag = "3")]
    pub page_size: u32,
    /// Continue after this key.
    #[prost(string, tag = "4")]
    pub page_token: String,
    /// Largest key first.
    #[prost(bool, tag = "5")]
    pub reverse: bool,
    /// Created at or after (0: no bound).
    #[prost(uint64, tag = "6")]
    pub created_after_ms: u64,
    /// Created before (0: no bound).
    #[prost(uint64, tag = "7")]
    pub created_before_ms: u64,
}

/// `memd.v1.ListResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct ListResponse {
    /// The page.
    #[prost(message, repeated, tag = "1")]
    pub memories: Vec<MemoryPb>,
    /// Next page's token; empty at the end.
    #[prost(string, tag = "2")]
    pub next_page_token: String,
}

/// Field 1 of every `memd.v1` request that names a namespace; any other field is
/// skipped as unknown.
#[derive(Clone, PartialEq, Message)]
pub struct NamespaceOnly {
    /// Namespace.
    #[prost(string, tag = "1")]
    pub namespace: String,
}

/// The namespace (field 1) of any serialized `memd.v1` request; empty when absent.
/// It decodes exactly as protobuf parsers do (unknown fields skipped, the last
/// occurrence of field 1 wins), so the server authorizes the namespace the
/// engine will act on. Malformed bytes are `InvalidArgument`.
pub fn peek_namespace(request: &[u8]) -> Result<String, CoreError> {
    decode::<NamespaceOnly>(request).map(|m| m.namespace)
}

/// Decodes a message, mapping malformed bytes to `InvalidArgument`.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, CoreError> {
    M::decode(bytes).map_err(|e| CoreError::invalid(format!("malformed request: {e}")))
}

/// The gRPC status code of an error reported per item. Must agree with the table in
/// `memd/server/status.py` (checked by `tests/unit/test_wire.py`).
pub fn grpc_code(err: &CoreError) -> i32 {
    match err {
        CoreError::InvalidArgument(_) => 3,
        CoreError::NotFound(_) => 5,
        CoreError::AlreadyExists(_) => 6,
        CoreError::Capacity(_) => 8,
        CoreError::Closed(_) | CoreError::InUse(_) => 9,
        CoreError::Unavailable(_) => 14,
        CoreError::DataLoss(_) => 15,
        CoreError::Storage(_) | CoreError::Internal(_) => 13,
    }
}

impl From<NewMemory> for RawMemory {
    fn from(m: NewMemory) -> RawMemory {
        RawMemory {
            key: m.key,
            text: m.text,
            value: m.value,
            embedding: (!m.embedding.is_empty()).then_some(m.embedding),
            tags: m.tags,
            metadata: m.metadata.into_iter().collect(),
            context: m.context,
            importance: m.importance,
            priority: i128::from(m.priority),
            ttl_ms: m.ttl_ms.map(i128::from),
            tier: i128::from(m.tier),
            history: m.history.map(|h| RawHistory {
                created_ms: i128::from(h.created_ms),
                updated_ms: i128::from(h.updated_ms),
                last_access_ms: i128::from(h.last_access_ms),
                access_count: i128::from(h.access_count),
                version: i128::from(h.version),
                expires_at_ms: i128::from(h.expires_at_ms),
            }),
        }
    }
}

/// An upper bound of `MemoryPb::from(m.clone()).encoded_len()`, from lengths alone (no
/// copy, no conversion): each of the 18 fields at most a 2-byte tag plus a 10-byte
/// varint or length prefix, plus its bytes; each tag and metadata entry (an embedded
/// message of two strings) likewise.
pub fn memory_len_bound(m: &Memory) -> usize {
    const FIELD: usize = 12;
    let bytes = m.key.len()
        + m.text.len()
        + m.context.len()
        + m.value.len()
        + m.namespace.len()
        + m.embedding.as_ref().map_or(0, |v| 4 * v.len());
    let tags: usize = m.tags.iter().map(|t| FIELD + t.len()).sum();
    let metadata: usize = m.metadata.iter().map(|(k, v)| 3 * FIELD + k.len() + v.len()).sum();
    18 * FIELD + bytes + tags + metadata
}

impl From<Memory> for MemoryPb {
    fn from(m: Memory) -> MemoryPb {
        let h = m.header;
        MemoryPb {
            key: m.key,
            text: m.text,
            value: m.value,
            embedding: m.embedding.iter().flatten().flat_map(|x| x.to_le_bytes()).collect(),
            tags: m.tags,
            metadata: m.metadata.into_iter().collect(),
            importance: f64::from(h.importance),
            priority: h.priority,
            ttl_ms: h.ttl_ms,
            tier: i32::from(h.tier.number()),
            namespace: m.namespace.to_string(),
            expires_at_ms: h.expires_at_ms,
            created_ms: h.created_ms,
            updated_ms: h.updated_ms,
            last_access_ms: h.last_access_ms,
            access_count: h.access_count,
            version: h.version,
            context: m.context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Header, Tier};
    use proptest::prelude::*;
    use std::sync::Arc;

    proptest! {
        #[test]
        fn memory_len_bound_is_never_below_the_encoded_length(
            text in ".{0,40}",
            context in ".{0,40}",
            value in proptest::collection::vec(any::<u8>(), 0..300),
            dim in 0usize..20,
            tags in proptest::collection::vec(".{0,10}", 0..5),
            metadata in proptest::collection::vec((".{0,8}", ".{0,8}"), 0..5),
            big in any::<u64>(),
            priority in any::<i32>(),
        ) {
            let m = Memory {
                namespace: Arc::from("ns:é"),
                key: "k".repeat(26),
                header: Header {
                    tier: Tier::Archive,
                    compressed: false,
                    offloaded: false,
                    importance: 0.3,
                    priority,
                    dim: u32::try_from(dim).unwrap(),
                    created_ms: big,
                    updated_ms: big,
                    last_access_ms: big,
                    access_count: big,
                    version: big,
                    expires_at_ms: big,
                    ttl_ms: big,
                },
                text,
                value,
                embedding: (dim > 0).then(|| vec![0.5; dim]),
                tags,
                metadata,
                context,
            };
            let exact = MemoryPb::from(m.clone()).encoded_len();
            prop_assert!(memory_len_bound(&m) >= exact);
        }
    }
}
