"""The engine's Rust protobuf codec agrees with the classes generated from proto/."""

from __future__ import annotations

import struct

import pytest

from memd import (
    CapacityExceeded,
    DataDirInUse,
    DataLoss,
    EngineClosed,
    InternalError,
    InvalidArgument,
    NotFound,
    StorageError,
    Tier,
    Unavailable,
)
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as spb
from memd.server import status

NS = "agent:wire"


def store(engine, memories, atomic=False, batch_id=7):
    req = spb.StoreRequest(namespace=NS, memories=memories, atomic=atomic, batch_id=batch_id)
    raw, n = engine.store_encoded(req.SerializeToString())
    assert n == len(memories)
    return spb.StoreResponse.FromString(raw)


def test_store_then_retrieve_round_trips_every_field(engine):
    vec = struct.pack("<3f", 0.25, -1.0, 3.5)
    full = mpb.NewMemory(
        key="k1",
        text="héllo",
        value=b"\x00\x01",
        embedding=vec,
        tags=["a", "b"],
        metadata={"category": "fact"},
        importance=0.75,
        priority=-2,
        ttl_ms=10_000,
        tier=Tier.LONG_TERM,
    )
    resp = store(engine, [full, mpb.NewMemory(text="no key")])
    assert resp.batch_id == 7 and not resp.errors
    assert resp.keys[0] == "k1" and len(resp.keys[1]) == 26
    assert list(resp.versions) == [1, 1]
    assert list(resp.tiers) == [Tier.LONG_TERM, Tier.SHORT_TERM]

    req = spb.RetrieveRequest(namespace=NS, keys=["k1", "missing", resp.keys[1]], peek=True)
    raw, n = engine.retrieve_encoded(req.SerializeToString())
    results = spb.RetrieveResponse.FromString(raw).results
    assert n == 3 and [r.found for r in results] == [True, False, True]
    assert results[1].key == "missing" and not results[1].HasField("memory")
    m = results[0].memory
    assert (m.key, m.text, m.value, m.embedding) == ("k1", "héllo", b"\x00\x01", vec)
    assert (list(m.tags), dict(m.metadata)) == (["a", "b"], {"category": "fact"})
    assert (m.importance, m.priority, m.ttl_ms, m.tier) == (0.75, -2, 10_000, Tier.LONG_TERM)
    assert m.namespace == NS and m.version == 1 and m.expires_at_ms == m.created_ms + 10_000
    [same] = engine.get_many(NS, ["k1"], count_access=False)
    assert (same.created_ms, same.updated_ms, same.access_count) == (
        m.created_ms,
        m.updated_ms,
        m.access_count,
    )


def test_per_item_errors_carry_grpc_codes_and_the_rest_is_stored(engine):
    bad = mpb.NewMemory(key="bad", importance=1.5, value=b"v")
    huge_ttl = mpb.NewMemory(key="ttl", ttl_ms=2**64 - 1, value=b"v")
    resp = store(engine, [mpb.NewMemory(key="ok", value=b"v"), bad, huge_ttl])
    assert [(e.index, e.code) for e in resp.errors] == [(1, 3), (2, 3)]
    assert "importance" in resp.errors[0].message and "ttl_ms" in resp.errors[1].message
    assert list(resp.versions) == [1, 0, 0] and list(resp.tiers) == [Tier.SHORT_TERM, 0, 0]
    assert engine.get(NS, "ok") is not None and engine.get(NS, "bad") is None


def test_an_atomic_batch_with_a_bad_item_raises_and_stores_nothing(engine):
    with pytest.raises(InvalidArgument, match="item 1"):
        store(
            engine,
            [mpb.NewMemory(key="a", value=b"v"), mpb.NewMemory(key="b", tier=9, value=b"v")],
            atomic=True,
        )
    assert engine.namespaces() == []


def test_malformed_bytes_are_invalid_argument(engine):
    with pytest.raises(InvalidArgument, match="malformed"):
        engine.store_encoded(b"\xff\xff\xff")
    with pytest.raises(InvalidArgument, match="malformed"):
        engine.retrieve_encoded(b"\x0a\x05ab")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InvalidArgument, 3),
        (NotFound, 5),
        (CapacityExceeded, 8),
        (EngineClosed, 9),
        (DataDirInUse, 9),
        (StorageError, 13),
        (InternalError, 13),
        (Unavailable, 14),
        (DataLoss, 15),
    ],
)
def test_rust_item_codes_match_the_status_table(exc, code):
    # wire.rs's grpc_code() hard-codes these numbers; status.py is the one table.
    assert status.STATUS_OF[exc].value[0] == code


def test_list_pages_through_the_rust_codec(engine):
    store(
        engine,
        [
            mpb.NewMemory(key=f"k{i}", tier=Tier.LONG_TERM if i % 2 else 0, value=b"v")
            for i in range(5)
        ],
    )

    def page(**kw):
        raw, n = engine.list_encoded(spb.ListRequest(namespace=NS, **kw).SerializeToString())
        resp = spb.ListResponse.FromString(raw)
        assert n == len(resp.memories)
        return [m.key for m in resp.memories], resp.next_page_token

    assert page(page_size=2) == (["k0", "k1"], "k1")
    assert page(page_size=2, page_token="k1") == (["k2", "k3"], "k3")
    assert page(page_size=10, page_token="k3") == (["k4"], "")
    assert page(tier=Tier.LONG_TERM) == (["k1", "k3"], "")
    assert page(reverse=True, page_size=1) == (["k4"], "k4")
    with pytest.raises(InvalidArgument, match="unknown tier"):
        page(tier=7)
