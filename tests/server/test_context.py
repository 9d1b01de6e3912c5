"""`NewMemory.context` through a real daemon: stored, searched, embedded, never the text.

A context (the previous turn, a session title) is read back only as `Memory.context`;
its words are keyword-searchable in one bag with the text's; a phrase may occur in
either but not across the two; a server-side embedder embeds "context\\n\\ntext"; a
context over the text limit is INVALID_ARGUMENT and stores nothing; it survives a
restart (the index is rebuilt from the record) and is in the record on disk.
"""

from __future__ import annotations

import math
import struct

import grpc
import pytest
from memd_client import Client, InvalidArgument
from witness import run_in_subprocess

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon
from .embed_facts import needs_local_model

TURN = "yes, the blue one, definitely"
SESSION = "planning the kitchen renovation"


def keyword(d: Daemon, ns: str, query: str = "", phrase: str = "") -> list[str]:
    req = pb.SearchRequest(namespace=ns, query=query, phrase=phrase, mode=pb.SEARCH_MODE_KEYWORD)
    return [h.memory.key for page in d.stub.Search(req) for h in page.hits]


def test_context_is_returned_apart_and_searched_with_the_text(
    start_daemon: StartDaemon, ns: str
) -> None:
    d = start_daemon()
    items = [
        mpb.NewMemory(key="answer", text=TURN, context=SESSION),
        mpb.NewMemory(key="plain", text="the kitchen tiles arrived broken"),
        mpb.NewMemory(key="none", text="we talked about the weather"),
    ]
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=items, atomic=True))
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["answer", "plain"]))
    answer, plain = (r.memory for r in got.results)
    assert (answer.text, answer.context) == (TURN, SESSION)
    assert (plain.text, plain.context) == ("the kitchen tiles arrived broken", "")
    # Context-only words find the memory; the text's words still do.
    assert keyword(d, ns, "renovation") == ["answer"]
    assert keyword(d, ns, "definitely blue") == ["answer"]
    assert set(keyword(d, ns, "kitchen")) == {"answer", "plain"}
    # A phrase in the context matches; one spanning context and text does not.
    assert keyword(d, ns, phrase="kitchen renovation") == ["answer"]
    assert keyword(d, ns, phrase="renovation yes") == []
    # Search hits and List carry it in its own field too.
    req = pb.SearchRequest(namespace=ns, query="renovation", mode=pb.SEARCH_MODE_KEYWORD)
    hit = next(h for page in d.stub.Search(req) for h in page.hits)
    assert (hit.memory.text, hit.memory.context) == (TURN, SESSION)
    with Client(d.address) as c:
        listed = {m.key: m for m in c.list(ns)}
        assert (listed["answer"].text, listed["answer"].context) == (TURN, SESSION)
        assert listed["none"].context == ""
        # The Python client stores one (its hand-made encoding) and reads it back.
        key = c.store(ns, [{"text": "sounds good", "context": "dinner on friday"}]).keys[0]
        m = c.get(ns, [key])[key]
        assert m is not None and (m.text, m.context) == ("sounds good", "dinner on friday")
        assert [h.memory.key for h in c.search(ns, "friday", mode="keyword")] == [key]
    # Exact dedup: the same words in another context are another memory; in the
    # same context they merge into the memory that has them.
    again = [
        mpb.NewMemory(text=TURN, context="choosing a bike"),
        mpb.NewMemory(text=TURN, context=SESSION),
    ]
    reply = d.stub.Store(pb.StoreRequest(namespace=ns, memories=again))
    assert list(reply.merged_into) == ["", "answer"]
    assert reply.keys[0] != "answer" and reply.keys[1] == "answer"
    # Replacing the memory without a context drops the old one from index and record.
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(key="answer", text=TURN)]))
    assert keyword(d, ns, "renovation") == []
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["answer"]))
    assert got.results[0].memory.context == ""


def test_context_over_the_text_limit_is_refused_and_stores_nothing(
    start_daemon: StartDaemon, ns: str
) -> None:
    d = start_daemon("--engine-max-text-bytes", "64")
    big = mpb.NewMemory(key="big", text="short", context="x" * 65)
    with pytest.raises(grpc.RpcError) as err:
        d.stub.Store(pb.StoreRequest(namespace=ns, memories=[big], atomic=True))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "context is 65 bytes" in (err.value.details() or "")
    # Not atomic: the item fails alone, its neighbour is stored.
    ok = mpb.NewMemory(key="ok", text="short", context="x" * 64)
    reply = d.stub.Store(pb.StoreRequest(namespace=ns, memories=[big, ok]))
    assert [e.index for e in reply.errors] == [0] and reply.errors[0].code == 3
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["big", "ok"]))
    assert [r.found for r in got.results] == [False, True]
    with Client(d.address) as c, pytest.raises(InvalidArgument, match="context"):
        c.store(ns, [{"text": "short", "context": "y" * 65}], atomic=True)


def test_context_survives_a_restart_and_is_on_disk(start_daemon: StartDaemon, ns: str) -> None:
    d = start_daemon()
    item = mpb.NewMemory(key="k", text=TURN, context=SESSION, tier=mpb.TIER_ARCHIVE)
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=[item], atomic=True))
    d.close()
    # Reopened: the index is rebuilt from the records (or the snapshot of a clean close).
    d = start_daemon()
    assert keyword(d, ns, "renovation") == ["k"]
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["k"]))
    assert got.results[0].memory.context == SESSION
    d.close()
    # The witness (py-lmdb, in its own process) reads it from the record's tail.
    record = run_in_subprocess(d.data_dir, values="none")["memories"][ns]["k"]
    assert (record["text"], record["context"], record["compressed"]) == (TURN, SESSION, False)


def _cosine(a: bytes, b: bytes) -> float:
    x = struct.unpack(f"<{len(a) // 4}f", a)
    y = struct.unpack(f"<{len(b) // 4}f", b)
    dot = sum(p * q for p, q in zip(x, y, strict=True))
    return dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))


@needs_local_model
def test_server_embeds_the_context_with_the_text(start_daemon: StartDaemon, ns: str) -> None:
    d = start_daemon(
        "--embed-backend", "local", "--embed-local-model", "minilm", "--embed-context", "true"
    )
    items = [
        mpb.NewMemory(key="with", text=TURN, context=SESSION),
        mpb.NewMemory(key="joined", text=f"{SESSION}\n\n{TURN}"),
        mpb.NewMemory(key="alone", text=TURN),
    ]
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=items, atomic=True))
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["with", "joined", "alone"]))
    with_ctx, joined, alone = (r.memory.embedding for r in got.results)
    assert len(with_ctx) == 4 * 384
    assert _cosine(with_ctx, joined) > 0.9999
    assert _cosine(with_ctx, alone) < 0.99
    # So a question about the session finds the turn whose own words never say it.
    req = pb.SearchRequest(
        namespace=ns, query="home improvement plans", mode=pb.SEARCH_MODE_SEMANTIC, limit=3
    )
    ranked = [h.memory.key for page in d.stub.Search(req) for h in page.hits]
    assert ranked.index("with") < ranked.index("alone")


@needs_local_model
def test_by_default_the_server_embeds_the_text_alone(start_daemon: StartDaemon, ns: str) -> None:
    d = start_daemon("--embed-backend", "local", "--embed-local-model", "minilm")
    items = [
        mpb.NewMemory(key="with", text=TURN, context=SESSION),
        mpb.NewMemory(key="alone", text=TURN, context="another talk"),
    ]
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=items, atomic=True))
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["with", "alone"]))
    with_ctx, alone = (r.memory.embedding for r in got.results)
    assert len(with_ctx) == 4 * 384 and _cosine(with_ctx, alone) > 0.9999
    # The context is still keyword-searchable.
    assert keyword(d, ns, "renovation") == ["with"]
