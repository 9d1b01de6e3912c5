"""Pattern search through a real daemon: globs, regular expressions, case folding, the
pattern with filters and with a query, and patterns refused with INVALID_ARGUMENT."""

from __future__ import annotations

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

TEXTS = {
    "order-1": "Order #1042 shipped to Paris on 2024-03-01",
    "order-2": "Order #1043 delayed in Lyon",
    "note": "the user prefers green tea",
    "Tea": "TEA ceremony in Kyoto, 2023-11-20",
    "multi": "first line\nsecond line mentions tea",
}
REGEX = pb.PATTERN_SYNTAX_REGEX


def seed(d: Daemon, ns: str) -> None:
    items = [
        mpb.NewMemory(key=k, text=t, tags=["order" if k.startswith("order") else "other"])
        for k, t in TEXTS.items()
    ]
    assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=items)).errors


def keys(d: Daemon, ns: str, **fields: object) -> set[str]:
    request = pb.SearchRequest(namespace=ns, limit=100, **fields)  # type: ignore[arg-type]
    return {h.memory.key for page in d.stub.Search(request) for h in page.hits}


def test_globs_and_regexes(shared_daemon: Daemon, ns: str) -> None:
    d = shared_daemon
    seed(d, ns)
    assert keys(d, ns, pattern="Order #10?? *") == {"order-1", "order-2"}
    assert keys(d, ns, pattern="*tea") == {"note", "multi"}, "a glob matches the whole text"
    assert keys(d, ns, pattern="*tea", pattern_ignore_case=True) == {"note", "multi"}
    assert keys(d, ns, pattern="*tea*", pattern_ignore_case=True) == {"note", "multi", "Tea"}
    assert keys(d, ns, pattern="first*tea") == {"multi"}, "* crosses newlines"
    assert keys(d, ns, pattern="*[!0-9]") == {"order-2", "note", "multi"}
    assert keys(d, ns, pattern=r"\d{4}-\d{2}-\d{2}", pattern_syntax=REGEX) == {"order-1", "Tea"}
    assert keys(d, ns, pattern="^tea", pattern_syntax=REGEX, pattern_ignore_case=True) == {"Tea"}
    assert keys(d, ns, pattern="(?m)^second", pattern_syntax=REGEX) == {"multi"}


def test_patterns_rank_and_combine_like_other_searches(shared_daemon: Daemon, ns: str) -> None:
    d = shared_daemon
    seed(d, ns)
    pages = list(
        d.stub.Search(
            pb.SearchRequest(namespace=ns, pattern="*", mode=pb.SEARCH_MODE_PATTERN, explain=True)
        )
    )
    hits = [h for p in pages for h in p.hits]
    assert len(hits) == len(TEXTS)
    assert all(h.explain.relevance == 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert keys(d, ns, pattern="*", tags_all=["order"]) == {"order-1", "order-2"}
    # With a query the pattern filters the keyword hits; pattern mode ignores the query.
    assert keys(d, ns, query="tea", pattern="*green*") == {"note"}
    assert keys(d, ns, query="tea", pattern="*#*", mode=pb.SEARCH_MODE_PATTERN) == {
        "order-1",
        "order-2",
    }
    assert keys(d, ns, pattern="*nothing like this*") == set()


def test_a_backtracking_trap_is_answered_at_once(shared_daemon: Daemon, ns: str) -> None:
    d = shared_daemon
    text = "a" * 200_000 + "!"
    assert not d.stub.Store(
        pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(key="trap", text=text)])
    ).errors
    # Exponential in a backtracking engine, linear here (the pytest timeout guards it).
    assert keys(d, ns, pattern="(a+)+$", pattern_syntax=REGEX) == set()
    assert keys(d, ns, pattern="(a|aa)+!", pattern_syntax=REGEX) == {"trap"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pattern": "[abc"}, "the glob has a [ without its ]"),
        ({"pattern": "abc\\"}, "the glob ends with \\"),
        ({"pattern": "(?<=a)b", "pattern_syntax": REGEX}, "invalid pattern"),
        ({"pattern": "(a", "pattern_syntax": REGEX}, "invalid pattern"),
        ({"pattern": "x" * 1025}, "the pattern is 1025 bytes; the limit is 1024"),
        ({"pattern": "(?:\\w{500}){500}", "pattern_syntax": REGEX}, "the pattern compiles to"),
        ({"pattern": "*", "pattern_syntax": 7}, "pattern_syntax 7"),
        ({"mode": pb.SEARCH_MODE_PATTERN}, "pattern mode needs a pattern"),
        ({"phrase": "tea", "pattern": "*"}, "set a phrase or a pattern, not both"),
    ],
)
def test_bad_patterns_are_invalid(
    shared_daemon: Daemon, ns: str, fields: dict[str, object], message: str
) -> None:
    seed(shared_daemon, ns)
    with pytest.raises(grpc.RpcError) as err:
        keys(shared_daemon, ns, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details(), err.value.details()
