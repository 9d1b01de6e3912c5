//! The `cluster_applied` database: partition name -> the last replicated-log
//! sequence applied to this store (u64 LE). Invariant: a sequence is written in the
//! same LMDB transaction as the entry it marks, so after any crash the recorded
//! sequence and the memories agree, and a restarted cluster node resumes from it.
//!
//! Single-node stores never get this database: it is created by the first mark.

use crate::error::Result;
use crate::store::env::RawDb;
use crate::store::Store;
use heed::{RoTxn, RwTxn};

/// Name of the database.
pub const APPLIED_DB: &str = "cluster_applied";

/// Where one replicated-log entry came from: written with the entry's effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Partition (the log subject's name).
    pub partition: String,
    /// The entry's sequence in the log.
    pub seq: u64,
}

impl Store {
    /// Records `mark` (inside the writer's transaction), creating the database on
    /// first use.
    pub fn put_mark(&self, txn: &mut RwTxn, mark: &Mark) -> Result<()> {
        let db: RawDb = self.env.create_database(txn, Some(APPLIED_DB))?;
        Ok(db.put(txn, mark.partition.as_bytes(), &mark.seq.to_le_bytes())?)
    }

    /// The last sequence applied for `partition` (0: none).
    pub fn applied(&self, txn: &RoTxn, partition: &str) -> Result<u64> {
        let Some(db) = self
            .env
            .open_database::<heed::types::Bytes, heed::types::Bytes>(txn, Some(APPLIED_DB))?
        else {
            return Ok(0);
        };
        Ok(db
            .get(txn, partition.as_bytes())?
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map_or(0, u64::from_le_bytes))
    }
}
