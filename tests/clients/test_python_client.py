"""Conformance scenarios of the Python client (clients/python) against a real daemon.

The scenarios run twice, against a daemon in the clear without auth (the sidecar
default) and against one with mutual TLS and ``--auth required``, the client holding a
token for the suite's namespaces (``client:*``). ``test_access_control`` checks what a
token opens and what it does not, over TLS and in the clear (loopback).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from daemon_launcher import Daemon, sample
from memd_client import (
    NO_RETRY,
    AsyncClient,
    CapacityExceeded,
    Client,
    DeadlineExceeded,
    Hit,
    InvalidArgument,
    MemdError,
    NewMemory,
    PermissionDenied,
    RetryPolicy,
    Tier,
    TLSConfig,
    Unauthenticated,
    Unavailable,
)
from memd_client._errors import ERROR_OF, from_rpc_error

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
N_BULK = 10_000
FLAGS = ("--engine-durability", "nosync", "--tiers-short-term-capacity", "0")
# The suite's token opens its namespaces; "a" opens acl-a/* only.
TOKENS = {
    "suite": "client:*=read,write,delete",
    "a": "acl-a/*=read,write,delete",
    "readme": "team:alpha/*=write",
}


def start(tmp_path_factory: pytest.TempPathFactory, **security: Any) -> Daemon:
    """A daemon on 127.0.0.1:0 and a Unix socket, with ``Daemon``'s auth/tls options."""
    sock = tmp_path_factory.mktemp("sock") / "memd.sock"
    listen = ("--listen", "127.0.0.1:0", "--listen", f"unix://{sock}")
    return Daemon(tmp_path_factory.mktemp("client") / "data", *listen, *FLAGS, **security)


@pytest.fixture(scope="module")
def plain_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start(tmp_path_factory)
    yield d
    d.close()


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start(tmp_path_factory, tls=True, tokens=TOKENS)
    yield d
    d.close()


@pytest.fixture(scope="module")
def auth_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """Auth without TLS: tokens in the clear, to a loopback address only."""
    d = start(tmp_path_factory, tokens=TOKENS)
    yield d
    d.close()


@pytest.fixture(scope="module", params=["plain", "tls"])
def daemon(request: pytest.FixtureRequest) -> Daemon:
    """The daemon of each run of the conformance scenarios."""
    d: Daemon = request.getfixturevalue(f"{request.param}_daemon")
    return d


def security(d: Daemon, token: str | None = "suite", unix: bool = False) -> dict[str, Any]:
    """``Client`` arguments for ``d``: its TLS client certificate and a token, if it has auth.

    The daemon serves TLS on TCP only: its Unix socket is guarded by file permissions,
    so a token goes over it in the clear.
    """
    kwargs: dict[str, Any] = {}
    if d.tls_files is not None and not unix:
        f = d.tls_files
        kwargs["tls"] = TLSConfig(f.ca_cert, client_cert=f.client_cert, client_key=f.client_key)
    if d.admin_token and token is not None:
        kwargs["token"] = d.tokens.get(token, token)
    return kwargs


@pytest.fixture
def ns() -> str:
    return f"client:{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address, timeout=10, **security(daemon)) as c:
        yield c


def notes(n: int, prefix: str = "note", pad: int = 0) -> Iterator[dict[str, object]]:
    for i in range(n):
        yield {"key": f"{prefix}:{i:05d}", "text": f"{prefix} number {i} about tea" + " x" * pad}


def search_cancellations(daemon: Daemon) -> float:
    return sample(
        daemon.metrics(), "grpc_server_handled_total", grpc_method="Search", grpc_code="CANCELLED"
    )


def assert_best_first(hits: list[Hit], n: int) -> None:
    # Equal scores may come in any order, so compare scores and distinct keys, not keys.
    scores = [h.score for h in hits]
    assert len({h.memory.key for h in hits}) == n and scores == sorted(scores, reverse=True)


# --- sync ---------------------------------------------------------------------------------


def test_round_trip_store_get_search_list_delete(client: Client, ns: str) -> None:
    ack = client.store(
        ns,
        [
            NewMemory(
                key="tea",
                text="the user likes green tea",
                embedding=[1.0, 0.0, 0.5],
                tags=["preference"],
                metadata={"type": "fact"},
                importance=0.9,
                tier=Tier.LONG_TERM,
            ),
            {"key": "coffee", "text": "the user hates coffee", "embedding": [0.0, 1.0, 0.0]},
            {"text": "a memory with a server-made key"},
        ],
    )
    assert ack.ok and ack.keys[:2] == ["tea", "coffee"] and len(ack.keys[2]) == 26
    assert ack.versions == [1, 1, 1] and ack.tiers[0] is Tier.LONG_TERM

    got = client.get(ns, ["tea", "coffee"], peek=True)
    tea = got["tea"]
    assert tea is not None and tea.text == "the user likes green tea"
    assert tea.embedding == [1.0, 0.0, 0.5] and tea.tags == ["preference"]
    assert tea.metadata == {"type": "fact"} and tea.importance == pytest.approx(0.9)
    assert tea.tier is Tier.LONG_TERM and tea.namespace == ns and tea.version == 1

    hits = list(client.search(ns, "tea"))
    assert hits[0].memory.key == "tea" and hits[0].score > 0
    [semantic] = client.search(ns, embedding=[0.0, 1.0, 0.0], limit=1, explain=True)
    assert semantic.memory.key == "coffee" and semantic.explain is not None
    assert semantic.explain["cosine"] == pytest.approx(1.0)
    filtered = list(client.search(ns, "user", tags_all=["preference"], mode="keyword"))
    assert [h.memory.key for h in filtered] == ["tea"]
    # Hits carry their vector only when asked; it is unpacked when first read.
    assert (semantic.memory.embedding_bytes, semantic.memory.embedding) == (b"", [])
    [full] = client.search(ns, embedding=[0.0, 1.0, 0.0], limit=1, include_embedding=True)
    assert full.memory.embedding == [0.0, 1.0, 0.0]
    assert full.memory.embedding is full.memory.embedding  # decoded once
    assert full.memory == got["coffee"] and "_floats" not in repr(full.memory)

    listed = list(client.list(ns, page_size=2))
    assert sorted(m.key for m in listed) == sorted(ack.keys)
    assert [m.key for m in client.list(ns, tier=Tier.LONG_TERM)] == ["tea"]

    stats = client.stats(ns).namespaces[ns]
    assert stats.count == 3 and stats.dimension == 3

    assert client.delete(ns, ["tea", "coffee", "never-stored"]) == 2
    assert client.get(ns, ["tea", "coffee"]) == {"tea": None, "coffee": None}
    assert [m.key for m in client.list(ns)] == [ack.keys[2]]


def test_bulk_store_of_10000_in_batches(client: Client, ns: str) -> None:
    result = client.bulk_store(ns, notes(N_BULK), batch_size=1000)
    assert (result.batches, result.stored, result.errors) == (10, N_BULK, [])
    assert result.keys[0] == "note:00000" and result.keys[-1] == f"note:{N_BULK - 1:05d}"
    assert client.stats(ns).namespaces[ns].count == N_BULK
    assert sum(1 for _ in client.list(ns, page_size=1000)) == N_BULK
    last = client.get(ns, [f"note:{N_BULK - 1:05d}"], peek=True)[f"note:{N_BULK - 1:05d}"]
    assert last is not None and last.text.endswith("about tea")


def test_bulk_store_reports_item_errors_with_stream_wide_indexes(client: Client, ns: str) -> None:
    items: list[dict[str, object]] = list(notes(5))
    items[3]["embedding"] = [float("nan")]
    result = client.bulk_store(ns, items, batch_size=2)
    assert result.batches == 3 and result.stored == 4
    assert [(e.index, e.code) for e in result.errors] == [
        (3, grpc.StatusCode.INVALID_ARGUMENT.value[0])
    ]
    with pytest.raises(InvalidArgument, match="item 3"):
        raise result.errors[0].exception()


def test_a_missing_key_is_none_not_an_error(client: Client, ns: str) -> None:
    client.store(ns, [{"key": "here", "text": "x"}])
    assert client.get(ns, ["absent", "here"], peek=True)["absent"] is None
    assert client.get(ns, ["absent"]) == {"absent": None}
    assert client.delete(ns, ["absent"]) == 0
    assert ns not in client.stats(f"{ns}-unknown").namespaces


def test_store_reports_dedup_merges(client: Client, ns: str) -> None:
    first = client.store(ns, [{"key": "tea", "text": "likes green tea"}])
    again = client.store(ns, [{"key": "tea-2", "text": "likes green tea"}, {"text": "new"}])
    assert first.merged_into == [""]
    assert again.keys[0] == "tea" and again.merged_into == ["tea", ""]
    assert again.versions[0] == 2 and again.similar_to == ["", ""]
    assert client.get(ns, ["tea-2"], peek=True) == {"tea-2": None}


def test_invalid_requests_raise_the_mapped_exception(
    daemon: Daemon, client: Client, ns: str
) -> None:
    with pytest.raises(InvalidArgument, match="item 1"):
        client.store(ns, [{"text": "ok"}, {"text": "bad", "importance": 2.0}], atomic=True)
    assert list(client.list(ns)) == []
    with pytest.raises(InvalidArgument):
        client.store("", [{"text": "no namespace"}])
    with pytest.raises(InvalidArgument, match="query or phrase"):
        list(client.search(ns, "a", phrase="b"))
    with pytest.raises(InvalidArgument):
        list(client.search(ns, "tea", limit=5000))
    too_many = [{"key": str(i)} for i in range(10_001)]
    with pytest.raises(CapacityExceeded):
        client.delete(ns, [k["key"] for k in too_many])
    # Per-item errors (atomic=False) store the valid items and raise only on request.
    ack = client.store(ns, [{"key": "good", "text": "ok"}, {"key": "bad", "importance": -1.0}])
    assert ack.keys[0] == "good" and [e.index for e in ack.errors] == [1]
    with pytest.raises(InvalidArgument):
        ack.raise_for_errors()


def test_search_stream_consumed_fully_and_cancelled_midway(
    client: Client, daemon: Daemon, ns: str
) -> None:
    # 2 KB texts: 1000 hits (2 MB) outgrow the HTTP/2 windows, so the server is still
    # sending when the client cancels, and must see the cancellation. The windows of a
    # channel that already moved megabytes (the bulk tests) can grow past 2 MB (BDP
    # probing), so the cancelled search gets a channel of its own that keeps them small.
    client.bulk_store(ns, notes(1000, pad=1000))
    everything = list(client.search(ns, "tea", limit=1000))
    assert len(everything) == 1000  # 10 pages of 100
    scores = [h.score for h in everything]
    assert scores == sorted(scores, reverse=True)

    cancelled_before = search_cancellations(daemon)
    narrow = [("grpc.http2.bdp_probe", 0)]
    with (
        Client(daemon.address, options=narrow, **security(daemon)) as fresh,
        fresh.search(ns, "tea", limit=1000) as stream,
    ):
        first = [next(stream) for _ in range(150)]  # into the second page
        stream.cancel()
        assert list(stream) == [] and stream.cancelled
    deadline = time.monotonic() + 5
    while search_cancellations(daemon) == cancelled_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert search_cancellations(daemon) == cancelled_before + 1
    assert_best_first(first, 150)
    # Breaking out of a loop and leaving the block cancels too; the channel stays usable.
    with client.search(ns, "tea", limit=1000) as stream:
        for i, _ in enumerate(stream):
            if i == 10:
                break
    assert len(list(client.search(ns, "tea", limit=5))) == 5


def test_unix_socket_target(daemon: Daemon, ns: str) -> None:
    unix = next(a for a in daemon.grpc_addresses if a.startswith("unix:"))
    with Client(unix, **security(daemon, unix=True)) as c:
        assert c.store(ns, [{"key": "k", "text": "over a socket"}]).ok
        assert c.get(ns, ["k"])["k"] is not None


def test_deadline_and_retries_on_unavailable(tmp_path: Path, client: Client, ns: str) -> None:
    client.bulk_store(ns, notes(1000))
    with pytest.raises(DeadlineExceeded):
        list(client.search(ns, "tea", limit=1000, timeout=1e-6))
    # Nothing listens on a removed socket: UNAVAILABLE, retried with backoff, then raised.
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.1, jitter=0)
    assert list(policy.backoffs()) == [0.05, 0.1]
    target = f"unix://{tmp_path / 'nobody.sock'}"
    with Client(target, retry=policy, timeout=2) as dead:
        with pytest.raises(Unavailable) as info:
            dead.stats()
    assert isinstance(info.value.__cause__, grpc.RpcError)
    with Client(target, retry=NO_RETRY, timeout=2) as dead, pytest.raises(Unavailable):
        list(dead.search(ns, "tea"))


def _stats(target: str, policy: RetryPolicy) -> Any:
    with Client(target, retry=policy, timeout=5) as c:
        return c.stats().namespaces


def _search(target: str, policy: RetryPolicy) -> Any:
    with Client(target, retry=policy, timeout=5) as c:
        return list(c.search("late", "tea"))


def _search_async(target: str, policy: RetryPolicy) -> Any:
    async def run() -> list[Any]:
        async with AsyncClient(target, retry=policy, timeout=5) as c:
            return [hit async for hit in c.search("late", "tea")]

    return asyncio.run(run())


@pytest.mark.parametrize("call", [_stats, _search, _search_async], ids=["unary", "search", "async"])
def test_a_call_retried_on_unavailable_succeeds_once_the_server_is_up(
    tmp_path: Path, call: Callable[[str, RetryPolicy], Any]
) -> None:
    """Unary calls, and searches that fail before their first page, are retried."""
    sock = tmp_path / "late.sock"
    started: list[Daemon] = []

    def start_late() -> None:
        time.sleep(0.3)
        flags = ("--listen", "127.0.0.1:0", "--listen", f"unix://{sock}")
        started.append(Daemon(tmp_path / "data", *flags, "--engine-durability", "nosync"))

    policy = RetryPolicy(max_attempts=20, initial_backoff_s=0.1, max_backoff_s=0.5, jitter=0)
    starter = threading.Thread(target=start_late)
    try:
        t0 = time.monotonic()
        starter.start()
        assert not call(f"unix://{sock}", policy)  # UNAVAILABLE until the daemon bound
        assert time.monotonic() - t0 > 0.3
    finally:
        starter.join()
        for d in started:
            d.close()


def test_every_mapped_exception_is_a_memd_error() -> None:
    assert all(issubclass(cls, MemdError) for cls in ERROR_OF.values())

    class Fake(grpc.RpcError):  # type: ignore[misc]
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAUTHENTICATED

        def details(self) -> str:
            return "who are you"

    err = from_rpc_error(Fake())
    assert isinstance(err, Unauthenticated) and str(err) == "who are you"


# --- access control -------------------------------------------------------------------------


def outcomes(calls: dict[str, Any]) -> dict[str, str]:
    """Call each; name -> "ok" or the name of the MemdError it raised."""
    out: dict[str, str] = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = "ok"
        except MemdError as exc:
            out[name] = type(exc).__name__
    return out


@pytest.mark.parametrize("secured", ["tls_daemon", "auth_daemon"])
def test_access_control(request: pytest.FixtureRequest, secured: str) -> None:
    """A token for acl-a/* is PERMISSION_DENIED on acl-b; no or a bogus token UNAUTHENTICATED."""
    d: Daemon = request.getfixturevalue(secured)
    a, b = f"acl-a/{uuid.uuid4().hex[:8]}", f"acl-b/{uuid.uuid4().hex[:8]}"
    with Client(d.address, timeout=10, **security(d, "a")) as c:
        assert c.store(a, [{"key": "k", "text": "tea for a"}]).ok
        assert c.get(a, ["k"])["k"] is not None
        assert [h.memory.key for h in c.search(a, "tea")] == ["k"]
        denied: dict[str, Any] = {
            "Store": lambda: c.store(b, [{"key": "k", "text": "tea for b"}]),
            "Retrieve": lambda: c.get(b, ["k"]),
            "Search": lambda: list(c.search(b, "tea")),
            "List": lambda: list(c.list(b)),
            "Delete": lambda: c.delete(b, ["k"]),
            "Stats": lambda: c.stats(b),
            "StoreStream": lambda: c.bulk_store(b, [{"text": "x"}]),
        }
        assert outcomes(denied) == dict.fromkeys(denied, "PermissionDenied")
        visible = c.stats().namespaces
        assert a in visible and all(n.startswith("acl-a/") for n in visible)
    for bad in (None, "memd_" + "x" * 43):
        with Client(d.address, timeout=10, **security(d, bad)) as anon:
            refused = {
                "Store": lambda: anon.store(a, [{"text": "x"}]),
                "Retrieve": lambda: anon.get(a, ["k"]),
                "Search": lambda: list(anon.search(a, "tea")),
            }
            assert outcomes(refused) == dict.fromkeys(refused, "Unauthenticated"), bad

    async def scenario() -> None:
        async with AsyncClient(d.address, timeout=10, **security(d, "a")) as ac:
            assert (await ac.get(a, ["k"]))["k"] is not None
            with pytest.raises(PermissionDenied):
                await ac.store(b, [{"text": "x"}])
            with pytest.raises(PermissionDenied):
                [h async for h in ac.search(b, "tea")]
        async with AsyncClient(d.address, timeout=10, **security(d, None)) as anon:
            with pytest.raises(Unauthenticated):
                await anon.get(a, ["k"])

    asyncio.run(scenario())


def test_readme_example_runs(plain_daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    daemon = plain_daemon
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 6  # the import, a blank line, five lines
    exec(compile(example.replace("127.0.0.1:50051", daemon.address), "README", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the user likes green tea" and "tea" in out[1]
    exec(compile(blocks[1].replace("127.0.0.1:50051", daemon.address), "README-async", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all("note" in line for line in out)


def test_readme_tls_example_runs(tls_daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    [example] = [b for b in blocks if "TLSConfig" in b]
    f = tls_daemon.tls_files
    assert f is not None
    swaps = {
        "memd.internal:50051": tls_daemon.tcp,
        "ca.pem": str(f.ca_cert),
        "agent.pem": str(f.client_cert),
        "agent.key": str(f.client_key),
    }
    for old, new in swaps.items():
        assert example.count(f'"{old}"') == 1, old
        example = example.replace(f'"{old}"', repr(new))
    monkeypatch.setenv("MEMD_TOKEN", tls_daemon.tokens["readme"])
    exec(compile(example, "README-tls", "exec"), {})
    with Client(tls_daemon.tcp, **security(tls_daemon, tls_daemon.admin_token)) as admin:
        assert admin.stats("team:alpha/notes").namespaces["team:alpha/notes"].count == 1


# --- asyncio ------------------------------------------------------------------------------


def test_async_client_runs_the_same_scenarios(daemon: Daemon, ns: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(daemon.address, timeout=10, **security(daemon)) as c:
            ack = await c.store(ns, [{"key": "tea", "text": "green tea", "embedding": [1, 0]}])
            assert ack.ok and ack.keys == ["tea"]
            got = await c.get(ns, ["tea", "missing"], peek=True)
            assert got["tea"] is not None and got["tea"].embedding == [1.0, 0.0]
            assert got["missing"] is None
            assert [h.memory.key async for h in c.search(ns, "tea")] == ["tea"]
            assert [m.key async for m in c.list(ns)] == ["tea"]
            assert (await c.stats(ns)).namespaces[ns].count == 1
            assert await c.delete(ns, ["tea"]) == 1
            assert await c.get(ns, ["tea"]) == {"tea": None}

            async def source() -> AsyncIterator[dict[str, object]]:
                for item in notes(N_BULK, "bulk"):
                    yield item

            bulk = await c.bulk_store(ns, source(), batch_size=1000)
            assert (bulk.batches, bulk.stored) == (10, N_BULK)
            assert sum([1 async for _ in c.list(ns, page_size=1000)]) == N_BULK

            everything = [h async for h in c.search(ns, "bulk", limit=1000)]
            assert len(everything) == 1000
            async with c.search(ns, "bulk", limit=1000) as stream:
                first = [await anext(stream) for _ in range(150)]
                stream.cancel()
                assert [h async for h in stream] == [] and stream.cancelled
            assert_best_first(first, 150)

            with pytest.raises(InvalidArgument, match="item 0"):
                await c.store(ns, [{"text": "x", "importance": 7.0}], atomic=True)
            with pytest.raises(InvalidArgument):
                [h async for h in c.search(ns, "a", phrase="b")]
            with pytest.raises(DeadlineExceeded):
                [h async for h in c.search(ns, "bulk", limit=1000, timeout=1e-6)]

    asyncio.run(scenario())
