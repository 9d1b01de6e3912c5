"""Stats, namespaces, backup, restart, close and a full map: the store as a whole."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from engine_helpers import (
    NS,
    TIER_COUNTERS,
    counter,
    list_all,
    settle,
    small_tiers,
    tier_counts,
    tiers_of,
)

import memd
from memd import NewMemory, Tier, pack_embedding
from memd.errors import CapacityExceeded, EngineClosed, NotFound

W, S, L, A = Tier.WORKING, Tier.SHORT_TERM, Tier.LONG_TERM, Tier.ARCHIVE


def populate(eng, clock):
    """A small store across every tier: 3 in WORKING, 2 in SHORT_TERM, 1 each colder."""
    for k in ("w1", "w2", "w3"):
        eng.put_many(NS, [NewMemory(key=k, value=k.encode(), tier=W)])
        clock.advance(1)
    eng.put_many(
        NS,
        [
            NewMemory(key="s1", value=b"s1", embedding=pack_embedding([0.1, 0.2])),
            NewMemory(key="s2", value=b"s2", ttl_ms=500),
            NewMemory(key="l1", value=b"l1", tier=L, tags=["t"], metadata={"type": "fact"}),
            NewMemory(key="a1", value=b"archived " * 50, tier=A, importance=0.3),
        ],
    )
    clock.advance(1)
    return ["w1", "w2", "w3", "s1", "s2", "l1", "a1"]


def test_stats_report_counts_capacity_bytes_and_counters(make_engine, clock):
    eng = make_engine(small_tiers(3, 5))
    populate(eng, clock)
    eng.put_many("other", [NewMemory(key="o", value=b"v")])
    eng.get(NS, "w1")
    eng.get(NS, "w2")
    eng.get(NS, "l1")
    eng.get(NS, "missing")
    clock.advance(600)
    eng.get(NS, "s2")  # expired: a miss
    settle(eng)

    (st,) = eng.stats(NS)
    assert (st.namespace, st.dimension, st.misses) == (NS, 2, 2)
    assert [t.tier for t in st.tiers] == [1, 2, 3, 4]
    assert [t.count for t in st.tiers] == [3, 1, 1, 1]
    assert [t.capacity for t in st.tiers] == [3, 5, 0, 0]
    assert all(t.bytes > 0 for t in st.tiers)
    assert all(set(t.counters) == TIER_COUNTERS for t in st.tiers)
    assert [t.counters["hits"] for t in st.tiers] == [2, 0, 1, 0]
    assert st.tiers[1].counters["expired.lazy"] == 1
    assert {s.namespace for s in eng.stats()} == {NS, "other"}
    assert eng.stats("unknown") == []
    assert eng.stats("other")[0].tiers[0].bytes == 0


def test_namespaces_and_drop(make_engine, clock, witness):
    eng = make_engine()
    populate(eng, clock)
    eng.put_many("keep", [NewMemory(key="k", value=b"kept")])
    assert sorted(eng.namespaces()) == sorted([NS, "keep"])

    assert eng.drop_namespace(NS) == 7
    assert eng.namespaces() == ["keep"]
    assert eng.get_many(NS, ["w1", "a1"]) == [None, None]
    assert eng.stats(NS) == []
    with contextlib.suppress(NotFound):  # dropping twice: nothing to drop
        assert eng.drop_namespace(NS) == 0
    dump = witness(eng.path)
    assert NS not in dump["memories"] and NS not in dump["namespaces"]
    assert dump["memories"]["keep"]["k"]["value_hex"] == b"kept".hex()
    # The dropped namespace's dimension went with it.
    (res,) = eng.put_many(NS, [NewMemory(key="v", embedding=pack_embedding([1.0] * 3))])
    assert res.version == 1 and eng.stats(NS)[0].dimension == 3


def test_backup_is_a_consistent_copy(make_engine, clock, tmp_path, witness):
    eng = make_engine(small_tiers(3, 5))
    keys = populate(eng, clock)
    eng.get(NS, "w1")
    eng.flush()
    eng.backup(tmp_path / "backup")
    eng.put_many(NS, [NewMemory(key="after-backup", value=b"v")])

    live, copy = witness(eng.path), witness(tmp_path / "backup")
    del live["memories"][NS]["after-backup"]
    assert copy["memories"] == live["memories"]
    assert copy["namespaces"] == live["namespaces"]
    restored = make_engine(small_tiers(3, 5), path=tmp_path / "backup")
    assert tier_counts(restored) == [3, 2, 1, 1]
    originals = eng.get_many(NS, keys, count_access=False)
    for a, b in zip(originals, restored.get_many(NS, keys, count_access=False), strict=True):
        assert (a.key, a.value, a.tier, a.version, a.embedding) == (
            b.key, b.value, b.tier, b.version, b.embedding,
        )  # fmt: skip
    with pytest.raises(memd.MemdError):  # never overwrite an existing store
        eng.backup(tmp_path / "backup")


def test_restart_keeps_data_tiers_ttl_and_lru_order(make_engine, clock, tmp_path):
    path = tmp_path / "store"
    opts = small_tiers(3, 5)
    eng = make_engine(opts, path=path)
    keys = populate(eng, clock)
    fields = ("value", "tier", "version", "created_ms", "expires_at_ms")
    before = {m.key: m for m in eng.get_many(NS, keys, count_access=False)}
    read_at = clock()
    eng.get(NS, "w1")  # w2 is now the least recently used in WORKING (not flushed yet)
    eng.get(NS, "l1")
    eng.close()

    eng = make_engine(opts, path=path)
    after = {m.key: m for m in eng.get_many(NS, keys, count_access=False)}
    for k in keys:
        assert [getattr(after[k], f) for f in fields] == [getattr(before[k], f) for f in fields]
    # close() persisted the two reads' access statistics
    assert {k: m.access_count - before[k].access_count for k, m in after.items()} == {
        k: int(k in ("w1", "l1")) for k in keys
    }
    assert after["w1"].last_access_ms == after["l1"].last_access_ms == read_at
    assert tier_counts(eng) == [3, 2, 1, 1]
    assert eng.stats(NS)[0].dimension == 2

    eng.put_many(NS, [NewMemory(key="w4", tier=W, value=b"v")])  # evicts the same victim as before
    assert tiers_of(eng, ["w1", "w2", "w3", "w4"]) == {"w1": W, "w2": S, "w3": W, "w4": W}
    clock.advance(600)
    assert eng.get(NS, "s2") is None


def test_flush_persists_access_statistics(make_engine, clock, witness):
    eng = make_engine(flush_interval_ms=3_600_000)
    eng.put_many(
        NS, [NewMemory(key="x", tier=W, value=b"v")]
    )  # in WORKING: reads cannot promote it
    base = witness(eng.path)["memories"][NS]["x"]["access_count"]
    for _ in range(3):
        clock.advance(5)
        eng.get(NS, "x")
    assert eng.flush() >= 1
    rec = witness(eng.path)["memories"][NS]["x"]
    assert (rec["access_count"], rec["last_access_ms"]) == (base + 3, clock())


def test_use_after_close_raises_engine_closed(engine, tmp_path):
    engine.put_many(NS, [NewMemory(key="k", value=b"v")])
    engine.close()
    engine.close()  # idempotent
    calls = [
        lambda: engine.put_many(NS, [NewMemory(key="k2", value=b"v")]),
        lambda: engine.get_many(NS, ["k"]),
        lambda: engine.delete_many(NS, ["k"]),
        lambda: engine.list(NS),
        lambda: engine.sweep(),
        lambda: engine.stats(),
        lambda: engine.namespaces(),
        lambda: engine.drop_namespace(NS),
        lambda: engine.flush(),
        lambda: engine.sync(),
        lambda: engine.backup(tmp_path / "bk"),
        lambda: engine.map_info(),
    ]
    for call in calls:
        with pytest.raises(EngineClosed):
            call()


def test_full_map_raises_capacity_exceeded_and_changes_nothing(make_engine, witness):
    eng = make_engine(map_size_bytes=1 << 20)
    eng.put_many(NS, [NewMemory(key=f"fits{i}", value=os.urandom(50_000)) for i in range(5)])
    before = witness(eng.path)
    counts = tier_counts(eng)
    too_much = [NewMemory(key=f"big{i}", value=os.urandom(100_000)) for i in range(20)]
    with pytest.raises(CapacityExceeded):
        eng.put_many(NS, too_much)
    with pytest.raises(CapacityExceeded):
        eng.put_many(NS, too_much, atomic=False)
    assert witness(eng.path) == before
    assert tier_counts(eng) == counts
    assert eng.get(NS, "big0") is None
    # Still usable.
    (res,) = eng.put_many(NS, [NewMemory(key="small", value=b"ok")])
    assert res.version == 1 and eng.get(NS, "small").value == b"ok"
    assert eng.get(NS, "fits0").value == bytes.fromhex(before["memories"][NS]["fits0"]["value_hex"])
    info = eng.map_info()
    assert info.map_size == 1 << 20 and 0 < info.used_bytes <= info.map_size


def test_delete_counts_and_is_durable(make_engine, clock, tmp_path, witness):
    path = tmp_path / "store"
    eng = make_engine(path=path)
    populate(eng, clock)
    assert eng.delete_many(NS, ["w1", "a1", "zzz"]) == [True, True, False]
    assert counter(eng, "deleted") == 2
    assert [t.counters["deleted"] for t in eng.stats(NS)[0].tiers] == [1, 0, 0, 1]
    eng.close()
    assert {"w1", "a1"}.isdisjoint(witness(path)["memories"][NS])
    eng = make_engine(path=path)
    assert [m.key for m in list_all(eng)] == ["l1", "s1", "s2", "w2", "w3"]


def test_concurrent_writers_all_commit(make_engine):
    eng = make_engine(small_tiers(0, 0))
    threads, batches = 4, 25

    def writer(t):
        for b in range(batches):
            keys = [f"t{t}-b{b}-{i}" for i in range(10)]
            results = eng.put_many(
                NS,
                [NewMemory(key=k, value=b"v") for k in keys]
                + [NewMemory(key="shared", value=b"v")],
            )
            assert [r.version for r in results[:-1]] == [1] * 10

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(writer, range(threads)))
    assert sum(tier_counts(eng)) == threads * batches * 10 + 1
    assert eng.get(NS, "shared").version == threads * batches  # no update lost


def test_forked_child_cannot_use_the_parents_engine(engine):
    engine.put_many(NS, [NewMemory(key="k", value=b"v")])
    pid = os.fork()
    if pid == 0:  # child: must refuse, without touching LMDB
        try:
            engine.get(NS, "k")
        except EngineClosed:
            os._exit(0)
        except BaseException:
            os._exit(2)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert engine.get(NS, "k") is not None  # the parent is unaffected
