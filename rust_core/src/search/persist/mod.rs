//! The search snapshot: every namespace's `SearchIndex` (slots, inverted index,
//! vector rows, HNSW graph) in one file beside LMDB, written at a clean close and
//! read at open instead of re-tokenizing every text and rebuilding every graph.
//!
//! # Validity
//!
//! LMDB stays the source of truth; a snapshot is only a cache of what LMDB implies,
//! and it is used only when it provably describes the store as it is:
//! - it names the LMDB transaction id it covers, taken after the writer's last
//!   commit and an fsync of the environment (`engine/reopen.rs`). LMDB numbers
//!   every committed write transaction, so any commit after the snapshot (a later
//!   session that crashed before its own close, another process writing the
//!   directory) makes the ids differ. The fsync first means that even a machine
//!   crash cannot roll LMDB back below the id the snapshot names;
//! - it names the analyzer and the graph settings it was built with: a config
//!   change (`engine.search_language`) refuses it;
//! - the body carries a checksum: a torn or corrupt file is refused;
//! - at open, each namespace's snapshot index must hold exactly LMDB's keys with
//!   the attributes their record headers hold: two order-independent digests
//!   compared, and the counts (`engine/reopen.rs`).
//!
//! Anything refused is deleted and the index is rebuilt from LMDB as before, with
//! the reason in the open report (which the Python layer logs).
//!
//! # Format
//!
//! `MAGIC`, a format version (`u32`), the body's checksum and length (`u64`), zeros
//! up to byte 64, then the body: the transaction id, the analyzer's name, the
//! namespace count, and per namespace its name and `SearchIndex::encode`. It is
//! streamed to the file at close in 1 MiB chunks (`write`: no buffer of the whole
//! file, and a time budget), mapped into memory at open (`mapped.rs`) and decoded
//! from the mapping in one pass (`codec.rs`). The vector matrix, most of the file,
//! starts 64-byte aligned and is not decoded: the index serves its rows from a
//! copy-on-write mapping of the file (`search::floats`).

mod codec;
mod mapped;
mod writer;

pub use codec::{entry_digest, f32s, Bad, Got, Reader, Source};
use mapped::Mapped;
pub use mapped::PrivateMap;
pub use writer::{checksum, Writer};

use super::ann::Params;
use super::{Analyzer, SearchIndex};
use crate::clock::{timed, Phase};
use std::path::{Path, PathBuf};

/// The snapshot's file name in the data directory.
pub const FILE: &str = "search.snapshot";
const MAGIC: &[u8; 8] = b"MEMDSNAP";
/// Bumped whenever any `encode` changes (an older file is then refused, not misread).
/// 2: postings count term frequency and length in units (`text::TEXT_UNITS`).
/// 3: the checksum folds the length last (it is known only once streamed).
/// 4: a 64-byte header, and the f32 matrix aligned to 64 bytes (served in place).
const VERSION: u32 = 4;
/// The header's size: the magic, the version, the checksum, the length, zeros.
const HEADER: usize = 64;

/// What a snapshot must match to be used.
#[derive(Clone, Debug)]
pub struct Expect {
    /// LMDB's last committed transaction id at open.
    pub txn_id: u64,
    /// The daemon's analyzer now.
    pub analyzer: Analyzer,
    /// The graph settings now.
    pub params: Params,
    /// How each namespace's vectors are stored now (`engine.vector_quantization` and
    /// its per-namespace rules): a namespace whose rows were encoded otherwise refuses
    /// the whole snapshot.
    pub quantization: crate::config::QuantRules,
}

/// The snapshot file of data directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes the body: the transaction id, the analyzer and every namespace's index.
fn encode_body<'a>(
    w: &mut Writer,
    txn_id: u64,
    analyzer: Analyzer,
    spaces: impl ExactSizeIterator<Item = (&'a str, &'a SearchIndex)>,
) {
    w.u64(txn_id);
    w.str(&analyzer.id());
    w.len(spaces.len());
    for (name, index) in spaces {
        if w.failed() {
            return; // nothing more reaches the file: do not spend the encoding
        }
        w.str(name);
        index.encode(w);
    }
}

/// The file's header for a body with checksum `sum` and length `len`.
fn header(sum: u64, len: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&sum.to_le_bytes());
    h[20..28].copy_from_slice(&len.to_le_bytes());
    h
}

/// Encodes the indexes of `spaces` as covering LMDB transaction `txn_id`, in
/// memory: the file `write` streams, byte for byte (for tests).
pub fn encode<'a>(
    txn_id: u64,
    analyzer: Analyzer,
    spaces: impl ExactSizeIterator<Item = (&'a str, &'a SearchIndex)>,
) -> Vec<u8> {
    let mut w = Writer::default();
    encode_body(&mut w, txn_id, analyzer, spaces);
    let body = w.into_bytes();
    let mut file = Vec::with_capacity(HEADER + body.len());
    file.extend_from_slice(&header(checksum(&body), body.len() as u64));
    file.extend_from_slice(&body);
    file
}

/// A file that refuses writes once `deadline` has passed, so that an encode which
/// would overrun its budget stops at the next chunk (`Writer` keeps the error).
struct Budgeted<'f> {
    file: &'f mut std::fs::File,
    deadline: Option<std::time::Instant>,
}

impl std::io::Write for Budgeted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.deadline.is_some_and(|d| crate::clock::monotonic() >= d) {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "over its time budget"));
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Streams the snapshot of `spaces`, covering LMDB transaction `txn_id`, into
/// `dir`: the header's place is left zero (not a snapshot) while the body is
/// encoded chunk by chunk into a temporary file, then the header is written with
/// the body's checksum and length, and the file renamed over the old one. A crash
/// or kill mid-write leaves the old snapshot (or none) and a temporary file that
/// is never read; a write past `deadline` is abandoned, its temporary file
/// removed, with `ErrorKind::TimedOut`. Returns the file's size.
///
/// No fsync: the snapshot is a cache, and a file torn by a power loss after the
/// rename (zeroed or missing pages) fails its checksum and is rebuilt. Syncing
/// would make the close wait for the disk to take the whole file (about 33 s for
/// the 1.8 GB of 1 000 000 memories on this machine's 55 MB/s disk), which is what
/// a shutdown grace period cannot give.
pub fn write<'a>(
    dir: &Path,
    txn_id: u64,
    analyzer: Analyzer,
    spaces: impl ExactSizeIterator<Item = (&'a str, &'a SearchIndex)>,
    deadline: Option<std::time::Instant>,
) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom, Write};
    let tmp = dir.join(format!("{FILE}.tmp"));
    let written = (|| -> std::io::Result<u64> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&[0u8; HEADER])?;
        let mut sink = Budgeted { file: &mut file, deadline };
        let mut w = Writer::streaming(&mut sink);
        encode_body(&mut w, txn_id, analyzer, spaces);
        let (sum, len) = w.finish()?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header(sum, len))?;
        drop(file);
        std::fs::rename(&tmp, path(dir))?;
        Ok(HEADER as u64 + len)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes the snapshot of `dir`, if any (a refused one must not be tried again).
pub fn discard(dir: &Path) {
    let _ = std::fs::remove_file(path(dir));
    let _ = std::fs::remove_file(dir.join(format!("{FILE}.tmp")));
}

/// The bytes `check_head` needs: the header and the body's transaction id.
const HEAD: usize = HEADER + 8;

/// Refuses a file that is no snapshot of this format, or a stale one, from its first
/// `HEAD` bytes: before the whole file is mapped and checksummed, so that the
/// common refusal (a restart after a crash, which left a snapshot older than LMDB)
/// does not first read gigabytes. (A corrupt transaction id also reads as stale.)
fn check_head(head: &[u8], expect: &Expect) -> Got<()> {
    let mut r = Reader::new(head);
    if r.take(8).ok() != Some(MAGIC.as_slice()) {
        return Err(Bad("not a snapshot file".into()));
    }
    if r.u32()? != VERSION {
        return Err(Bad("snapshot of another format version".into()));
    }
    r.take(HEADER - 12)?; // the checksum, the length and the zeros
    let txn_id = r.u64()?;
    if txn_id != expect.txn_id {
        return Err(Bad(format!(
            "stale snapshot (covers LMDB transaction {txn_id}, the store is at {})",
            expect.txn_id
        )));
    }
    Ok(())
}

/// Decodes a snapshot file's bytes into (namespace, index) pairs, or says why
/// they cannot be used.
pub fn decode(bytes: &[u8], expect: &Expect) -> Got<Vec<(String, SearchIndex)>> {
    decode_timed(bytes, None, expect, &mut Vec::new())
}

/// `decode`, appending how long its checksum and its decoding took to `phases`.
/// With `file` (whose contents `bytes` are), large arrays are served in place from
/// it (`Reader::floats`) instead of copied.
fn decode_timed(
    bytes: &[u8],
    file: Option<&std::fs::File>,
    expect: &Expect,
    phases: &mut Vec<Phase>,
) -> Got<Vec<(String, SearchIndex)>> {
    check_head(bytes, expect)?;
    let body = timed(phases, "snapshot checksum", || verified_body(bytes))?;
    let mut r = match file {
        Some(file) => Reader::of_file(body, Source { file, offset: HEADER as u64 }),
        None => Reader::new(body),
    };
    timed(phases, "snapshot decode", || decode_body(&mut r, expect))
}

/// The body of a file whose head passed `check_head`, if its checksum matches.
fn verified_body(bytes: &[u8]) -> Got<&[u8]> {
    let mut r = Reader::new(bytes.get(12..28).ok_or_else(|| Bad::malformed("truncated"))?);
    let (sum, len) = (r.u64()?, r.u64()?);
    let body = bytes.get(HEADER..).ok_or_else(|| Bad::malformed("truncated"))?;
    let len = usize::try_from(len).map_err(|_| Bad::malformed("length"))?;
    if body.len() < len {
        return Err(Bad::malformed("truncated"));
    }
    if body.len() > len || checksum(body) != sum {
        return Err(Bad("snapshot checksum mismatch (torn or corrupt file)".into()));
    }
    Ok(body)
}

/// The namespaces of a verified body.
fn decode_body(r: &mut Reader, expect: &Expect) -> Got<Vec<(String, SearchIndex)>> {
    r.u64()?; // the transaction id, checked by `check_head`
    let language = r.str()?;
    if language != expect.analyzer.id() {
        return Err(Bad(format!(
            "search_language or search_stop_words changed ({language} -> {})",
            expect.analyzer.id()
        )));
    }
    let n = r.len(1)?;
    let mut spaces = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?.to_owned();
        let quant = expect.quantization.of(&name);
        let index = SearchIndex::decode(expect.analyzer, expect.params, quant, r)?;
        spaces.push((name, index));
    }
    if !r.is_empty() {
        return Err(Bad::malformed("trailing bytes"));
    }
    Ok(spaces)
}

/// Reads and decodes the snapshot of `dir`, mapped rather than copied into memory
/// (`mapped.rs`); `Ok(None)` when there is none. Appends the time of each step
/// (map, checksum, decode) to `phases`.
pub fn read(
    dir: &Path,
    expect: &Expect,
    phases: &mut Vec<Phase>,
) -> Got<Option<Vec<(String, SearchIndex)>>> {
    let file = match std::fs::File::open(path(dir)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Bad(format!("snapshot unreadable: {e}"))),
    };
    let mut head = [0u8; HEAD];
    match std::io::Read::read_exact(&mut &file, &mut head) {
        Ok(()) => check_head(&head, expect)?,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Bad::malformed("truncated"))
        }
        Err(e) => return Err(Bad(format!("snapshot unreadable: {e}"))),
    }
    let mapped = timed(phases, "snapshot map", || Mapped::new(&file))
        .map_err(|e| Bad(format!("snapshot unreadable: {e}")))?;
    decode_timed(mapped.bytes(), Some(&file), expect, phases).map(Some)
}

#[cfg(test)]
mod tests;
