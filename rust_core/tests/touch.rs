//! Cluster mode's `touch` entries: deferred reads change nothing until the owner's
//! entry is applied; applying it on the owner and on a replica gives both the same
//! access statistics, on disk with the mark, and the owner's promotion decisions.

mod common;

use common::{item, keys, open, small_config};
use memd_core::engine::mark::scoped;
use memd_core::engine::touch_wire::{KeyAccess, TouchEntry, TouchNamespace};
use memd_core::store::applied::Mark;
use memd_core::{CoreError, Engine, EngineConfig, RawMemory, Tier};
use prost::Message;
use std::path::Path;

const T0: u64 = 1_800_000_000_000;

fn deferred() -> EngineConfig {
    EngineConfig { deferred_access: true, ..small_config() }
}

fn mark(seq: u64) -> Mark {
    Mark { partition: "p0".into(), seq }
}

/// Two stores with the same memories, as two replicas after the same store entry.
fn replicas(a: &Path, b: &Path) -> (Engine, Engine) {
    let batch = || {
        vec![
            item("often", 3),
            item("once", 2),
            RawMemory { importance: Some(0.9), ..item("vip", 3) },
            item("gone", 2),
        ]
    };
    let (owner, replica) = (open(a, deferred()), open(b, deferred()));
    for e in [&owner, &replica] {
        e.put_many("ns", batch(), T0, true).unwrap();
    }
    (owner, replica)
}

/// `(tier, access count, last access)` of each key, read without counting.
fn stats(e: &Engine, list: &[&str]) -> Vec<Option<(Tier, u64, u64)>> {
    e.get_many("ns", &keys(list), T0, false)
        .unwrap()
        .into_iter()
        .map(|m| m.map(|m| (m.header.tier, m.header.access_count, m.header.last_access_ms)))
        .collect()
}

const ALL: [&str; 4] = ["often", "once", "vip", "gone"];

#[test]
fn deferred_reads_wait_for_the_touch_entry_and_every_replica_applies_it_alike() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (owner, replica) = replicas(da.path(), db.path());
    let before = stats(&owner, &ALL);
    for t in [10, 20, 30] {
        owner.get_many("ns", &keys(&["often", "missing"]), T0 + t, true).unwrap();
    }
    owner.get_many("ns", &keys(&["once", "vip"]), T0 + 40, true).unwrap();
    assert_eq!(stats(&owner, &ALL), before, "a deferred read changes nothing by itself");
    assert_eq!(owner.pending_touches().unwrap(), (3, 0));

    let taken = owner.take_touches(&keys(&["ns", "other"]), 100).unwrap().expect("reads waiting");
    assert_eq!((taken.keys, taken.promotions, taken.more), (3, 2, false));
    assert_eq!(owner.pending_touches().unwrap(), (0, 0), "taken out of the buffer");
    assert!(owner.take_touches(&keys(&["ns"]), 100).unwrap().is_none());
    let entry = TouchEntry::decode(taken.payload.as_slice()).unwrap();
    let often = &entry.namespaces[0].accesses[0];
    assert_eq!((often.key.as_str(), often.count), ("often", 3));
    assert_eq!(often.times_ms, [T0 + 10, T0 + 20, T0 + 30]);
    assert_eq!(often.promote_from, 3, "three reads within the window: out of LONG_TERM");

    for e in [&owner, &replica] {
        let out = scoped(Some(mark(7)), || e.touch(&taken.payload, T0 + 50)).unwrap();
        assert_eq!(out, (3, 2), "touched 3, promoted often and vip");
        assert_eq!(e.applied("p0").unwrap(), 7, "the mark commits with the touches");
    }
    let want = vec![
        Some((Tier::ShortTerm, 3, T0 + 30)),
        Some((Tier::ShortTerm, 1, T0 + 40)),
        Some((Tier::ShortTerm, 1, T0 + 40)), // vip: importance 0.9, one read
        before[3],
    ];
    assert_eq!(stats(&owner, &ALL), want);
    assert_eq!(stats(&replica, &ALL), want, "the replica never saw the reads");

    // The statistics are in the records, written with the mark: a reopened replica
    // (no periodic flush ran) reads them back.
    replica.close().unwrap();
    drop(replica);
    let reopened = open(db.path(), deferred());
    assert_eq!(stats(&reopened, &ALL), want);
    assert_eq!(reopened.applied("p0").unwrap(), 7);
}

#[test]
fn a_touch_skips_keys_deleted_meanwhile_and_decided_moves_that_no_longer_hold() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (owner, replica) = replicas(da.path(), db.path());
    for t in [1, 2, 3] {
        owner.get_many("ns", &keys(&["often", "gone"]), T0 + t, true).unwrap();
    }
    let taken = owner.take_touches(&keys(&["ns"]), 100).unwrap().unwrap();
    assert_eq!((taken.keys, taken.promotions), (2, 2));
    for e in [&owner, &replica] {
        // Entries between the reads and the touch: a delete, and a move of "often".
        e.delete_many("ns", &keys(&["gone"]), T0 + 4).unwrap();
        let moved = RawMemory { tier: 4, ..item("often", 4) };
        e.put_many("ns", vec![moved], T0 + 4, true).unwrap();
        assert_eq!(e.touch(&taken.payload, T0 + 5).unwrap(), (1, 0));
    }
    assert_eq!(stats(&owner, &["often", "gone"]), stats(&replica, &["often", "gone"]));
    assert_eq!(stats(&replica, &["often"])[0].map(|s| s.0), Some(Tier::Archive));
}

fn access(count: u64, times: Vec<u64>, promote_from: i32) -> KeyAccess {
    KeyAccess {
        key: "once".into(),
        count,
        times_ms: times,
        promote_from,
        promote_for_importance: false,
    }
}

fn payload(namespace: &str, access: KeyAccess) -> Vec<u8> {
    let ns = TouchNamespace { namespace: namespace.into(), accesses: vec![access] };
    TouchEntry { namespaces: vec![ns] }.encode_to_vec()
}

#[test]
fn a_bad_touch_payload_is_refused_and_changes_nothing() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_owner, e) = replicas(da.path(), db.path());
    let before = stats(&e, &ALL);
    let bad = [
        vec![0xff, 0xff, 0xff],
        payload("ns", access(1, vec![], 0)),
        payload("ns", access(1, vec![T0, T0 + 1], 0)),
        payload("ns", access(9, vec![T0, T0 + 1, T0 + 2, T0 + 3], 0)),
        payload("ns", access(1, vec![T0], 1)),
        payload("ns", access(1, vec![T0], 9)),
        payload("", access(1, vec![T0], 0)),
    ];
    for p in bad {
        let out = scoped(Some(mark(3)), || e.touch(&p, T0 + 9));
        assert!(matches!(out, Err(CoreError::InvalidArgument(_))), "{out:?}");
    }
    assert_eq!(stats(&e, &ALL), before);
    assert_eq!(e.applied("p0").unwrap(), 0, "no mark either");
    // A well-formed one for a namespace this store does not hold applies as a no-op.
    let other = payload("elsewhere", access(2, vec![T0], 0));
    assert_eq!(scoped(Some(mark(4)), || e.touch(&other, T0)).unwrap(), (0, 0));
    assert_eq!(e.applied("p0").unwrap(), 4);
}

#[test]
fn without_deferred_access_a_read_counts_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("ns", vec![item("once", 2)], T0, true).unwrap();
    e.get_many("ns", &keys(&["once"]), T0 + 1, true).unwrap();
    assert_eq!(stats(&e, &["once"])[0], Some((Tier::ShortTerm, 1, T0 + 1)));
    assert_eq!(e.pending_touches().unwrap(), (0, 0));
}

#[test]
fn reads_of_a_namespace_dropped_since_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), deferred());
    e.put_many("ns", vec![item("once", 2)], T0, true).unwrap();
    e.get_many("ns", &keys(&["once"]), T0 + 1, true).unwrap();
    assert_eq!(e.pending_touches().unwrap(), (1, 0));
    e.drop_namespace("ns").unwrap();
    assert!(e.take_touches(&keys(&["other"]), 10).unwrap().is_none());
    assert_eq!(e.pending_touches().unwrap(), (0, 0), "no entry would ever take them");
}
