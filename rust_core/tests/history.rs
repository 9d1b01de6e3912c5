//! Imported history (`NewMemory.history`): a memory stored with its past keeps its
//! times and counts, and expiry, LRU eviction, dedup and lifecycle policies act on
//! them as they would have where it came from.

mod common;

use common::{keys, open, small_config};
use memd_core::engine::LifecycleRequest;
use memd_core::lifecycle::{Conditions, Jobs, Policy, PolicyAction};
use memd_core::model::{Header, RawHistory};
use memd_core::{Engine, RawMemory, Tier};

const DAY: u64 = 86_400_000;
const NOW: u64 = 1_800_000_000_000;

fn at(ms: u64) -> i128 {
    i128::from(ms)
}

fn imported(key: &str, tier: i128, history: RawHistory) -> RawMemory {
    RawMemory { history: Some(history), ..common::item(key, tier) }
}

fn header(e: &Engine, key: &str, now: u64) -> Option<Header> {
    let got = e.get_many("ns", &keys(&[key]), now, false).unwrap();
    got.into_iter().next().flatten().map(|m| m.header)
}

#[test]
fn an_imported_memory_keeps_every_time_and_count_it_brings() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let past = RawHistory {
        created_ms: at(NOW - 90 * DAY),
        updated_ms: at(NOW - 10 * DAY),
        last_access_ms: at(NOW - DAY),
        access_count: 12,
        version: 4,
        expires_at_ms: 0,
    };
    let r = e.put_many("ns", vec![imported("old", 3, past)], NOW, true).unwrap();
    assert_eq!((r[0].version, r[0].tier), (4, Some(Tier::LongTerm)));
    let h = header(&e, "old", NOW).unwrap();
    assert_eq!(
        (h.created_ms, h.updated_ms, h.last_access_ms),
        (NOW - 90 * DAY, NOW - 10 * DAY, NOW - DAY)
    );
    assert_eq!((h.access_count, h.version, h.expires_at_ms), (12, 4, 0));
    // The same item again (a resent batch, a second import) leaves the same memory.
    e.put_many("ns", vec![imported("old", 3, past)], NOW + 5, true).unwrap();
    assert_eq!(header(&e, "old", NOW + 5), Some(h));
    // A plain store of that key afterwards is a write now, as always.
    e.put_many("ns", vec![common::item("old", 0)], NOW + 9, true).unwrap();
    let h = header(&e, "old", NOW + 9).unwrap();
    assert_eq!((h.created_ms, h.updated_ms, h.version), (NOW - 90 * DAY, NOW + 9, 5));
}

#[test]
fn the_ttl_counts_from_the_last_store_the_history_gives() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let past = RawHistory {
        created_ms: at(NOW - 3 * DAY),
        updated_ms: at(NOW - 400),
        ..RawHistory::default()
    };
    let item = RawMemory { ttl_ms: Some(1_000), ..imported("t", 2, past) };
    e.put_many("ns", vec![item], NOW, true).unwrap();
    assert_eq!(header(&e, "t", NOW).unwrap().expires_at_ms, NOW + 600);
    assert!(header(&e, "t", NOW + 599).is_some());
    assert!(header(&e, "t", NOW + 600).is_none(), "expired 1 000 ms after its last store");
    // An explicit expiry (one a dedup merge kept) wins over updated_ms + TTL.
    let kept = RawHistory { expires_at_ms: at(NOW + 5_000), ..past };
    let item = RawMemory { ttl_ms: Some(1_000), ..imported("k", 2, kept) };
    e.put_many("ns", vec![item], NOW, true).unwrap();
    let h = header(&e, "k", NOW).unwrap();
    assert_eq!((h.expires_at_ms, h.ttl_ms), (NOW + 5_000, 1_000));
}

#[test]
fn a_memory_that_expired_before_it_arrived_is_rejected_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let past = RawHistory { created_ms: at(NOW - DAY), ..RawHistory::default() };
    let stale = RawMemory { ttl_ms: Some(DAY.into()), ..imported("stale", 2, past) };
    let err = e.put_many("ns", vec![common::item("fresh", 2), stale.clone()], NOW, true);
    let err = err.unwrap_err();
    assert_eq!(err.kind(), "InvalidArgument");
    assert!(err.message().contains("item 1: its history has it expire at"), "{err}");
    assert!(e.namespaces().unwrap().is_empty(), "atomic: nothing stored");
    let r = e.put_many("ns", vec![common::item("fresh", 2), stale], NOW, false).unwrap();
    assert!(r[0].error.is_none());
    assert_eq!(r[1].error.as_ref().map(memd_core::CoreError::kind), Some("InvalidArgument"));
    assert!(header(&e, "stale", NOW).is_none());
}

#[test]
fn times_ahead_of_the_server_clock_beyond_the_skew_are_rejected_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let ahead =
        |ms| imported("x", 2, RawHistory { created_ms: at(NOW + ms), ..Default::default() });
    let r = e.put_many("ns", vec![ahead(300_000), ahead(300_001)], NOW, false).unwrap();
    assert!(r[0].error.is_none(), "within 5 minutes of skew");
    let err = r[1].error.as_ref().unwrap();
    assert_eq!(err.kind(), "InvalidArgument");
    assert!(err.message().starts_with("item 1: history.created_ms"), "{err}");
}

#[test]
fn an_imported_memory_idle_for_long_is_the_first_lru_victim() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config()); // WORKING holds 3
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        e.put_many("ns", vec![common::item(key, 1)], NOW + i as u64, true).unwrap();
    }
    let past = RawHistory { created_ms: at(NOW - 40 * DAY), ..RawHistory::default() };
    let r = e.put_many("ns", vec![imported("old", 1, past)], NOW + 10, true).unwrap();
    assert_eq!(r[0].tier, Some(Tier::ShortTerm), "demoted at once: least recently used");
    assert_eq!(common::layout(&e, NOW + 10)[0], keys(&["a", "b", "c"]));
}

#[test]
fn lifecycle_policies_act_on_the_imported_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.lifecycle.policies = vec![Policy {
        name: "archive_idle".into(),
        action: PolicyAction::Archive,
        when: Conditions { min_idle_ms: Some(30 * DAY), ..Conditions::default() },
    }];
    let e = open(dir.path(), cfg);
    let old = RawHistory { created_ms: at(NOW - 60 * DAY), ..RawHistory::default() };
    let used = RawHistory {
        created_ms: at(NOW - 60 * DAY),
        access_count: 5,
        last_access_ms: at(NOW - DAY),
        ..RawHistory::default()
    };
    let batch = vec![imported("idle", 3, old), imported("used", 2, used), common::item("new", 3)];
    e.put_many("ns", batch, NOW, true).unwrap();
    let req = LifecycleRequest {
        namespace: None,
        jobs: Jobs { consolidate: true, policies: true },
        dry_run: false,
        max_actions: 100,
        now_ms: NOW,
        single_transaction: false,
    };
    let mut done: Vec<(String, String)> =
        e.lifecycle(&req).unwrap().actions.into_iter().map(|a| (a.key, a.rule)).collect();
    done.sort();
    // Idle 60 days: archived. Used 5 times: consolidated (3 accesses are enough).
    // Stored now: left alone.
    let want = [("idle", "archive_idle"), ("used", "consolidate")];
    assert_eq!(done, want.map(|(k, r)| (k.to_owned(), r.to_owned())));
}

#[test]
fn dedup_leaves_an_imported_memory_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.lifecycle.dedup_exact = true;
    let e = open(dir.path(), cfg);
    e.put_many("ns", vec![common::item("here", 2)], NOW, true).unwrap();
    let past = RawHistory { created_ms: at(NOW - 9 * DAY), access_count: 4, ..Default::default() };
    let twin = RawMemory { text: "text of here".into(), ..imported("twin", 2, past) };
    for _ in 0..2 {
        let r = e.put_many("ns", vec![twin.clone()], NOW + 1, true).unwrap();
        assert_eq!((r[0].key.as_str(), r[0].merged_into.as_deref()), ("twin", None));
    }
    let h = header(&e, "twin", NOW + 1).unwrap();
    assert_eq!((h.created_ms, h.access_count, h.version), (NOW - 9 * DAY, 4, 1));
    assert_eq!(header(&e, "here", NOW + 1).unwrap().version, 1, "untouched");
    // A plain write of the same text is still merged.
    let write = RawMemory { text: "text of here".into(), ..common::item("third", 2) };
    let r = e.put_many("ns", vec![write], NOW + 2, true).unwrap();
    assert_eq!(r[0].merged_into.as_deref(), Some("here"));
}
