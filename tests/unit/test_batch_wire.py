"""BatchSearch pages encoded in Rust (``engine/batch_wire.rs``) say what the Python
converter of Search hits (``convert.search_hit``) says, paged as documented."""

from __future__ import annotations

import struct

import pytest

from memd import CapacityExceeded, Engine, NewMemory, SearchQuery
from memd._pb.v1 import memory_service_pb2 as pb
from memd.server import convert

NS = "agent:batch-wire"


def seed(engine: Engine, n: int) -> None:
    engine.put_many(
        NS,
        [
            NewMemory(
                key=f"m{i:03}",
                text=f"tea number {i} with héllo",
                value=bytes([i % 256]) * 3,
                embedding=struct.pack("<2f", 1.0, i / 10),
                tags=["t", f"x{i % 3}"],
                metadata={"kind": "note", "i": str(i)},
                importance=(i % 4) / 4,
            )
            for i in range(n)
        ],
    )


def test_pages_match_the_python_converter(engine: Engine) -> None:
    seed(engine, 230)
    queries = [
        SearchQuery(NS, text="tea", k=230),
        SearchQuery(NS, vector=struct.pack("<2f", 0.5, 1.0), k=7),
        SearchQuery(NS, text="nothing-like-it"),
        SearchQuery(NS, pattern="*number 1?*", mode="pattern", k=20),
    ]
    explain = [True, False, True, False]
    raw = engine.search_batch_encoded(queries, explain, 16 << 20)
    pages = [pb.BatchSearchResponse.FromString(p) for p in raw]
    assert [(p.query_index, len(p.hits)) for p in pages] == [
        (0, 100),
        (0, 100),
        (0, 30),
        (1, 7),
        (2, 0),
        (3, 20),
    ]
    # The same hits through the Python path (the clock is frozen: same scores).
    want = engine.search_batch(queries)
    got: list[list[pb.SearchHit]] = [[] for _ in queries]
    for p in pages:
        got[p.query_index].extend(p.hits)
    for i, (hits, flag) in enumerate(zip(want, explain, strict=True)):
        assert got[i] == [convert.search_hit(h, flag) for h in hits], i


def test_a_page_never_passes_the_message_limit(engine: Engine) -> None:
    seed(engine, 50)
    raw = engine.search_batch_encoded([SearchQuery(NS, text="tea", k=50)], [False], 2_000)
    assert len(raw) > 1 and all(len(p) <= 2_000 for p in raw)
    assert sum(len(pb.BatchSearchResponse.FromString(p).hits) for p in raw) == 50
    with pytest.raises(CapacityExceeded):
        engine.search_batch_encoded([SearchQuery(NS, text="tea")], [False], 100)
