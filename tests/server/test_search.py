"""Search through a real daemon: keyword, semantic, hybrid, filters, explain, paging."""

from __future__ import annotations

import struct

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

FACTS = [
    ("paris", "The capital of France is Paris", (1.0, 0.0, 0.0), "geo"),
    ("tokyo", "Tokyo is the largest city in Japan", (0.0, 1.0, 0.0), "geo"),
    ("coffee", "The user drinks coffee without sugar", (0.0, 0.0, 1.0), "preference"),
]


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def seed(d: Daemon, ns: str) -> None:
    items = [
        mpb.NewMemory(key=k, text=t, embedding=vec(*e), metadata={"category": c}, tags=[c])
        for k, t, e, c in FACTS
    ]
    assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors


def search(d: Daemon, **kwargs: object) -> list[pb.SearchHit]:
    pages = list(d.stub.Search(pb.SearchRequest(**kwargs)))  # type: ignore[arg-type]
    return [hit for page in pages for hit in page.hits]


def test_keyword_semantic_and_hybrid_rank_the_right_memory_first(
    shared_daemon: Daemon, ns: str
) -> None:
    seed(shared_daemon, ns)
    assert search(shared_daemon, namespace=ns, query="capital France")[0].memory.key == "paris"
    semantic = search(shared_daemon, namespace=ns, embedding=vec(0.1, 0.9, 0.0))
    assert semantic[0].memory.key == "tokyo"
    hybrid = search(shared_daemon, namespace=ns, query="coffee", embedding=vec(0.0, 0.2, 0.9))
    assert hybrid[0].memory.key == "coffee"
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)


def test_filters_apply_inside_the_search(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns)
    hits = search(
        shared_daemon,
        namespace=ns,
        embedding=vec(0.9, 0.0, 0.1),  # closest to paris, but the filter keeps coffee only
        metadata={"category": "preference"},
    )
    assert [h.memory.key for h in hits] == ["coffee"]
    assert search(shared_daemon, namespace=ns, query="Paris", tags_any=["preference"]) == []


def test_explain_parts_add_up_to_the_score(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns)
    weights = pb.ScoreWeights(relevance=0.5, recency=0.25, frequency=0.0, importance=0.25)
    [hit, *_] = search(
        shared_daemon, namespace=ns, query="Tokyo Japan", weights=weights, explain=True
    )
    e = hit.explain
    assert e.bm25 > 0 and 0 < e.relevance <= 1
    total = 0.5 * e.relevance + 0.25 * e.recency + 0.0 * e.frequency + 0.25 * e.importance
    assert abs(hit.score - total) < 1e-6
    [plain, *_] = search(shared_daemon, namespace=ns, query="Tokyo Japan")
    assert not plain.HasField("explain")


def test_many_hits_arrive_in_pages_and_a_cancelled_search_is_fine(
    shared_daemon: Daemon, ns: str
) -> None:
    items = [mpb.NewMemory(key=f"m{i:03d}", text=f"note {i} about gardening") for i in range(250)]
    shared_daemon.stub.Store(pb.StoreRequest(namespace=ns, memories=items))
    pages = list(
        shared_daemon.stub.Search(pb.SearchRequest(namespace=ns, query="gardening", limit=250))
    )
    assert [len(p.hits) for p in pages] == [100, 100, 50]
    call = shared_daemon.stub.Search(pb.SearchRequest(namespace=ns, query="gardening", limit=250))
    assert len(next(call).hits) == 100
    call.cancel()
    # The daemon still answers after a client walked away mid-stream.
    assert len(search(shared_daemon, namespace=ns, query="gardening", limit=5)) == 5


def test_count_access_makes_a_search_count_as_a_read(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns)
    search(shared_daemon, namespace=ns, query="Paris", count_access=True, limit=1)
    search(shared_daemon, namespace=ns, query="Paris", limit=1)
    peek = shared_daemon.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["paris"], peek=True))
    assert peek.results[0].memory.access_count == 1
