"""Vector search at the size where memd walks an HNSW graph, through a real daemon.

A namespace of 10 500 embeddings (over the 10 000 from which its graph is built):
searching for a stored vector finds that memory first, the same as an exact search
(``SearchRequest.exact``), both while the writer is still inserting vectors into
the graph (the tail it has not reached is scanned exactly) and once it is done; a
filtered search still returns ``limit`` hits.
"""

from __future__ import annotations

import random
import struct
import time

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

DIM = 16
N = 10_500


def clustered(n: int, seed: int) -> list[list[float]]:
    """``n`` vectors around 100 random centres (distinct, like real embeddings)."""
    rng = random.Random(seed)
    centres = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(100)]
    return [[c + 0.3 * rng.gauss(0, 1) for c in centres[i % 100]] for i in range(n)]


def pack(v: list[float]) -> bytes:
    return struct.pack(f"<{DIM}f", *v)


def top_keys(d: Daemon, ns: str, v: list[float], exact: bool, **kw: object) -> list[str]:
    req = pb.SearchRequest(
        namespace=ns,
        embedding=pack(v),
        limit=5,
        mode=pb.SEARCH_MODE_SEMANTIC,
        weights=pb.ScoreWeights(relevance=1.0),
        exact=exact,
        **kw,  # type: ignore[arg-type]
    )
    return [hit.memory.key for page in d.stub.Search(req) for hit in page.hits]


def test_graph_search_finds_what_exact_search_finds(shared_daemon: Daemon, ns: str) -> None:
    vectors = clustered(N, seed=3)
    for start in range(0, N, 1_500):
        items = [
            mpb.NewMemory(key=f"m{i:05}", embedding=pack(vectors[i]), tags=["odd"] * (i % 2))
            for i in range(start, min(start + 1_500, N))
        ]
        assert not shared_daemon.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors
    probes = range(0, N, 499)
    for attempt in ("while building", "built"):
        if attempt == "built":
            time.sleep(3)  # 10 500 16-d vectors: well under a second of graph work
        for i in probes:
            ann, exact = (
                top_keys(shared_daemon, ns, vectors[i], False),
                top_keys(shared_daemon, ns, vectors[i], True),
            )
            assert ann[0] == exact[0] == f"m{i:05}", (attempt, i, ann, exact)
            odd = top_keys(shared_daemon, ns, vectors[i], False, tags_all=["odd"])
            assert len(odd) == 5 and all(int(k[1:]) % 2 == 1 for k in odd), odd
