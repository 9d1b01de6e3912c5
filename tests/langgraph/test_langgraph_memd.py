"""What MemdStore does on memd's side, and what InMemoryStore has no counterpart for.

The namespace mapping, memories as memd stores them, bad input, timestamps, TTL,
access counting, memd's own search modes, and a daemon with tokens and
near-duplicate dedup. Everything runs against real daemons.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_launcher import Daemon
from hypothesis import given
from hypothesis import strategies as st
from langgraph.store.base import InvalidNamespaceError, PutOp, SearchOp
from lg_common import FLAGS, INDEX
from memd_client import Client, FailedPrecondition, PermissionDenied
from memd_client.langgraph import MemdStore, NamespaceCodec

labels = st.text(
    st.characters(blacklist_characters="\x00.", blacklist_categories=["Cs"]), min_size=1, max_size=8
)


@given(st.lists(labels, min_size=1, max_size=4), st.lists(labels, min_size=1, max_size=4))
def test_namespace_mapping_is_reversible_and_injective(a: list[str], b: list[str]) -> None:
    codec = NamespaceCodec("root/x")
    name = codec.encode(a)
    assert name.startswith("root/x/") and codec.decode(name) == tuple(a)
    assert (codec.encode(b) == name) == (a == b)


def test_memd_holds_the_item_as_documented(daemon: Daemon, client: Client, root: str) -> None:
    with MemdStore(daemon.address, index=INDEX, root=root) as store:
        value = {"text": "likes tea", "color": "red", "n": 2, "long": "x" * 200, "no": None}
        store.put(("users", "a/b%"), "prefs", value)
        store.put(("users", "a/b%"), "bare", {"text": "unindexed"}, index=False)
    name = f"{root}/users/a%2Fb%25"
    assert client.stats(name).namespaces[name].count == 2
    got = client.get(name, ["prefs", "bare"], peek=True)
    prefs, bare = got["prefs"], got["bare"]
    assert prefs is not None and bare is not None
    assert prefs.value == json.dumps(value, separators=(",", ":")).encode()
    assert prefs.text.startswith("likes tea\n") and len(prefs.embedding) == INDEX["dims"]
    assert prefs.metadata == {"$.text": "s:likes tea", "$.color": "s:red", "$.n": "n:2.0"}
    assert prefs.ttl_ms == 0 and prefs.expires_at_ms == 0
    assert bare.text == "" and bare.embedding == []


def test_identical_texts_stay_two_items(daemon: Daemon, client: Client, root: str) -> None:
    """memd's exact dedup is on in this daemon; the key marker keeps the texts apart."""
    with MemdStore(daemon.address, root=root, search_mode="keyword") as store:
        store.put(("d",), "a", {"text": "same"})
        store.put(("d",), "b", {"text": "same"})
        assert [i.key for i in store.search(("d",))] == ["a", "b"]
        hits = store.search(("d",), query="same")
        assert sorted(h.key for h in hits) == ["a", "b"] and hits[0].score == hits[1].score
    memories = client.get(f"{root}/d", ["a", "b"], peek=True)
    assert all(m is not None and m.version == 1 for m in memories.values())


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (PutOp(("x",), "", {"v": 1}), ValueError),
        (PutOp(("x",), "nul\x00", {"v": 1}), ValueError),
        (PutOp(("x",), "k" * 257, {"v": 1}), ValueError),
        (PutOp(("x",), "k", {"v": object()}), TypeError),
        (PutOp(("x",), "k", {"v": 1}, ttl=-1), ValueError),
        (PutOp(("x" * 200,), "k", {"v": 1}), InvalidNamespaceError),
        (PutOp(("x.y",), "k", {"v": 1}), InvalidNamespaceError),
        (PutOp(("\ud800",), "k", {"v": 1}), InvalidNamespaceError),
        (PutOp(("x",), "\ud800", {"v": 1}), ValueError),
        (PutOp(("x",), "k", {"v": "\ud800"}), TypeError),
        (SearchOp(("x",), filter={"v": {"$regex": "a"}}), ValueError),
        (SearchOp(("x",), limit=-1), ValueError),
    ],
)
def test_bad_input_raises_and_changes_nothing(
    daemon: Daemon, client: Client, root: str, op: Any, error: type[Exception]
) -> None:
    with MemdStore(daemon.address, root=root) as store:
        with pytest.raises(error):
            store.batch([PutOp(("x",), "good", {"v": 0}), op])
        assert store.get(("x",), "good") is None
    assert not [n for n in client.stats().namespaces if n.startswith(root)]


def test_wrong_embedding_size_raises_and_stores_nothing(daemon: Daemon, root: str) -> None:
    index = {**INDEX, "dims": INDEX["dims"] + 1}
    with MemdStore(daemon.address, index=index, root=root) as store:
        with pytest.raises(ValueError, match="dimensions"):
            store.put(("x",), "k", {"text": "hello"})
        assert store.get(("x",), "k") is None
        store.put(("x",), "plain", {"text": "hello"}, index=False)
        with pytest.raises(ValueError, match="dimensions"):
            store.search(("x",), query="hello")


def test_reads_of_what_memd_cannot_name_find_nothing(daemon: Daemon, root: str) -> None:
    with MemdStore(daemon.address, root=root) as store:
        assert store.get(("x" * 200,), "k") is None
        assert store.get(("x",), "") is None
        assert store.search(("x" * 200,)) == []


def test_created_at_is_kept_and_updated_at_moves(daemon: Daemon, client: Client, root: str) -> None:
    with MemdStore(daemon.address, root=root) as store:
        store.put(("t",), "k", {"v": 1})
        first = store.get(("t",), "k")
        time.sleep(0.01)
        store.put(("t",), "k", {"v": 2})
        second = store.get(("t",), "k")
    assert first is not None and second is not None
    assert second.created_at == first.created_at < second.updated_at
    memory = client.get(f"{root}/t", ["k"], peek=True)["k"]
    assert memory is not None
    assert second.updated_at.timestamp() * 1000 == pytest.approx(memory.updated_ms, abs=0.01)
    assert second.created_at.tzinfo is not None


def test_ttl_maps_to_memd_ttl(daemon: Daemon, client: Client, root: str) -> None:
    with MemdStore(daemon.address, root=root, ttl={"default_ttl": 60.0}) as store:
        store.put(("t",), "short", {"v": 1}, ttl=0.005)  # minutes: 300 ms
        store.put(("t",), "default", {"v": 2})
        store.put(("t",), "forever", {"v": 3}, ttl=None)
        got = client.get(f"{root}/t", ["short", "default", "forever"], peek=True)
        assert {k: m.ttl_ms for k, m in got.items() if m} == {
            "short": 300,
            "default": 3_600_000,
            "forever": 0,
        }
        time.sleep(0.5)
        assert store.get(("t",), "short") is None
        assert [i.key for i in store.search(("t",))] == ["default", "forever"]


def test_refresh_ttl_decides_whether_reads_count(daemon: Daemon, client: Client, root: str) -> None:
    def accesses() -> int:
        memory = client.get(f"{root}/a", ["k"], peek=True)["k"]
        assert memory is not None
        return memory.access_count

    with MemdStore(daemon.address, root=root) as store:
        store.put(("a",), "k", {"v": 1})
        before = accesses()
        store.get(("a",), "k", refresh_ttl=False)
        assert accesses() == before
        store.get(("a",), "k")
        assert accesses() == before + 1


def test_keyword_and_hybrid_modes(daemon: Daemon, root: str) -> None:
    docs = {"a": "green tea with milk", "b": "black coffee", "c": "tea ceremony"}
    with MemdStore(daemon.address, root=root, search_mode="keyword") as store:
        for key, text in docs.items():
            store.put(("k",), key, {"text": text})
        hits = store.search(("k",), query="tea")
        assert sorted(h.key for h in hits) == ["a", "c"] and all(h.score for h in hits)
        assert store.search(("k",), query="tea", filter={"text": "tea ceremony"})[0].key == "c"
        assert [h.key for h in store.search(("k",), query="?!")] == ["a", "b", "c"]  # no words
    with MemdStore(daemon.address, root=root) as plain:
        # Without an index, semantic mode ignores the query, as LangGraph does.
        assert [h.key for h in plain.search(("k",), query="tea")] == ["a", "b", "c"]
    with MemdStore(daemon.address, root=root, index=INDEX, search_mode="hybrid") as hybrid:
        hybrid.put(("h",), "a", {"text": "green tea with milk"})
        hybrid.put(("h",), "b", {"text": "black coffee"})
        assert hybrid.search(("h",), query="green tea")[0].key == "a"
    with pytest.raises(ValueError, match="hybrid"):
        MemdStore(daemon.address, search_mode="hybrid")


def test_emptied_namespaces_are_not_listed(daemon: Daemon, root: str) -> None:
    with MemdStore(daemon.address, root=root) as store:
        store.put(("keep",), "k", {"v": 1})
        store.put(("gone",), "k", {"v": 1})
        store.delete(("gone",), "k")
        assert store.list_namespaces() == [("keep",)]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon with tokens and near-duplicate dedup in merge mode."""
    d = Daemon(
        tmp_path_factory.mktemp("guarded") / "data",
        *FLAGS,
        "--dedup-near-threshold",
        "0.99",
        tokens={"agent": "langgraph/*=read,write,delete", "other": "elsewhere/*=read,write"},
    )
    yield d
    d.close()


def test_a_token_for_the_root_opens_every_langgraph_namespace(guarded: Daemon) -> None:
    with MemdStore(guarded.address, token=guarded.tokens["agent"]) as store:
        store.put(("users", "1"), "k", {"v": 1})
        assert store.list_namespaces() == [("users", "1")]
        assert [i.key for i in store.search(("users",))] == ["k"]
    with MemdStore(guarded.address, token=guarded.tokens["other"]) as outsider:
        assert outsider.list_namespaces() == []  # it cannot see them
        with pytest.raises(PermissionDenied):
            outsider.get(("users", "1"), "k")


def test_near_duplicate_merge_is_an_error_not_a_lost_item(guarded: Daemon) -> None:
    token = guarded.tokens["agent"]
    with MemdStore(guarded.address, index=INDEX, token=token) as store:
        store.put(("dup",), "a", {"text": "green tea", "n": 1})
        with pytest.raises(FailedPrecondition, match="near-duplicate"):
            store.put(("dup",), "b", {"text": "green tea", "n": 2})
        assert store.get(("dup",), "a") is not None
