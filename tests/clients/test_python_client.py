"""Conformance scenarios of the Python client (clients/python) against a real daemon."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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
    RetryPolicy,
    Tier,
    Unavailable,
)
from memd_client._errors import ERROR_OF, from_rpc_error

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
N_BULK = 10_000


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    sock = tmp_path_factory.mktemp("sock") / "memd.sock"
    d = Daemon(
        tmp_path_factory.mktemp("client") / "data",
        "--listen",
        "127.0.0.1:0",
        "--listen",
        f"unix://{sock}",
        "--engine-durability",
        "nosync",
        "--tiers-short-term-capacity",
        "0",
    )
    yield d
    d.close()


@pytest.fixture
def ns() -> str:
    return f"client:{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address, timeout=10) as c:
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


def test_invalid_requests_raise_the_mapped_exception(client: Client, ns: str) -> None:
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
    ack = client.store(ns, [{"key": "good"}, {"key": "bad", "importance": -1.0}])
    assert ack.keys[0] == "good" and [e.index for e in ack.errors] == [1]
    with pytest.raises(InvalidArgument):
        ack.raise_for_errors()


def test_search_stream_consumed_fully_and_cancelled_midway(
    client: Client, daemon: Daemon, ns: str
) -> None:
    # 2 KB texts: 1000 hits (2 MB) outgrow the HTTP/2 windows, so the server is still
    # sending when the client cancels, and must see the cancellation.
    client.bulk_store(ns, notes(1000, pad=1000))
    everything = list(client.search(ns, "tea", limit=1000))
    assert len(everything) == 1000  # 10 pages of 100
    scores = [h.score for h in everything]
    assert scores == sorted(scores, reverse=True)

    cancelled_before = search_cancellations(daemon)
    with client.search(ns, "tea", limit=1000) as stream:
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
    with Client(unix) as c:
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


def test_a_call_retried_on_unavailable_succeeds_once_the_server_is_up(tmp_path: Path) -> None:
    sock = tmp_path / "late.sock"
    started: list[Daemon] = []

    def start_late() -> None:
        time.sleep(0.3)
        flags = ("--listen", "127.0.0.1:0", "--listen", f"unix://{sock}")
        started.append(Daemon(tmp_path / "data", *flags, "--engine-durability", "nosync"))

    policy = RetryPolicy(max_attempts=20, initial_backoff_s=0.1, max_backoff_s=0.5, jitter=0)
    starter = threading.Thread(target=start_late)
    try:
        with Client(f"unix://{sock}", retry=policy, timeout=5) as c:
            t0 = time.monotonic()
            starter.start()
            assert c.stats().namespaces == {}  # failed with UNAVAILABLE until the daemon bound
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
    assert isinstance(err, MemdError) and str(err) == "who are you"


def test_readme_example_runs(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 6  # the import, a blank line, five lines
    exec(compile(example.replace("127.0.0.1:50051", daemon.address), "README", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the user likes green tea" and "tea" in out[1]
    exec(compile(blocks[1].replace("127.0.0.1:50051", daemon.address), "README-async", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and all("note" in line for line in out)


# --- asyncio ------------------------------------------------------------------------------


def test_async_client_runs_the_same_scenarios(daemon: Daemon, ns: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(daemon.address, timeout=10) as c:
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
