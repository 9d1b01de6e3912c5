//! The retention score: how much a memory deserves to stay where it is (seed 004).
//!
//! ```text
//! retention = importance
//!           + 0.3 · 1 / (1 + idle_h / 24)                   recency: 0.3 now, 0.15 after a day idle
//!           + min(0.2 · accesses / max(1, age_h), 0.3)     frequency: accesses per hour of life
//! ```
//!
//! `idle_h` is the hours since the last read or write, `age_h` the hours since
//! creation, so the score is in [0, 1.6]. Importance dominates on purpose: an
//! important memory outranks a merely recent one, and recency and frequency break
//! the ties among equals. It orders eviction victims that LRU cannot tell apart
//! (`tier::migrate`) and is a policy condition (`retention_below`).

const HOUR_MS: f64 = 3_600_000.0;

/// What the score reads of a memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetentionInput {
    /// In [0, 1].
    pub importance: f32,
    /// Creation time.
    pub created_ms: u64,
    /// Last read or write.
    pub last_access_ms: u64,
    /// Reads and writes so far.
    pub access_count: u64,
}

/// The retention score at `now_ms` (see the module docs).
pub fn score(m: &RetentionInput, now_ms: u64) -> f64 {
    let idle_h = now_ms.saturating_sub(m.last_access_ms) as f64 / HOUR_MS;
    let age_h = now_ms.saturating_sub(m.created_ms) as f64 / HOUR_MS;
    let recency = 0.3 / (1.0 + idle_h / 24.0);
    let frequency = (0.2 * m.access_count as f64 / age_h.max(1.0)).min(0.3);
    f64::from(m.importance) + recency + frequency
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3_600_000;

    fn input(importance: f32, access_count: u64) -> RetentionInput {
        RetentionInput { importance, created_ms: 0, last_access_ms: 0, access_count }
    }

    #[test]
    fn fresh_memory_scores_importance_plus_full_recency() {
        assert!((score(&input(0.5, 0), 0) - 0.8).abs() < 1e-9);
    }

    #[test]
    fn recency_halves_after_a_day_idle() {
        let s = score(&input(0.0, 0), DAY);
        assert!((s - 0.15).abs() < 1e-9);
    }

    #[test]
    fn frequency_is_capped() {
        assert!((score(&input(0.0, 1_000_000), 0) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn more_important_or_more_used_scores_higher() {
        let now = 10 * DAY;
        let base = score(&input(0.5, 1), now);
        assert!(score(&input(0.6, 1), now) > base);
        assert!(score(&input(0.5, 100), now) > base);
        assert!(score(&RetentionInput { last_access_ms: now, ..input(0.5, 1) }, now) > base);
    }
}
