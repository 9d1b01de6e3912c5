//! The LMDB environment and its named databases.

use crate::config::{Durability, EngineConfig};
use crate::error::{CoreError, Result};
use crate::store::vectors::Vectors;
use heed::types::Bytes;
use heed::{CompactionOption, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn};
use std::path::Path;

/// Memories: `namespace\0key` -> record (see `codec.rs`).
pub const MEMORIES_DB: &str = "memories";
/// Namespaces: `namespace` -> u32 LE embedding dimension (0 = unset), then the
/// server's embedding model, if any (`embedder.rs`).
pub const NAMESPACES_DB: &str = "namespaces";
/// Access tokens: SHA-256 digest -> opaque record (see `tokens.rs`).
pub const TOKENS_DB: &str = "auth_tokens";

/// Archive objects memd registered: object name -> u64 LE registration time
/// (`archive/apply.rs`).
pub const ARCHIVE_DB: &str = "archive_objects";

/// Packed vectors (format 2): `namespace\0 ++ dim ++ group` -> slots (`vectors.rs`).
pub const VECTORS_DB: &str = "vectors";
/// The groups of `VECTORS_DB` with a free slot: same key -> empty.
pub const VECTOR_FREE_DB: &str = "vector_free";

/// Raw byte database.
pub type RawDb = Database<Bytes, Bytes>;

/// One LMDB environment with memd's databases.
#[derive(Clone)]
pub struct Store {
    /// The environment.
    pub env: Env,
    /// `MEMORIES_DB`.
    pub memories: RawDb,
    /// `NAMESPACES_DB`.
    pub namespaces: RawDb,
    /// `TOKENS_DB`.
    pub tokens: RawDb,
    /// `ARCHIVE_DB`.
    pub archive_objects: RawDb,
    /// `VECTORS_DB` and `VECTOR_FREE_DB`.
    pub vectors: Vectors,
}

impl Store {
    /// Opens (creating if needed) the environment in directory `path`.
    pub fn open(path: &Path, cfg: &EngineConfig) -> Result<Store> {
        std::fs::create_dir_all(path)?;
        let mut options = EnvOpenOptions::new();
        options.map_size(cfg.map_size).max_dbs(8).max_readers(1024);
        // NO_READAHEAD: random reads of a store bigger than RAM should not pull in
        // neighbouring pages. NO_SYNC only in nosync mode (the writer syncs on a timer).
        let mut flags = EnvFlags::NO_READ_AHEAD;
        if cfg.durability == Durability::NoSync {
            flags |= EnvFlags::NO_SYNC;
        }
        // SAFETY: the flags are valid LMDB flags and this process opens the
        // environment once (heed refuses a second open with EnvAlreadyOpened).
        // memd never modifies the memory map through pointers.
        let env = unsafe {
            options.flags(flags);
            options.open(path)?
        };
        let mut wtxn = env.write_txn()?;
        let memories = env.create_database(&mut wtxn, Some(MEMORIES_DB))?;
        let namespaces = env.create_database(&mut wtxn, Some(NAMESPACES_DB))?;
        let tokens = env.create_database(&mut wtxn, Some(TOKENS_DB))?;
        let archive_objects = env.create_database(&mut wtxn, Some(ARCHIVE_DB))?;
        let vectors = Vectors {
            groups: env.create_database(&mut wtxn, Some(VECTORS_DB))?,
            free: env.create_database(&mut wtxn, Some(VECTOR_FREE_DB))?,
            page: env.stat().page_size as usize,
        };
        wtxn.commit()?;
        Ok(Store { env, memories, namespaces, tokens, archive_objects, vectors })
    }

    /// Reads a namespace's stored dimension.
    pub fn namespace_dim(&self, txn: &RoTxn, namespace: &str) -> Result<Option<u32>> {
        Ok(self
            .namespaces
            .get(txn, namespace.as_bytes())?
            .and_then(|v| v.get(..4))
            .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]])))
    }

    /// Records a namespace (and its dimension).
    pub fn put_namespace(&self, txn: &mut RwTxn, namespace: &str, dim: u32) -> Result<()> {
        Ok(self.namespaces.put(txn, namespace.as_bytes(), &dim.to_le_bytes())?)
    }

    /// (map size, bytes in use).
    pub fn map_usage(&self) -> (usize, u64) {
        let info = self.env.info();
        let page = u64::from(self.env.stat().page_size);
        (info.map_size, (info.last_page_number as u64 + 1) * page)
    }

    /// A consistent, compacted copy into directory `dir` (as `dir/data.mdb`), taken
    /// from a read transaction while writes go on.
    pub fn backup(&self, dir: &Path) -> Result<()> {
        let target = dir.join("data.mdb");
        if target.exists() {
            return Err(CoreError::invalid(format!("{} already exists", target.display())));
        }
        self.env.copy_to_path(target, CompactionOption::Enabled)?;
        Ok(())
    }
}
