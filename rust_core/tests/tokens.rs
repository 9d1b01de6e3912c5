//! Access-token records and the data-directory lock: tokens live in the store
//! (persisted, backed up) but are never a namespace; one engine per directory.

mod common;

use common::{open, put, small_config};
use memd_core::engine::LifecycleRequest;
use memd_core::lifecycle::Jobs;
use memd_core::Engine;

fn digest(n: u8) -> Vec<u8> {
    vec![n; 32]
}

#[test]
fn tokens_round_trip_in_key_order_and_survive_reopen_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_token(&digest(2), b"two").unwrap();
    e.put_token(&digest(1), b"one").unwrap();
    e.put_token(&digest(2), b"TWO").unwrap();
    assert_eq!(
        e.tokens().unwrap(),
        vec![(digest(1), b"one".to_vec()), (digest(2), b"TWO".to_vec())]
    );
    assert!(e.delete_token(&digest(1)).unwrap());
    assert!(!e.delete_token(&digest(1)).unwrap());
    let backup = dir.path().join("backup");
    e.backup(&backup).unwrap();
    e.close().unwrap();
    for path in [dir.path(), backup.as_path()] {
        let e = open(path, small_config());
        assert_eq!(e.tokens().unwrap(), vec![(digest(2), b"TWO".to_vec())], "{path:?}");
    }
}

#[test]
fn tokens_are_never_a_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_token(&digest(7), b"record").unwrap();
    put(&e, "a", 0, 1);
    let check = |e: &Engine| {
        assert_eq!(e.namespaces().unwrap(), vec!["ns".to_owned()]);
        assert_eq!(e.stats(None).unwrap().len(), 1);
        let req = LifecycleRequest {
            namespace: None,
            jobs: Jobs { consolidate: true, policies: true },
            dry_run: true,
            max_actions: 10,
            now_ms: 2,
            single_transaction: false,
        };
        assert_eq!(e.lifecycle(&req).unwrap().scanned, 1);
    };
    check(&e);
    assert_eq!(e.drop_namespace("ns").unwrap(), 1);
    assert_eq!(e.tokens().unwrap().len(), 1);
    e.close().unwrap();
    let e = open(dir.path(), small_config());
    assert!(e.namespaces().unwrap().is_empty());
    assert_eq!(e.tokens().unwrap().len(), 1);
}

#[test]
fn bad_digests_and_records_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    for bad in [vec![], vec![0; 31], vec![0; 33]] {
        assert_eq!(e.put_token(&bad, b"r").unwrap_err().kind(), "InvalidArgument");
        assert_eq!(e.delete_token(&bad).unwrap_err().kind(), "InvalidArgument");
    }
    let big = vec![0; (64 << 10) + 1];
    assert_eq!(e.put_token(&digest(1), &big).unwrap_err().kind(), "InvalidArgument");
    e.put_token(&digest(1), &big[1..]).unwrap();
    assert!(e.tokens().unwrap()[0].1.len() == 64 << 10);
}

#[test]
fn a_directory_has_one_engine_until_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path(), small_config());
    let err = Engine::open(dir.path(), small_config()).err().expect("second open must fail");
    assert_eq!(err.kind(), "DataDirInUse");
    assert!(err.message().contains(&format!("pid {}", std::process::id())), "{err}");
    first.close().unwrap();
    let second = open(dir.path(), small_config());
    drop(second);
    open(dir.path(), small_config());
}
