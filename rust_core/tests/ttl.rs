//! TTL: lazy expiry on read, bounded active sweeps, tier default TTLs, and expiry
//! order across restarts.

mod common;

use common::{keys, open, small_config};
use memd_core::{RawMemory, TierConfig};

fn with_ttl(key: &str, ttl: i128) -> RawMemory {
    RawMemory { ttl_ms: Some(ttl), ..common::item(key, 2) }
}

#[test]
fn expired_memories_are_never_returned_even_before_a_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("ns", vec![with_ttl("short", 100), with_ttl("forever", 0)], 1_000, true).unwrap();
    let got = e.get_many("ns", &keys(&["short", "forever"]), 1_099, false).unwrap();
    assert!(got[0].is_some() && got[1].is_some());
    let got = e.get_many("ns", &keys(&["short", "forever"]), 1_100, false).unwrap();
    assert!(got[0].is_none(), "expires exactly at created + ttl");
    assert!(got[1].is_some());
    assert_eq!(common::layout(&e, 1_100)[1], keys(&["forever"]), "list skips it too");
}

#[test]
fn sweeps_are_bounded_and_say_when_more_remain() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.tiers[1].capacity = 0;
    let e = open(dir.path(), cfg);
    let batch = (0..25).map(|i| with_ttl(&format!("k{i:02}"), 10 + i)).collect();
    e.put_many("ns", batch, 0, true).unwrap();
    assert_eq!(e.sweep(5, 10).unwrap(), (0, false), "nothing expired yet");
    assert_eq!(e.sweep(100, 10).unwrap(), (10, true));
    assert_eq!(e.sweep(100, 10).unwrap(), (10, true));
    assert_eq!(e.sweep(100, 10).unwrap(), (5, false));
    let stats = e.stats(Some("ns")).unwrap();
    assert_eq!(stats[0].tiers[1].count, 0);
    assert!(stats[0].tiers[1].counters.contains(&("expired.sweep", 25)));
}

#[test]
fn tier_default_ttl_applies_when_none_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.tiers[1] = TierConfig { capacity: 10, default_ttl_ms: 50 };
    let e = open(dir.path(), cfg);
    let r = e.put_many("ns", vec![common::item("d", 2)], 0, true).unwrap();
    assert_eq!(r[0].version, 1);
    assert!(e.get_many("ns", &keys(&["d"]), 49, false).unwrap()[0].is_some());
    assert!(e.get_many("ns", &keys(&["d"]), 50, false).unwrap()[0].is_none());
}

#[test]
fn expiry_order_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path(), small_config());
        e.put_many("ns", vec![with_ttl("a", 10), with_ttl("b", 1_000)], 0, true).unwrap();
        e.close().unwrap();
    }
    let e = open(dir.path(), small_config());
    assert_eq!(e.sweep(500, 100).unwrap(), (1, false));
    assert!(e.get_many("ns", &keys(&["b"]), 500, false).unwrap()[0].is_some());
}

#[test]
fn a_rewrite_replaces_the_old_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    e.put_many("ns", vec![with_ttl("k", 10)], 0, true).unwrap();
    e.put_many("ns", vec![with_ttl("k", 0)], 5, true).unwrap();
    assert_eq!(e.sweep(1_000, 10).unwrap(), (0, false));
    let m = e.get_many("ns", &keys(&["k"]), 1_000, false).unwrap().remove(0).unwrap();
    assert_eq!((m.header.version, m.header.expires_at_ms), (2, 0));
}
