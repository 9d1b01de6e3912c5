"""The Python client's batch_search, pattern search, transfer and clear against a real
daemon, sync and asyncio, in the clear and over mutual TLS with a token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_launcher import Daemon
from memd_client import (
    AlreadyExists,
    AsyncClient,
    Client,
    Hit,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Tier,
    TransferResult,
)

from .test_python_client import TOKENS, security, start


@pytest.fixture(scope="module", params=["plain", "tls"])
def daemon(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daemon]:
    d = (
        start(tmp_path_factory)
        if request.param == "plain"
        else start(tmp_path_factory, tls=True, tokens=TOKENS)
    )
    yield d
    d.close()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address, timeout=10, **security(daemon)) as c:
        yield c


@pytest.fixture
def ns() -> str:
    return f"client:{uuid.uuid4().hex[:12]}"


def keys(hits: list[Hit]) -> list[str]:
    return [h.memory.key for h in hits]


MEMORIES = [
    {"key": "tea", "text": "the user likes green tea", "embedding": [1.0, 0.0], "tags": ["pref"]},
    {"key": "coffee", "text": "the user drinks coffee at nine", "embedding": [0.0, 1.0]},
    {
        "key": "order",
        "text": "Order #1042 shipped to Paris",
        "embedding": [1.0, 1.0],
        "tags": ["pref"],
    },
    {"key": "trip", "text": "a trip to Tokyo in May", "tier": Tier.ARCHIVE},
]


def test_batch_search_answers_each_query_as_a_search_would(client: Client, ns: str) -> None:
    client.store(ns, MEMORIES)
    queries: list[Any] = [
        "user",
        {"embedding": [0.2, 1.0]},
        {"pattern": "*#10??*"},
        {"pattern": r"\bto (Paris|Tokyo)\b", "pattern_syntax": "regex", "mode": "pattern"},
        {"query": "user", "tags_any": ["pref"]},
        # No stored word, nor one with the same English stem ("like" is "likes").
        "nothing-resembling-these",
    ]
    got = client.batch_search(ns, queries, shared={"limit": 2, "tiers": [Tier.SHORT_TERM]})
    assert len(got) == len(queries)
    for i, q in enumerate(queries):
        fields = {"query": q} if isinstance(q, str) else dict(q)
        fields = {"tiers": [Tier.SHORT_TERM], **fields}
        assert keys(got[i]) == keys(list(client.search(ns, limit=2, **fields))), i
    assert keys(got[2]) == ["order"]
    assert keys(got[3]) == ["order"], "the shared tier filter keeps the archived trip out"
    assert got[5] == []
    assert client.batch_search(ns, []) == []
    with pytest.raises(InvalidArgument, match=r"^query 1: .*without its \]"):
        client.batch_search(ns, ["tea", {"pattern": "[oops"}])


def test_transfer_and_clear(client: Client, daemon: Daemon, ns: str) -> None:
    dst = ns + "/to"
    client.store(ns, MEMORIES)
    client.store(dst, [{"key": "coffee", "text": "theirs", "embedding": [1.0, 0.0, 0.0]}])
    with pytest.raises(AlreadyExists, match='"coffee"'):
        client.transfer(ns, dst, ["coffee"])
    with pytest.raises(InvalidArgument, match="dimension"):
        client.transfer(ns, dst, ["tea"])
    done = client.transfer(
        ns,
        dst,
        whole_namespace=True,
        move=True,
        on_conflict="overwrite",
        on_dimension_mismatch="drop_embedding",
    )
    assert done == TransferResult(
        transferred=4,
        overwritten=1,
        dropped_embeddings=3,
        skipped_existing=0,
        skipped_dimension=0,
        missing=0,
        demoted_by_capacity=0,
    )
    moved = client.get(dst, ["coffee", "trip"])
    assert moved["coffee"] is not None and moved["coffee"].text == "the user drinks coffee at nine"
    assert moved["trip"] is not None and moved["trip"].tier == Tier.ARCHIVE
    assert client.get(ns, ["tea"]) == {"tea": None}
    with pytest.raises(ValueError, match="on_conflict"):
        client.transfer(ns, dst, ["tea"], on_conflict="maybe")  # type: ignore[arg-type]
    if daemon.admin_token:
        with pytest.raises(PermissionDenied):
            client.transfer(dst, "acl-a/x", ["tea"])
    assert client.clear(dst, Tier.ARCHIVE) == 1
    assert client.clear(dst) == 3
    with pytest.raises(NotFound):
        client.clear(ns + "/none")


def test_async_client_batch_search_transfer_clear(daemon: Daemon, ns: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(daemon.address, timeout=10, **security(daemon)) as c:
            await c.store(ns, MEMORIES)
            got = await c.batch_search(ns, ["tea", {"pattern": "*Paris"}], shared={"limit": 3})
            assert [keys(g) for g in got] == [["tea"], ["order"]]
            with pytest.raises(InvalidArgument, match=r"^query 0: "):
                await c.batch_search(ns, [{"embedding": [1.0, 0.0, 0.0]}])
            done = await c.transfer(ns, ns + "/copy", ["tea", "nope"])
            assert (done.transferred, done.missing) == (1, 1)
            assert await c.clear(ns + "/copy") == 1
            with pytest.raises(NotFound):
                await c.clear(ns + "/none")

    asyncio.run(scenario())
