//! The object-storage archive: values of ARCHIVE memories moved to an S3-compatible
//! store as batched, compressed, encrypted objects, while LMDB keeps each memory's
//! header, text, vector, labels and a pointer (see docs/archive.md).
//!
//! Invariants: network I/O never happens inside an LMDB write transaction (objects
//! are uploaded first, then the pointers commit in one writer job; an object whose
//! pointers never committed is unreferenced and collected); a failed fetch is an
//! error for the memories that needed it, never for anything else.

pub mod apply;
mod cache;
pub mod crypto;
mod hydrate;
pub mod object;
mod offload;
pub mod s3;

pub use crypto::{ArchiveKey, Keyring};
pub(crate) use hydrate::hydrate;
pub use object::Pointer;
pub(crate) use offload::run_pass;
pub use offload::ArchiveReport;
pub use s3::S3Config;

use crate::error::{CoreError, Result};
use cache::ObjectCache;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use std::sync::{Arc, Mutex};

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How the archive is reached and when memories go there.
#[derive(Clone, Debug)]
pub struct ArchiveConfig {
    /// The S3 endpoint, bucket and credentials.
    pub s3: S3Config,
    /// Prepended to every object name (one prefix per data directory).
    pub prefix: String,
    /// Sealing and opening keys.
    pub keyring: Keyring,
    /// ARCHIVE memories not accessed for this long are offloaded.
    pub offload_after_ms: u64,
    /// Values smaller than this stay local (a pointer costs ~50 bytes).
    pub offload_min_bytes: u32,
    /// Values at least this large are offloaded once in ARCHIVE, whatever their age
    /// (0: age only).
    pub offload_large_bytes: u32,
    /// Target plaintext size of one object.
    pub object_bytes: usize,
    /// Most objects written per pass.
    pub max_objects: usize,
    /// Plaintext of recently read objects kept in memory.
    pub cache_bytes: usize,
}

/// A configured archive: the client, the keys and the cache.
pub struct Archive {
    cfg: ArchiveConfig,
    s3: s3::S3,
    cache: ObjectCache,
    /// One pass (offload, then collection) at a time: collection must not see an
    /// object registered by a pass whose pointers are not committed yet.
    run: Mutex<()>,
}

impl Archive {
    /// Checks `cfg`; opens no connection.
    pub fn new(cfg: ArchiveConfig) -> Result<Archive> {
        let ok = |c: char| c.is_ascii_alphanumeric() || "/_.-".contains(c);
        if !cfg.prefix.chars().all(ok) || cfg.prefix.starts_with('/') || cfg.prefix.len() > 200 {
            return Err(CoreError::invalid(format!(
                "archive.prefix {:?} may hold only A-Z a-z 0-9 / _ . - (not first: /), 200 at most",
                cfg.prefix
            )));
        }
        if cfg.object_bytes == 0 || cfg.max_objects == 0 {
            return Err(CoreError::invalid("archive.object_bytes and max_objects must be > 0"));
        }
        let s3 = s3::S3::new(cfg.s3.clone())?;
        let cache = ObjectCache::new(cfg.cache_bytes);
        Ok(Archive { cfg, s3, cache, run: Mutex::new(()) })
    }

    /// The configuration.
    pub fn config(&self) -> &ArchiveConfig {
        &self.cfg
    }

    /// A fresh object name: the prefix and 128 random bits.
    fn new_object_name(&self) -> String {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        format!("{}{}", self.cfg.prefix, hex(&id))
    }

    /// The plaintext of object `name`: from the cache, else fetched, opened and
    /// unpacked (then cached).
    pub fn fetch(&self, name: &str, now_ms: u64) -> Result<Arc<Vec<u8>>> {
        if let Some(plain) = self.cache.get(name) {
            return Ok(plain);
        }
        let sealed = self.s3.get(name, now_ms)?.ok_or_else(|| {
            CoreError::DataLoss(format!(
                "archive object {name} is missing from {}",
                self.s3.describe()
            ))
        })?;
        let packed = self.cfg.keyring.open(name, &sealed)?;
        let plain = Arc::new(object::unpack(name, &packed)?);
        self.cache.put(name, plain.clone());
        Ok(plain)
    }

    /// The value a pointer locates, if its object is in the cache (no I/O: the
    /// writer uses this to bring a promoted memory's value back).
    pub fn cached_value(&self, ptr: &Pointer) -> Option<Vec<u8>> {
        let plain = self.cache.get(&ptr.object)?;
        ptr.slice(&plain).ok().map(<[u8]>::to_vec)
    }
}
