//! `Engine::delete_unchanged`, the last step of a cross-partition move in cluster
//! mode: a key is deleted only while its record still has the version and update time
//! read when it was copied, so a write that raced the move is never lost.

mod common;

use common::{item, keys, open, small_config};
use memd_core::engine::mark::scoped;
use memd_core::store::applied::Mark;

/// `(version, updated_ms)` of `ns/key` as a read sees it.
fn seen(e: &memd_core::Engine, ns: &str, key: &str) -> (u64, u64) {
    let m = e.get_many(ns, &keys(&[key]), 5_000, false).unwrap().remove(0).expect("stored");
    (m.header.version, m.header.updated_ms)
}

#[test]
fn only_keys_unchanged_since_the_read_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("src", vec![item("a", 0), item("b", 0), item("c", 0)], 1_000, true).unwrap();
    let read = [seen(&e, "src", "a"), seen(&e, "src", "b"), seen(&e, "src", "c")];
    // A write races the move: b is stored again (a new version); a read of a
    // (access statistics) changes neither its version nor its update time.
    e.put_many("src", vec![item("b", 0)], 2_000, true).unwrap();
    e.get_many("src", &keys(&["a"]), 2_500, true).unwrap();
    let deleted = e
        .delete_unchanged(
            "src",
            &keys(&["a", "b", "c", "gone"]),
            &[read[0], read[1], read[2], (1, 1_000)],
            3_000,
        )
        .unwrap();
    assert_eq!(deleted, vec![true, false, true, false]);
    let left = e.get_many("src", &keys(&["a", "b", "c"]), 3_000, false).unwrap();
    assert!(left[0].is_none() && left[2].is_none());
    let b = left[1].as_ref().expect("the raced write stays");
    assert_eq!((b.header.version, b.header.updated_ms), (2, 2_000));
}

#[test]
fn an_update_time_change_alone_keeps_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("src", vec![item("a", 0)], 1_000, true).unwrap();
    let (version, updated) = seen(&e, "src", "a");
    let deleted =
        e.delete_unchanged("src", &keys(&["a"]), &[(version, updated + 1)], 3_000).unwrap();
    assert_eq!(deleted, vec![false]);
    assert!(e.get_many("src", &keys(&["a"]), 3_000, false).unwrap()[0].is_some());
}

#[test]
fn refused_input_changes_nothing_and_records_no_mark() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("src", vec![item("a", 0)], 1_000, true).unwrap();
    let mark = Mark { partition: "p1".into(), seq: 4 };
    let refused = scoped(Some(mark), || e.delete_unchanged("src", &keys(&["a"]), &[], 3_000));
    assert!(matches!(refused, Err(memd_core::CoreError::InvalidArgument(_))), "{refused:?}");
    assert_eq!(e.applied("p1").unwrap(), 0);
    assert!(e.get_many("src", &keys(&["a"]), 3_000, false).unwrap()[0].is_some());
    // With its mark, a valid call records the sequence with the delete.
    let (version, updated) = seen(&e, "src", "a");
    let mark = Mark { partition: "p1".into(), seq: 5 };
    let done = scoped(Some(mark), || {
        e.delete_unchanged("src", &keys(&["a"]), &[(version, updated)], 3_000)
    });
    assert_eq!(done.unwrap(), vec![true]);
    assert_eq!(e.applied("p1").unwrap(), 5);
}
