//! Deciding what the lifecycle does to one memory: the configured policies first, in
//! order (the first whose conditions all hold acts), then consolidation.
//!
//! The same function plans a pass and re-checks each planned action inside the
//! write transaction that applies it, so an action is applied only if it still
//! follows from the memory as it is then (a read or a rewrite in between skips it),
//! and a dry run reports exactly what a real run on the same state does.

use super::config::{LifecycleConfig, Policy, PolicyAction};
use super::retention::{self, RetentionInput};
use crate::model::Tier;

/// What a decision reads of a memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Subject<'a> {
    /// Current tier.
    pub tier: Tier,
    /// Retention inputs (importance, times, access count).
    pub retention: RetentionInput,
    /// Metadata `category`, when a policy needs it.
    pub category: Option<&'a str>,
}

/// Which jobs a pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jobs {
    /// `SHORT_TERM` → `LONG_TERM` consolidation.
    pub consolidate: bool,
    /// The configured policies.
    pub policies: bool,
}

/// Which rule decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Consolidation.
    Consolidate,
    /// The policy at this index of `LifecycleConfig::policies`.
    Policy(usize),
}

/// What happens to the memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Move to this tier.
    Move(Tier),
    /// Delete.
    Delete,
    /// Set the last access to now (no access counted).
    Refresh,
}

/// A rule and its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Who decided.
    pub rule: Rule,
    /// What.
    pub verdict: Verdict,
}

impl Decision {
    /// The action's name in reports: `consolidate` or the policy's action.
    pub fn action(&self, cfg: &LifecycleConfig) -> &'static str {
        match self.rule {
            Rule::Consolidate => "consolidate",
            Rule::Policy(i) => cfg.policies[i].action.name(),
        }
    }

    /// The rule's name in reports: `consolidate` or the policy's name.
    pub fn rule_name<'c>(&self, cfg: &'c LifecycleConfig) -> &'c str {
        match self.rule {
            Rule::Consolidate => "consolidate",
            Rule::Policy(i) => &cfg.policies[i].name,
        }
    }
}

fn holds(p: &Policy, s: &Subject, now_ms: u64) -> bool {
    let w = &p.when;
    let r = &s.retention;
    let idle = now_ms.saturating_sub(r.last_access_ms);
    let age = now_ms.saturating_sub(r.created_ms);
    (w.tiers.is_empty() || w.tiers.contains(&s.tier))
        && (w.categories.is_empty()
            || s.category.is_some_and(|c| w.categories.iter().any(|x| x == c)))
        && w.min_idle_ms.is_none_or(|t| idle >= t)
        && w.min_age_ms.is_none_or(|t| age >= t)
        && w.importance_below.is_none_or(|t| r.importance < t)
        && w.importance_above.is_none_or(|t| r.importance > t)
        && w.access_count_below.is_none_or(|t| r.access_count < t)
        && w.retention_below.is_none_or(|t| retention::score(r, now_ms) < t)
}

/// The verdict of `action` on a memory in `tier`; `None` when it would change nothing
/// (archiving an archived memory, refreshing one used this very millisecond).
fn verdict(action: PolicyAction, s: &Subject, now_ms: u64) -> Option<Verdict> {
    match action {
        PolicyAction::Archive => (s.tier != Tier::Archive).then_some(Verdict::Move(Tier::Archive)),
        PolicyAction::Demote => s.tier.colder().map(Verdict::Move),
        PolicyAction::Delete => Some(Verdict::Delete),
        PolicyAction::Refresh => (s.retention.last_access_ms < now_ms).then_some(Verdict::Refresh),
    }
}

/// What the lifecycle does to `s` at `now_ms`, if anything.
pub fn decide(cfg: &LifecycleConfig, jobs: Jobs, s: &Subject, now_ms: u64) -> Option<Decision> {
    if jobs.policies {
        for (i, p) in cfg.policies.iter().enumerate() {
            if holds(p, s, now_ms) {
                // The first matching policy owns the memory, even when its action
                // is a no-op: a later, weaker rule must not override it.
                return verdict(p.action, s, now_ms)
                    .map(|verdict| Decision { rule: Rule::Policy(i), verdict });
            }
        }
    }
    let r = &s.retention;
    let consolidate = jobs.consolidate
        && s.tier == Tier::ShortTerm
        && now_ms.saturating_sub(r.created_ms) >= cfg.consolidate_min_age_ms
        && (r.importance >= cfg.consolidate_min_importance
            || r.access_count >= cfg.consolidate_min_access_count);
    consolidate
        .then_some(Decision { rule: Rule::Consolidate, verdict: Verdict::Move(Tier::LongTerm) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::config::Conditions;

    const DAY: u64 = 86_400_000;
    const BOTH: Jobs = Jobs { consolidate: true, policies: true };

    fn subject(
        tier: Tier,
        importance: f32,
        last_access_ms: u64,
        access_count: u64,
    ) -> Subject<'static> {
        Subject {
            tier,
            retention: RetentionInput { importance, created_ms: 0, last_access_ms, access_count },
            category: None,
        }
    }

    fn seed_policies() -> LifecycleConfig {
        let policy = |name: &str, action, when| Policy { name: name.into(), action, when };
        LifecycleConfig {
            policies: vec![
                policy(
                    "archive_old_low_importance",
                    PolicyAction::Archive,
                    Conditions {
                        tiers: vec![Tier::Working, Tier::ShortTerm, Tier::LongTerm],
                        min_idle_ms: Some(30 * DAY),
                        importance_below: Some(0.3),
                        ..Conditions::default()
                    },
                ),
                policy(
                    "delete_ancient_archives",
                    PolicyAction::Delete,
                    Conditions {
                        tiers: vec![Tier::Archive],
                        min_age_ms: Some(365 * DAY),
                        ..Conditions::default()
                    },
                ),
                policy(
                    "refresh_important",
                    PolicyAction::Refresh,
                    Conditions {
                        importance_above: Some(0.8),
                        min_idle_ms: Some(7 * DAY),
                        ..Conditions::default()
                    },
                ),
            ],
            ..LifecycleConfig::default()
        }
    }

    #[test]
    fn seed_policies_decide_as_documented() {
        let cfg = seed_policies();
        let now = 400 * DAY;
        let d = |s: &Subject| decide(&cfg, BOTH, s, now).map(|d| (d.rule, d.verdict));
        assert_eq!(
            d(&subject(Tier::LongTerm, 0.1, now - 31 * DAY, 0)),
            Some((Rule::Policy(0), Verdict::Move(Tier::Archive)))
        );
        assert_eq!(
            d(&subject(Tier::Archive, 0.1, now, 0)),
            Some((Rule::Policy(1), Verdict::Delete))
        );
        assert_eq!(
            d(&subject(Tier::LongTerm, 0.9, now - 8 * DAY, 0)),
            Some((Rule::Policy(2), Verdict::Refresh))
        );
        // Nothing to do for a recent, ordinary long-term memory.
        assert_eq!(d(&subject(Tier::LongTerm, 0.5, now - DAY, 0)), None);
    }

    #[test]
    fn consolidation_takes_important_or_frequent_short_term_memories() {
        let cfg = LifecycleConfig::default();
        let moved =
            Some(Decision { rule: Rule::Consolidate, verdict: Verdict::Move(Tier::LongTerm) });
        assert_eq!(decide(&cfg, BOTH, &subject(Tier::ShortTerm, 0.7, 0, 0), 1), moved);
        assert_eq!(decide(&cfg, BOTH, &subject(Tier::ShortTerm, 0.2, 0, 3), 1), moved);
        assert_eq!(decide(&cfg, BOTH, &subject(Tier::ShortTerm, 0.2, 0, 2), 1), None);
        assert_eq!(decide(&cfg, BOTH, &subject(Tier::Working, 0.9, 0, 9), 1), None);
        let only_policies = Jobs { consolidate: false, policies: true };
        assert_eq!(decide(&cfg, only_policies, &subject(Tier::ShortTerm, 0.9, 0, 0), 1), None);
    }

    #[test]
    fn first_matching_policy_wins_even_as_a_no_op() {
        let mut cfg = seed_policies();
        cfg.policies[1].when = Conditions::default(); // "delete everything"...
        cfg.policies.swap(0, 1); // ...placed first
        cfg.policies[0].action = PolicyAction::Archive; // but only archives
        let s = subject(Tier::Archive, 0.9, 0, 0);
        assert_eq!(decide(&cfg, BOTH, &s, 400 * DAY), None);
    }

    #[test]
    fn categories_restrict_a_policy() {
        let mut cfg = seed_policies();
        cfg.policies[1].when.categories = vec!["trades".into()];
        let mut s = subject(Tier::Archive, 0.1, 0, 0);
        assert_eq!(decide(&cfg, BOTH, &s, 400 * DAY), None);
        s.category = Some("trades");
        assert_eq!(decide(&cfg, BOTH, &s, 400 * DAY).map(|d| d.verdict), Some(Verdict::Delete));
    }
}
