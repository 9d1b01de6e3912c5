"""Tier policies: TTL (lazy + sweep), LRU demotion, cascade, ARCHIVE compression, promotion."""

from __future__ import annotations

import random

import pytest
from engine_helpers import (
    NS,
    counter,
    disk_tiers,
    list_all,
    settle,
    small_tiers,
    tier_counts,
    tier_of,
    tiers_of,
)

from memd import EngineOptions, NewMemory, Tier, TierOptions

W, S, L, A = Tier.WORKING, Tier.SHORT_TERM, Tier.LONG_TERM, Tier.ARCHIVE
TEN_YEARS_MS = 10 * 365 * 86_400_000


def put_one_per_ms(eng, clock, keys, **fields):
    for k in keys:
        eng.put_many(NS, [NewMemory(key=k, **{"value": b"v", **fields})])
        clock.advance(1)


# --- TTL -----------------------------------------------------------------------------------


def test_expired_memory_is_never_returned_even_before_a_sweep(engine, clock):
    engine.put_many(
        NS,
        [
            NewMemory(key="brief", ttl_ms=100, value=b"v"),
            NewMemory(key="forever", ttl_ms=0, value=b"v"),
        ],
    )
    m = engine.get(NS, "brief")
    assert (m.ttl_ms, m.expires_at_ms) == (100, clock() + 100)
    clock.advance(99)
    assert engine.get(NS, "brief") is not None
    clock.advance(1)  # 100 ms lived: gone
    assert engine.get(NS, "brief") is None
    settle(engine)
    assert counter(engine, "expired.lazy") == 1
    assert engine.stats(NS)[0].misses == 1
    assert engine.get_many(NS, ["brief"], count_access=False) == [None]
    assert [m.key for m in list_all(engine)] == ["forever"]
    clock.advance(TEN_YEARS_MS)
    assert engine.get(NS, "forever").expires_at_ms == 0


def test_expired_key_is_gone_so_a_new_put_starts_over(engine, clock):
    engine.put_many(NS, [NewMemory(key="k", value=b"old", ttl_ms=10, tier=Tier.LONG_TERM)])
    engine.put_many(NS, [NewMemory(key="k", value=b"old2", ttl_ms=10)])
    clock.advance(50)
    (res,) = engine.put_many(NS, [NewMemory(key="k", value=b"new")])  # no read in between
    assert res.version == 1
    m = engine.get(NS, "k")
    assert (m.value, m.version, m.created_ms, m.tier) == (b"new", 1, clock(), Tier.SHORT_TERM)


def test_update_restarts_the_ttl(engine, clock):
    engine.put_many(NS, [NewMemory(key="k", ttl_ms=100, value=b"v")])
    clock.advance(60)
    engine.put_many(NS, [NewMemory(key="k", ttl_ms=100, value=b"v")])
    clock.advance(60)
    assert engine.get(NS, "k").expires_at_ms == clock() + 40
    clock.advance(40)
    assert engine.get(NS, "k") is None


def test_deleting_an_expired_memory_reports_false(engine, clock):
    # Expired means gone, before and after removal: delete must not reveal it existed.
    engine.put_many(
        NS, [NewMemory(key="old", ttl_ms=10, value=b"v"), NewMemory(key="live", value=b"v")]
    )
    clock.advance(20)
    assert engine.delete_many(NS, ["old", "live"]) == [False, True]
    assert sum(tier_counts(engine)) == 0


def test_sweep_removes_expired_in_bounded_batches_earliest_first(engine, clock, witness):
    order = list(range(25))
    random.Random(3).shuffle(order)  # expiry order differs from key order
    engine.put_many(
        NS, [NewMemory(key=f"e{i:02d}", ttl_ms=1_000 + order[i], value=b"v") for i in range(25)]
    )
    engine.put_many(
        "other", [NewMemory(key=f"o{i}", ttl_ms=2_000 + i, value=b"v") for i in range(5)]
    )
    engine.put_many(
        NS,
        [NewMemory(key="later", ttl_ms=10_000, value=b"v"), NewMemory(key="forever", value=b"v")],
    )
    nothing = engine.sweep()
    assert (nothing.expired, nothing.more) == (0, False)

    clock.advance(5_000)
    first = engine.sweep(max_items=10)
    assert (first.expired, first.more) == (10, True)
    on_disk = witness(engine.path)["memories"]
    earliest = {f"e{i:02d}" for i in range(25) if order[i] < 10}
    assert set(on_disk[NS]) == {f"e{i:02d}" for i in range(25)} - earliest | {"later", "forever"}
    assert len(on_disk["other"]) == 5

    results = [engine.sweep(max_items=10) for _ in range(3)]
    assert [(r.expired, r.more) for r in results] == [(10, True), (10, False), (0, False)]
    on_disk = witness(engine.path)["memories"]
    assert set(on_disk[NS]) == {"later", "forever"} and not on_disk.get("other")
    assert counter(engine, "expired.sweep") == 25 and counter(engine, "expired.lazy") == 0
    assert sum(tier_counts(engine)) == 2 and sum(tier_counts(engine, "other")) == 0


def test_tier_default_ttl_applies_to_memories_stored_without_one(make_engine, clock):
    tiers = (TierOptions(100, default_ttl_ms=1_000), TierOptions(1_000, default_ttl_ms=50))
    eng = make_engine(EngineOptions(tiers=(*tiers, TierOptions(0), TierOptions(0))))
    eng.put_many(
        NS,
        [
            NewMemory(key="short-default", value=b"v"),
            NewMemory(key="working-default", tier=W, value=b"v"),
            NewMemory(key="explicit-never", ttl_ms=0, value=b"v"),
            NewMemory(key="explicit", ttl_ms=500, value=b"v"),
            NewMemory(key="long-has-none", tier=L, value=b"v"),
        ],
    )
    ttls = {m.key: m.ttl_ms for m in list_all(eng)}
    assert ttls == {
        "short-default": 50,
        "working-default": 1_000,
        "explicit-never": 0,
        "explicit": 500,
        "long-has-none": 0,
    }
    clock.advance(60)
    assert {m.key for m in list_all(eng)} == set(ttls) - {"short-default"}
    clock.advance(1_000)
    assert {m.key for m in list_all(eng)} == {"explicit-never", "long-has-none"}


# --- LRU eviction ------------------------------------------------------------------------


def test_full_tier_demotes_its_least_recently_used(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    put_one_per_ms(eng, clock, "abc", tier=W)
    assert eng.get(NS, "a") is not None  # a read refreshes recency: b is now the oldest
    eng.get_many(NS, ["b"], count_access=False)  # an uncounted read does not
    clock.advance(1)
    (res,) = eng.put_many(NS, [NewMemory(key="d", tier=W, value=b"v")])
    assert res.tier == W
    assert tiers_of(eng, list("abcd")) == {"a": W, "b": S, "c": W, "d": W}
    assert tier_counts(eng) == [3, 1, 0, 0]
    (stats,) = eng.stats(NS)
    assert stats.tiers[0].counters["demoted.capacity"] == 1
    assert counter(eng, "evicted.capacity") == 0  # a demotion loses nothing

    put_one_per_ms(eng, clock, ["a"], tier=W)  # a write is a use too: c is oldest now
    eng.put_many(NS, [NewMemory(key="e", tier=W, value=b"v")])
    assert tiers_of(eng, list("abcde")) == {"a": W, "b": S, "c": S, "d": W, "e": W}


def test_lowest_priority_class_leaves_first(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    eng.put_many(NS, [NewMemory(key="old-high", priority=5, tier=W, value=b"v")])
    clock.advance(1)
    eng.put_many(NS, [NewMemory(key="low", priority=0, tier=W, value=b"v")])
    clock.advance(1)
    eng.put_many(NS, [NewMemory(key="new-high", priority=5, tier=W, value=b"v")])
    clock.advance(1)
    eng.put_many(NS, [NewMemory(key="d", priority=5, tier=W, value=b"v")])
    assert tier_of(eng, "low") == S and tier_of(eng, "old-high") == W
    # A newcomer of the lowest class is itself the victim.
    (res,) = eng.put_many(NS, [NewMemory(key="lowest", priority=-1, tier=W, value=b"v")])
    assert res.tier == S
    assert {m.key for m in list_all(eng, tier=W)} == {"old-high", "new-high", "d"}


def test_equal_recency_evicts_the_smaller_key_first(make_engine):
    eng = make_engine(small_tiers(3, 5))
    results = eng.put_many(
        NS, [NewMemory(key=k, tier=W, value=b"v") for k in ("k2", "k4", "k1", "k3")]
    )
    assert [r.tier for r in results] == [W, W, S, W]


def test_demotions_cascade_to_archive_and_a_full_archive_deletes(make_engine, clock, witness):
    eng = make_engine(small_tiers(2, 2, 2, 2))
    keys = [f"k{i}" for i in range(9)]
    put_one_per_ms(eng, clock, keys, tier=W, value=b"cascade " * 64)
    expected = {"k0": None, "k1": A, "k2": A, "k3": L, "k4": L, "k5": S, "k6": S, "k7": W}
    assert tiers_of(eng, keys) == {**expected, "k8": W}
    assert tier_counts(eng) == [2, 2, 2, 2]
    assert counter(eng, "evicted.capacity") == 1
    assert [t.counters["demoted.capacity"] for t in eng.stats(NS)[0].tiers] == [7, 5, 3, 0]
    dump = witness(eng.path)
    assert disk_tiers(dump) == {k: t for k, t in {**expected, "k8": W}.items() if t}
    assert all(dump["memories"][NS][k]["compressed"] for k in ("k1", "k2"))
    assert eng.get(NS, "k1").value == b"cascade " * 64


def test_archive_values_are_compressed_on_disk_and_returned_intact(make_engine, witness):
    eng = make_engine(small_tiers(3, 5))
    value = b"the planner learned that " * 400
    eng.put_many(NS, [NewMemory(key="cold", value=value, tier=A)])
    eng.put_many(NS, [NewMemory(key="warm", value=value, tier=W)])
    recs = witness(eng.path)["memories"][NS]
    assert recs["cold"]["compressed"] and recs["cold"]["stored_len"] < len(value) // 5
    assert bytes.fromhex(recs["cold"]["value_hex"]) == value  # decoded independently
    assert not recs["warm"]["compressed"] and recs["warm"]["stored_len"] == len(value)
    assert eng.get_many(NS, ["cold"], count_access=False)[0].value == value
    tiers = eng.stats(NS)[0].tiers
    assert 0 < tiers[3].bytes < tiers[0].bytes


# --- promotion ---------------------------------------------------------------------------


def test_frequent_reads_within_the_window_promote_one_tier(make_engine, clock):
    eng = make_engine(small_tiers(3, 5, promote_window_ms=1_000))
    eng.put_many(NS, [NewMemory(key="x", tier=L, value=b"v")])
    for _ in range(2):
        clock.advance(100)
        assert eng.get(NS, "x") is not None
    assert tier_of(eng, "x") == L
    clock.advance(100)
    eng.get(NS, "x")
    assert tier_of(eng, "x") == S
    assert eng.stats(NS)[0].tiers[2].counters["promoted.frequency"] == 1
    assert counter(eng, "promoted.importance") == 0


def test_reads_outside_the_window_do_not_promote(make_engine, clock):
    eng = make_engine(small_tiers(3, 5, promote_window_ms=1_000))
    eng.put_many(NS, [NewMemory(key="x", tier=L, value=b"v")])
    for _ in range(6):
        clock.advance(1_001)
        assert eng.get(NS, "x") is not None
    assert tier_of(eng, "x") == L
    assert counter(eng, "promoted.frequency") == 0


def test_uncounted_reads_neither_promote_nor_touch(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    eng.put_many(NS, [NewMemory(key="x", tier=A, importance=0.95, value=b"v")])
    before = eng.get_many(NS, ["x"], count_access=False)[0]
    for _ in range(5):
        clock.advance(10)
        eng.get_many(NS, ["x"], count_access=False)
    after = eng.get_many(NS, ["x"], count_access=False)[0]
    assert after.tier == A
    assert (after.access_count, after.last_access_ms) == (
        before.access_count,
        before.last_access_ms,
    )


def test_counted_read_updates_access_statistics(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    eng.put_many(NS, [NewMemory(key="x", value=b"v")])
    before = eng.get_many(NS, ["x"], count_access=False)[0]
    clock.advance(25)
    eng.get(NS, "x")
    eng.get(NS, "x")
    after = eng.get_many(NS, ["x"], count_access=False)[0]
    assert after.access_count == before.access_count + 2
    assert after.last_access_ms == clock()


def test_important_memory_climbs_one_tier_per_read(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    eng.put_many(NS, [NewMemory(key="vip", tier=A, importance=0.9, value=b"v" * 300)])
    seen = []
    for _ in range(4):
        clock.advance(1)
        assert eng.get(NS, "vip").value == b"v" * 300
        seen.append(tier_of(eng, "vip"))
    assert seen == [L, S, W, W]
    assert [t.counters["promoted.importance"] for t in eng.stats(NS)[0].tiers] == [0, 1, 1, 1]


def test_promotion_into_a_full_tier_demotes_its_lru(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    put_one_per_ms(eng, clock, "abc", tier=W)
    eng.put_many(NS, [NewMemory(key="vip", tier=S, importance=0.9, value=b"v")])
    clock.advance(1)
    eng.get(NS, "vip")
    assert tiers_of(eng, ["a", "b", "c", "vip"]) == {"a": S, "b": W, "c": W, "vip": W}
    assert tier_counts(eng) == [3, 1, 0, 0]


@pytest.mark.parametrize("importance", [0.5, 0.8])
def test_importance_at_or_below_the_threshold_does_not_promote(make_engine, clock, importance):
    eng = make_engine(small_tiers(3, 5))  # promote_importance=0.8: strictly above promotes
    eng.put_many(NS, [NewMemory(key="x", tier=L, importance=importance, value=b"v")])
    clock.advance(1)
    eng.get(NS, "x")
    assert tier_of(eng, "x") == L
