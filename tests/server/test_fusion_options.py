"""Hybrid fusion's request options through a real daemon and the Python client:
the keyword share, the cosine rescaling and RRF's rank cut (SearchRequest 60-62).

Three memories with 2-d vectors against the query vector (1, 0) and the word
"zebra", cosines in a narrow band as e5's are: `near` is the nearest (0.95) without
the word, `word` has the word (0.85), `far` neither (0.80). With cosines taken as
they are and a keyword share of 0.2, the word's keyword relevance (about 0.95)
outweighs the cosines' 0.1 difference; rescaled min-max over the candidates, `near`
is 1 and `word` 0.33, so `near` leads unless the keyword share is raised.
"""

from __future__ import annotations

import math

import grpc
import pytest
from memd_client import Client, InvalidArgument

from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

NS = "fusion"


def unit(cos: float) -> list[float]:
    return [cos, math.sqrt(1 - cos * cos)]


MEMORIES = {
    "near": ("an alpha report", unit(0.95)),
    "word": ("a zebra report", unit(0.85)),
    "far": ("nothing related", unit(0.80)),
}


@pytest.fixture(scope="module")
def daemon(shared_daemon: Daemon) -> Daemon:
    d = shared_daemon
    with Client(d.address) as c:
        c.store(NS, [{"key": k, "text": t, "embedding": v} for k, (t, v) in MEMORIES.items()])
    return d


def keys(d: Daemon, **options: object) -> list[str]:
    with Client(d.address) as c:
        hits = c.search(
            NS, "zebra", embedding=[1.0, 0.0], mode="hybrid", weights={"relevance": 1}, **options
        )
        return [h.memory.key for h in hits]


def test_keyword_share_and_cosine_rescaling_change_the_order(daemon: Daemon) -> None:
    assert keys(daemon, cosine_scale="none", keyword_weight=0.2)[0] == "word"
    assert keys(daemon, cosine_scale="minmax", keyword_weight=0.2)[0] == "near"
    assert keys(daemon, cosine_scale="zscore", keyword_weight=0.2)[0] == "near"
    assert keys(daemon, cosine_scale="minmax", keyword_weight=0.9)[0] == "word"
    # The request's defaults are the server's (docs/search.md#recall: min-max).
    assert keys(daemon) == keys(daemon, cosine_scale="minmax")


def test_explain_reports_the_raw_cosine(daemon: Daemon) -> None:
    with Client(daemon.address) as c:
        hits = c.search(
            NS, "zebra", embedding=[1.0, 0.0], mode="hybrid", explain=True, cosine_scale="minmax"
        )
        cos = {h.memory.key: h.explain["cosine"] for h in hits if h.explain}
    assert cos["near"] == pytest.approx(0.95, abs=1e-4)
    assert cos["word"] == pytest.approx(0.85, abs=1e-4)


def test_rrf_depth_cuts_each_list(daemon: Daemon) -> None:
    # Depth 1: the keyword list's best (word) and the vector list's (near) only.
    assert sorted(keys(daemon, fusion="rrf", rrf_depth=1)) == ["near", "word"]
    assert sorted(keys(daemon, fusion="rrf")) == ["far", "near", "word"]


@pytest.mark.parametrize(
    "fields",
    [
        {"keyword_weight": 1.5},
        {"keyword_weight": -0.1},
        {"keyword_weight": math.nan},
        {"rrf_depth": 10_001},
    ],
)
def test_bad_fusion_options_are_invalid_argument(daemon: Daemon, fields: dict[str, object]) -> None:
    with Client(daemon.address) as c:
        with pytest.raises(InvalidArgument):
            list(c.search(NS, "zebra", embedding=[1.0, 0.0], mode="hybrid", **fields))  # type: ignore[arg-type]
        # The client refuses an unknown rescaling before sending anything...
        with pytest.raises(ValueError):
            list(c.search(NS, "zebra", cosine_scale="cubic"))  # type: ignore[arg-type]
    # ...and the server an unknown enum number.
    with pytest.raises(grpc.RpcError) as err:
        list(daemon.stub.Search(pb.SearchRequest(namespace=NS, query="zebra", cosine_scale=9)))  # type: ignore[arg-type]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_options_do_not_change_keyword_or_semantic_rankings(daemon: Daemon) -> None:
    with Client(daemon.address) as c:
        for scale in ("none", "minmax", "zscore"):
            hits = c.search(NS, embedding=[1.0, 0.0], mode="semantic", cosine_scale=scale)
            assert [h.memory.key for h in hits] == ["near", "word", "far"]
            hits = c.search(NS, "zebra report", mode="keyword", cosine_scale=scale)
            assert [h.memory.key for h in hits] == ["word", "near"]
