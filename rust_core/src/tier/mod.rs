//! Tiers: the in-memory view of what is where (`state`), and moves between tiers
//! inside a write transaction (`migrate`).

pub mod migrate;
pub mod state;

pub use state::{Counters, KeyMeta, Namespace, State};
