"""Every bad input is an ``InvalidArgument`` naming what is wrong, and every reply fits.

Out-of-range numbers (times at or above 2^63, weights outside [0, 1], NaN bounds),
invalid namespaces on every call, and replies bounded by bytes: a List page ends
before it would exceed the limit, and a Retrieve too large to send fails before it
counts any access.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from engine_helpers import NS

from memd import NewMemory
from memd._pb.v1 import memory_service_pb2 as spb
from memd.errors import CapacityExceeded, InvalidArgument
from memd.types import SearchFilter, SearchQuery, SearchWeights

TIME_FIELDS = ["created_after_ms", "created_before_ms", "accessed_after_ms", "accessed_before_ms"]
BIG = 2**63


@pytest.fixture
def seeded(engine):
    engine.put_many(NS, [NewMemory(key=f"k{i}", text=f"apples {i}") for i in range(3)])
    return engine


@pytest.mark.parametrize("value", [BIG, 2**64 - 1, 2**64, -1], ids=str)
@pytest.mark.parametrize("field", TIME_FIELDS)
def test_search_time_filters_out_of_range_name_the_field(seeded, field, value):
    query = SearchQuery(NS, "apples", filter=replace(SearchFilter(), **{field: value}))
    with pytest.raises(InvalidArgument, match=f"{field} must be in 0..=2\\^63-1"):
        seeded.search(query)
    edge = SearchQuery(NS, "apples", filter=replace(SearchFilter(), **{field: BIG - 1}))
    assert len(seeded.search(edge)) == (3 if field.endswith("before_ms") else 0)


@pytest.mark.parametrize("value", [BIG, 2**64 - 1, 0], ids=str)
def test_search_half_life_out_of_range_is_invalid(seeded, value):
    with pytest.raises(InvalidArgument, match="half_life_ms"):
        seeded.search(SearchQuery(NS, "apples", half_life_ms=value))


@pytest.mark.parametrize("value", [1.5, -0.1, math.nan, math.inf, -math.inf], ids=str)
@pytest.mark.parametrize("weight", ["relevance", "recency", "frequency", "importance"])
def test_score_weights_outside_0_1_name_the_weight(seeded, weight, value):
    weights = replace(SearchWeights(), **{weight: value})
    with pytest.raises(InvalidArgument, match=f"weight {weight} is .*must be in \\[0, 1\\]"):
        seeded.search(SearchQuery(NS, "apples", weights=weights))


@pytest.mark.parametrize("bound", ["importance_min", "importance_max"])
def test_nan_importance_bounds_are_invalid(seeded, bound):
    name = {"importance_min": "min_importance", "importance_max": "max_importance"}[bound]
    query = SearchQuery(NS, "apples", filter=replace(SearchFilter(), **{bound: math.nan}))
    with pytest.raises(InvalidArgument, match=name):
        seeded.search(query)


@pytest.mark.parametrize("ns", ["", "n" * 129, "a\x00b"], ids=["empty", "long", "nul"])
def test_stats_validate_the_namespace_like_every_call(seeded, ns):
    with pytest.raises(InvalidArgument, match="namespace"):
        seeded.stats(ns)
    assert seeded.stats("unknown") == [] and len(seeded.stats()) == 1


@pytest.mark.parametrize("field", ["created_after_ms", "created_before_ms"])
def test_list_times_out_of_range_name_the_field(seeded, field):
    for value in (BIG, -1, 2**70):
        with pytest.raises(InvalidArgument, match=field):
            seeded.list(NS, **{field: value})
    request = spb.ListRequest(namespace=NS, **{field: BIG})
    with pytest.raises(InvalidArgument, match=field):
        seeded.list_encoded(request.SerializeToString())


def test_huge_counts_are_invalid_arguments_not_overflow(seeded):
    with pytest.raises(InvalidArgument, match="limit"):
        seeded.list(NS, limit=2**70)
    with pytest.raises(InvalidArgument, match="k must be"):
        seeded.search(SearchQuery(NS, "apples", k=2**70))
    with pytest.raises(InvalidArgument, match="max_actions"):
        seeded.lifecycle(max_actions=2**70)


def big_store(engine, n=6, size=10_000):
    engine.put_many(NS, [NewMemory(key=f"b{i}", value=bytes([i]) * size) for i in range(n)])
    return [f"b{i}" for i in range(n)]


def list_all(engine, limit, page_size=0, reverse=False):
    keys, token, pages = [], "", 0
    while True:
        request = spb.ListRequest(
            namespace=NS, page_size=page_size, page_token=token, reverse=reverse
        )
        raw, n = engine.list_encoded(request.SerializeToString(), max_reply_bytes=limit)
        assert len(raw) <= limit
        page = spb.ListResponse.FromString(raw)
        assert n == len(page.memories) > 0
        keys += [m.key for m in page.memories]
        pages += 1
        token = page.next_page_token
        if not token:
            return keys, pages


@pytest.mark.parametrize("reverse", [False, True])
def test_list_pages_are_bounded_by_bytes_and_lose_nothing(engine, reverse):
    keys = big_store(engine)
    got, pages = list_all(engine, limit=25_000, page_size=100, reverse=reverse)
    assert got == (keys[::-1] if reverse else keys) and pages == 3
    assert list_all(engine, limit=4 << 20)[1] == 1


def test_a_memory_larger_than_the_reply_limit_cannot_be_listed(engine):
    big_store(engine, n=1)
    with pytest.raises(CapacityExceeded, match=r'memory "b0" takes \d+ bytes, over the 5000-byte'):
        engine.list_encoded(spb.ListRequest(namespace=NS).SerializeToString(), max_reply_bytes=5000)


def test_a_retrieve_too_large_to_send_changes_nothing(engine):
    keys = big_store(engine)
    before = [
        (m.access_count, m.last_access_ms) for m in engine.get_many(NS, keys, count_access=False)
    ]
    hits_before = engine.stats(NS)[0].tiers[1].counters["hits"]
    request = spb.RetrieveRequest(namespace=NS, keys=keys).SerializeToString()
    with pytest.raises(
        CapacityExceeded,
        match=r"reply of \d+ bytes exceeds the 50000-byte limit; ask for fewer keys",
    ):
        engine.retrieve_encoded(request, max_reply_bytes=50_000)
    after = [
        (m.access_count, m.last_access_ms) for m in engine.get_many(NS, keys, count_access=False)
    ]
    assert after == before
    # The second uncounted read counts hits; the refused Retrieve counted none.
    assert engine.stats(NS)[0].tiers[1].counters["hits"] == hits_before + len(keys)
    raw, n = engine.retrieve_encoded(request, max_reply_bytes=len(keys) * 10_200)
    reply = spb.RetrieveResponse.FromString(raw)
    assert n == len(keys) and all(
        r.found and r.memory.access_count == before[0][0] + 1 for r in reply.results
    )


def test_a_search_hit_too_large_to_send_counts_no_access(engine):
    engine.put_many(NS, [NewMemory(key="huge", text="huge note", value=b"h" * 50_000)])
    before = engine.get(NS, "huge")
    query = SearchQuery(NS, "huge", count_access=True)
    with pytest.raises(CapacityExceeded, match=r'hit "huge" takes \d+ bytes, over the 32768-byte'):
        engine.search(query, max_hit_bytes=32 * 1024)
    after = engine.get_many(NS, ["huge"], count_access=False)[0]
    assert (after.access_count, after.last_access_ms) == (
        before.access_count,
        before.last_access_ms,
    )
    (hit,) = engine.search(query, max_hit_bytes=64 * 1024)
    assert hit.memory.access_count == before.access_count + 1
