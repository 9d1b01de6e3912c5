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
//! `MAGIC`, a format version (`u32`), the body's checksum and length (`u64`), then
//! the body: the transaction id, the analyzer's name, the namespace count, and per
//! namespace its name and `SearchIndex::encode`. The file is mapped into memory
//! (`mapped.rs`) and decoded from the mapping in one pass (`codec.rs`); the vector
//! matrix is most of it.

mod codec;
mod mapped;

pub use codec::{checksum, entry_digest, f32s, Bad, Got, Reader, Writer};
use mapped::Mapped;

use super::ann::Params;
use super::{Analyzer, SearchIndex};
use std::path::{Path, PathBuf};

/// The snapshot's file name in the data directory.
pub const FILE: &str = "search.snapshot";
const MAGIC: &[u8; 8] = b"MEMDSNAP";
/// Bumped whenever any `encode` changes (an older file is then refused, not misread).
/// 2: postings count term frequency and length in units (`text::TEXT_UNITS`).
const VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 8 + 8;

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

/// Encodes the indexes of `spaces` as covering LMDB transaction `txn_id`.
pub fn encode<'a>(
    txn_id: u64,
    analyzer: Analyzer,
    spaces: impl ExactSizeIterator<Item = (&'a str, &'a SearchIndex)>,
) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(txn_id);
    w.str(&analyzer.id());
    w.len(spaces.len());
    for (name, index) in spaces {
        w.str(name);
        index.encode(&mut w);
    }
    let body = w.buf;
    let mut file = Vec::with_capacity(HEADER + body.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&VERSION.to_le_bytes());
    file.extend_from_slice(&checksum(&body).to_le_bytes());
    file.extend_from_slice(&(body.len() as u64).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

/// Writes `bytes` (from `encode`) as the snapshot of `dir`: to a temporary file,
/// then renamed over the old one, so a crash mid-write leaves either the old
/// snapshot or the new one, never half of one (and a half one fails its checksum).
pub fn write(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path(dir))
}

/// Removes the snapshot of `dir`, if any (a refused one must not be tried again).
pub fn discard(dir: &Path) {
    let _ = std::fs::remove_file(path(dir));
    let _ = std::fs::remove_file(dir.join(format!("{FILE}.tmp")));
}

/// Decodes a snapshot file's bytes into (namespace, index) pairs, or says why
/// they cannot be used.
pub fn decode(bytes: &[u8], expect: &Expect) -> Got<Vec<(String, SearchIndex)>> {
    let mut r = Reader::new(bytes);
    if r.take(8).ok() != Some(MAGIC.as_slice()) {
        return Err(Bad("not a snapshot file".into()));
    }
    if r.u32()? != VERSION {
        return Err(Bad("snapshot of another format version".into()));
    }
    let (sum, len) = (r.u64()?, r.u64()?);
    let body = r.take(usize::try_from(len).map_err(|_| Bad::malformed("length"))?)?;
    if !r.is_empty() || checksum(body) != sum {
        return Err(Bad("snapshot checksum mismatch (torn or corrupt file)".into()));
    }
    let mut r = Reader::new(body);
    let txn_id = r.u64()?;
    if txn_id != expect.txn_id {
        return Err(Bad(format!(
            "stale snapshot (covers LMDB transaction {txn_id}, the store is at {})",
            expect.txn_id
        )));
    }
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
        let index = SearchIndex::decode(expect.analyzer, expect.params, quant, &mut r)?;
        spaces.push((name, index));
    }
    if !r.is_empty() {
        return Err(Bad::malformed("trailing bytes"));
    }
    Ok(spaces)
}

/// Reads and decodes the snapshot of `dir`, mapped rather than copied into memory
/// (`mapped.rs`); `Ok(None)` when there is none.
pub fn read(dir: &Path, expect: &Expect) -> Got<Option<Vec<(String, SearchIndex)>>> {
    let file = match std::fs::File::open(path(dir)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Bad(format!("snapshot unreadable: {e}"))),
    };
    let mapped = Mapped::new(&file).map_err(|e| Bad(format!("snapshot unreadable: {e}")))?;
    decode(mapped.bytes(), expect).map(Some)
}

#[cfg(test)]
mod tests;
