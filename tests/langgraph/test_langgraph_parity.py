"""The same scenarios against LangGraph's InMemoryStore and memd's stores must agree.

Each test runs its scenario on a fresh ``InMemoryStore`` and on a ``MemdStore`` (or an
``AsyncMemdStore`` driven from another thread: ``make_memd``'s two params) over a real
daemon, compares what both observed (``lg_parity.agree``), and also checks the
observation itself, so two stores wrong in the same way still fail. Scenarios stay
inside what LangGraph defines: they insert in namespace and key order (search without
a query has no defined order; memd returns key order, InMemoryStore insertion order),
and avoid InMemoryStore's quirks listed in docs/langgraph.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from daemon_launcher import Daemon
from langgraph.store.base import BaseStore, GetOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore
from lg_common import INDEX, MakeStore
from lg_parity import agree, view
from memd_client.langgraph import MemdStore

VALUES: dict[str, dict[str, Any]] = {
    "k1": {"text": "plain", "n": 1, "f": 2.5, "big": 2**60, "yes": True, "none": None},
    "k2": {"nested": {"a": [1, {"b": "c"}], "d": {}}, "list": [1, "two", 3.0, None]},
    "k3": {"unicode": "café ☕ 東京 \u0000 nul", "quote": 'he said "hi"\n', "empty": ""},
    "k4": {},
}


def test_put_get_overwrite_delete(make_memd: MakeStore) -> None:
    def scenario(store: BaseStore) -> list[Any]:
        seen: list[Any] = []
        for key, value in VALUES.items():
            store.put(("users", "42"), key, value)
        seen += [store.get(("users", "42"), key) for key in [*VALUES, "missing"]]
        seen.append(store.get(("users", "43"), "k1"))
        store.put(("users", "42"), "k1", {"text": "replaced"})
        seen.append(store.get(("users", "42"), "k1"))
        store.delete(("users", "42"), "k2")
        store.delete(("users", "42"), "never-there")
        seen += [store.get(("users", "42"), key) for key in VALUES]
        return seen

    seen = agree(scenario, make_memd())
    assert seen[0] == ("item", ("users", "42"), "k1", VALUES["k1"])
    assert seen[4:6] == [None, None]
    assert seen[6] == ("item", ("users", "42"), "k1", {"text": "replaced"})
    assert seen[8] is None and seen[9][3] == VALUES["k3"]


def test_batch_reads_see_the_store_before_its_writes(make_memd: MakeStore) -> None:
    ns = ("batch",)

    def scenario(store: BaseStore) -> list[Any]:
        first = store.batch([PutOp(ns, "a", {"v": 1}), GetOp(ns, "a"), PutOp(ns, "a", {"v": 2})])
        after = store.get(ns, "a")
        second = store.batch(
            [GetOp(ns, "a"), PutOp(ns, "a", None), SearchOp(ns), PutOp(ns, "b", {"v": 3})]
        )
        return [first, after, second, store.search(ns)]

    first, after, second, final = agree(scenario, make_memd())
    assert first == [None, None, None]
    assert after == ("item", ns, "a", {"v": 2})  # the last put of a key wins
    assert second[0] == after and second[2] == [("hit", ns, "a", {"v": 2}, None)]
    assert final == [("hit", ns, "b", {"v": 3}, None)]


FILTERS: list[dict[str, Any]] = [
    {"color": "red"},
    {"color": {"$eq": "red"}},
    {"color": {"$ne": "red"}},
    {"score": {"$gt": 3}},
    {"score": {"$gte": 3, "$lt": 4.5}},
    {"score": {"$lte": "3.5"}},  # InMemoryStore compares with float(): "3.5" is 3.5
    {"n": 1},  # 1 == 1.0 == True in Python, so all three match
    {"n": True},
    {"n": "1"},
    {"meta": {"lang": "en"}},
    {"meta": {"lang": "en", "v": 2}},
    {"tags": ["a", "b"]},
    {"missing": None},
    {"color": "red", "score": {"$lte": 4}},
    {"long": "x" * 2000},
    {"color": "purple"},
    {},
]


def test_filters_match_like_in_memory_store(make_memd: MakeStore) -> None:
    docs = [
        {"color": "red", "score": 4.5, "n": 1, "meta": {"lang": "en", "v": 2}, "tags": ["a", "b"]},
        {"color": "red", "score": 3.0, "n": 1.0, "meta": {"lang": "fr"}, "long": "x" * 2000},
        {"color": "blue", "score": 3.5, "n": True, "tags": ["b", "a"], "missing": None},
        {"color": "green", "score": 2, "n": "1", "meta": "en", "missing": 0},
    ]

    def scenario(store: BaseStore) -> list[Any]:
        for i, doc in enumerate(docs):
            store.put(("f",), f"d{i}", doc)
        return [[r.key for r in store.search(("f",), filter=f, limit=100)] for f in FILTERS]

    keys = agree(scenario, make_memd())
    assert keys == [
        ["d0", "d1"],
        ["d0", "d1"],
        ["d2", "d3"],
        ["d0", "d2"],
        ["d1", "d2"],
        ["d1", "d2", "d3"],
        ["d0", "d1", "d2"],
        ["d0", "d1", "d2"],
        ["d3"],
        ["d0"],
        ["d0"],
        ["d0"],
        ["d0", "d1", "d2"],
        ["d1"],
        ["d1"],
        [],
        ["d0", "d1", "d2", "d3"],
    ]


NAMESPACES = [("docs", "a"), ("docs", "b"), ("docs", "b", "c"), ("other",)]


def test_search_pages_over_a_namespace_prefix(make_memd: MakeStore) -> None:
    def scenario(store: BaseStore) -> list[Any]:
        for ns in NAMESPACES:
            for i in range(3):
                store.put(ns, f"k{i}", {"ns": "/".join(ns), "i": i})
        pages = [store.search(("docs",), limit=4, offset=o) for o in range(0, 10, 4)]
        return [
            *pages,
            store.search(("docs", "b")),
            store.search(("docs", "b"), filter={"i": 2}),
            store.search((), limit=100, offset=10),
            store.search(("nothing",)),
            store.search(("docs",), limit=0),
        ]

    p1, p2, p3, b, b2, tail, none, zero = agree(scenario, make_memd())
    assert [(h[1], h[2]) for h in p1 + p2 + p3] == [
        (ns, f"k{i}") for ns in NAMESPACES[:3] for i in range(3)
    ]
    assert len(p1) == len(p2) == 4 and len(p3) == 1
    assert [h[1] for h in b] == [("docs", "b")] * 3 + [("docs", "b", "c")] * 3
    assert [(h[1], h[2]) for h in b2] == [(("docs", "b"), "k2"), (("docs", "b", "c"), "k2")]
    assert [(h[1], h[2]) for h in tail] == [(("other",), "k1"), (("other",), "k2")]
    assert none == [] and zero == []


def test_labels_with_the_separator_stay_apart(make_memd: MakeStore) -> None:
    spaces = [("100%",), ("a", "b"), ("a%2Fb",), ("a/b",)]

    def scenario(store: BaseStore) -> list[Any]:
        for ns in spaces:
            store.put(ns, "k", {"ns": list(ns)})
        return [
            [store.get(ns, "k") for ns in spaces],
            store.list_namespaces(),
            store.search(("a",)),
            store.search(("a/b",)),
        ]

    items, listed, under_a, slash = agree(scenario, make_memd())
    assert [i[3] for i in items] == [{"ns": list(ns)} for ns in spaces]
    assert listed == spaces
    assert [h[1] for h in under_a] == [("a", "b")] and [h[1] for h in slash] == [("a/b",)]


def test_list_namespaces_prefix_suffix_depth_paging(make_memd: MakeStore) -> None:
    spaces = [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("admin", "users", "789"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
    ]
    queries: list[dict[str, Any]] = [
        {},
        {"prefix": ("a", "b")},
        {"suffix": ("f",)},
        {"prefix": ("a",), "suffix": ("f",)},
        {"prefix": ("a", "*", "f")},
        {"suffix": ("*", "f")},
        {"prefix": ("*", "users"), "suffix": ("*", "settings")},
        {"prefix": ("a", "b"), "max_depth": 3},
        {"max_depth": 1},
        {"max_depth": 2, "limit": 3, "offset": 1},
        {"prefix": ("a", "b"), "limit": 2},
        {"prefix": ("a", "b"), "offset": 2},
        {"prefix": ("users", "123")},
        {"prefix": ("nonexistent",)},
    ]

    def scenario(store: BaseStore) -> list[Any]:
        for i, ns in enumerate(spaces):
            store.put(ns, f"id_{i}", {"i": i})
        return [store.list_namespaces(**q) for q in queries]

    listed = agree(scenario, make_memd())
    assert listed[0] == spaces
    assert listed[4] == [("a", "b", "f"), ("a", "c", "f")]
    assert listed[7] == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
    assert listed[9] == [("a", "c"), ("admin", "users"), ("b", "a")]
    assert listed[6] == [] and listed[13] == []


def test_async_api_of_the_blocking_store_agrees(daemon: Daemon, root: str) -> None:
    """``MemdStore.abatch`` (RPCs in threads) against InMemoryStore's async API."""

    async def scenario(store: BaseStore) -> list[Any]:
        await store.aput(("x", "y"), "k", {"text": "tea with milk", "n": 1})
        await store.aput(("x", "z"), "k", {"text": "coffee", "n": 2})
        seen: list[Any] = [await store.aget(("x", "y"), "k")]
        seen.append(await store.asearch(("x",), query="tea", filter={"n": {"$lt": 5}}))
        seen.append(await store.alist_namespaces(prefix=("x",)))
        await store.adelete(("x", "y"), "k")
        seen.append(await store.asearch(("x",)))
        return seen

    with MemdStore(daemon.address, index=INDEX, root=root) as memd:
        observed = view(asyncio.run(scenario(memd)))
    assert observed == view(asyncio.run(scenario(InMemoryStore(index=INDEX))))  # type: ignore[arg-type]
    assert [h[2] for h in observed[1]] == ["k", "k"] and observed[1][0][1] == ("x", "y")
    assert observed[2] == [("x", "y"), ("x", "z")] and len(observed[3]) == 1
