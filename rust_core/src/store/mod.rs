//! LMDB storage: one environment per data directory, two named databases, and the
//! byte layouts of their keys and records.

pub mod codec;
pub mod env;
pub mod keys;

pub use env::Store;
