//! Writing the snapshot's bytes: values appended to a buffer (`Writer::default`, for
//! tests) or streamed to the file in `CHUNK`-sized pieces (`Writer::streaming`), and
//! the body's checksum, folded over the same pieces on both sides.

/// The size of the pieces the checksum folds, and of the streaming writer's writes.
pub const CHUNK: usize = 1 << 20;

/// Appends values to a byte buffer, or streams them to a sink (`Writer::streaming`).
///
/// Streaming, the buffer never holds more than one `CHUNK`: each full chunk is
/// folded into the checksum and written out, so encoding a 2 GB index needs 1 MiB
/// of buffer instead of 2 GB (and the pages of a 2 GB buffer, faulted in and
/// zeroed, then copied once more into the file's page cache). The first write
/// error is kept and every later write skipped: the encoders stay infallible, and
/// `finish` reports it.
pub struct Writer<'a> {
    buf: Vec<u8>,
    sink: Option<&'a mut dyn std::io::Write>,
    sum: Checksum,
    error: Option<std::io::Error>,
}

impl Default for Writer<'_> {
    /// A writer that keeps every byte in memory (`into_bytes`).
    fn default() -> Self {
        Writer { buf: Vec::new(), sink: None, sum: Checksum::default(), error: None }
    }
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (streaming, failed) = (self.sink.is_some(), self.error.is_some());
        f.debug_struct("Writer").field("streaming", &streaming).field("failed", &failed).finish()
    }
}

impl<'a> Writer<'a> {
    /// A writer that writes everything to `sink` in `CHUNK`-sized pieces.
    pub fn streaming(sink: &'a mut dyn std::io::Write) -> Writer<'a> {
        Writer { buf: Vec::with_capacity(CHUNK), sink: Some(sink), ..Writer::default() }
    }

    /// The bytes written (an in-memory writer's whole output).
    pub fn into_bytes(self) -> Vec<u8> {
        debug_assert!(self.sink.is_none(), "a streaming writer keeps no bytes");
        self.buf
    }

    /// True once a streamed write failed: what follows is skipped.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Writes what is buffered and returns the body's checksum and length, or the
    /// first write error.
    pub fn finish(mut self) -> std::io::Result<(u64, u64)> {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            self.emit(&rest);
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.sum.finish(), self.sum.len)),
        }
    }

    /// Folds one piece into the checksum and writes it to the sink.
    fn emit(&mut self, piece: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.sum.chunk(piece);
        if let Some(sink) = self.sink.as_mut() {
            if let Err(e) = sink.write_all(piece) {
                self.error = Some(e);
            }
        }
    }

    /// Small values: appended, and a full chunk written out.
    #[inline]
    fn put(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.sink.is_some() && self.buf.len() >= CHUNK {
            let full = std::mem::take(&mut self.buf);
            self.emit(&full[..CHUNK]);
            self.buf = full;
            self.buf.drain(..CHUNK);
        }
    }

    /// Bytes as they are (no length): the buffer is topped up to a chunk, then
    /// whole chunks go from `b` straight to the sink, without a copy.
    pub fn raw(&mut self, mut b: &[u8]) {
        if self.sink.is_none() {
            self.buf.extend_from_slice(b);
            return;
        }
        if self.error.is_some() {
            return;
        }
        if !self.buf.is_empty() {
            let fill = (CHUNK - self.buf.len()).min(b.len());
            self.put(&b[..fill]);
            b = &b[fill..];
        }
        while b.len() >= CHUNK {
            self.emit(&b[..CHUNK]);
            b = &b[CHUNK..];
        }
        self.buf.extend_from_slice(b);
    }

    /// Zero bytes up to the next multiple of `to` bytes written (`Reader::align`).
    pub fn align(&mut self, to: usize) {
        debug_assert!(to <= 64, "alignments up to 64 bytes");
        let at = self.sum.len as usize + self.buf.len();
        self.put(&[0u8; 64][..(to - at % to) % to]);
    }

    /// A byte.
    pub fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    /// A `u64`.
    pub fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    /// An `f32` (bit-exact).
    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }

    /// A length; lengths beyond `u32` are impossible here (slots are `u32`).
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("snapshot lengths fit in u32"));
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Length-prefixed bytes (up to 4 GiB).
    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.raw(b);
    }

    /// Length-prefixed `u32`s.
    pub fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        self.raw_u32s(v);
    }

    /// `u32`s without a length.
    pub fn raw_u32s(&mut self, v: &[u32]) {
        if cfg!(target_endian = "little") {
            // SAFETY: any initialised u32 is 4 initialised bytes; the view borrows `v`
            // for this call only, and on a little-endian machine it is the file order.
            self.raw(unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 4) });
        } else {
            for x in v {
                self.u32(*x);
            }
        }
    }

    /// `f32`s without a length (bit-exact).
    pub fn raw_f32s(&mut self, v: &[f32]) {
        if cfg!(target_endian = "little") {
            // SAFETY: as in `raw_u32s`: an f32 is 4 initialised bytes.
            self.raw(unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 4) });
        } else {
            for x in v {
                self.f32(*x);
            }
        }
    }
}

/// The checksum of a snapshot body: foldhash over `CHUNK`-sized pieces, folded in
/// order, then the length. Computed while streaming (`Writer`) and over the mapped
/// body at open (`checksum`): both feed the same pieces. Not cryptographic: it
/// catches torn writes and bit rot, which is all a file this process wrote itself
/// needs. (A foldhash upgrade that changes the function only invalidates
/// snapshots, which then rebuild.)
#[derive(Debug, Default)]
pub struct Checksum {
    acc: u64,
    len: u64,
}

impl Checksum {
    /// Folds the next piece (`CHUNK` bytes, except the last).
    fn chunk(&mut self, piece: &[u8]) {
        use std::hash::{BuildHasher, Hasher};
        let mut h = foldhash::quality::FixedState::with_seed(0x736e_6170).build_hasher();
        h.write(piece);
        self.acc = self.acc.rotate_left(5) ^ h.finish();
        self.len += piece.len() as u64;
    }

    /// The checksum of everything folded.
    fn finish(&self) -> u64 {
        self.acc ^ self.len.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// The checksum of a whole body in memory.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut sum = Checksum::default();
    bytes.chunks(CHUNK).for_each(|piece| sum.chunk(piece));
    sum.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small values and large slices, across chunk boundaries, every way round.
    fn mixed(w: &mut Writer) {
        let big: Vec<u32> = (0..700_000).collect();
        let floats: Vec<f32> = (0..300_000).map(|i| i as f32 * 0.5).collect();
        for round in 0..3u32 {
            w.u8(round as u8);
            w.u32s(&big[..(round as usize + 1) * 200_000]);
            w.str("between");
            w.raw_f32s(&floats);
            w.raw(&vec![7u8; CHUNK + 3]);
            w.u64(u64::from(round));
        }
    }

    #[test]
    fn streaming_writes_what_the_buffer_holds() {
        let mut memory = Writer::default();
        mixed(&mut memory);
        let bytes = memory.into_bytes();
        let mut sink: Vec<u8> = Vec::new();
        let mut w = Writer::streaming(&mut sink);
        mixed(&mut w);
        assert!(w.buf.len() < CHUNK, "the buffer stays under a chunk");
        let (sum, len) = w.finish().expect("no error");
        assert_eq!(sink, bytes);
        assert_eq!((sum, len), (checksum(&bytes), bytes.len() as u64));
    }

    #[test]
    fn a_failed_sink_stops_the_writer() {
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut full = Full(2);
        let mut w = Writer::streaming(&mut full);
        mixed(&mut w);
        assert!(w.failed());
        assert_eq!(w.finish().map_err(|e| e.to_string()), Err("disk full".to_owned()));
    }
}
