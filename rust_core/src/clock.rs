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

/// CPU time this thread has used (user + system), for the open's phase report: on a
/// shared machine a phase's wall time also counts waiting for a core.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always
    // available on Linux. On failure `ts` stays zero (a report of 0 s).
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts);
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// One step of a measured sequence: its wall time and the CPU time of the thread
/// that ran it.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// What the step did.
    pub name: &'static str,
    /// Seconds it took.
    pub wall_s: f64,
    /// CPU seconds its thread used meanwhile.
    pub cpu_s: f64,
}

/// Runs `f`, appending its `Phase` to `phases`.
pub fn timed<T>(phases: &mut Vec<Phase>, name: &'static str, f: impl FnOnce() -> T) -> T {
    let (start, cpu) = (monotonic(), thread_cpu());
    let out = f();
    let wall_s = since(start).as_secs_f64();
    let cpu_s = thread_cpu().saturating_sub(cpu).as_secs_f64();
    phases.push(Phase { name, wall_s, cpu_s });
    out
}
