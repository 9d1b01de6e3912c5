"""Issue 10's bad-input list: each input a new user tried gets a precise client error.

One test (or parametrized group) per item, against a real daemon, asserting the exact
status code, what the message names, and that nothing changed. Two items live with
the code they exercise:

- Backup paths (NUL byte, over-long component, a component under a regular file, a
  dangling symlink): ``test_backup.py::test_refused_path_is_invalid_argument_and_writes_nothing``;
- a full disk (ENOSPC): ``test_disk_full.py`` (it needs a small filesystem).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from memd_client import Client, InvalidArgument

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon
from .state import QUIET, snapshot

Code = grpc.StatusCode
SERVICE = pb.DESCRIPTOR.services_by_name["MemoryService"]
LIMIT = 64 * 1024  # the daemons' --max-message-bytes here


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(
        tmp_path_factory.mktemp("bad-input") / "data", *QUIET, "--max-message-bytes", "64KiB"
    )
    seed(d, "seed")
    yield d
    d.close()


def seed(d: Daemon, ns: str) -> None:
    memories = [
        mpb.NewMemory(key="a", text="apples are red", embedding=b"\x00\x00\x80\x3f" * 2),
        mpb.NewMemory(key="b", text="bananas are yellow", tags=["fruit"]),
    ]
    d.stub.Store(pb.StoreRequest(namespace=ns, memories=memories))


def rejected(d: Daemon, method: str, request: Any, raw: bool = False) -> grpc.RpcError:
    """Call ``method`` (``request`` as bytes when ``raw``) and return the error it must raise."""
    path = f"/{SERVICE.full_name}/{method}"
    m = SERVICE.methods_by_name[method]
    codec: dict[str, Any] = (
        {}
        if raw
        else {
            "request_serializer": lambda msg: msg.SerializeToString(),
            "response_deserializer": None,
        }
    )
    with pytest.raises(grpc.RpcError) as info:
        if m.client_streaming:
            list(d.channel.stream_stream(path, **codec)(iter([request])))
        elif m.server_streaming:
            list(d.channel.unary_stream(path, **codec)(request))
        else:
            d.channel.unary_unary(path, **codec)(request)
    return info.value


def assert_rejected(
    d: Daemon,
    method: str,
    request: Any,
    code: grpc.StatusCode,
    *names: str,
    raw: bool = False,
    listed: tuple[str, ...] = ("seed",),
) -> str:
    """The call fails with ``code``, its message names each of ``names``, nothing changed.

    ``listed``: the namespaces whose memories the before/after snapshots hold.
    """
    before = snapshot(d, listed)
    error = rejected(d, method, request, raw)
    details = error.details() or ""
    assert error.code() == code, details
    for name in names:
        assert name in details, details
    assert "Traceback" not in details and "Exception" not in details
    assert snapshot(d, listed) == before
    return details


# --- malformed request bytes ----------------------------------------------------------


def malformed(method: str) -> list[bytes]:
    """Bytes that are no valid message of ``method``'s request type."""
    out = [b"\xff", b"\x0a\x05ab", b"\x08"]  # a bad tag; a cut-short string; a lone tag
    first = SERVICE.methods_by_name[method].input_type.fields_by_number.get(1)
    if first is not None and first.type == first.TYPE_STRING:
        out.append(b"\x0a\x02\xc3\x28")  # field 1 a string, and not UTF-8
    return out


@pytest.mark.parametrize(
    ("method", "payload"),
    [(m.name, p) for m in SERVICE.methods for p in malformed(m.name)],
    ids=lambda v: v if isinstance(v, str) else v.hex(),
)
def test_malformed_bytes_are_invalid_argument(daemon: Daemon, method: str, payload: bytes) -> None:
    assert_rejected(daemon, method, payload, Code.INVALID_ARGUMENT, raw=True)


# --- uint64 fields the engine read as signed --------------------------------------------

TIME_FIELDS = [
    "created_after_ms",
    "created_before_ms",
    "accessed_after_ms",
    "accessed_before_ms",
    "recency_half_life_ms",
]


@pytest.mark.parametrize("value", [2**63, 2**64 - 1], ids=["2^63", "2^64-1"])
@pytest.mark.parametrize("field", TIME_FIELDS)
def test_search_time_at_or_above_2_63_is_invalid_argument(
    daemon: Daemon, field: str, value: int
) -> None:
    request = pb.SearchRequest(namespace="seed", query="apples", **{field: value})
    assert_rejected(daemon, "Search", request, Code.INVALID_ARGUMENT, field)


# --- Stats of an invalid namespace; score weights outside [0, 1] -------------------------


def test_stats_of_an_invalid_namespace_is_invalid_argument(daemon: Daemon) -> None:
    assert_rejected(
        daemon, "Stats", pb.StatsRequest(namespace="n" * 5000), Code.INVALID_ARGUMENT, "namespace"
    )


@pytest.mark.parametrize("value", [1.5, -0.1, math.nan, math.inf], ids=str)
@pytest.mark.parametrize("weight", ["relevance", "recency", "frequency", "importance"])
def test_score_weight_outside_0_1_is_invalid_argument(
    daemon: Daemon, weight: str, value: float
) -> None:
    weights = pb.ScoreWeights(**{weight: value})
    request = pb.SearchRequest(namespace="seed", query="apples", weights=weights)
    assert_rejected(daemon, "Search", request, Code.INVALID_ARGUMENT, weight)


# --- a memory with no text, no value and no embedding -------------------------------------

EMPTY = mpb.NewMemory(key="hollow", tags=["t"], metadata={"k": "v"}, importance=0.5)


def test_empty_memory_fails_an_atomic_batch(daemon: Daemon) -> None:
    request = pb.StoreRequest(namespace="seed", atomic=True, memories=[EMPTY])
    assert_rejected(daemon, "Store", request, Code.INVALID_ARGUMENT, "item 0", "text")


def test_empty_memory_is_a_per_item_error_of_a_non_atomic_batch(daemon: Daemon) -> None:
    ok = mpb.NewMemory(key="full", text="has text")
    ack = daemon.stub.Store(pb.StoreRequest(namespace="other", memories=[EMPTY, ok]))
    assert [(e.index, e.code) for e in ack.errors] == [(0, Code.INVALID_ARGUMENT.value[0])]
    got = daemon.stub.Retrieve(pb.RetrieveRequest(namespace="other", keys=["hollow", "full"]))
    assert [r.found for r in got.results] == [False, True]


# --- replies larger than the message limit -----------------------------------------------

BIG = 20_000  # bytes of value per memory: three fill a 64 KiB reply


@pytest.fixture
def big(start_daemon: StartDaemon) -> Daemon:
    """A daemon with a 64 KiB message limit and 8 memories of 20 KB in "seed"."""
    d = start_daemon(*QUIET, "--max-message-bytes", "64KiB")
    for i in range(8):
        memory = mpb.NewMemory(key=f"big{i}", text=f"big note {i}", value=bytes([i]) * BIG)
        d.stub.Store(pb.StoreRequest(namespace="seed", memories=[memory]))
    return d


def test_list_pages_are_bounded_by_bytes(big: Daemon) -> None:
    keys, token, pages = [], "", 0
    while True:
        page = big.stub.List(pb.ListRequest(namespace="seed", page_size=8, page_token=token))
        assert 0 < page.ByteSize() <= LIMIT
        keys += [m.key for m in page.memories]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert keys == [f"big{i}" for i in range(8)] and pages >= 3


def test_search_pages_are_bounded_by_bytes(big: Daemon) -> None:
    pages = list(big.stub.Search(pb.SearchRequest(namespace="seed", query="note", limit=8)))
    assert all(0 < p.ByteSize() <= LIMIT for p in pages) and len(pages) >= 3
    assert sorted(h.memory.key for p in pages for h in p.hits) == [f"big{i}" for i in range(8)]


def test_retrieve_larger_than_a_message_fails_before_counting_accesses(big: Daemon) -> None:
    keys = [f"big{i}" for i in range(8)]
    details = assert_rejected(
        big, "Retrieve", pb.RetrieveRequest(namespace="seed", keys=keys), Code.RESOURCE_EXHAUSTED
    )
    assert str(LIMIT) in details or "64" in details, details


@pytest.fixture
def shrunk(start_daemon: StartDaemon) -> Daemon:
    """A daemon whose limit (32 KiB) is below a 50 KB memory stored under a larger one.

    Its memories cannot be listed, so the tests check access counts by reopening the
    store with a larger limit (``accesses``).
    """
    first = start_daemon(*QUIET, "--max-message-bytes", "64KiB")
    huge = mpb.NewMemory(key="huge", text="huge note", value=b"h" * 50_000)
    first.stub.Store(pb.StoreRequest(namespace="seed", memories=[huge]))
    first.stop()
    return start_daemon(*QUIET, "--max-message-bytes", "32KiB")  # the same store


def accesses(shrunk: Daemon, start_daemon: StartDaemon) -> int:
    """Stop ``shrunk``; the access count of its big memory, read with a larger limit."""
    shrunk.stop()
    d = start_daemon(*QUIET, "--max-message-bytes", "64KiB")
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace="seed", keys=["huge"], peek=True))
    return got.results[0].memory.access_count


def test_a_memory_larger_than_the_limit_is_resource_exhausted_everywhere(
    shrunk: Daemon, start_daemon: StartDaemon
) -> None:
    search = pb.SearchRequest(namespace="seed", query="huge")
    details = assert_rejected(shrunk, "Search", search, Code.RESOURCE_EXHAUSTED, listed=())
    assert "message limit" in details
    retrieve = pb.RetrieveRequest(namespace="seed", keys=["huge"])
    assert_rejected(shrunk, "Retrieve", retrieve, Code.RESOURCE_EXHAUSTED, listed=())
    list_ = pb.ListRequest(namespace="seed")
    assert_rejected(shrunk, "List", list_, Code.RESOURCE_EXHAUSTED, listed=())
    assert accesses(shrunk, start_daemon) == 0


def test_a_counted_search_too_large_to_send_counts_no_access(
    shrunk: Daemon, start_daemon: StartDaemon
) -> None:
    search = pb.SearchRequest(namespace="seed", query="huge", count_access=True)
    assert_rejected(shrunk, "Search", search, Code.RESOURCE_EXHAUSTED, listed=())
    assert accesses(shrunk, start_daemon) == 0


# --- StoreResult.raise_for_errors ----------------------------------------------------------


def test_raise_for_errors_names_the_item_once(daemon: Daemon) -> None:
    with Client(daemon.address) as client:
        ack = client.store("client", [{"text": "fine"}, {"text": "bad", "importance": 2.0}])
        with pytest.raises(InvalidArgument) as info:
            ack.raise_for_errors()
        assert str(info.value) == f"item 1: {ack.errors[0].message}"
        assert "item" not in ack.errors[0].message and "importance" in str(info.value)
        batches = [{"text": f"note {i}", "importance": 2.0 if i == 3 else 0.5} for i in range(4)]
        bulk = client.bulk_store("client", batches, batch_size=2)
        assert [(e.index, str(e.exception())) for e in bulk.errors] == [
            (3, f"item 3: {bulk.errors[0].message}")
        ]
