//! A circuit breaker in front of the embedding endpoint, so a dead endpoint costs a
//! caller microseconds instead of a timeout per call, and the server's worker threads
//! are not all parked waiting on it.
//!
//! # Algorithm
//!
//! Closed: calls go through; `threshold` failures in a row (a call that failed after
//! its retries counts once) open the breaker. Open: every call fails at once with
//! `Unavailable` until `cooldown` has passed. Then half-open: exactly one call (the
//! probe) goes through while the others keep failing fast; its success closes the
//! breaker, its failure opens it for another `cooldown`. The time is passed in, so
//! tests drive it without sleeping.

use crate::error::{CoreError, Result};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
    last_error: String,
}

/// Fails fast after repeated failures; see the module documentation.
pub struct Breaker {
    name: String,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker for service `name`; `threshold` 0 never opens.
    pub fn new(name: impl Into<String>, threshold: u32, cooldown: Duration) -> Breaker {
        Breaker { name: name.into(), threshold, cooldown, state: Mutex::default() }
    }

    /// Whether a call may go out now; `Unavailable` while open (or while another
    /// call probes a half-open breaker).
    pub fn allow(&self, now: Instant) -> Result<()> {
        let mut s = self.state.lock().expect("breaker lock");
        let Some(until) = s.open_until else { return Ok(()) };
        if now >= until && !s.probing {
            s.probing = true;
            return Ok(());
        }
        let wait = until.saturating_duration_since(now);
        Err(CoreError::Unavailable(format!(
            "{} is failing ({} calls in a row, last: {}); calls fail fast for {} ms more",
            self.name,
            s.failures,
            s.last_error,
            wait.as_millis()
        )))
    }

    /// Records a successful call: closes the breaker.
    pub fn success(&self) {
        *self.state.lock().expect("breaker lock") = State::default();
    }

    /// Records a failed call at `now`.
    pub fn failure(&self, now: Instant, error: &str) {
        let mut s = self.state.lock().expect("breaker lock");
        s.failures = s.failures.saturating_add(1);
        error.clone_into(&mut s.last_error);
        s.probing = false;
        if self.threshold > 0 && s.failures >= self.threshold {
            s.open_until = Some(now + self.cooldown);
        }
    }

    /// True while calls fail fast (open, or half-open with a probe out).
    pub fn is_open(&self, now: Instant) -> bool {
        let s = self.state.lock().expect("breaker lock");
        s.open_until.is_some_and(|until| now < until || s.probing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_failures_and_probes_after_cooldown() {
        let t0 = crate::clock::monotonic();
        let ms = Duration::from_millis;
        let b = Breaker::new("endpoint", 3, ms(100));
        for _ in 0..2 {
            assert!(b.allow(t0).is_ok());
            b.failure(t0, "refused");
        }
        assert!(b.allow(t0).is_ok(), "two failures keep it closed");
        b.failure(t0, "refused");
        let err = b.allow(t0 + ms(10)).unwrap_err();
        assert_eq!(err.kind(), "Unavailable");
        assert!(err.message().contains("3 calls in a row, last: refused"), "{err}");
        assert!(b.is_open(t0 + ms(99)));
        // Half-open: one probe, the others still fail fast.
        assert!(b.allow(t0 + ms(100)).is_ok());
        assert!(b.allow(t0 + ms(101)).is_err());
        b.failure(t0 + ms(150), "refused");
        assert!(b.allow(t0 + ms(200)).is_err(), "a failed probe reopens it");
        assert!(b.allow(t0 + ms(250)).is_ok());
        b.success();
        assert!(!b.is_open(t0 + ms(251)));
        assert!(b.allow(t0 + ms(251)).is_ok() && b.allow(t0 + ms(251)).is_ok());
    }

    #[test]
    fn threshold_zero_never_opens() {
        let t0 = crate::clock::monotonic();
        let b = Breaker::new("endpoint", 0, Duration::from_secs(1));
        for _ in 0..10 {
            b.failure(t0, "x");
        }
        assert!(b.allow(t0).is_ok());
    }
}
