"""BatchSearch through a real daemon: each query's hits match its own Search, pages
are tagged and ordered, shared fields merge as documented, bad input changes nothing."""

from __future__ import annotations

import struct

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon, sample


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def seed(d: Daemon, ns: str, n: int = 60) -> None:
    words = ["tea", "coffee", "cake", "paris", "tokyo", "rain"]
    items = [
        mpb.NewMemory(
            key=f"m{i:03}",
            text=f"{words[i % 6]} and {words[(i * 5) % 6]} number {i}",
            embedding=vec(float(i % 7), float(i % 3), 1.0),
            tags=[words[i % 6]],
            tier=mpb.Tier.Value(["TIER_SHORT_TERM", "TIER_LONG_TERM", "TIER_ARCHIVE"][i % 3]),
            importance=(i % 5) / 4,
        )
        for i in range(n)
    ]
    assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors


def batch(d: Daemon, request: pb.BatchSearchRequest) -> list[pb.BatchSearchResponse]:
    return list(d.stub.BatchSearch(request))


def hits_of(pages: list[pb.BatchSearchResponse], n: int) -> list[list[tuple[str, float]]]:
    out: list[list[tuple[str, float]]] = [[] for _ in range(n)]
    for page in pages:
        out[page.query_index].extend((h.memory.key, h.score) for h in page.hits)
    return out


def alone(d: Daemon, request: pb.SearchRequest) -> list[tuple[str, float]]:
    return [(h.memory.key, h.score) for p in d.stub.Search(request) for h in p.hits]


def test_each_query_gets_what_its_own_search_gets(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns)
    shared = pb.SearchRequest(limit=7, tiers=[mpb.TIER_SHORT_TERM, mpb.TIER_LONG_TERM])
    queries = [
        pb.SearchRequest(query="tea cake"),
        pb.SearchRequest(embedding=vec(1, 0, 0)),
        pb.SearchRequest(embedding=vec(0, 1, 0), limit=3),
        pb.SearchRequest(query="paris", embedding=vec(2, 1, 1), fusion=pb.FUSION_RRF),
        pb.SearchRequest(pattern="*number 1?", mode=pb.SEARCH_MODE_PATTERN),
        pb.SearchRequest(query="rain", tiers=[mpb.TIER_ARCHIVE]),  # replaces shared tiers
        pb.SearchRequest(embedding=vec(1, 1, 0), tags_any=["tokyo"]),
        pb.SearchRequest(query="nothing-matches-this"),
    ]
    request = pb.BatchSearchRequest(namespace=ns, shared=shared, queries=queries)
    pages = batch(shared_daemon, request)
    got = hits_of(pages, len(queries))
    for i, q in enumerate(queries):
        one = pb.SearchRequest()
        one.CopyFrom(shared)
        if q.tiers:
            one.ClearField("tiers")
        one.MergeFrom(q)
        one.namespace = ns
        want = alone(shared_daemon, one)
        # Scores move a little between calls: recency is measured from each call's now.
        assert [k for k, _ in got[i]] == [k for k, _ in want], f"query {i}"
        assert [s for _, s in got[i]] == pytest.approx([s for _, s in want], abs=1e-4)
    assert len(got[2]) == 3 and len(got[0]) == 7
    assert got[7] == []
    # Every query has a page, in query order; the empty one too.
    assert [p.query_index for p in pages] == list(range(len(queries)))
    archive = {k for k, _ in got[5]}
    assert archive and all(int(k[1:]) % 3 == 2 for k in archive), "the query's own tiers"


def test_large_results_are_paged_per_query(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns, n=250)
    request = pb.BatchSearchRequest(
        namespace=ns,
        shared=pb.SearchRequest(limit=250, mode=pb.SEARCH_MODE_SEMANTIC),
        queries=[
            pb.SearchRequest(embedding=vec(1, 0, 1)),
            pb.SearchRequest(embedding=vec(0, 1, 1)),
        ],
    )
    pages = batch(shared_daemon, request)
    assert [(p.query_index, len(p.hits)) for p in pages] == [
        (0, 100),
        (0, 100),
        (0, 50),
        (1, 100),
        (1, 100),
        (1, 50),
    ]


def test_an_empty_batch_and_an_unknown_namespace_answer_nothing(
    shared_daemon: Daemon, ns: str
) -> None:
    assert batch(shared_daemon, pb.BatchSearchRequest(namespace=ns)) == []
    request = pb.BatchSearchRequest(namespace=ns, queries=[pb.SearchRequest(query="tea")])
    pages = batch(shared_daemon, request)
    assert [(p.query_index, len(p.hits)) for p in pages] == [(0, 0)]


def _code(d: Daemon, request: pb.BatchSearchRequest) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        batch(d, request)
    return err.value.code(), err.value.details()


def test_bad_queries_fail_by_index_and_count_no_access(shared_daemon: Daemon, ns: str) -> None:
    seed(shared_daemon, ns, n=6)
    good = pb.SearchRequest(query="tea", count_access=True)

    def accesses() -> list[int]:
        reply = shared_daemon.stub.Retrieve(
            pb.RetrieveRequest(namespace=ns, keys=[f"m{i:03}" for i in range(6)], peek=True)
        )
        return [r.memory.access_count for r in reply.results]

    before = accesses()
    bad = [
        (pb.SearchRequest(embedding=vec(1, 0)), "query 1: vector has 2 dimensions"),
        (pb.SearchRequest(query="a", phrase="b"), "query 1: set query or phrase"),
        (pb.SearchRequest(pattern="[oops"), "query 1: the glob has a [ without its ]"),
        (pb.SearchRequest(pattern="(?=x)", pattern_syntax=pb.PATTERN_SYNTAX_REGEX), "query 1"),
        (pb.SearchRequest(mode=pb.SEARCH_MODE_PATTERN), "query 1: pattern mode needs a pattern"),
        (pb.SearchRequest(limit=5000), "query 1: limit 5000 is above 1000"),
        (pb.SearchRequest(namespace="elsewhere", query="x"), "query 1: namespace 'elsewhere'"),
    ]
    for query, message in bad:
        request = pb.BatchSearchRequest(namespace=ns, queries=[good, query])
        code, details = _code(shared_daemon, request)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert details.startswith(message), details
    assert accesses() == before, "a refused batch counts nothing"
    other = pb.BatchSearchRequest(namespace=ns, shared=pb.SearchRequest(namespace="x"))
    assert _code(shared_daemon, other)[0] == grpc.StatusCode.INVALID_ARGUMENT
    many = pb.BatchSearchRequest(namespace=ns, queries=[good] * 257)
    assert _code(shared_daemon, many)[0] == grpc.StatusCode.INVALID_ARGUMENT
    deep = pb.BatchSearchRequest(
        namespace=ns, queries=[pb.SearchRequest(query="t", limit=1000)] * 11
    )
    assert _code(shared_daemon, deep)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert accesses() == before
    # A batch that runs counts each hit of a counting query once per query.
    pages = batch(shared_daemon, pb.BatchSearchRequest(namespace=ns, queries=[good, good]))
    hit = {h.memory.key for p in pages for h in p.hits}
    after = accesses()
    assert all(after[int(k[1:])] == before[int(k[1:])] + 2 for k in hit)


def test_batch_sizes_are_in_the_metrics(start_daemon: StartDaemon, ns: str) -> None:
    d = start_daemon()
    seed(d, ns, n=3)
    batch(d, pb.BatchSearchRequest(namespace=ns, queries=[pb.SearchRequest(query="tea")] * 5))
    m = d.metrics()
    assert sample(m, "memd_batch_items_count", grpc_method="BatchSearch") == 1
    assert sample(m, "memd_batch_items_sum", grpc_method="BatchSearch") == 5
