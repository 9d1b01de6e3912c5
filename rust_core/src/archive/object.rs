//! What an offloaded record keeps locally (`Pointer`) and what an object holds: the
//! values of a batch of memories, concatenated, lz4-compressed, then sealed
//! (`crypto.rs`). A pointer locates one value in the object's plaintext.
//!
//! ```text
//! pointer: 0 u32 raw value length | 4 u64 offset | 12 u16 n | 14 object name (n bytes)
//! plaintext: lz4 block with its size prepended (u32 LE) of value ‖ value ‖ ...
//! ```
//!
//! The raw length comes first so that `codec::text_and_value_sizes` reads a
//! value's size the same way for lz4 and offloaded records.

use crate::error::{CoreError, Result};

/// Where an offloaded value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// Object name (the S3 key, prefix included).
    pub object: String,
    /// Offset of the value in the object's plaintext.
    pub offset: u64,
    /// Length of the value.
    pub len: u32,
}

impl Pointer {
    /// The bytes stored in the record's value field.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(14 + self.object.len());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&(self.object.len() as u16).to_le_bytes());
        out.extend_from_slice(self.object.as_bytes());
        out
    }

    /// Parses a record's value field.
    pub fn decode(b: &[u8]) -> Result<Pointer> {
        let bad = || CoreError::Internal("corrupt record: archive pointer".into());
        if b.len() < 14 {
            return Err(bad());
        }
        let len = u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
        let offset = u64::from_le_bytes(b[4..12].try_into().expect("8 bytes"));
        let n = usize::from(u16::from_le_bytes([b[12], b[13]]));
        let name = b.get(14..14 + n).ok_or_else(bad)?;
        let object = String::from_utf8(name.to_vec()).map_err(|_| bad())?;
        Ok(Pointer { object, offset, len })
    }

    /// This pointer's value in the plaintext of its object.
    pub fn slice<'a>(&self, plain: &'a [u8]) -> Result<&'a [u8]> {
        let start = usize::try_from(self.offset).ok();
        let end = start.and_then(|s| s.checked_add(self.len as usize));
        start.zip(end).and_then(|(s, e)| plain.get(s..e)).ok_or_else(|| {
            CoreError::DataLoss(format!(
                "archive object {} is shorter than the value it should hold",
                self.object
            ))
        })
    }
}

/// Concatenates values into one object's plaintext; returns it and each value's
/// offset.
pub fn pack<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, Vec<u64>) {
    let mut plain = Vec::new();
    let mut offsets = Vec::new();
    for v in values {
        offsets.push(plain.len() as u64);
        plain.extend_from_slice(v);
    }
    (lz4_flex::compress_prepend_size(&plain), offsets)
}

/// Decompresses an opened object.
pub fn unpack(object: &str, compressed: &[u8]) -> Result<Vec<u8>> {
    lz4_flex::decompress_size_prepended(compressed).map_err(|_| {
        CoreError::DataLoss(format!("archive object {object}: its content does not decompress"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_round_trip_and_slice() {
        let (packed, offsets) = pack([&b"abc"[..], b"", b"defg"]);
        let plain = unpack("o", &packed).unwrap();
        let p = Pointer { object: "pre/o".into(), offset: offsets[2], len: 4 };
        assert_eq!(Pointer::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.slice(&plain).unwrap(), b"defg");
        let past = Pointer { offset: 6, ..p };
        assert!(matches!(past.slice(&plain), Err(CoreError::DataLoss(_))));
        assert!(Pointer::decode(&[1, 2, 3]).is_err());
        assert!(unpack("o", b"junk").is_err());
    }
}
