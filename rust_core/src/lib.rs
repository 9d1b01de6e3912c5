//! memd's engine: a tiered memory store on LMDB with LRU/TTL eviction, promotion
//! and scored search. Pure Rust; the Python bindings live in `py/` behind
//! the `python` feature, so `cargo test --no-default-features` needs no libpython.
#![warn(missing_docs)]

pub mod archive;
pub mod clock;
pub mod config;
pub mod embed;
pub mod engine;
pub mod error;
pub mod evict;
pub mod lifecycle;
pub mod model;
pub mod relay;
pub mod search;
pub mod store;
pub mod tier;
pub mod validate;
pub mod wire;

#[cfg(feature = "python")]
mod py;

pub use config::{Durability, EngineConfig, Limits, QuantRules, TierConfig};
pub use engine::{Engine, ListQuery, PutResult};
pub use error::{CoreError, Result};
pub use model::{Memory, RawMemory, Tier};
pub use search::{Hit, SearchQuery};
