//! Cluster mode's logged engine effects: a sweep of chosen namespaces and a lifecycle
//! pass in one transaction, each recording its log entry's mark with its effects.

mod common;

use common::{item, keys, layout, open, small_config};
use memd_core::engine::mark::scoped;
use memd_core::engine::LifecycleRequest;
use memd_core::lifecycle::{Conditions, Jobs, Policy, PolicyAction};
use memd_core::store::applied::Mark;
use memd_core::{CoreError, Engine, RawMemory};

const DAY: u64 = 86_400_000;
const NOW: u64 = 1_800_000_000_000;

fn mark(seq: u64) -> Mark {
    Mark { partition: "p0".into(), seq }
}

fn expiring(key: &str, ttl_ms: i128) -> RawMemory {
    RawMemory { ttl_ms: Some(ttl_ms), ..item(key, 0) }
}

fn live(e: &Engine, ns: &str, list: &[&str]) -> Vec<bool> {
    // Read at time 0: expiry does not hide anything, only removal does.
    e.get_many(ns, &keys(list), 0, false).unwrap().iter().map(Option::is_some).collect()
}

#[test]
fn a_namespace_sweep_removes_only_the_named_namespaces_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    // "b" is created first, so it has the smaller namespace id: the sweep must still
    // order the equal expiry times by name ("a" before "b"), not by id.
    e.put_many("b", vec![expiring("x", 10), expiring("y", 10)], 1_000, true).unwrap();
    e.put_many("a", vec![expiring("x", 10), expiring("late", 5_000)], 1_000, true).unwrap();
    e.put_many("other", vec![expiring("x", 10)], 1_000, true).unwrap();
    let names = keys(&["a", "b", "missing"]);
    assert_eq!(e.expired_count(&names, 2_000).unwrap(), 3);
    let (n, more) = scoped(Some(mark(4)), || e.sweep_namespaces(&names, 2_000, 2)).unwrap();
    assert_eq!((n, more), (2, true));
    assert_eq!(e.applied("p0").unwrap(), 4, "the mark commits with the sweep");
    assert_eq!(live(&e, "a", &["x", "late"]), [false, true]);
    assert_eq!(live(&e, "b", &["x", "y"]), [false, true], "b/x before b/y: key order");
    let (n, more) = scoped(Some(mark(5)), || e.sweep_namespaces(&names, 2_000, 10)).unwrap();
    assert_eq!((n, more), (1, false));
    assert_eq!(live(&e, "other", &["x"]), [true], "another partition's namespace waits");
    assert_eq!(e.expired_count(&names, 2_000).unwrap(), 0);
    // Nothing to do still records the mark.
    assert_eq!(
        scoped(Some(mark(6)), || e.sweep_namespaces(&names, 2_000, 10)).unwrap(),
        (0, false)
    );
    assert_eq!(e.applied("p0").unwrap(), 6);
    let zero = e.sweep_namespaces(&names, 2_000, 0);
    assert!(matches!(zero, Err(CoreError::InvalidArgument(_))), "{zero:?}");
}

fn policy_config() -> memd_core::EngineConfig {
    let mut cfg = small_config();
    cfg.lifecycle.policies = vec![Policy {
        name: "archive_idle".into(),
        action: PolicyAction::Archive,
        when: Conditions { min_idle_ms: Some(30 * DAY), ..Conditions::default() },
    }];
    cfg
}

fn request(single_transaction: bool, max_actions: usize) -> LifecycleRequest {
    LifecycleRequest {
        namespace: Some("ns".into()),
        jobs: Jobs { consolidate: true, policies: true },
        dry_run: false,
        max_actions,
        now_ms: NOW + 40 * DAY,
        single_transaction,
    }
}

#[test]
fn a_single_transaction_pass_does_what_the_paced_pass_does_and_records_its_mark() {
    let (paced_dir, whole_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let paced = open(paced_dir.path(), policy_config());
    let whole = open(whole_dir.path(), policy_config());
    for e in [&paced, &whole] {
        for i in 0..12 {
            common::put(e, &format!("k{i:02}"), 2, NOW + i);
        }
    }
    let a = paced.lifecycle(&request(false, 5)).unwrap();
    let b = scoped(Some(mark(9)), || whole.lifecycle(&request(true, 5))).unwrap();
    assert_eq!((a.actions.len(), a.more), (5, true));
    assert_eq!(a.actions, b.actions);
    assert_eq!(b.more, a.more);
    assert_eq!(whole.applied("p0").unwrap(), 9);
    assert_eq!(layout(&paced, NOW + 40 * DAY), layout(&whole, NOW + 40 * DAY));
    // A pass with nothing to do still records its mark (its one transaction is sent).
    let idle = LifecycleRequest { now_ms: NOW, ..request(true, 5) };
    assert!(scoped(Some(mark(10)), || whole.lifecycle(&idle)).unwrap().actions.is_empty());
    assert_eq!(whole.applied("p0").unwrap(), 10);
    // It needs one namespace.
    let every = LifecycleRequest { namespace: None, ..request(true, 5) };
    assert!(matches!(whole.lifecycle(&every), Err(CoreError::InvalidArgument(_))));
}

#[test]
fn without_lazy_expiry_a_read_leaves_an_expired_memory_to_the_sweep() {
    for lazy in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path(), memd_core::EngineConfig { lazy_expiry: lazy, ..small_config() });
        e.put_many("a", vec![expiring("x", 10)], 1_000, true).unwrap();
        assert!(e.get_many("a", &keys(&["x"]), 2_000, false).unwrap()[0].is_none(), "hidden");
        // The writer takes jobs in order: after this one, a lazy removal is done.
        e.flush().unwrap();
        let left = e.expired_count(&keys(&["a"]), 2_000).unwrap();
        assert_eq!(left, u64::from(!lazy), "lazy expiry {lazy}");
    }
}
