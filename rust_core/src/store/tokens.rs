//! The `auth_tokens` database: SHA-256 digest of an access token (32 bytes) ->
//! an opaque record made by the Python policy layer (at most `MAX_TOKEN_RECORD`
//! bytes). Invariant: every key is exactly `DIGEST_LEN` bytes and every value at
//! most `MAX_TOKEN_RECORD`, checked before anything reaches the writer.
//!
//! Tokens live in the same LMDB environment as the memories so that one backup
//! (a copy of the environment) carries both. They are a separate named database,
//! so nothing that walks memories or namespaces ever sees them.

use crate::error::{CoreError, Result};
use crate::store::Store;
use heed::{RoTxn, RwTxn};

/// Length of a token digest (SHA-256).
pub const DIGEST_LEN: usize = 32;
/// Largest token record.
pub const MAX_TOKEN_RECORD: usize = 64 << 10;

/// Checks a digest given by a caller.
pub fn check_digest(digest: &[u8]) -> Result<()> {
    if digest.len() != DIGEST_LEN {
        return Err(CoreError::invalid(format!(
            "a token digest is {DIGEST_LEN} bytes (SHA-256), got {}",
            digest.len()
        )));
    }
    Ok(())
}

/// Checks a record given by a caller.
pub fn check_record(record: &[u8]) -> Result<()> {
    if record.len() > MAX_TOKEN_RECORD {
        return Err(CoreError::invalid(format!(
            "a token record is at most {MAX_TOKEN_RECORD} bytes, got {}",
            record.len()
        )));
    }
    Ok(())
}

impl Store {
    /// Inserts or replaces a token record (inside the writer's transaction).
    pub fn put_token(&self, txn: &mut RwTxn, digest: &[u8], record: &[u8]) -> Result<()> {
        Ok(self.tokens.put(txn, digest, record)?)
    }

    /// Removes a token record; `true` if it existed.
    pub fn delete_token(&self, txn: &mut RwTxn, digest: &[u8]) -> Result<bool> {
        Ok(self.tokens.delete(txn, digest)?)
    }

    /// Every token record, in digest order.
    pub fn tokens(&self, txn: &RoTxn) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.tokens.iter(txn)? {
            let (digest, record) = entry?;
            out.push((digest.to_vec(), record.to_vec()));
        }
        Ok(out)
    }
}
