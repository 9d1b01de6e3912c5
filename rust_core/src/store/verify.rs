//! Offline integrity check of a data directory (`memd verify`). Invariant: it never
//! writes to the store and never panics on what it reads: every record that does
//! not decode, or disagrees with what is derived from it, is a line in
//! `VerifyReport::problems`.
//!
//! What is checked, database by database:
//!
//! - `namespaces`: each name is a valid namespace (UTF-8, non-empty, no NUL,
//!   bounded) and its value a 4-byte dimension.
//! - `memories`: each LMDB key splits into a valid namespace and key; each record
//!   decodes (header, body, lz4 value) and re-encodes to the same bytes (so no
//!   trailing garbage or stray flags), with importance in [0, 1], a version of at
//!   least 1 and a finite embedding; its namespace is in `namespaces`, with the
//!   embedding's dimension when it has one (the persisted index the engine trusts
//!   at open). A format-2 record's vector slot is in use in `vectors`, and as many
//!   slots are in use as records refer to (no slot leaked).
//! - `auth_tokens`: each key is a 32-byte digest and each record within bounds.
//!
//! The directory's lock is held throughout, so a directory a daemon serves is
//! refused rather than read while it changes.

use crate::config::Limits;
use crate::error::{CoreError, Result};
use crate::store::embedder;
use crate::store::env::{RawDb, MEMORIES_DB, NAMESPACES_DB, TOKENS_DB, VECTORS_DB, VECTOR_FREE_DB};
use crate::store::lock::DirLock;
use crate::store::tokens::{DIGEST_LEN, MAX_TOKEN_RECORD};
use crate::store::vectors::{self, Vectors};
use crate::store::{codec, keys};
use crate::validate;
use heed::{EnvFlags, EnvOpenOptions, RoTxn};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Problems listed before the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;
/// A stored value claiming to decompress to more than this is corrupt (memd's
/// own limit is far lower); refusing it keeps a bad header from allocating it.
const MAX_PLAUSIBLE_VALUE: u32 = 1 << 30;

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records in `memories` (decodable or not).
    pub memories: u64,
    /// Memories per tier, WORKING..ARCHIVE (those whose header decodes).
    pub by_tier: [u64; 4],
    /// Entries in `namespaces`.
    pub namespaces: u64,
    /// Entries in `auth_tokens`.
    pub tokens: u64,
    /// Sum of the memory records' sizes.
    pub record_bytes: u64,
    /// Size of `data.mdb`.
    pub file_bytes: u64,
    /// What is wrong, one line each; empty for a healthy store.
    pub problems: Vec<String>,
}

impl VerifyReport {
    fn problem(&mut self, line: String) {
        self.problems.push(line);
    }

    fn cap(&mut self) {
        if self.problems.len() > MAX_PROBLEMS {
            let more = self.problems.len() - MAX_PROBLEMS;
            self.problems.truncate(MAX_PROBLEMS);
            self.problems.push(format!("... and {more} more problems"));
        }
    }
}

/// Checks the store in directory `dir` (see the module docs). Errors only when
/// the store cannot be read at all: no `data.mdb`, the directory is in use, or
/// LMDB refuses to open it.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let data = dir.join("data.mdb");
    let file_bytes = std::fs::metadata(&data)
        .map_err(|_| CoreError::NotFound(format!("{} holds no memd store", dir.display())))?
        .len();
    let _lock = DirLock::acquire(dir)?;
    let mut options = EnvOpenOptions::new();
    options.max_dbs(8);
    // SAFETY: READ_ONLY opens the existing environment without writing to it; the
    // directory lock keeps memd engines (the only writers memd makes) out, and
    // heed refuses a second open of the same path in this process.
    let env = unsafe {
        options.flags(EnvFlags::READ_ONLY | EnvFlags::NO_READ_AHEAD);
        options.open(dir)?
    };
    let report = {
        let rtxn = env.read_txn()?;
        let mut report = VerifyReport { file_bytes, ..VerifyReport::default() };
        let dims = check_namespaces(&env, &rtxn, &mut report)?;
        check_memories(&env, &rtxn, &dims, &mut report)?;
        check_tokens(&env, &rtxn, &mut report)?;
        report.cap();
        report
    };
    // Closed before the lock is released, so an engine may open the directory next.
    env.prepare_for_closing().wait();
    Ok(report)
}

fn open_db(env: &heed::Env, rtxn: &RoTxn, name: &str) -> Result<Option<RawDb>> {
    Ok(env.open_database(rtxn, Some(name))?)
}

/// Walks a database; an LMDB error mid-way is a problem and ends the walk.
fn walk(
    db: RawDb,
    rtxn: &RoTxn,
    name: &str,
    report: &mut VerifyReport,
    mut each: impl FnMut(&[u8], &[u8], &mut VerifyReport),
) -> Result<()> {
    for entry in db.iter(rtxn)? {
        match entry {
            Ok((k, v)) => each(k, v, report),
            Err(e) => {
                report.problem(format!("{name}: LMDB cannot read further: {e}"));
                break;
            }
        }
    }
    Ok(())
}

fn check_namespaces(
    env: &heed::Env,
    rtxn: &RoTxn,
    report: &mut VerifyReport,
) -> Result<HashMap<Vec<u8>, u32>> {
    let mut dims = HashMap::new();
    let Some(db) = open_db(env, rtxn, NAMESPACES_DB)? else {
        report.problem(format!("the {NAMESPACES_DB} database is missing"));
        return Ok(dims);
    };
    let limits = Limits::default();
    walk(db, rtxn, NAMESPACES_DB, report, |name, value, report| {
        report.namespaces += 1;
        let shown = String::from_utf8_lossy(name);
        match std::str::from_utf8(name) {
            Ok(ns) => {
                if let Err(e) = validate::namespace(ns, &limits) {
                    report.problem(format!("namespace {shown:?}: {}", e.message()));
                }
            }
            Err(_) => report.problem(format!("namespace {shown:?}: name is not UTF-8")),
        }
        // Four bytes of dimension, then the server's embedding model if any.
        let dim = match embedder::decode(value) {
            Ok(record) => record.dim,
            Err(e) => {
                report.problem(format!("namespace {shown:?}: {}", e.message()));
                0
            }
        };
        dims.insert(name.to_vec(), dim);
    })?;
    Ok(dims)
}

fn check_memories(
    env: &heed::Env,
    rtxn: &RoTxn,
    dims: &HashMap<Vec<u8>, u32>,
    report: &mut VerifyReport,
) -> Result<()> {
    let Some(db) = open_db(env, rtxn, MEMORIES_DB)? else {
        report.problem(format!("the {MEMORIES_DB} database is missing"));
        return Ok(());
    };
    let limits = Limits::default();
    // A store written before packed vectors has no vector databases.
    let vectors = match (open_db(env, rtxn, VECTORS_DB)?, open_db(env, rtxn, VECTOR_FREE_DB)?) {
        (Some(groups), Some(free)) => Some(Vectors { groups, free, page: 0 }),
        _ => None,
    };
    let mut referenced = HashSet::new();
    walk(db, rtxn, MEMORIES_DB, report, |db_key, record, report| {
        report.memories += 1;
        report.record_bytes += record.len() as u64;
        let Some((ns, key)) = keys::split(db_key) else {
            let shown = String::from_utf8_lossy(db_key);
            report.problem(format!("memory {shown:?}: key is not UTF-8 namespace\\0key"));
            return;
        };
        let at = format!("memory {ns:?}/{key:?}");
        if let Err(e) = validate::namespace(ns, &limits).and(validate::key(key, &limits, false)) {
            report.problem(format!("{at}: {}", e.message()));
        }
        if let Err(e) = check_record(ns, key, record, vectors.as_ref(), rtxn, report) {
            report.problem(format!("{at}: {}", e.message()));
            return;
        }
        let dim = codec::decode_header(record).map_or(0, |h| h.dim);
        match dims.get(ns.as_bytes()) {
            None => report.problem(format!("{at}: its namespace is not in {NAMESPACES_DB}")),
            Some(&d) if dim != 0 && d != dim => report.problem(format!(
                "{at}: embedding has {dim} dimensions; its namespace records {d}"
            )),
            Some(_) => {}
        }
        if let (Ok(Some(codec::VectorField::Slot(slot))), Some(h)) =
            (codec::vector_field(record), codec::decode_header(record).ok())
        {
            if !referenced.insert(vectors::slot_key(ns, h.dim, slot)) {
                report.problem(format!("{at}: its vector slot is another record's too"));
            }
        }
    })?;
    let used = match &vectors {
        Some(v) => v.used_slots(rtxn)?,
        None => Vec::new(),
    };
    let leaked = used.iter().filter(|s| !referenced.contains(*s)).count();
    if leaked > 0 {
        report.problem(format!("{leaked} vector slots in use that no record refers to"));
    }
    Ok(())
}

/// Decodes one record completely; counts its tier.
fn check_record(
    ns: &str,
    key: &str,
    record: &[u8],
    vectors: Option<&Vectors>,
    rtxn: &RoTxn,
    report: &mut VerifyReport,
) -> Result<()> {
    let h = codec::decode_header(record)?;
    report.by_tier[h.tier.index()] += 1;
    let (raw, _) = codec::value_sizes(record)?;
    if raw > MAX_PLAUSIBLE_VALUE {
        return Err(CoreError::Internal(format!("corrupt record: value claims {raw} bytes")));
    }
    let mut m = codec::decode(Arc::from(ns), key.to_owned(), record)?;
    if let Some(codec::VectorField::Slot(slot)) = codec::vector_field(record)? {
        let vectors =
            vectors.ok_or_else(|| CoreError::Internal(format!("no {VECTORS_DB} database")))?;
        m.embedding = Some(codec::floats(vectors.get(rtxn, ns, h.dim, slot)?));
    }
    let mut wrong = Vec::new();
    if !(0.0..=1.0).contains(&h.importance) {
        wrong.push(format!("importance {} is not in [0, 1]", h.importance));
    }
    if h.version == 0 {
        wrong.push("version is 0".to_owned());
    }
    if m.embedding.iter().flatten().any(|x| !x.is_finite()) {
        wrong.push("embedding is not finite".to_owned());
    }
    if codec::encode_like(record, &m, h.compressed)? != record {
        wrong.push("record does not re-encode to the same bytes".to_owned());
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Internal(wrong.join("; ")))
    }
}

fn check_tokens(env: &heed::Env, rtxn: &RoTxn, report: &mut VerifyReport) -> Result<()> {
    // A store written before tokens existed has no such database: not a problem.
    let Some(db) = open_db(env, rtxn, TOKENS_DB)? else { return Ok(()) };
    walk(db, rtxn, TOKENS_DB, report, |digest, record, report| {
        report.tokens += 1;
        if digest.len() != DIGEST_LEN {
            report.problem(format!("token digest of {} bytes, not {DIGEST_LEN}", digest.len()));
        }
        if record.len() > MAX_TOKEN_RECORD {
            report.problem(format!(
                "token record of {} bytes, over {MAX_TOKEN_RECORD}",
                record.len()
            ));
        }
    })
}
