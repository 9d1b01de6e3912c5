//! Cluster mode's applied-sequence marks: recorded with the write they mark, never
//! by a write without one, and kept across a reopen (a restarted node resumes there).

mod common;

use common::{item, keys, open, small_config};
use memd_core::engine::mark::scoped;
use memd_core::store::applied::Mark;

fn mark(partition: &str, seq: u64) -> Mark {
    Mark { partition: partition.into(), seq }
}

#[test]
fn a_mark_is_recorded_with_its_write_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    assert_eq!(e.applied("p1").unwrap(), 0, "no mark before cluster mode writes one");
    scoped(Some(mark("p1", 7)), || e.put_many("ns", vec![item("a", 0)], 1_000, true)).unwrap();
    scoped(Some(mark("p2", 3)), || e.delete_many("other", &keys(&["x"]), 1_000)).unwrap();
    assert_eq!((e.applied("p1").unwrap(), e.applied("p2").unwrap()), (7, 3));
    // A write without a mark leaves the marks alone.
    e.put_many("ns", vec![item("b", 0)], 1_000, true).unwrap();
    assert_eq!(e.applied("p1").unwrap(), 7);
    e.close().unwrap();
    let e = open(dir.path(), small_config());
    assert_eq!((e.applied("p1").unwrap(), e.applied("p2").unwrap()), (7, 3));
    assert!(e
        .get_many("ns", &keys(&["a", "b"]), 1_000, false)
        .unwrap()
        .iter()
        .all(Option::is_some));
}

#[test]
fn a_call_refused_before_the_writer_does_not_leak_its_mark() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    // An invalid namespace is refused before any job is submitted...
    assert!(scoped(Some(mark("p1", 9)), || e.delete_many("", &keys(&["x"]), 1_000)).is_err());
    // ...so the next, unmarked, write must not record sequence 9.
    e.put_many("ns", vec![item("a", 0)], 1_000, true).unwrap();
    assert_eq!(e.applied("p1").unwrap(), 0);
}

#[test]
fn an_entry_the_op_refuses_is_still_marked_applied() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    // Dropping an unknown namespace reaches the writer, which refuses it (NotFound)
    // and changes nothing: every replica does the same, so the entry counts as applied.
    let refused = scoped(Some(mark("p4", 2)), || e.drop_namespace("nobody"));
    assert!(matches!(refused, Err(memd_core::CoreError::NotFound(_))), "{refused:?}");
    assert_eq!(e.applied("p4").unwrap(), 2);
}
