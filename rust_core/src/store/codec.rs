//! Record codec of the `memories` database (little-endian, formats 1 and 2).
//!
//! A fixed 72-byte header comes first, so opening a store and sweeping read only the
//! header; the variable body follows. `tests/witness.py` decodes the same layout with
//! the Python `lmdb` package, independently of this code:
//!
//! ```text
//! 0 u8 format (1|2) | 1 u8 tier | 2 u8 flags (bit0: value lz4, bit1: value offloaded) | 3 u8 0 | 4 f32 importance
//! 8 i32 priority | 12 u32 dim | 16 u64 created | 24 u64 updated | 32 u64 last_access
//! 40 u64 access_count | 48 u64 version | 56 u64 expires_at (0=never) | 64 u64 ttl
//! 72: u32 len+text | u32 len+value | vector | u32 n, (u32 len+tag)* | u32 n, (u32 len+k, u32 len+v)*
//!     [| u32 len+context]
//! ```
//!
//! The context (`NewMemory.context`) is the one optional trailing field: a record
//! without one ends after its metadata, exactly as every record did before it
//! existed, so old records read as having no context and a memory without one
//! encodes byte for byte as before (no format bump, no migration). A new field
//! would go after it the same way.
//!
//! `vector` is the embedding itself (dim*f32) in format 1, which memd still reads
//! but no longer writes; in format 2 it is a u64 slot reference into the packed
//! vector store (`vectors.rs`), absent when dim is 0. Records are only ever
//! rewritten whole in format 2, or patched or re-encoded keeping their vector field
//! (`encode_like`), so a format-1 store needs no migration step.
//!
//! An offloaded value's field holds an `archive::Pointer` (its raw size first, as
//! for lz4) instead of the value.

use crate::error::{CoreError, Result};
use crate::model::{Header, Memory, MemoryView, Tier};
use std::sync::Arc;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 72;
/// The format this code writes.
const FORMAT: u8 = 2;
/// The format of stores written before packed vectors (read only).
const FORMAT_INLINE: u8 = 1;
const FLAG_COMPRESSED: u8 = 1;
const FLAG_OFFLOADED: u8 = 2;
/// Byte offset of `last_access_ms`; `access_count` follows it.
const ACCESS_OFFSET: usize = 32;

fn corrupt(what: &str) -> CoreError {
    CoreError::Internal(format!("corrupt record: {what}"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes the fixed header only.
pub fn decode_header(b: &[u8]) -> Result<Header> {
    if b.len() < HEADER_LEN || !(b[0] == FORMAT || b[0] == FORMAT_INLINE) {
        return Err(corrupt("bad header"));
    }
    Ok(Header {
        tier: Tier::from_number(i64::from(b[1])).ok_or_else(|| corrupt("tier"))?,
        compressed: b[2] & FLAG_COMPRESSED != 0,
        offloaded: b[2] & FLAG_OFFLOADED != 0,
        importance: f32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
        priority: i32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
        dim: u32_at(b, 12),
        created_ms: u64_at(b, 16),
        updated_ms: u64_at(b, 24),
        last_access_ms: u64_at(b, 32),
        access_count: u64_at(b, 40),
        version: u64_at(b, 48),
        expires_at_ms: u64_at(b, 56),
        ttl_ms: u64_at(b, 64),
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Where a record's embedding is: in the record (format 1) or in a slot of the
/// packed vector store (format 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorField<'a> {
    /// Raw little-endian f32 bytes.
    Inline(&'a [u8]),
    /// A slot reference (`vectors.rs`).
    Slot(u64),
}

/// Bytes of the vector field of a record in `format` with `dim` dimensions.
fn vector_len(format: u8, dim: u32) -> usize {
    match (format, dim) {
        (_, 0) => 0,
        (FORMAT_INLINE, d) => d as usize * 4,
        _ => 8,
    }
}

/// Encodes a memory in format 2, its embedding (if any) being in slot `slot` of the
/// vector store. With `compress`, the value is stored lz4-compressed (its raw
/// size prepended) if that makes it smaller; the header's flag says which. An
/// offloaded memory's value (its pointer) is kept as it is.
pub fn encode(m: &MemoryView, compress: bool, slot: u64) -> Vec<u8> {
    let dim = m.embedding.map_or(0, <[f32]>::len) as u32;
    let field = slot.to_le_bytes();
    encode_with(m, compress, FORMAT, dim, &field[..vector_len(FORMAT, dim)])
}

/// Encodes a memory in format 1 (its vector inline), as memd wrote before packed
/// vectors: only for tests and fixtures of old stores.
pub fn encode_v1(m: &Memory, compress: bool) -> Vec<u8> {
    let raw: Vec<u8> = m.embedding.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    encode_with(&m.view(), compress, FORMAT_INLINE, (raw.len() / 4) as u32, &raw)
}

/// Re-encodes `m` keeping the format, dimension and vector field of `record`, the
/// memory's current record: for rewrites that leave the embedding alone (a tier
/// move, an offload), whatever `m.embedding` holds.
pub fn encode_like(record: &[u8], m: &Memory, compress: bool) -> Result<Vec<u8>> {
    let h = decode_header(record)?;
    let mut r = Reader { b: record, at: HEADER_LEN };
    r.bytes()?;
    r.bytes()?;
    let field = r.take(vector_len(record[0], h.dim))?;
    Ok(encode_with(&m.view(), compress, record[0], h.dim, field))
}

fn encode_with(m: &MemoryView, compress: bool, format: u8, dim: u32, field: &[u8]) -> Vec<u8> {
    let h = m.header;
    let packed = (compress && !h.offloaded && !m.value.is_empty())
        .then(|| lz4_flex::compress_prepend_size(m.value))
        .filter(|c| c.len() < m.value.len());
    let compressed = packed.is_some();
    let value: &[u8] = packed.as_deref().unwrap_or(m.value);
    let mut out = Vec::with_capacity(HEADER_LEN + 16 + m.text.len() + value.len() + field.len());
    let flags = if h.offloaded { FLAG_OFFLOADED } else { u8::from(compressed) };
    out.extend_from_slice(&[format, h.tier.number(), flags, 0]);
    out.extend_from_slice(&h.importance.to_le_bytes());
    out.extend_from_slice(&h.priority.to_le_bytes());
    out.extend_from_slice(&dim.to_le_bytes());
    for v in [
        h.created_ms,
        h.updated_ms,
        h.last_access_ms,
        h.access_count,
        h.version,
        h.expires_at_ms,
        h.ttl_ms,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    put_bytes(&mut out, m.text.as_bytes());
    put_bytes(&mut out, value);
    out.extend_from_slice(field);
    out.extend_from_slice(&(m.tags.len() as u32).to_le_bytes());
    for t in m.tags {
        put_bytes(&mut out, t.as_bytes());
    }
    out.extend_from_slice(&(m.metadata.len() as u32).to_le_bytes());
    for (k, v) in m.metadata {
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, v.as_bytes());
    }
    if !m.context.is_empty() {
        put_bytes(&mut out, m.context.as_bytes());
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32_at(self.take(4)?, 0))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt("utf-8"))
    }

    /// The optional trailing context: empty when the record ends here.
    fn context(&mut self) -> Result<&'a str> {
        if self.at == self.b.len() {
            return Ok("");
        }
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("utf-8"))
    }
}

/// Decodes a whole record, decompressing the value (an offloaded value stays a
/// pointer: `archive::hydrate` fetches it).
pub fn decode(namespace: Arc<str>, key: String, b: &[u8]) -> Result<Memory> {
    decode_with(namespace, key, b, true)
}

/// Little-endian f32 bytes as floats.
pub fn floats(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Where the embedding of a record is; `None` without one.
pub fn vector_field(b: &[u8]) -> Result<Option<VectorField<'_>>> {
    let h = decode_header(b)?;
    if h.dim == 0 {
        return Ok(None);
    }
    let mut r = Reader { b, at: HEADER_LEN };
    r.bytes()?;
    r.bytes()?;
    let field = r.take(vector_len(b[0], h.dim))?;
    Ok(Some(match b[0] {
        FORMAT_INLINE => VectorField::Inline(field),
        _ => VectorField::Slot(u64_at(field, 0)),
    }))
}

/// Decodes a record; without `embedding`, or in format 2 (whose vector is in the
/// vector store: `Store::decode` fetches it), the memory's `embedding` is `None`
/// while `header.dim` keeps its stored dimension. A search hit carries its vector
/// only when asked: converting 384 floats cost more than the rest of the record.
pub fn decode_with(namespace: Arc<str>, key: String, b: &[u8], embedding: bool) -> Result<Memory> {
    let header = decode_header(b)?;
    let mut r = Reader { b, at: HEADER_LEN };
    let text = r.string()?;
    let raw_value = r.bytes()?;
    let value = if header.compressed {
        lz4_flex::decompress_size_prepended(raw_value).map_err(|_| corrupt("lz4"))?
    } else {
        raw_value.to_vec()
    };
    let raw = r.take(vector_len(b[0], header.dim))?;
    let embedding = (embedding && header.dim != 0 && b[0] == FORMAT_INLINE).then(|| floats(raw));
    let tags = (0..r.u32()?).map(|_| r.string()).collect::<Result<Vec<_>>>()?;
    let metadata =
        (0..r.u32()?).map(|_| Ok((r.string()?, r.string()?))).collect::<Result<Vec<_>>>()?;
    let context = r.context()?.to_owned();
    Ok(Memory { namespace, key, header, text, value, embedding, tags, metadata, context })
}

/// The text of a record whose header `h` is already decoded, and its value's size as
/// the client stored it and as it is on disk (smaller when compressed; the raw size is
/// the 4 bytes lz4 prepends). Nothing else of the body is read.
pub fn text_and_value_sizes<'a>(h: &Header, b: &'a [u8]) -> Result<(&'a str, u32, u32)> {
    let mut r = Reader { b, at: HEADER_LEN };
    let text = std::str::from_utf8(r.bytes()?).map_err(|_| corrupt("utf-8"))?;
    let stored = r.bytes()?;
    let raw = if h.compressed || h.offloaded {
        stored.get(..4).map_or(0, |n| u32_at(n, 0))
    } else {
        stored.len() as u32
    };
    Ok((text, raw, stored.len() as u32))
}

/// The text of a record, without decoding the rest.
pub fn text_of(b: &[u8]) -> Result<&str> {
    text_and_value_sizes(&decode_header(b)?, b).map(|(text, _, _)| text)
}

/// The value's (raw, stored) sizes of a record; see `text_and_value_sizes`.
pub fn value_sizes(b: &[u8]) -> Result<(u32, u32)> {
    text_and_value_sizes(&decode_header(b)?, b).map(|(_, raw, stored)| (raw, stored))
}

/// The value of metadata entry `name` of a record, without decoding text or value.
pub fn metadata_value<'a>(b: &'a [u8], name: &str) -> Result<Option<&'a str>> {
    let header = decode_header(b)?;
    let mut r = Reader { b, at: HEADER_LEN };
    r.bytes()?;
    r.bytes()?;
    r.take(vector_len(b[0], header.dim))?;
    for _ in 0..r.u32()? {
        r.bytes()?;
    }
    for _ in 0..r.u32()? {
        let (k, v) = (r.bytes()?, r.bytes()?);
        if k == name.as_bytes() {
            return std::str::from_utf8(v).map(Some).map_err(|_| corrupt("utf-8"));
        }
    }
    Ok(None)
}

/// The searchable parts of a record, for rebuilding the search index at open
/// without copying or decompressing the value. The embedding is not among them:
/// `Store::embedding_bytes` finds it in either format.
#[derive(Debug, Clone, PartialEq)]
pub struct Searchable<'a> {
    /// Text.
    pub text: &'a str,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata, in key order.
    pub metadata: Vec<(String, String)>,
    /// Context (empty: none).
    pub context: &'a str,
}

/// Decodes the searchable parts of a record (see `Searchable`).
pub fn decode_searchable(b: &[u8]) -> Result<Searchable<'_>> {
    let header = decode_header(b)?;
    let mut r = Reader { b, at: HEADER_LEN };
    let text = std::str::from_utf8(r.bytes()?).map_err(|_| corrupt("utf-8"))?;
    r.bytes()?;
    r.take(vector_len(b[0], header.dim))?;
    let tags = (0..r.u32()?).map(|_| r.string()).collect::<Result<Vec<_>>>()?;
    let metadata =
        (0..r.u32()?).map(|_| Ok((r.string()?, r.string()?))).collect::<Result<Vec<_>>>()?;
    let context = r.context()?;
    Ok(Searchable { text, tags, metadata, context })
}

/// A copy of `record` moved to `tier` with its access statistics replaced, without
/// re-encoding the body. Only valid when the body does not change, i.e. when the
/// value stays compressed or uncompressed.
pub fn with_tier(record: &[u8], tier: Tier, last_access_ms: u64, access_count: u64) -> Vec<u8> {
    let mut out = with_access(record, last_access_ms, access_count);
    out[1] = tier.number();
    out
}

/// A copy of `record` with its access statistics replaced, without re-encoding the body.
pub fn with_access(record: &[u8], last_access_ms: u64, access_count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    patch_access(record, last_access_ms, access_count, &mut out);
    out
}

/// As `with_access`, into `out` (cleared first), so a caller patching many records
/// reuses one buffer.
pub fn patch_access(record: &[u8], last_access_ms: u64, access_count: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(record);
    out[ACCESS_OFFSET..ACCESS_OFFSET + 8].copy_from_slice(&last_access_ms.to_le_bytes());
    out[ACCESS_OFFSET + 8..ACCESS_OFFSET + 16].copy_from_slice(&access_count.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: u64 = 3 << 8 | 2;

    fn sample(tier: Tier) -> Memory {
        Memory {
            namespace: Arc::from("ns"),
            key: "k".into(),
            header: Header {
                tier,
                compressed: false,
                offloaded: false,
                importance: 0.75,
                priority: -2,
                dim: 3,
                created_ms: 1,
                updated_ms: 2,
                last_access_ms: 3,
                access_count: 4,
                version: 5,
                expires_at_ms: 6,
                ttl_ms: 7,
            },
            text: "héllo".into(),
            value: b"value value value value".to_vec(),
            embedding: Some(vec![0.5, -1.0, 2.0]),
            tags: vec!["a".into(), "b".into()],
            metadata: vec![("category".into(), "fact".into())],
            context: String::new(),
        }
    }

    fn with_context(tier: Tier) -> Memory {
        Memory { context: "the session: moving house".into(), ..sample(tier) }
    }

    #[test]
    fn round_trips_in_every_tier() {
        for tier in Tier::ALL {
            let m = sample(tier);
            let bytes = encode(&m.view(), tier == Tier::Archive, SLOT);
            let back = decode(Arc::from("ns"), "k".into(), &bytes).unwrap();
            assert_eq!(back.header.compressed, tier == Tier::Archive);
            let raw = m.value.len() as u32;
            let (got_raw, stored) = value_sizes(&bytes).unwrap();
            assert_eq!(got_raw, raw);
            assert_eq!(stored < raw, tier == Tier::Archive);
            assert_eq!(back.value, m.value);
            // Format 2: the vector is in the vector store, the record only says where.
            assert_eq!(vector_field(&bytes).unwrap(), Some(VectorField::Slot(SLOT)));
            assert_eq!(
                Memory { header: m.header.clone(), embedding: m.embedding.clone(), ..back },
                m
            );
        }
    }

    #[test]
    fn tier_patch_equals_a_full_reencode_outside_archive() {
        let bytes = encode(&sample(Tier::Working).view(), false, SLOT);
        let mut moved = sample(Tier::LongTerm);
        moved.header.last_access_ms = 50;
        moved.header.access_count = 9;
        assert_eq!(with_tier(&bytes, Tier::LongTerm, 50, 9), encode(&moved.view(), false, SLOT));
    }

    #[test]
    fn access_patch_changes_only_access_fields() {
        let bytes = encode(&sample(Tier::Working).view(), false, SLOT);
        let h = decode_header(&with_access(&bytes, 99, 100)).unwrap();
        assert_eq!((h.last_access_ms, h.access_count, h.version), (99, 100, 5));
    }

    #[test]
    fn searchable_view_matches_full_decode() {
        for tier in [Tier::Working, Tier::Archive] {
            let m = sample(tier);
            let bytes = encode(&m.view(), tier == Tier::Archive, SLOT);
            let s = decode_searchable(&bytes).unwrap();
            assert_eq!(text_of(&bytes).unwrap(), m.text);
            assert_eq!(metadata_value(&bytes, "category").unwrap(), Some("fact"));
            assert_eq!(metadata_value(&bytes, "type").unwrap(), None);
            assert_eq!(s.text, m.text);
            assert_eq!((s.tags, s.metadata), (m.tags, m.metadata));
        }
    }

    #[test]
    fn context_round_trips_after_the_metadata() {
        for tier in [Tier::Working, Tier::Archive] {
            let m = with_context(tier);
            let bytes = encode(&m.view(), tier == Tier::Archive, SLOT);
            let back = decode(Arc::from("ns"), "k".into(), &bytes).unwrap();
            assert_eq!(back.context, m.context);
            assert_eq!(back.text, m.text);
            let s = decode_searchable(&bytes).unwrap();
            assert_eq!((s.text, s.context), (m.text.as_str(), m.context.as_str()));
            assert_eq!(metadata_value(&bytes, "category").unwrap(), Some("fact"));
            // It is the trailing field: the record is the context-less one plus it.
            let bare = encode(&sample(tier).view(), tier == Tier::Archive, SLOT);
            assert_eq!(&bytes[..bare.len()], &bare[..]);
            assert_eq!(bytes.len(), bare.len() + 4 + m.context.len());
            // A tier move or offload keeps it.
            assert_eq!(encode_like(&bytes, &back, false).unwrap(), encode(&m.view(), false, SLOT));
        }
        // A format-1 record (written before the field existed) has no context.
        let old = encode_v1(&sample(Tier::Working), false);
        assert_eq!(decode(Arc::from("ns"), "k".into(), &old).unwrap().context, "");
        assert_eq!(decode_searchable(&old).unwrap().context, "");
        // A torn context is corrupt, not silently empty or truncated.
        let bytes = encode(&with_context(Tier::Working).view(), false, SLOT);
        for cut in [1, 3, 5] {
            assert!(decode(Arc::from("ns"), "k".into(), &bytes[..bytes.len() - cut]).is_err());
            assert!(decode_searchable(&bytes[..bytes.len() - cut]).is_err());
        }
    }

    #[test]
    fn incompressible_values_stay_raw() {
        let mut m = sample(Tier::Archive);
        m.value = (0..64u8).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        let bytes = encode(&m.view(), true, SLOT);
        assert!(!decode_header(&bytes).unwrap().compressed);
        assert_eq!(value_sizes(&bytes).unwrap(), (64, 64));
    }

    #[test]
    fn decoding_without_the_embedding_keeps_everything_else() {
        let m = sample(Tier::Working);
        let bytes = encode(&m.view(), false, SLOT);
        let bare = decode_with(Arc::from("ns"), "k".into(), &bytes, false).unwrap();
        assert_eq!((bare.embedding.as_ref(), bare.header.dim), (None, 3));
        assert_eq!(Memory { embedding: m.embedding.clone(), ..bare }, m);
        let inline = encode_v1(&m, false);
        let full = decode(Arc::from("ns"), "k".into(), &inline).unwrap();
        assert_eq!(full.embedding, m.embedding);
        assert!(decode_with(Arc::from("ns"), "k".into(), &bytes[..bytes.len() - 1], false).is_err());
    }

    #[test]
    fn truncated_record_is_an_error_not_a_panic() {
        let bytes = encode(&sample(Tier::Working).view(), false, SLOT);
        for n in [0, 10, HEADER_LEN, bytes.len() - 1] {
            assert!(decode(Arc::from("ns"), "k".into(), &bytes[..n]).is_err());
        }
    }

    #[test]
    fn format_one_records_still_read_and_reencode_unchanged() {
        let m = sample(Tier::Working);
        let old = encode_v1(&m, false);
        assert_eq!(old[0], 1);
        let raw: Vec<u8> = m.embedding.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(vector_field(&old).unwrap(), Some(VectorField::Inline(&raw)));
        assert_eq!(decode(Arc::from("ns"), "k".into(), &old).unwrap(), m);
        assert_eq!(text_of(&old).unwrap(), m.text);
        assert_eq!(metadata_value(&old, "category").unwrap(), Some("fact"));
        assert_eq!(decode_searchable(&old).unwrap().tags, m.tags);
        // A tier move or offload keeps the record's format and its inline vector.
        let bare = decode_with(Arc::from("ns"), "k".into(), &old, false).unwrap();
        assert_eq!(encode_like(&old, &bare, false).unwrap(), old);
        let new = encode(&m.view(), false, SLOT);
        assert_eq!(encode_like(&new, &bare, false).unwrap(), new);
    }
}
