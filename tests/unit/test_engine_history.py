"""NewMemory.history through the Python engine API: an imported memory keeps the
times and counts it brings, a second store of it changes nothing, and times ahead of
the clock beyond the skew allowance are rejected with nothing stored."""

from __future__ import annotations

import pytest
from engine_helpers import NS, T0_MS, FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memd
from memd import InvalidArgument, MemoryHistory, NewMemory, SearchQuery, SearchWeights
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as spb

SKEW_MS = 300_000
YEAR_MS = 365 * 86_400_000


@st.composite
def histories(draw: st.DrawFn) -> MemoryHistory:
    """Valid histories: every time within [10 years ago, now + skew], none before creation."""
    latest = T0_MS + SKEW_MS
    created = draw(st.integers(T0_MS - 10 * YEAR_MS, latest))
    later = st.one_of(st.just(0), st.integers(created, latest))
    return MemoryHistory(
        created_ms=created,
        updated_ms=draw(later),
        last_access_ms=draw(later),
        access_count=draw(st.integers(0, 2**40)),
        version=draw(st.integers(0, 2**40)),
    )


# One engine for every example (opening one per example would dominate the run); each
# example stores under its own key, so none sees another's memory.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), key=st.uuids())
def test_a_stored_history_reads_back_exactly_and_a_second_store_changes_nothing(
    engine: memd.Engine, history: MemoryHistory, key: object
) -> None:
    eng = engine
    item = NewMemory(key=str(key), text="imported", history=history)
    [ack] = eng.put_many(NS, [item])
    assert ack.error is None
    m = eng.get_many(NS, [item.key], count_access=False)[0]
    assert m is not None
    before = _bookkeeping(m)
    updated = history.updated_ms or history.created_ms
    assert (m.created_ms, m.updated_ms) == (history.created_ms, updated)
    assert m.last_access_ms == (history.last_access_ms or updated)
    assert (m.access_count, m.version) == (history.access_count, max(1, history.version))
    assert ack.version == m.version
    eng.put_many(NS, [item])
    again = eng.get_many(NS, [item.key], count_access=False)[0]
    assert again is not None
    assert _bookkeeping(again) == before


def _bookkeeping(m: memd._core.Memory) -> tuple[int, ...]:
    return (
        m.tier,
        m.created_ms,
        m.updated_ms,
        m.last_access_ms,
        m.access_count,
        m.version,
        m.expires_at_ms,
    )


@pytest.mark.parametrize(
    "history",
    [
        MemoryHistory(created_ms=T0_MS + SKEW_MS + 1),
        MemoryHistory(created_ms=T0_MS, last_access_ms=T0_MS + 3_600_000),
        MemoryHistory(created_ms=0),
        MemoryHistory(created_ms=T0_MS, updated_ms=T0_MS - 1),
        MemoryHistory(created_ms=-5),
    ],
)
def test_bad_histories_are_invalid_and_store_nothing(
    engine: memd.Engine, history: MemoryHistory
) -> None:
    with pytest.raises(InvalidArgument, match=r"item 1: history\."):
        engine.put_many(NS, [NewMemory(text="fine"), NewMemory(text="bad", history=history)])
    assert engine.namespaces() == []


def test_recency_scores_the_imported_age(engine: memd.Engine, clock: FakeClock) -> None:
    year_old = MemoryHistory(created_ms=clock.now_ms - YEAR_MS)
    engine.put_many(
        NS,
        [
            NewMemory(key="old", text="tea notes", history=year_old),
            NewMemory(key="new", text="tea notes"),
        ],
    )
    only_recency = SearchWeights(relevance=0, recency=1, frequency=0, importance=0)
    hits = engine.search(SearchQuery(namespace=NS, text="tea", weights=only_recency))
    scores = {h.memory.key: h.score for h in hits}
    assert scores["new"] == pytest.approx(1.0)
    assert scores["old"] < 1e-9, "a year idle: recency has halved 365 times"


def test_the_wire_codec_reads_history_and_a_sent_back_memory_has_none(
    engine: memd.Engine, clock: FakeClock
) -> None:
    past = mpb.MemoryHistory(
        created_ms=T0_MS - YEAR_MS,
        updated_ms=T0_MS - 1_000,
        access_count=9,
        version=3,
        expires_at_ms=T0_MS + 5_000,
    )
    item = mpb.NewMemory(key="w", text="wired", ttl_ms=60_000, history=past)
    request = spb.StoreRequest(namespace=NS, memories=[item])
    reply = spb.StoreResponse.FromString(engine.store_encoded(request.SerializeToString())[0])
    assert (list(reply.versions), list(reply.errors)) == ([3], [])
    raw, _ = engine.retrieve_encoded(
        spb.RetrieveRequest(namespace=NS, keys=["w"], peek=True).SerializeToString()
    )
    m = spb.RetrieveResponse.FromString(raw).results[0].memory
    assert (m.created_ms, m.updated_ms, m.last_access_ms) == (
        T0_MS - YEAR_MS,
        T0_MS - 1_000,
        T0_MS - 1_000,
    )
    assert (m.access_count, m.version, m.expires_at_ms, m.ttl_ms) == (9, 3, T0_MS + 5_000, 60_000)
    # A Memory sent back as a NewMemory (the copy idiom) is a plain store, as before:
    # its output fields are unknown to NewMemory, and none of them is `history`.
    copy = mpb.NewMemory.FromString(m.SerializeToString())
    assert not copy.HasField("history")
    clock.advance(10)
    request = spb.StoreRequest(namespace=NS, memories=[copy])
    reply = spb.StoreResponse.FromString(engine.store_encoded(request.SerializeToString())[0])
    again = engine.get_many(NS, ["w"], count_access=False)[0]
    assert again is not None
    assert (reply.versions[0], again.updated_ms) == (4, clock.now_ms)
