//! The data model: tiers, memories as stored, and validated input.

use std::sync::Arc;

/// Storage tiers, hottest first. Numbers match `memd.v1.Tier` (0 is "unspecified").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tier {
    /// The agent's current context; smallest and hottest.
    Working = 1,
    /// Recent memories.
    ShortTerm = 2,
    /// Consolidated knowledge.
    LongTerm = 3,
    /// Cold storage; values compressed; bounded by disk.
    Archive = 4,
}

impl Tier {
    /// All tiers, hottest first.
    pub const ALL: [Tier; 4] = [Tier::Working, Tier::ShortTerm, Tier::LongTerm, Tier::Archive];

    /// The tier with proto number `n` (1..=4).
    pub fn from_number(n: i64) -> Option<Tier> {
        match n {
            1 => Some(Tier::Working),
            2 => Some(Tier::ShortTerm),
            3 => Some(Tier::LongTerm),
            4 => Some(Tier::Archive),
            _ => None,
        }
    }

    /// Proto number (1..=4).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Index into per-tier arrays (0..4).
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Where eviction demotes to; `None` for ARCHIVE (leaving it deletes).
    pub fn colder(self) -> Option<Tier> {
        Tier::from_number(i64::from(self.number()) + 1)
    }

    /// Where promotion moves to; `None` for WORKING.
    pub fn warmer(self) -> Option<Tier> {
        Tier::from_number(i64::from(self.number()) - 1)
    }
}

/// The fixed-size part of a record: everything eviction, expiry and stats need,
/// decodable without touching the variable-length body.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Current tier.
    pub tier: Tier,
    /// The stored value is lz4-compressed (ARCHIVE).
    pub compressed: bool,
    /// The stored value is a pointer into the object archive (`archive::Pointer`).
    pub offloaded: bool,
    /// In [0, 1].
    pub importance: f32,
    /// Higher is evicted later.
    pub priority: i32,
    /// Embedding dimension, 0 when absent.
    pub dim: u32,
    /// Creation time (ms since epoch).
    pub created_ms: u64,
    /// Last write time.
    pub updated_ms: u64,
    /// Last read or write time.
    pub last_access_ms: u64,
    /// Reads and writes so far.
    pub access_count: u64,
    /// 1 on creation, +1 per update.
    pub version: u64,
    /// Absolute expiry, 0 = never.
    pub expires_at_ms: u64,
    /// The TTL it was stored with, 0 = none.
    pub ttl_ms: u64,
}

impl Header {
    /// True when the memory must no longer be returned.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }
}

/// A memory as stored and returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// Scope of the memory.
    pub namespace: Arc<str>,
    /// Unique within the namespace.
    pub key: String,
    /// Fixed fields.
    pub header: Header,
    /// Searchable content.
    pub text: String,
    /// Opaque bytes, always uncompressed here.
    pub value: Vec<u8>,
    /// Optional vector.
    pub embedding: Option<Vec<f32>>,
    /// Labels.
    pub tags: Vec<String>,
    /// String map, in key order.
    pub metadata: Vec<(String, String)>,
    /// Searchable and embedded with `text`, never returned as it (empty: none).
    pub context: String,
}

/// A memory to write, borrowing its content: a put encodes and indexes the
/// caller's fields where they are (the batch stays whole in the writer's job, which
/// is retried alone if its group's commit fails) instead of copying them into a
/// `Memory` per item.
#[derive(Clone, Copy, Debug)]
pub struct MemoryView<'a> {
    /// Scope of the memory.
    pub namespace: &'a Arc<str>,
    /// Unique within the namespace.
    pub key: &'a str,
    /// Fixed fields.
    pub header: &'a Header,
    /// Searchable content.
    pub text: &'a str,
    /// Opaque bytes, uncompressed.
    pub value: &'a [u8],
    /// Optional vector.
    pub embedding: Option<&'a [f32]>,
    /// Labels.
    pub tags: &'a [String],
    /// String map, in key order.
    pub metadata: &'a [(String, String)],
    /// Context (empty: none).
    pub context: &'a str,
}

impl Memory {
    /// The memory as a write sees it.
    pub fn view(&self) -> MemoryView<'_> {
        MemoryView {
            namespace: &self.namespace,
            key: &self.key,
            header: &self.header,
            text: &self.text,
            value: &self.value,
            embedding: self.embedding.as_deref(),
            tags: &self.tags,
            metadata: &self.metadata,
            context: &self.context,
        }
    }
}

/// A memory to store, already validated (see `validate.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewMemory {
    /// Empty asks for a generated key.
    pub key: String,
    /// Searchable content.
    pub text: String,
    /// Opaque bytes.
    pub value: Vec<u8>,
    /// Optional vector (finite values).
    pub embedding: Option<Vec<f32>>,
    /// Labels.
    pub tags: Vec<String>,
    /// String map, sorted by key.
    pub metadata: Vec<(String, String)>,
    /// Context (empty: none): searched and embedded with the text.
    pub context: String,
    /// `None` keeps the existing importance, or 0.5 for a new memory.
    pub importance: Option<f32>,
    /// Eviction class.
    pub priority: i32,
    /// `None` uses the tier default; `Some(0)` never expires.
    pub ttl_ms: Option<u64>,
    /// `None` keeps the existing tier, or the default tier.
    pub tier: Option<Tier>,
    /// `None`: a write happening now. Set: the memory's past (an import), taken as
    /// its bookkeeping instead of the store's time.
    pub history: Option<History>,
}

/// The past of an imported memory, validated, every default resolved
/// (`validate::history`). `created_ms <= updated_ms` and `created_ms <=
/// last_access_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// First stored.
    pub created_ms: u64,
    /// Last stored; the TTL counts from here.
    pub updated_ms: u64,
    /// Last read or write.
    pub last_access_ms: u64,
    /// Reads and writes so far.
    pub access_count: u64,
    /// The version to store (at least 1).
    pub version: u64,
    /// An explicit expiry; `None`: `updated_ms` + the TTL.
    pub expires_at_ms: Option<u64>,
}

/// A memory's past as a client gives it (`NewMemory.history`), unchecked; 0 is
/// "not given" in every field.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawHistory {
    /// Creation time.
    pub created_ms: i128,
    /// Last store.
    pub updated_ms: i128,
    /// Last access.
    pub last_access_ms: i128,
    /// Accesses.
    pub access_count: i128,
    /// Version.
    pub version: i128,
    /// Expiry.
    pub expires_at_ms: i128,
}

/// Raw input as it crosses the boundary, before validation.
#[derive(Clone, Debug, Default)]
pub struct RawMemory {
    /// Key, possibly empty.
    pub key: String,
    /// Text.
    pub text: String,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Packed little-endian float32.
    pub embedding: Option<Vec<u8>>,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata pairs.
    pub metadata: Vec<(String, String)>,
    /// Context text.
    pub context: String,
    /// Importance, unchecked.
    pub importance: Option<f64>,
    /// Priority, unchecked (must fit an i32).
    pub priority: i128,
    /// TTL, unchecked (must be in `0..=i64::MAX`).
    pub ttl_ms: Option<i128>,
    /// Tier number, unchecked (0 = unspecified).
    pub tier: i128,
    /// The memory's past, for an import.
    pub history: Option<RawHistory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_neighbours() {
        assert_eq!(Tier::Working.colder(), Some(Tier::ShortTerm));
        assert_eq!(Tier::Archive.colder(), None);
        assert_eq!(Tier::Working.warmer(), None);
        assert_eq!(Tier::Archive.warmer(), Some(Tier::LongTerm));
        assert_eq!(Tier::from_number(0), None);
        assert_eq!(Tier::LongTerm.index(), 2);
    }
}
