"""Search hits carry their embedding only when the request asks (issue 13), through a
real daemon: Search and BatchSearch hits are the stored memory minus its vector by
default and the whole memory with ``include_embedding``; Retrieve and List always
return the whole memory."""

from __future__ import annotations

import struct

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def seed(d: Daemon, ns: str) -> dict[str, mpb.Memory]:
    """Twelve memories (the last without a vector); their stored form by key."""
    items = [
        mpb.NewMemory(
            key=f"m{i:02}",
            text=f"tea number {i}",
            value=b"v" * i,
            embedding=vec(1.0, float(i), 0.5) if i < 11 else b"",
            tags=["t"],
            metadata={"type": "fact"},
        )
        for i in range(12)
    ]
    assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=[m.key for m in items], peek=True))
    assert all(r.found for r in got.results)
    return {r.key: r.memory for r in got.results}


def bare(m: mpb.Memory) -> mpb.Memory:
    out = mpb.Memory()
    out.CopyFrom(m)
    out.ClearField("embedding")
    return out


def searched(d: Daemon, request: pb.SearchRequest) -> list[mpb.Memory]:
    return [h.memory for page in d.stub.Search(request) for h in page.hits]


def test_search_hits_leave_the_vector_out_unless_asked(shared_daemon: Daemon, ns: str) -> None:
    stored = seed(shared_daemon, ns)
    assert len(stored["m03"].embedding) == 12  # Retrieve returns the whole memory
    for query in (
        pb.SearchRequest(query="tea", limit=12),
        pb.SearchRequest(embedding=vec(1, 2, 0), limit=12),
        pb.SearchRequest(query="tea", embedding=vec(1, 2, 0), limit=12),
        pb.SearchRequest(pattern="tea number 1*", mode=pb.SEARCH_MODE_PATTERN, limit=12),
    ):
        query.namespace = ns
        hits = searched(shared_daemon, query)
        assert hits and all(m == bare(stored[m.key]) for m in hits), query
        query.include_embedding = True
        full = searched(shared_daemon, query)
        assert [m.key for m in full] == [m.key for m in hits]
        assert all(m == stored[m.key] for m in full), query
    listed = shared_daemon.stub.List(pb.ListRequest(namespace=ns, page_size=100)).memories
    assert {m.key: m for m in listed} == stored


def test_batch_hits_carry_vectors_per_query(shared_daemon: Daemon, ns: str) -> None:
    stored = seed(shared_daemon, ns)
    request = pb.BatchSearchRequest(
        namespace=ns,
        shared=pb.SearchRequest(limit=5),
        queries=[
            pb.SearchRequest(embedding=vec(1, 3, 0)),
            pb.SearchRequest(embedding=vec(1, 3, 0), include_embedding=True),
            pb.SearchRequest(query="tea"),
        ],
    )
    hits: list[list[mpb.Memory]] = [[], [], []]
    for page in shared_daemon.stub.BatchSearch(request):
        hits[page.query_index].extend(h.memory for h in page.hits)
    assert all(len(h) == 5 for h in hits)
    assert all(m == bare(stored[m.key]) for m in hits[0] + hits[2])
    assert all(m == stored[m.key] and m.embedding for m in hits[1])
    # Set in `shared`, it applies to every query.
    request.shared.include_embedding = True
    pages = list(shared_daemon.stub.BatchSearch(request))
    assert all(h.memory == stored[h.memory.key] for p in pages for h in p.hits)
