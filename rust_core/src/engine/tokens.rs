//! Access-token records (`store/tokens.rs`) through the engine: writes go to the
//! writer thread like every write and return after their commit; the listing is
//! one read transaction. The engine does not interpret records: the policy
//! (grants, expiry) is the Python layer's.

use crate::engine::apply::{Op, Reply};
use crate::engine::Engine;
use crate::error::Result;
use crate::store::tokens::{check_digest, check_record};

impl Engine {
    /// Inserts or replaces the record of the token whose SHA-256 digest is `digest`.
    pub fn put_token(&self, digest: &[u8], record: &[u8]) -> Result<()> {
        check_digest(digest)?;
        check_record(record)?;
        let op = Op::PutToken { digest: digest.to_vec(), record: record.to_vec() };
        let Reply::Count(_) = self.shared()?.submit(op)? else {
            unreachable!("put_token replies Count")
        };
        Ok(())
    }

    /// Removes a token's record; `true` if it existed.
    pub fn delete_token(&self, digest: &[u8]) -> Result<bool> {
        check_digest(digest)?;
        let op = Op::DeleteToken { digest: digest.to_vec() };
        let Reply::Count(n) = self.shared()?.submit(op)? else {
            unreachable!("delete_token replies Count")
        };
        Ok(n == 1)
    }

    /// Every `(digest, record)`, in digest order.
    pub fn tokens(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let shared = self.shared()?;
        let rtxn = shared.store.env.read_txn()?;
        shared.store.tokens(&rtxn)
    }
}
