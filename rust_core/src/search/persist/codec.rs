//! The snapshot's byte format: little-endian integers and floats, lengths as `u32`
//! (`u64` for the matrix), written by `writer.rs` and read back here from one slice.
//! Every read is bounds-checked and fails with `Bad` on a short or malformed input,
//! never panics: a snapshot file is outside input (it may be torn or corrupt).

/// Why a snapshot cannot be used (the text goes to the open report and the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bad(pub String);

impl Bad {
    /// A snapshot that ends early or holds an impossible value.
    pub fn malformed(what: &str) -> Bad {
        Bad(format!("malformed snapshot ({what})"))
    }
}

/// What a read returns.
pub type Got<T> = std::result::Result<T, Bad>;

/// The file a reader's bytes are (mapped from), and the file offset of its first
/// byte: lets `Reader::floats` map a large array in place instead of copying it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The open file.
    pub file: &'a std::fs::File,
    /// Where the reader's first byte is in the file.
    pub offset: u64,
}

/// Arrays of floats at least this long (in bytes) are mapped in place from the
/// file rather than copied: below it a mapping (a system call, a page of its own)
/// saves nothing.
const MAP_MIN_BYTES: usize = 1 << 20;

/// Reads values back from a slice, front to back.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
    /// Bytes read so far (for `align`).
    at: usize,
    source: Option<Source<'a>>,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes, at: 0, source: None }
    }

    /// A reader over `bytes`, which are the contents of `source` from its offset.
    pub fn of_file(bytes: &'a [u8], source: Source<'a>) -> Reader<'a> {
        Reader { rest: bytes, at: 0, source: Some(source) }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Got<&'a [u8]> {
        if self.rest.len() < n {
            return Err(Bad::malformed("truncated"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        self.at += n;
        Ok(head)
    }

    /// Skips the padding `Writer::align` wrote.
    pub fn align(&mut self, to: usize) -> Got<()> {
        self.take((to - self.at % to) % to).map(|_| ())
    }

    /// `n` little-endian `f32`s without a length: served in place from the file when
    /// the reader has one and they are large and aligned (`Floats::mapped`), else
    /// copied. A failed mapping falls back to the copy.
    pub fn floats(&mut self, n: usize) -> Got<crate::search::floats::Floats> {
        use crate::search::floats::Floats;
        let bytes = n.checked_mul(4).ok_or_else(|| Bad::malformed("matrix size"))?;
        let offset = self.source.map(|s| s.offset + self.at as u64);
        let raw = self.take(bytes)?;
        let in_place = match (self.source, offset) {
            (Some(s), Some(at)) if bytes >= MAP_MIN_BYTES => {
                super::PrivateMap::new(s.file, at, bytes).ok().and_then(Floats::mapped)
            }
            _ => None,
        };
        Ok(in_place.unwrap_or_else(|| Floats::from(f32s(raw))))
    }

    /// A byte.
    pub fn u8(&mut self) -> Got<u8> {
        Ok(self.take(1)?[0])
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Got<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Got<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// An `f32`.
    pub fn f32(&mut self) -> Got<f32> {
        Ok(f32::from_bits(self.u32()?))
    }

    /// A length, checked against what is left (each item takes at least `unit`
    /// bytes), so a corrupt length cannot make the reader allocate gigabytes.
    pub fn len(&mut self, unit: usize) -> Got<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(unit.max(1)) > self.rest.len() {
            return Err(Bad::malformed("length beyond the end"));
        }
        Ok(n)
    }

    /// A string.
    pub fn str(&mut self) -> Got<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Bad::malformed("invalid UTF-8"))
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Got<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }

    /// Length-prefixed `u32`s.
    pub fn u32s(&mut self) -> Got<Vec<u32>> {
        let n = self.len(4)?;
        let b = self.take(n * 4)?;
        Ok(b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

/// Little-endian `f32`s from `raw` (a multiple of 4 bytes long). On a little-endian
/// machine that is one copy of the bytes (a matrix of 1 000 000 384-d rows is 1.5 GB:
/// converting it four bytes at a time took longer than reading it).
pub fn f32s(raw: &[u8]) -> Vec<f32> {
    let n = raw.len() / 4;
    if cfg!(target_endian = "little") {
        let mut out = Vec::<f32>::with_capacity(n);
        // SAFETY: `out` has room for `n` f32s, i.e. `4 n` bytes, which `raw` holds;
        // the two do not overlap (`out` is new); any 4 bytes are a valid f32 and on a
        // little-endian machine their in-memory order is the file's. `set_len` then
        // covers exactly the initialised elements.
        unsafe {
            std::ptr::copy_nonoverlapping(raw.as_ptr(), out.as_mut_ptr().cast::<u8>(), n * 4);
            out.set_len(n);
        }
        out
    } else {
        raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }
}

/// One memory's share of a namespace's key digest (`SearchIndex::key_digest`): its
/// key and the attributes its record header gives the index. A namespace's digest is
/// the wrapping sum of its memories' shares, so it does not depend on the order the
/// two sides (the snapshot's slots, LMDB's view) are walked in.
pub fn entry_digest(key: &str, m: &crate::search::DocMeta) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::quality::FixedState::with_seed(0x6b65_7973).build_hasher();
    h.write(key.as_bytes());
    h.write_u8(0xff); // not UTF-8: ends the key unambiguously
    h.write_u8(m.tier);
    h.write_u32(m.importance.to_bits());
    h.write_u64(m.created_ms);
    h.write_u64(m.last_access_ms);
    h.write_u64(m.access_count);
    h.write_u64(m.expires_at_ms);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::super::writer::{checksum, Writer};
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(1 << 30);
        w.u64(u64::MAX - 1);
        w.f32(-0.5);
        w.str("héllo");
        w.u32s(&[1, 2, 3]);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u32(), Ok(1 << 30));
        assert_eq!(r.u64(), Ok(u64::MAX - 1));
        assert_eq!(r.f32(), Ok(-0.5));
        assert_eq!(r.str(), Ok("héllo"));
        assert_eq!(r.u32s(), Ok(vec![1, 2, 3]));
        assert!(r.is_empty());
        let cut = &bytes[bytes.len() - 16..bytes.len() - 1];
        assert!(Reader::new(cut).u32s().is_err(), "a list cut short is an error, not a panic");
    }

    #[test]
    fn f32s_reads_little_endian_floats() {
        let values = [0.0f32, -1.5, f32::MAX, f32::MIN_POSITIVE, 3.25e-7];
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32s(&raw), values);
        assert_eq!(f32s(&raw[1..]).len(), 4, "a misaligned slice is read too");
        assert!(f32s(&[]).is_empty());
    }

    #[test]
    fn a_corrupt_length_is_refused_before_allocating() {
        let mut w = Writer::default();
        w.u32(u32::MAX);
        assert!(Reader::new(&w.into_bytes()).u32s().is_err());
        assert_ne!(checksum(b"abc"), checksum(b"abd"));
    }
}
