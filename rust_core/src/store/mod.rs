//! LMDB storage: one environment per data directory (locked by one engine at a
//! time), five named databases (six in cluster mode), and the byte layouts of their keys and records.

pub mod applied;
pub mod codec;
pub mod disk;
pub mod embedder;
pub mod env;
pub mod keys;
pub mod lock;
pub mod records;
pub mod tokens;
pub mod vectors;
pub mod verify;

pub use env::Store;
