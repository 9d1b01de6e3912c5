//! Time. Everything that decides *what* happens (TTL, LRU, promotion) takes `now_ms`
//! from its caller, so tests drive it with a fake clock. Only *when* background work
//! runs (flush and sync intervals in the writer thread) reads a monotonic clock,
//! and only through this module (`clippy.toml` bans the direct calls elsewhere).

use std::time::{Duration, Instant};

/// A monotonic instant for scheduling background work.
#[expect(clippy::disallowed_methods, reason = "the one place allowed to read the clock")]
pub fn monotonic() -> Instant {
    Instant::now()
}

/// Time since `start`.
pub fn since(start: Instant) -> Duration {
    monotonic().saturating_duration_since(start)
}

/// Wall-clock milliseconds since the Unix epoch, for callers without a clock.
#[expect(clippy::disallowed_methods, reason = "the one place allowed to read the clock")]
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
