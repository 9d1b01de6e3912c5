"""Engine API: round trips, keys, versions, listing, and input validation."""

from __future__ import annotations

import math
import random

import pytest
from engine_helpers import NS, list_all, tier_counts

from memd import NewMemory, Tier, pack_embedding
from memd.errors import InvalidArgument

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_round_trip_every_field(engine, clock, witness):
    item = NewMemory(
        key="fact-1",
        text="Ünïcode text about the planner",
        value=b"\x00\x01binary\xff",
        embedding=pack_embedding([0.5, -1.0, 2.0]),
        tags=["project:x", "urgent"],
        metadata={"type": "fact", "category": "work"},
        importance=0.75,
        priority=-2,
        ttl_ms=60_000,
        tier=Tier.LONG_TERM,
    )
    (res,) = engine.put_many(NS, [item])
    assert (res.key, res.version, res.tier, res.error, res.error_kind) == (
        "fact-1", 1, Tier.LONG_TERM, None, None,
    )  # fmt: skip
    (m,) = engine.get_many(NS, ["fact-1"], count_access=False)
    assert m is not None
    assert (m.namespace, m.key, m.text, m.value) == (NS, "fact-1", item.text, item.value)
    assert m.embedding == item.embedding and m.vector() == [0.5, -1.0, 2.0]
    assert sorted(m.tags) == ["project:x", "urgent"]
    assert m.metadata == {"type": "fact", "category": "work"}
    assert (m.importance, m.priority, m.tier) == (0.75, -2, Tier.LONG_TERM)
    assert (m.ttl_ms, m.expires_at_ms) == (60_000, clock() + 60_000)
    assert m.created_ms == m.updated_ms == clock()
    assert m.version == 1

    engine.flush()
    rec = witness(engine.path)["memories"][NS]["fact-1"]
    assert bytes.fromhex(rec["value_hex"]) == item.value
    assert (rec["text"], rec["tier"], rec["version"], rec["priority"]) == (item.text, 3, 1, -2)
    assert rec["embedding"] == [0.5, -1.0, 2.0] and rec["dim"] == 3
    assert (rec["importance"], rec["ttl_ms"]) == (0.75, 60_000)
    assert rec["expires_at_ms"] == m.expires_at_ms
    assert sorted(rec["tags"]) == ["project:x", "urgent"]
    assert rec["metadata"] == {"type": "fact", "category": "work"}
    assert (rec["created_ms"], rec["updated_ms"]) == (m.created_ms, m.updated_ms)


def test_defaults_of_a_bare_memory(engine):
    (res,) = engine.put_many(NS, [NewMemory(key="k", value=b"v")])
    m = engine.get(NS, "k")
    assert m is not None and res.tier == m.tier == Tier.SHORT_TERM  # the default tier
    assert (m.importance, m.priority, m.ttl_ms, m.expires_at_ms) == (0.5, 0, 0, 0)
    assert (m.text, m.value, m.embedding, m.vector(), m.tags, m.metadata) == (
        "", b"v", None, None, [], {},
    )  # fmt: skip


def test_a_memory_without_text_value_or_embedding_is_rejected(engine):
    with pytest.raises(
        InvalidArgument, match="item 1: a memory needs text, a value or an embedding"
    ):
        engine.put_many(NS, [NewMemory(text="ok"), NewMemory(key="k", tags=["t"])])
    assert engine.namespaces() == []
    ok, empty = engine.put_many(NS, [NewMemory(text="ok"), NewMemory(key="k")], atomic=False)
    assert ok.error is None and ok.version == 1
    assert empty.error_kind == "InvalidArgument" and empty.version == 0
    assert engine.get(NS, "k") is None


def test_get_many_keeps_order_and_reports_missing_as_none(engine):
    engine.put_many(NS, [NewMemory(key=k, value=k.encode()) for k in ("a", "b", "c")])
    got = engine.get_many(NS, ["c", "missing", "a", "c"])
    assert [m.value if m else None for m in got] == [b"c", None, b"a", b"c"]


def test_namespaces_are_isolated(engine):
    engine.put_many("ns-1", [NewMemory(key="k", value=b"one")])
    engine.put_many("ns-2", [NewMemory(key="k", value=b"two")])
    assert engine.get("ns-1", "k").value == b"one"
    assert engine.get("ns-2", "k").value == b"two"
    assert engine.get("ns-3", "k") is None
    assert engine.delete_many("ns-1", ["k"]) == [True]
    assert engine.get("ns-2", "k").value == b"two"


def test_update_bumps_version_and_keeps_created(engine, clock):
    t0 = clock()
    engine.put_many(NS, [NewMemory(key="k", value=b"v1", importance=0.9, tier=Tier.LONG_TERM)])
    for version in (2, 3):
        clock.advance(10)
        (res,) = engine.put_many(NS, [NewMemory(key="k", value=b"v%d" % version)])
        assert res.version == version
    m = engine.get_many(NS, ["k"], count_access=False)[0]  # a counted read would promote
    assert (m.version, m.value, m.created_ms, m.updated_ms) == (3, b"v3", t0, t0 + 20)
    assert m.importance == pytest.approx(0.9)  # None keeps the existing importance
    assert m.tier == Tier.LONG_TERM  # UNSPECIFIED keeps the existing tier
    assert tier_counts(engine) == [0, 0, 1, 0]


def test_delete_many(engine, witness):
    engine.put_many(NS, [NewMemory(key=k, value=b"v") for k in ("a", "b", "c")])
    assert engine.delete_many(NS, ["a", "nope", "c"]) == [True, False, True]
    assert engine.delete_many(NS, ["a"]) == [False]
    assert engine.get_many(NS, ["a", "b", "c"], count_access=False)[::2] == [None, None]
    assert [m.key for m in list_all(engine)] == ["b"]
    assert sum(tier_counts(engine)) == 1
    assert set(witness(engine.path)["memories"][NS]) == {"b"}


def test_server_made_keys_are_unique_and_time_ordered(engine, clock):
    first = engine.put_many(NS, [NewMemory(value=b"%d" % i) for i in range(50)])
    clock.advance(1)
    second = engine.put_many(NS, [NewMemory(value=b"x")])
    keys = [r.key for r in first + second]
    assert len(set(keys)) == 51
    assert all(len(k) == 26 and set(k) <= CROCKFORD for k in keys)
    assert max(r.key for r in first) < second[0].key
    got = engine.get_many(NS, [r.key for r in first], count_access=False)
    assert [m.value for m in got] == [b"%d" % i for i in range(50)]
    assert [m.key for m in list_all(engine)][-1] == second[0].key


def test_list_paginates_in_key_order_both_ways(engine):
    keys = [f"k{i:02d}" for i in range(25)]
    engine.put_many(
        NS, [NewMemory(key=k, value=b"v") for k in random.Random(7).sample(keys, len(keys))]
    )
    page = engine.list(NS, limit=10)
    assert [m.key for m in page.items] == keys[:10] and page.next_cursor
    page = engine.list(NS, limit=10, cursor=page.next_cursor)
    assert [m.key for m in page.items] == keys[10:20] and page.next_cursor
    page = engine.list(NS, limit=10, cursor=page.next_cursor)
    assert [m.key for m in page.items] == keys[20:] and page.next_cursor == ""

    page = engine.list(NS, limit=10, reverse=True)
    assert [m.key for m in page.items] == keys[::-1][:10]
    page = engine.list(NS, limit=10, reverse=True, cursor=page.next_cursor)
    assert [m.key for m in page.items] == keys[::-1][10:20]
    assert [m.key for m in list_all(engine, reverse=True)] == keys[::-1]
    assert engine.list("other-namespace").items == []


def test_list_filters_by_tier_and_created_range(engine, clock):
    t0 = clock()
    engine.put_many(
        NS, [NewMemory(key="a0", tier=Tier.WORKING, value=b"v"), NewMemory(key="a1", value=b"v")]
    )
    clock.advance(100)
    engine.put_many(
        NS, [NewMemory(key="b0", tier=Tier.WORKING, value=b"v"), NewMemory(key="b1", value=b"v")]
    )
    clock.advance(100)
    engine.put_many(NS, [NewMemory(key="c0", tier=Tier.ARCHIVE, value=b"v")])

    def keys(**kw):
        return [m.key for m in list_all(engine, **kw)]

    assert keys(tier=Tier.WORKING) == ["a0", "b0"]
    assert keys(tier=Tier.SHORT_TERM) == ["a1", "b1"]
    assert keys(tier=Tier.ARCHIVE) == ["c0"]
    assert keys(tier=Tier.LONG_TERM) == []
    assert keys(created_after_ms=t0 + 50) == ["b0", "b1", "c0"]
    assert keys(created_before_ms=t0 + 150) == ["a0", "a1", "b0", "b1"]
    assert keys(created_after_ms=t0 + 50, created_before_ms=t0 + 150) == ["b0", "b1"]
    assert keys(created_after_ms=t0 + 50, tier=Tier.SHORT_TERM, reverse=True) == ["b1"]


# --- validation: the right error, and nothing changes -----------------------------------

LIMITS = {"max_value_bytes": 1000, "max_text_bytes": 1000}
DIM3 = pack_embedding([1.0, 2.0, 3.0])

BAD_ITEMS = {
    "key-too-long": NewMemory(key="k" * 257, value=b"v"),
    "key-multibyte-too-long": NewMemory(key="é" * 129, value=b"v"),
    "key-nul": NewMemory(key="a\x00b", value=b"v"),
    "value-too-big": NewMemory(key="k", value=b"v" * 1001),
    "text-too-big": NewMemory(key="k", text="t" * 1001),
    "text-too-big-in-bytes": NewMemory(key="k", text="é" * 501),
    "embedding-nan": NewMemory(key="k", embedding=pack_embedding([1.0, math.nan, 3.0])),
    "embedding-inf": NewMemory(key="k", embedding=pack_embedding([1.0, 2.0, math.inf])),
    "embedding-ragged": NewMemory(key="k", embedding=DIM3[:-1]),
    "embedding-wrong-dim": NewMemory(key="k", embedding=pack_embedding([1.0, 2.0])),
    "importance-negative": NewMemory(key="k", importance=-0.01, value=b"v"),
    "importance-above-one": NewMemory(key="k", importance=1.01, value=b"v"),
    "importance-nan": NewMemory(key="k", importance=math.nan, value=b"v"),
    "ttl-negative": NewMemory(key="k", ttl_ms=-1, value=b"v"),
    "tier-unknown": NewMemory(key="k", tier=9, value=b"v"),
    "tier-five": NewMemory(key="k", tier=5, value=b"v"),
    "update-wrong-dim": NewMemory(key="seed", embedding=pack_embedding([1.0] * 4)),
}

BAD_NAMESPACES = {"empty": "", "too-long": "n" * 129, "multibyte-too-long": "é" * 65, "nul": "a\0b"}


@pytest.fixture
def seeded(make_engine):
    """An engine whose namespace already has a 3-d vector; flushed, so disk is settled."""
    eng = make_engine(**LIMITS)
    eng.put_many(NS, [NewMemory(key="seed", value=b"s", embedding=DIM3, tier=Tier.WORKING)])
    eng.flush()
    return eng


def _state(eng, witness):
    stats = [(s.namespace, s.dimension, [(t.count, t.bytes) for t in s.tiers]) for s in eng.stats()]
    return witness(eng.path), stats, eng.namespaces()


@pytest.mark.parametrize("item", BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_bad_item_is_rejected_and_changes_nothing(seeded, witness, item):
    before = _state(seeded, witness)
    with pytest.raises(InvalidArgument):
        seeded.put_many(NS, [item])
    (res,) = seeded.put_many(NS, [item], atomic=False)
    assert (res.version, res.error_kind) == (0, "InvalidArgument") and res.error
    assert _state(seeded, witness) == before
    assert seeded.get(NS, "seed").value == b"s"


@pytest.mark.parametrize("ns", BAD_NAMESPACES.values(), ids=BAD_NAMESPACES.keys())
def test_bad_namespace_is_rejected_everywhere(seeded, witness, ns):
    before = _state(seeded, witness)
    for atomic in (True, False):
        with pytest.raises(InvalidArgument):
            seeded.put_many(ns, [NewMemory(key="k", value=b"v")], atomic=atomic)
    with pytest.raises(InvalidArgument):
        seeded.get_many(ns, ["k"])
    with pytest.raises(InvalidArgument):
        seeded.delete_many(ns, ["k"])
    with pytest.raises(InvalidArgument):
        seeded.list(ns)
    assert _state(seeded, witness) == before


def test_limits_are_inclusive(seeded):
    ok = [
        NewMemory(key="k" * 256, value=b"v"),
        NewMemory(key="é" * 128, value=b"v"),
        NewMemory(key="v", value=b"v" * 1000, text="é" * 500),
        NewMemory(key="i0", importance=0.0, ttl_ms=0, tier=Tier.ARCHIVE, value=b"v"),
        NewMemory(key="i1", importance=1.0, embedding=DIM3),
    ]
    results = seeded.put_many(NS, ok)
    assert [r.version for r in results] == [1] * len(ok)
    assert seeded.put_many("n" * 128, [NewMemory(key="k", value=b"v")])[0].version == 1
    assert seeded.put_many("é" * 64, [NewMemory(key="k", value=b"v")])[0].version == 1
    assert seeded.get(NS, "v").value == b"v" * 1000


def test_atomic_batch_with_one_bad_item_stores_nothing(seeded, witness):
    before = _state(seeded, witness)
    batch = [NewMemory(key=f"k{i}", value=b"v") for i in range(5)]
    batch[3] = NewMemory(key="k3", ttl_ms=-5, value=b"v")
    with pytest.raises(InvalidArgument, match=r"\b3\b"):
        seeded.put_many(NS, batch)
    # A dimension clash inside the batch is caught too (the first vector would fix it).
    with pytest.raises(InvalidArgument, match=r"\b1\b"):
        seeded.put_many("fresh", [NewMemory(embedding=DIM3), NewMemory(embedding=DIM3[:8])])
    assert _state(seeded, witness) == before
    assert seeded.stats("fresh") == []


def test_non_atomic_batch_stores_good_items_and_reports_bad_ones(seeded, witness):
    batch = [
        NewMemory(key="good0", value=b"v"),
        NewMemory(key="bad1", importance=math.nan, value=b"v"),
        NewMemory(key="good2", embedding=DIM3),
        NewMemory(key="bad3", tier=9, value=b"v"),
        NewMemory(key="bad4", embedding=pack_embedding([1.0])),
    ]
    results = seeded.put_many(NS, batch, atomic=False)
    assert [r.version for r in results] == [1, 0, 1, 0, 0]
    assert [r.error_kind for r in results] == [None, "InvalidArgument", None] + 2 * [
        "InvalidArgument"
    ]
    assert results[0].error is None and all(results[i].error for i in (1, 3, 4))
    stored = set(witness(seeded.path)["memories"][NS])
    assert stored == {"seed", "good0", "good2"}
    assert [m is not None for m in seeded.get_many(NS, [b.key for b in batch])] == [
        True, False, True, False, False,
    ]  # fmt: skip


def test_non_atomic_batch_of_only_bad_items_leaves_no_trace(make_engine, witness):
    eng = make_engine()
    eng.put_many("kept", [NewMemory(key="k", value=b"v")])
    (res,) = eng.put_many(
        "fresh", [NewMemory(key="k", importance=math.nan, value=b"v")], atomic=False
    )
    assert res.error_kind == "InvalidArgument"
    assert eng.namespaces() == ["kept"] and eng.stats("fresh") == []
    assert "fresh" not in witness(eng.path)["namespaces"]


def test_non_atomic_dimension_is_fixed_by_the_first_good_vector(make_engine):
    eng = make_engine()
    batch = [
        NewMemory(key="a", embedding=pack_embedding([1.0, 2.0])),
        NewMemory(key="b", embedding=DIM3),
        NewMemory(key="c", embedding=pack_embedding([3.0, 4.0])),
    ]
    results = eng.put_many("fresh", batch, atomic=False)
    assert [r.error_kind for r in results] == [None, "InvalidArgument", None]
    assert eng.stats("fresh")[0].dimension == 2
