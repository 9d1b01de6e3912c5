"""Vector search at the size where memd walks an HNSW graph, through a real daemon.

A namespace of 10 500 embeddings (over the 10 000 from which its graph is built):
searching for a stored vector finds that memory first, the same as an exact search
(``SearchRequest.exact``), both while the writer is still inserting vectors into
the graph (the tail it has not reached is scanned exactly) and once it is done; a
filtered search still returns ``limit`` hits. Stats says when the graph is done
(``vectors_pending`` reaches 0 with every vector a node). A daemon started with
``--engine-vector-quantization int8`` holds int8 rows and reports the f32 cosines
of the stored vectors (its final candidates are re-scored from LMDB).
"""

from __future__ import annotations

import random
import struct
import time
from typing import TYPE_CHECKING

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

if TYPE_CHECKING:
    from pathlib import Path

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


def store(d: Daemon, ns: str, vectors: list[list[float]]) -> None:
    for start in range(0, len(vectors), 1_500):
        items = [
            mpb.NewMemory(key=f"m{i:05}", embedding=pack(vectors[i]), tags=["odd"] * (i % 2))
            for i in range(start, min(start + 1_500, len(vectors)))
        ]
        assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors


def stats(d: Daemon, ns: str) -> mpb.NamespaceStats:
    (out,) = d.stub.Stats(pb.StatsRequest(namespace=ns)).namespaces
    return out


def wait_built(d: Daemon, ns: str, timeout: float = 60.0) -> mpb.NamespaceStats:
    """Stats once no vector waits for the graph (the graph-complete signal)."""
    deadline = time.monotonic() + timeout
    while (s := stats(d, ns)).vectors_pending > 0:
        assert time.monotonic() < deadline, f"{s.vectors_pending} vectors still pending"
        time.sleep(0.05)
    return s


def test_graph_search_finds_what_exact_search_finds(shared_daemon: Daemon, ns: str) -> None:
    vectors = clustered(N, seed=3)
    store(shared_daemon, ns, vectors)
    probes = range(0, N, 499)
    for attempt in ("while building", "built"):
        if attempt == "built":
            s = wait_built(shared_daemon, ns)
            assert (s.vectors, s.graph_nodes, s.vector_quantization) == (N, N, "none")
            # 16 floats and up to 33 layer-0 links per vector, and bookkeeping.
            assert 64 * N < s.vector_bytes < 400 * N, s.vector_bytes
        for i in probes:
            ann, exact = (
                top_keys(shared_daemon, ns, vectors[i], False),
                top_keys(shared_daemon, ns, vectors[i], True),
            )
            assert ann[0] == exact[0] == f"m{i:05}", (attempt, i, ann, exact)
            odd = top_keys(shared_daemon, ns, vectors[i], False, tags_all=["odd"])
            assert len(odd) == 5 and all(int(k[1:]) % 2 == 1 for k in odd), odd


def test_an_int8_daemon_is_smaller_and_reports_f32_cosines(tmp_path: Path, ns: str) -> None:
    vectors = clustered(2_000, seed=5)
    d = Daemon(tmp_path / "data", "--engine-vector-quantization", "int8")
    try:
        store(d, ns, vectors)
        s = stats(d, ns)
        # Under 10 000 vectors: no graph, nothing waits for one; 16 codes and a scale.
        assert (s.vectors, s.vectors_pending, s.graph_nodes) == (2_000, 0, 0)
        assert s.vector_quantization == "int8"
        assert 20 * 2_000 <= s.vector_bytes < 40 * 2_000, s.vector_bytes
        for i in range(0, 2_000, 97):
            req = pb.SearchRequest(
                namespace=ns,
                embedding=pack(vectors[i]),
                limit=5,
                mode=pb.SEARCH_MODE_SEMANTIC,
                weights=pb.ScoreWeights(relevance=1.0),
                explain=True,
            )
            hits = [hit for page in d.stub.Search(req) for hit in page.hits]
            assert hits[0].memory.key == f"m{i:05}"
            q = vectors[i]
            for hit in hits:
                v = vectors[int(hit.memory.key[1:])]
                dot = sum(a * b for a, b in zip(q, v, strict=True))
                norm = (sum(a * a for a in q) * sum(b * b for b in v)) ** 0.5
                # The f32 cosine (int8 rows alone are about 1e-3 off).
                assert abs(hit.explain.cosine - dot / norm) < 2e-5
    finally:
        d.close()


def test_quantization_is_chosen_per_namespace_and_follows_a_changed_rule(
    tmp_path: Path, ns: str
) -> None:
    big, small = f"{ns}/big", f"{ns}/small"
    config = tmp_path / "memd.toml"
    rule = (
        f'[[engine.vector_quantization_namespaces]]\npattern = "{ns}/b*"\nquantization = "int8"\n'
    )
    config.write_text(rule)
    vectors = clustered(300, seed=9)
    d = Daemon(tmp_path / "data", "--config", str(config))
    try:
        store(d, big, vectors)
        store(d, small, vectors)
        assert (stats(d, big).vector_quantization, stats(d, small).vector_quantization) == (
            "int8",
            "none",
        )
        # (At 16-d per-row bookkeeping weighs: about 2.3 x smaller, not 4.)
        assert stats(d, big).vector_bytes * 2 < stats(d, small).vector_bytes
    finally:
        d.close()
    # The rule removed: the big namespace's index is rebuilt in f32 at the next start,
    # and still finds every memory.
    config.write_text("")
    d = Daemon(tmp_path / "data", "--config", str(config))
    try:
        assert stats(d, big).vector_quantization == "none"
        req = pb.SearchRequest(
            namespace=big, embedding=pack(vectors[7]), limit=1, mode=pb.SEARCH_MODE_SEMANTIC
        )
        assert [h.memory.key for p in d.stub.Search(req) for h in p.hits] == ["m00007"]
    finally:
        d.close()
