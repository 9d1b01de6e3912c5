//! Eviction and expiry orders: which memory leaves a full tier, and which memories
//! have expired. Pure data structures; the engine applies their answers to LMDB.

pub mod lru;
pub mod ttl;

pub use lru::LruPolicy;
pub use ttl::TtlIndex;
