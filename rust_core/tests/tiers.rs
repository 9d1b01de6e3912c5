//! Eviction order, demotion cascade, archive compression, promotion and capacity,
//! through the public engine API on a real LMDB directory.

mod common;

use common::{keys, layout, open, put, small_config};
use memd_core::{RawMemory, Tier, TierConfig};

#[test]
fn full_working_tier_demotes_its_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        put(&e, k, 1, 100 + i as u64);
    }
    // Reading "a" makes "b" the least recently used.
    e.get_many("ns", &keys(&["a"]), 200, true).unwrap();
    put(&e, "d", 1, 300);
    let l = layout(&e, 300);
    assert_eq!(l[0], keys(&["a", "c", "d"]));
    assert_eq!(l[1], keys(&["b"]));
    let stats = e.stats(Some("ns")).unwrap();
    let working = &stats[0].tiers[0];
    assert!(working.counters.contains(&("demoted.capacity", 1)));
}

/// Memories written in the same millisecond tie on LRU order; the retention score
/// (here: the access count a read added) picks the victim among them. The LRU
/// entries carry their own copy of the score's inputs, so this checks that a read
/// refreshes that copy.
#[test]
fn among_ties_a_read_memory_outlasts_unread_ones() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    for k in ["a", "b", "c"] {
        put(&e, k, 1, 100);
    }
    // Read at the same millisecond: still tied on access time, one access more.
    e.get_many("ns", &keys(&["a"]), 100, true).unwrap();
    put(&e, "d", 1, 100);
    let l = layout(&e, 100);
    assert_eq!(l[1], keys(&["b"]), "the smallest unread key leaves, not the read one");
    assert_eq!(l[0], keys(&["a", "c", "d"]));
    // The same again after a restart, which rebuilds the order from the records
    // (the access statistics are flushed at close).
    drop(e);
    let e = open(dir.path(), small_config());
    put(&e, "e", 1, 100);
    assert_eq!(layout(&e, 100)[1], keys(&["b", "c"]));
}

#[test]
fn lowest_priority_class_is_evicted_first() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let with_priority = |key: &str, priority| RawMemory { priority, ..common::item(key, 1) };
    e.put_many("ns", vec![with_priority("old-high", 5)], 1, true).unwrap();
    e.put_many("ns", vec![with_priority("new-low", -1)], 2, true).unwrap();
    e.put_many("ns", vec![with_priority("x", 0), with_priority("y", 0)], 3, true).unwrap();
    let l = layout(&e, 3);
    assert_eq!(l[1], keys(&["new-low"]), "the newest but lowest-priority memory leaves first");
}

#[test]
fn demotions_cascade_and_leaving_a_bounded_archive_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.tiers = [1, 1, 1, 1].map(|capacity| TierConfig { capacity, default_ttl_ms: 0 });
    let e = open(dir.path(), cfg);
    for (i, k) in ["k1", "k2", "k3", "k4", "k5"].iter().enumerate() {
        put(&e, k, 1, 10 + i as u64);
    }
    let l = layout(&e, 100);
    assert_eq!(l, vec![keys(&["k5"]), keys(&["k4"]), keys(&["k3"]), keys(&["k2"])]);
    assert_eq!(e.get_many("ns", &keys(&["k1"]), 100, false).unwrap(), vec![None]);
    let stats = e.stats(Some("ns")).unwrap();
    assert!(stats[0].tiers[3].counters.contains(&("evicted.capacity", 1)));
}

#[test]
fn archive_values_are_compressed_and_read_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let value = b"the same words again and again ".repeat(100);
    let raw = RawMemory { key: "big".into(), value: value.clone(), tier: 4, ..Default::default() };
    e.put_many("ns", vec![raw], 1, true).unwrap();
    let m = e.get_many("ns", &keys(&["big"]), 2, false).unwrap().remove(0).unwrap();
    assert_eq!(m.value, value);
    assert_eq!(m.header.tier, Tier::Archive);
    let stats = e.stats(Some("ns")).unwrap();
    assert!(stats[0].tiers[3].bytes < value.len() as u64 / 4, "stored compressed");
}

#[test]
fn frequent_reads_promote_one_tier_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    put(&e, "m", 3, 1);
    let read = |now| e.get_many("ns", &keys(&["m"]), now, true).unwrap()[0].clone().unwrap();
    assert_eq!(read(10).header.tier, Tier::LongTerm);
    assert_eq!(read(20).header.tier, Tier::LongTerm);
    assert_eq!(read(30).header.tier, Tier::ShortTerm, "third read within the hour");
    assert_eq!(read(40).header.tier, Tier::ShortTerm, "needs three fresh reads");
    // Reads spread wider than the window never add up to three.
    let hour = 3_600_000;
    assert_eq!(read(40 + hour).header.tier, Tier::ShortTerm);
    assert_eq!(read(40 + 2 * hour + 1).header.tier, Tier::ShortTerm);
    assert_eq!(layout(&e, 40 + 2 * hour + 1)[1], keys(&["m"]));
}

#[test]
fn important_memories_promote_on_any_read() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let raw = RawMemory { importance: Some(0.9), ..common::item("vip", 4) };
    e.put_many("ns", vec![raw], 1, true).unwrap();
    let m = e.get_many("ns", &keys(&["vip"]), 2, true).unwrap().remove(0).unwrap();
    assert_eq!(m.header.tier, Tier::LongTerm);
    assert_eq!(m.value, "vip".repeat(20).into_bytes(), "decompressed on the way out");
}

#[test]
fn promotion_into_a_full_tier_demotes_its_victim() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    for (i, k) in ["w1", "w2", "w3"].iter().enumerate() {
        put(&e, k, 1, i as u64 + 1);
    }
    let raw = RawMemory { importance: Some(0.95), ..common::item("hot", 2) };
    e.put_many("ns", vec![raw], 10, true).unwrap();
    e.get_many("ns", &keys(&["hot"]), 20, true).unwrap();
    let l = layout(&e, 20);
    assert_eq!(l[0], keys(&["hot", "w2", "w3"]));
    assert_eq!(l[1], keys(&["w1"]));
}

#[test]
fn eviction_order_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path(), small_config());
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            put(&e, k, 1, 100 + i as u64);
        }
        e.get_many("ns", &keys(&["a"]), 200, true).unwrap();
        e.close().unwrap();
    }
    let e = open(dir.path(), small_config());
    put(&e, "d", 1, 300);
    assert_eq!(layout(&e, 300)[1], keys(&["b"]), "a's read was flushed at close");
}

/// A batch whose own items push through every tier leaves the layout a sequence of
/// single puts at the same instant does, and the store reopens to the same layout.
#[test]
fn a_batch_overflowing_every_tier_is_stored_as_its_items_one_by_one() {
    let mut cfg = small_config();
    cfg.tiers = [2, 3, 4, 5].map(|capacity| TierConfig { capacity, default_ttl_ms: 0 });
    // "k3" twice: the second is a rewrite of a record this same batch wrote.
    let names = ["k0", "k1", "k2", "k3", "k4", "k5", "k3", "k6", "k7", "k8", "k9", "k10"];
    let items: Vec<RawMemory> = names.iter().map(|k| common::item(k, 1)).collect();
    let (one, each) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let batch = open(one.path(), cfg.clone());
    let single = open(each.path(), cfg.clone());
    let got = batch.put_many("ns", items.clone(), 50, true).unwrap();
    for item in items {
        single.put_many("ns", vec![item], 50, true).unwrap();
    }
    assert_eq!(got[6].version, 2, "the batch's second k3 rewrote its first");
    let want = layout(&single, 50);
    assert_eq!(layout(&batch, 50), want);
    assert_eq!(want.iter().map(Vec::len).collect::<Vec<_>>(), [2, 3, 4, 2]);
    assert_eq!(batch.stats(Some("ns")).unwrap(), single.stats(Some("ns")).unwrap());
    drop(batch);
    assert_eq!(layout(&open(one.path(), cfg), 50), want, "LMDB holds what the state said");
}

/// A put reports each item's tier after the whole batch: the writer knows it
/// without a lookup when nothing in the batch moved or replaced a memory, and
/// otherwise the engine looks each one up (a later item may have demoted an earlier
/// one, or rewritten its key into another tier).
#[test]
fn put_reports_each_items_tier_after_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), small_config());
    let tier_of = |r: &memd_core::PutResult| r.tier.map(Tier::index);
    // Settled: two new memories, nothing moves.
    let r = e.put_many("ns", vec![common::item("a", 1), common::item("b", 2)], 1, true).unwrap();
    assert_eq!(r.iter().map(tier_of).collect::<Vec<_>>(), [Some(0), Some(1)]);
    // Demotions inside the batch: WORKING holds 3, so the batch's first items leave it.
    let batch: Vec<_> = ["c", "d", "e", "f"].iter().map(|k| common::item(k, 1)).collect();
    let r = e.put_many("ns", batch, 2, true).unwrap();
    let l = layout(&e, 2);
    for (k, res) in ["c", "d", "e", "f"].iter().zip(&r) {
        let at = l.iter().position(|keys| keys.contains(&(*k).to_string()));
        assert_eq!(tier_of(res), at, "{k}: reported {res:?}, layout {l:?}");
    }
    // The same key twice, into an empty namespace (nothing demoted): both items
    // report where the key ended up.
    let r = e.put_many("other", vec![common::item("x", 1), common::item("x", 3)], 3, true);
    let r = r.unwrap();
    assert_eq!(r.iter().map(tier_of).collect::<Vec<_>>(), [Some(2), Some(2)]);
}
