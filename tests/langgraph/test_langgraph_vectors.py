"""Semantic search (an index with an embedding function) against InMemoryStore's.

InMemoryStore ranks by exact cosine over every candidate; memd ranks in the daemon and
``MemdStore`` falls back to reading a namespace whole when memd's page cannot prove
it holds the best matches (post-filtered hits, cosines clamped at 0). The scenarios
here drive both paths and must agree with InMemoryStore on keys, order and scores.
"""

from __future__ import annotations

from typing import Any

from daemon_launcher import Daemon, sample
from langgraph.store.base import BaseStore
from lg_common import INDEX, MakeStore
from lg_parity import agree

DOCS: list[tuple[str, dict[str, Any], Any]] = [
    ("d0", {"text": "green tea with milk", "kind": "drink", "n": 0}, None),
    ("d1", {"text": "black coffee no sugar", "kind": "drink", "n": 1}, None),
    ("d2", {"text": "the cat sleeps on the mat", "kind": "pet", "n": 2}, None),
    ("d3", {"text": "a dog barks at the mailman", "kind": "pet", "n": 3}, None),
    ("d4", {"text": "green tea ceremony in kyoto", "kind": "event", "n": 4}, None),
    ("d5", {"title": "no text field", "kind": "drink", "n": 5}, None),
    ("d6", {"text": "tea tea tea", "kind": "drink", "n": 6}, False),
    ("d7", {"title": "iced tea recipe", "text": "no", "kind": "drink", "n": 7}, ["title"]),
]


def lists(results: list[Any]) -> list[Any]:
    return [(h[2], h[4]) for h in results]


def test_semantic_search_ranks_and_scores_like_in_memory_store(make_memd: MakeStore) -> None:
    def scenario(store: BaseStore) -> list[Any]:
        for key, value, index in DOCS:
            store.put(("v",), key, value, index=index)
        store.put(("w",), "e0", {"text": "tea for two", "kind": "drink", "n": 8})
        seen = [
            store.search(("v",), query="green tea"),
            store.search(("v",), query="green tea", limit=3),
            store.search(("v",), query="green tea", limit=3, offset=3),
            store.search(("v",), query="tea", filter={"kind": "drink"}),
            store.search(("v",), query="dog barks", filter={"n": {"$gte": 2}}),
            store.search(("v",), query="iced tea"),
            store.search(("v",), query=""),
            store.search((), query="tea", limit=4),
        ]
        store.put(("v",), "d2", {"text": "green tea again", "kind": "pet", "n": 2})
        seen.append(store.search(("v",), query="green tea", limit=2))
        return seen

    seen = agree(scenario, make_memd(index=INDEX), INDEX)
    full, top3, next3, drinks, dog, iced, unranked, everywhere, updated = seen
    assert {k for k, _ in lists(full)[:2]} == {"d0", "d4"}  # a tie
    assert lists(full)[-2:] == [("d5", None), ("d6", None)]  # unembedded items fill the page
    assert lists(top3) == lists(full)[:3] and lists(next3)[:3] == lists(full)[3:6]
    assert [k for k, _ in lists(drinks)] == ["d0", "d7", "d1", "d5", "d6"]
    assert lists(dog)[0][0] == "d3" and {k for k, _ in lists(dog)} == {f"d{i}" for i in range(2, 8)}
    assert lists(iced)[0][0] == "d7"  # indexed by its title, not its text
    assert [k for k, s in lists(unranked)] == [k for k, _, _ in DOCS]
    assert all(s is None for _, s in lists(unranked))
    assert {(h[1], h[2]) for h in everywhere[:2]} == {(("v",), "d0"), (("w",), "e0")}
    assert {k for k, _ in lists(updated)} == {"d0", "d2"}


def many(i: int) -> dict[str, Any]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]
    other = ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white", "grey"]
    return {"text": f"note {i} {words[i % 7]} {other[i % 9]}", "kind": "k", "n": i}


def test_exact_when_memd_page_cannot_prove_the_order(make_memd: MakeStore, daemon: Daemon) -> None:
    """A residual filter that drops most of a full page, and ranks reaching negative
    cosines (clamped to 0 by memd): the store rereads the namespace and ranks exactly."""

    def scenario(store: BaseStore) -> list[Any]:
        store.batch([])  # an empty batch is fine, and makes no call
        for i in range(150):
            store.put(("many",), f"m{i:03d}", many(i))
        return [
            store.search(("many",), query="alpha red", filter={"n": {"$gte": 140}}, limit=5),
            store.search(("many",), query="alpha red", filter={"kind": "k"}, limit=140),
            store.search(("many",), query="gamma", limit=20, offset=130),
        ]

    before = sample(daemon.metrics(), "grpc_server_handled_total", grpc_method="List")
    filtered, deep, tail = agree(scenario, make_memd(index=INDEX), INDEX)
    rereads = sample(daemon.metrics(), "grpc_server_handled_total", grpc_method="List") - before
    assert rereads >= 3  # each of the three searches had to read the namespace
    assert [h[3]["n"] >= 140 for h in filtered] == [True] * 5
    assert len(deep) == 140 and min(h[4] for h in deep) < 0  # negative cosines, in order
    assert [h[4] for h in deep] == sorted((h[4] for h in deep), reverse=True)
    assert len(tail) == 20


def test_items_with_more_fields_than_memd_metadata_still_match(make_memd: MakeStore) -> None:
    wide = {f"f{i:02d}": i % 3 for i in range(70)} | {"text": "a wide item"}

    def scenario(store: BaseStore) -> list[Any]:
        store.put(("wide",), "a", {"text": "a narrow item", "f65": 2})
        store.put(("wide",), "b", wide)
        return [
            store.search(("wide",), query="item", filter={"f65": 2}),
            store.search(("wide",), query="item", filter={"f69": 0, "f00": 0}),
            store.search(("wide",), filter={"f65": 2}),
        ]

    ranked, both_fields, listed = agree(scenario, make_memd(index=INDEX), INDEX)
    assert sorted(h[2] for h in ranked) == ["a", "b"]
    assert [h[2] for h in both_fields] == ["b"]
    assert [h[2] for h in listed] == ["a", "b"]
