//! The offline integrity check: a healthy store reports counts and no problem; a
//! store corrupted on purpose (records written with heed directly) reports each
//! problem as a line, without panicking; a directory in use is refused.

mod common;

use common::{item, open, small_config};
use heed::types::Bytes;
use heed::{Database, EnvOpenOptions};
use memd_core::store::codec;
use memd_core::store::verify::verify;
use memd_core::RawMemory;
use std::path::Path;

fn healthy(dir: &Path) {
    let e = open(dir, small_config());
    let batch = vec![
        item("w", 1),
        item("s", 2),
        RawMemory {
            embedding: Some([1f32, 0.0].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ..item("l", 3)
        },
        RawMemory { value: vec![b'z'; 4096], ..item("a", 4) },
    ];
    e.put_many("ns", batch, 1, true).unwrap();
    e.put_many("other", vec![item("x", 0)], 1, true).unwrap();
    e.put_token(&[9; 32], b"token record").unwrap();
    e.close().unwrap();
}

/// Writes raw entries into `dir`'s databases, as a bug or a bad disk might.
fn corrupt(dir: &Path, writes: &[(&str, &[u8], &[u8])]) {
    // SAFETY: test-only raw access to a closed store.
    let env = unsafe { EnvOpenOptions::new().max_dbs(8).open(dir).unwrap() };
    let mut wtxn = env.write_txn().unwrap();
    for (db, key, value) in writes {
        let db: Database<Bytes, Bytes> = env.open_database(&wtxn, Some(db)).unwrap().unwrap();
        db.put(&mut wtxn, key, value).unwrap();
    }
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
}

#[test]
fn a_healthy_store_has_counts_and_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let r = verify(dir.path()).unwrap();
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!((r.memories, r.by_tier), (5, [1, 2, 1, 1]));
    assert_eq!((r.namespaces, r.tokens), (2, 1));
    assert!(r.record_bytes > 0 && r.file_bytes >= r.record_bytes);
    // verify releases everything: the engine opens the directory again.
    open(dir.path(), small_config());
}

#[test]
fn corrupt_records_are_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let three_dims = {
        let e = open(dir.path(), small_config());
        let q = memd_core::ListQuery { ns: "ns".into(), now_ms: 2, limit: 1, ..Default::default() };
        let m = e.list(&q).unwrap().0.remove(0);
        e.close().unwrap();
        // Format 1 (vector inline): verify reads old stores too.
        codec::encode_v1(&memd_core::Memory { embedding: Some(vec![1.0, 2.0, 3.0]), ..m }, false)
    };
    let mut trailing = three_dims.clone();
    trailing.extend_from_slice(b"junk");
    corrupt(
        dir.path(),
        &[
            ("memories", b"ns\0garbage", b"not a record at all"),
            ("memories", b"nowhere\0k", &three_dims),
            ("memories", b"ns\0dims", &three_dims),
            ("memories", b"ns\0trailing", &trailing),
            ("memories", b"no separator", &three_dims),
            ("namespaces", b"short", b"\x01"),
            ("auth_tokens", b"short digest", b"r"),
        ],
    );
    let r = verify(dir.path()).unwrap();
    let has = |needle: &str| r.problems.iter().any(|p| p.contains(needle));
    assert!(has("\"ns\"/\"garbage\": corrupt record"), "{:#?}", r.problems);
    assert!(has("\"nowhere\"/\"k\": its namespace is not in namespaces"), "{:#?}", r.problems);
    assert!(has("\"ns\"/\"dims\": embedding has 3 dimensions; its namespace records 2"));
    // Trailing bytes read as a truncated optional field (the context) or, had they
    // formed one, as a record that does not re-encode: reported either way.
    assert!(has("\"ns\"/\"trailing\": "), "{:#?}", r.problems);
    assert!(has("\"no separator\": key is not UTF-8 namespace\\0key"), "{:#?}", r.problems);
    assert!(has("namespace \"short\": dimension is 1 bytes, not 4"), "{:#?}", r.problems);
    assert!(has("token digest of 12 bytes"), "{:#?}", r.problems);
    assert_eq!(r.memories, 10);
    assert_eq!(r.tokens, 2);
}

#[test]
fn a_directory_in_use_or_without_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    assert_eq!(verify(dir.path()).unwrap_err().kind(), "DataDirInUse");
    e.close().unwrap();
    assert!(verify(dir.path()).unwrap().problems.is_empty());
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(verify(empty.path()).unwrap_err().kind(), "NotFound");
}

#[test]
fn a_vector_slot_without_its_record_or_a_record_without_its_slot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let (record, group) = {
        // SAFETY: test-only raw access to a closed store.
        let env = unsafe { EnvOpenOptions::new().max_dbs(8).open(dir.path()).unwrap() };
        let rtxn = env.read_txn().unwrap();
        let open = |name| -> Database<Bytes, Bytes> {
            env.open_database(&rtxn, Some(name)).unwrap().unwrap()
        };
        let record = open("memories").get(&rtxn, b"ns\0l").unwrap().unwrap().to_vec();
        let (key, value) = open("vectors").first(&rtxn).unwrap().unwrap();
        let group = (key.to_vec(), value.to_vec());
        drop(rtxn);
        env.prepare_for_closing().wait();
        (record, group)
    };
    assert_eq!(record[0], 2, "the engine writes format 2");
    // The same record under a second key: two records, one slot.
    let mut used = group.1.clone();
    used[0] |= 0b10; // and a second slot in use that no record refers to
    corrupt(dir.path(), &[("memories", b"ns\0copy", &record), ("vectors", &group.0, &used)]);
    let r = verify(dir.path()).unwrap();
    let has = |needle: &str| r.problems.iter().any(|p| p.contains(needle));
    assert!(has("\"ns\"/\"l\": its vector slot is another record's too"), "{:#?}", r.problems);
    assert!(has("1 vector slots in use that no record refers to"), "{:#?}", r.problems);
}
