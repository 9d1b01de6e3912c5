//! Batches: all-or-nothing validation, concurrent writers, a full map, reopen.

mod common;

use common::{keys, open, small_config};
use memd_core::{CoreError, RawMemory};
use std::sync::Arc;

#[test]
fn an_invalid_item_rejects_the_whole_atomic_batch() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let bad = RawMemory { importance: Some(2.0), ..common::item("bad", 2) };
    let err = e.put_many("ns", vec![common::item("good", 2), bad], 1, true).unwrap_err();
    assert!(matches!(&err, CoreError::InvalidArgument(m) if m.starts_with("item 1:")), "{err}");
    assert_eq!(e.get_many("ns", &keys(&["good"]), 2, false).unwrap(), vec![None]);
    assert!(e.namespaces().unwrap().is_empty(), "a rejected batch leaves no namespace");
}

#[test]
fn a_dimension_mismatch_is_checked_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let vec_item = |key: &str, dim: usize| RawMemory {
        embedding: Some(vec![0u8; dim * 4]),
        ..common::item(key, 2)
    };
    e.put_many("ns", vec![vec_item("a", 3)], 1, true).unwrap();
    let err = e.put_many("ns", vec![vec_item("b", 3), vec_item("c", 4)], 2, true).unwrap_err();
    assert_eq!(err.kind(), "InvalidArgument");
    assert_eq!(common::layout(&e, 3)[1], keys(&["a"]));
    let mixed = e.put_many("ns", vec![vec_item("b", 3), vec_item("c", 4)], 2, false).unwrap();
    assert!(mixed[0].error.is_none() && mixed[1].error.is_some());
    assert_eq!(common::layout(&e, 3)[1], keys(&["a", "b"]));
}

#[test]
fn concurrent_writers_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.tiers[1].capacity = 0;
    let e = Arc::new(open(dir.path(), cfg));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let e = e.clone();
            std::thread::spawn(move || {
                for b in 0..25 {
                    let batch = (0..10).map(|i| common::item(&format!("w{w}-b{b}-{i}"), 2));
                    e.put_many("ns", batch.collect(), 1, true).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(e.stats(Some("ns")).unwrap()[0].tiers[1].count, 8 * 25 * 10);
}

#[test]
fn a_full_map_is_reported_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.map_size = 1 << 20;
    cfg.tiers[1].capacity = 0;
    let e = open(dir.path(), cfg.clone());
    e.put_many("ns", vec![common::item("kept", 2)], 1, true).unwrap();
    let big =
        |i: usize| RawMemory { value: vec![7u8; 100_000], ..common::item(&format!("b{i}"), 2) };
    let err = e.put_many("ns", (0..20).map(big).collect(), 2, true).unwrap_err();
    assert_eq!(err.kind(), "CapacityExceeded");
    assert_eq!(common::layout(&e, 3)[1], keys(&["kept"]), "the failed batch left nothing");
    assert_eq!(e.stats(Some("ns")).unwrap()[0].tiers[1].count, 1);
    e.put_many("ns", vec![common::item("after", 2)], 4, true).unwrap();
    e.close().unwrap();
    let e = open(dir.path(), cfg);
    assert_eq!(common::layout(&e, 5)[1], keys(&["after", "kept"]));
}

#[test]
fn use_after_close_is_an_error_and_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("ns", vec![common::item("k", 3)], 1, true).unwrap();
    e.get_many("ns", &keys(&["k"]), 2, true).unwrap();
    e.close().unwrap();
    e.close().unwrap();
    assert_eq!(e.get_many("ns", &keys(&["k"]), 3, true).unwrap_err().kind(), "EngineClosed");
    let e = open(dir.path(), small_config());
    let m = e.get_many("ns", &keys(&["k"]), 4, false).unwrap().remove(0).unwrap();
    assert_eq!((m.header.access_count, m.header.last_access_ms), (1, 2));
    assert_eq!(m.header.tier, memd_core::Tier::LongTerm);
}

#[test]
fn drop_namespace_removes_only_that_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("ns", vec![common::item("a", 2), common::item("b", 2)], 1, true).unwrap();
    e.put_many("ns2", vec![common::item("a", 2)], 1, true).unwrap();
    assert_eq!(e.drop_namespace("ns").unwrap(), 2);
    assert_eq!(e.drop_namespace("ns").unwrap_err().kind(), "NotFound");
    assert_eq!(e.namespaces().unwrap(), vec!["ns2".to_string()]);
    assert!(e.get_many("ns2", &keys(&["a"]), 2, false).unwrap()[0].is_some());
}
