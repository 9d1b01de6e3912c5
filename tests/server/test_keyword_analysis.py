"""Keyword search's analysis through a real daemon: NFKC, the stemming language
(`--engine-search-language`, applied when the store opens) and fuzzy terms."""

from __future__ import annotations

import grpc
import pytest
from memd_client import Client

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon

NS = "analysis"
TEXTS = {
    "move": "we are moving to Porto next month",
    "cafe": "the cafe\u0301 on the corner reopened",
    "race": "finished the marathon in four hours",
    "other": "the weather was grim all week",
}


def store(d: Daemon) -> None:
    items = [mpb.NewMemory(key=k, text=t) for k, t in TEXTS.items()]
    d.stub.Store(pb.StoreRequest(namespace=NS, memories=items, atomic=True))


def keys(d: Daemon, query: str, **fields: object) -> list[str]:
    req = pb.SearchRequest(namespace=NS, query=query, mode=pb.SEARCH_MODE_KEYWORD, **fields)
    return [h.memory.key for page in d.stub.Search(req) for h in page.hits]


def test_stemming_language_is_applied_at_open(start_daemon: StartDaemon) -> None:
    d = start_daemon("--engine-search-language", "english")
    store(d)
    assert keys(d, "moved") == ["move"]
    assert keys(d, "finishing marathons") == ["race"]
    # NFKC: the precomposed spelling finds the combining-accent one.
    assert keys(d, "caf\u00e9") == ["cafe"]
    d.close()
    # The same store without stemming: the index is rebuilt with exact words.
    d = start_daemon("--engine-search-language", "none")
    assert keys(d, "moved") == []
    assert keys(d, "moving") == ["move"]
    assert keys(d, "caf\u00e9") == ["cafe"]


def test_unknown_language_is_refused(start_daemon: StartDaemon) -> None:
    with pytest.raises(AssertionError):
        start_daemon("--engine-search-language", "klingon")


def test_fuzzy_terms_find_typos_only_when_asked(start_daemon: StartDaemon) -> None:
    d = start_daemon()
    store(d)
    assert keys(d, "maranthon") == []
    assert keys(d, "maranthon", fuzzy=True) == ["race"]
    assert keys(d, "wether", fuzzy=True) == ["other"]
    # A word the index holds is not expanded: "week" does not also match "weak".
    assert keys(d, "week", fuzzy=True) == ["other"]
    with Client(d.address) as client:
        hits = client.search(NS, "maranthon", mode="keyword", fuzzy=True)
        assert [h.memory.key for h in hits] == ["race"]
    with pytest.raises(grpc.RpcError) as err:
        list(
            d.stub.Search(
                pb.SearchRequest(
                    namespace=NS, phrase="the marathon", fuzzy=True, mode=pb.SEARCH_MODE_KEYWORD
                )
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "fuzzy" in (err.value.details() or "")


def test_stop_words_are_dropped_when_asked_and_toggle_at_open(
    start_daemon: StartDaemon,
) -> None:
    d = start_daemon("--engine-search-stop-words", "true")
    store(d)
    # "the" is in three texts; with stop-words it matches nothing, so only "week" counts.
    assert keys(d, "the week") == ["other"]
    # A phrase skips stop-words on both sides: "marathon four" is what is left.
    assert keys(d, "", phrase="the marathon in four") == ["race"]
    assert keys(d, "", phrase="marathon on four") == ["race"]
    with pytest.raises(grpc.RpcError) as err:
        keys(d, "what is the")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no searchable words" in (err.value.details() or "")
    d.close()
    # Reopened without: the snapshot of the other analyzer is refused and the index
    # rebuilt, so "the" is a term again.
    d = start_daemon("--engine-search-stop-words", "false")
    assert sorted(keys(d, "the week")) == ["cafe", "other", "race"]
    assert keys(d, "", phrase="marathon on four") == []


def test_stop_words_without_a_list_for_the_language_are_refused(
    start_daemon: StartDaemon,
) -> None:
    with pytest.raises(AssertionError):
        start_daemon("--engine-search-language", "french", "--engine-search-stop-words", "true")
