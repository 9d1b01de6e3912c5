//! The archive through the engine without an object store: configuration checks, a
//! pass against an unreachable store (Unavailable, nothing changed, local reads
//! unaffected), and no pass at all without an archive. The paths that need a real
//! S3 server (offload, fetch, damage, collection) are tested end to end in
//! `tests/archive/` against s3s-fs.

use memd_core::archive::{ArchiveConfig, ArchiveKey, Keyring, S3Config};
use memd_core::{CoreError, Durability, Engine, EngineConfig, RawMemory, Tier};
use std::time::Duration;

fn config(endpoint: &str, prefix: &str) -> ArchiveConfig {
    ArchiveConfig {
        s3: S3Config {
            endpoint: endpoint.into(),
            bucket: "memd-test".into(),
            region: "us-east-1".into(),
            access_key: "ak".into(),
            secret_key: "sk".into(),
            timeout: Duration::from_millis(500),
        },
        prefix: prefix.into(),
        keyring: Keyring::new(ArchiveKey::new(&[7; 32]).unwrap(), vec![]),
        offload_after_ms: 0,
        offload_min_bytes: 1,
        offload_large_bytes: 0,
        object_bytes: 1 << 20,
        max_objects: 4,
        cache_bytes: 1 << 20,
    }
}

fn open(dir: &std::path::Path) -> Engine {
    let cfg = EngineConfig { durability: Durability::NoSync, ..EngineConfig::default() };
    Engine::open(dir, cfg).unwrap()
}

fn archived(key: &str) -> RawMemory {
    RawMemory {
        key: key.into(),
        text: format!("text of {key}"),
        value: format!("value of {key}").repeat(20).into_bytes(),
        tier: i128::from(Tier::Archive.number()),
        ..RawMemory::default()
    }
}

#[test]
fn bad_settings_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    for (endpoint, prefix) in
        [("ftp://x", "p/"), ("http://x/y", "p/"), ("http://x:1", "/abs"), ("http://x:1", "a b")]
    {
        let err = engine.configure_archive(Some(config(endpoint, prefix))).unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)), "{endpoint} {prefix}: {err}");
    }
}

#[test]
fn without_an_archive_a_pass_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine.put_many("ns", vec![archived("a")], 1_000, true).unwrap();
    let report = engine.archive_pass(10_000).unwrap();
    assert_eq!((report.offloaded, report.objects, report.collected), (0, 0, 0));
}

#[test]
fn an_unreachable_store_fails_the_pass_and_changes_no_memory() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let keys: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
    engine.put_many("ns", keys.iter().map(|k| archived(k)).collect(), 1_000, true).unwrap();
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    engine.configure_archive(Some(config("http://127.0.0.1:1", "memd/"))).unwrap();
    let err = engine.archive_pass(10_000).unwrap_err();
    assert!(matches!(err, CoreError::Unavailable(_)), "{err}");
    assert!(err.message().contains("127.0.0.1:1"), "{err}");
    let got = engine.get_many("ns", &keys, 10_000, false).unwrap();
    for (key, m) in keys.iter().zip(got) {
        assert_eq!(m.unwrap().value, archived(key).value);
    }
    engine.close().unwrap();
    // Reopened without an archive, every value is still local.
    let engine = open(dir.path());
    let got = engine.get_many("ns", &keys, 10_000, false).unwrap();
    assert!(got.iter().all(|m| m.as_ref().is_some_and(|m| !m.header.offloaded)));
}
