//! Background work yields to foreground calls.
//!
//! A lifecycle pass and the HNSW graph build are long runs of CPU work, split into
//! bounded steps (a scan batch, an apply batch, a graph step). On a machine with
//! few cores a thread running them flat out takes the CPU scheduler's fair share
//! from the threads serving requests: measured on 2 cores with the daemon pinned to
//! one, unary Retrieve fell to 0.43 × its idle rate during a pass
//! (`bench/lifecycle_bench.py`). So every foreground call notes the time
//! (`Pace::foreground`), and after each background step, while foreground calls came
//! within `BUSY_WINDOW`, the background pauses for `YIELD_RATIO` times the step's
//! duration: it then uses at most 1 / (1 + `YIELD_RATIO`) of a core, and the rest is
//! the requests'. An idle daemon runs background work at full speed.
//!
//! Invariant: pausing only delays background work; it never changes what it does.

use crate::clock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How recent a foreground call must be for background work to yield.
const BUSY_WINDOW: Duration = Duration::from_millis(50);

/// Pause per unit of background work while busy: 7 leaves the requests 7/8 of the
/// CPU the background would have taken.
const YIELD_RATIO: u32 = 7;

/// Longest pause after one step. Steps are bounded, so a pass progresses under
/// constant load with any cap; the cap only bounds how stale a pass's view gets.
/// It was 200 ms: a step that took more than 200 / 7 ms of wall time (a plan step
/// on a core shared with 16 busy request threads does) then paused less than 7 x
/// its length, and the background took more than its eighth (measured: Retrieve
/// 0.73 x idle during a pass at 100 000 memories on a quiet machine).
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// When the last foreground call came, shared by the callers and the background.
pub struct Pace {
    epoch: Instant,
    /// Nanoseconds after `epoch` of the last foreground call (0: none yet).
    last_foreground_ns: AtomicU64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { epoch: clock::monotonic(), last_foreground_ns: AtomicU64::new(0) }
    }
}

impl Pace {
    fn now_ns(&self) -> u64 {
        // Starts at 1 so that 0 stays "never".
        u64::try_from(clock::since(self.epoch).as_nanos()).unwrap_or(u64::MAX).max(1)
    }

    /// Notes a foreground call (a store, read or search); one relaxed store.
    pub fn foreground(&self) {
        self.last_foreground_ns.store(self.now_ns(), Ordering::Relaxed);
    }

    /// Whether a foreground call came within `BUSY_WINDOW`.
    pub fn busy(&self) -> bool {
        let last = self.last_foreground_ns.load(Ordering::Relaxed);
        last != 0 && self.now_ns().saturating_sub(last) < BUSY_WINDOW.as_nanos() as u64
    }

    /// How long background work should pause after a step that took `step`:
    /// zero when idle.
    pub fn pause_after(&self, step: Duration) -> Duration {
        if self.busy() {
            (step * YIELD_RATIO).min(MAX_PAUSE)
        } else {
            Duration::ZERO
        }
    }

    /// Runs one background step in the caller's thread, then pauses as
    /// `pause_after` says.
    pub fn step<T>(&self, work: impl FnOnce() -> T) -> T {
        let start = clock::monotonic();
        let out = work();
        let pause = self.pause_after(clock::since(start));
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_engine_never_pauses() {
        let pace = Pace::default();
        assert!(!pace.busy());
        assert_eq!(pace.pause_after(Duration::from_millis(10)), Duration::ZERO);
    }

    #[test]
    fn a_recent_foreground_call_makes_background_yield_in_proportion() {
        let pace = Pace::default();
        pace.foreground();
        assert!(pace.busy());
        assert_eq!(pace.pause_after(Duration::from_millis(2)), Duration::from_millis(14));
        assert_eq!(pace.pause_after(Duration::from_secs(1)), MAX_PAUSE);
    }

    #[test]
    fn polling_stats_is_not_foreground_but_a_read_is() {
        use crate::config::{Durability, EngineConfig};
        use crate::engine::Engine;
        let dir = tempfile::tempdir().unwrap();
        let cfg = EngineConfig { durability: Durability::NoSync, ..EngineConfig::default() };
        let engine = Engine::open(dir.path(), cfg).unwrap();
        let pace = || engine.shared_quietly().unwrap().pace.busy();
        engine.stats(None).unwrap();
        engine.namespaces().unwrap();
        engine.map_info().unwrap();
        engine.applied("p0").unwrap();
        engine.flush().unwrap();
        engine.pending_touches().unwrap();
        engine.sweep(1_000, 100).unwrap();
        assert!(!pace(), "an introspection or background call counted as foreground");
        engine.get_many("ns", &["k".to_string()], 1_000, true).unwrap();
        assert!(pace());
    }

    #[test]
    fn the_pause_ends_once_foreground_calls_stop() {
        let pace = Pace::default();
        pace.foreground();
        std::thread::sleep(BUSY_WINDOW + Duration::from_millis(10));
        assert!(!pace.busy());
    }
}
