"""Bad requests: each gets the right status code, a clear message, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon, sample
from .state import snapshot

Code = grpc.StatusCode


def call_error(fn: Callable[..., Any], request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        result = fn(request)
        if not isinstance(result, pb.StoreResponse | pb.RetrieveResponse):
            list(result)  # a streaming call fails on iteration
    return info.value


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    d = start_daemon("--max-message-bytes", "64KiB", "--max-batch-items", "50")
    d.stub.Store(pb.StoreRequest(namespace="seed", memories=[mpb.NewMemory(key="s", text="s")]))
    return d


BAD_REQUESTS = [
    pytest.param(
        "Store",
        pb.StoreRequest(namespace="", memories=[mpb.NewMemory(key="k", text="k")]),
        Code.INVALID_ARGUMENT,
        id="empty-namespace",
    ),
    pytest.param(
        "Store",
        pb.StoreRequest(namespace="n" * 5000, memories=[mpb.NewMemory()]),
        Code.INVALID_ARGUMENT,
        id="namespace-too-long",
    ),
    pytest.param(
        "Store",
        pb.StoreRequest(
            namespace="a",
            atomic=True,
            memories=[
                mpb.NewMemory(key="ok", text="ok"),
                mpb.NewMemory(key="bad", text="bad", importance=2.0),
            ],
        ),
        Code.INVALID_ARGUMENT,
        id="atomic-batch-with-a-bad-item",
    ),
    pytest.param(
        "Store",
        pb.StoreRequest(
            namespace="a",
            atomic=True,
            memories=[mpb.NewMemory(key="ttl", text="ttl", ttl_ms=2**64 - 1)],
        ),
        Code.INVALID_ARGUMENT,
        id="ttl-overflow",
    ),
    pytest.param(
        "Store",
        pb.StoreRequest(
            namespace="a", memories=[mpb.NewMemory(key=f"k{i}", text=f"k{i}") for i in range(51)]
        ),
        Code.RESOURCE_EXHAUSTED,
        id="too-many-items",
    ),
    pytest.param(
        "Store",
        pb.StoreRequest(namespace="a", memories=[mpb.NewMemory(key="big", value=b"x" * 70_000)]),
        Code.RESOURCE_EXHAUSTED,
        id="message-too-large",
    ),
    pytest.param(
        "Retrieve",
        pb.RetrieveRequest(namespace="", keys=["k"]),
        Code.INVALID_ARGUMENT,
        id="retrieve-empty-namespace",
    ),
    pytest.param(
        "Retrieve",
        pb.RetrieveRequest(namespace="a", keys=["k"] * 51),
        Code.RESOURCE_EXHAUSTED,
        id="retrieve-too-many-keys",
    ),
    pytest.param(
        "Delete",
        pb.DeleteRequest(namespace="", keys=["s"]),
        Code.INVALID_ARGUMENT,
        id="delete-empty-namespace",
    ),
    pytest.param(
        "List", pb.ListRequest(namespace=""), Code.INVALID_ARGUMENT, id="list-no-namespace"
    ),
    pytest.param(
        "DropNamespace",
        pb.DropNamespaceRequest(namespace=""),
        Code.INVALID_ARGUMENT,
        id="drop-empty-namespace",
    ),
    pytest.param(
        "Search",
        pb.SearchRequest(namespace="seed"),
        Code.INVALID_ARGUMENT,
        id="search-without-query-or-vector",
    ),
    pytest.param(
        "Search",
        pb.SearchRequest(namespace="seed", query="s", limit=1_001),
        Code.INVALID_ARGUMENT,
        id="search-limit-too-large",
    ),
    pytest.param(
        "Search",
        pb.SearchRequest(namespace="seed", embedding=b"\x00\x00\x80\x7f"),
        Code.INVALID_ARGUMENT,
        id="search-infinite-vector",
    ),
]


@pytest.mark.parametrize(("method", "request_", "code"), BAD_REQUESTS)
def test_bad_request_gets_its_code_and_changes_nothing(
    daemon: Daemon, method: str, request_: Any, code: grpc.StatusCode
) -> None:
    before = snapshot(daemon, ("seed",))
    error = call_error(getattr(daemon.stub, method), request_)
    assert error.code() == code, error.details()
    assert error.details() and "Traceback" not in error.details()
    assert snapshot(daemon, ("seed",)) == before


def test_a_failing_stream_keeps_the_batches_acked_before(daemon: Daemon) -> None:
    good = [
        pb.StoreRequest(
            namespace="s2", batch_id=i, memories=[mpb.NewMemory(key=f"k{i}", text=f"k{i}")]
        )
        for i in range(3)
    ]
    bad = pb.StoreRequest(
        namespace="s2",
        batch_id=3,
        atomic=True,
        memories=[mpb.NewMemory(key="x", text="x", importance=-1)],
    )
    acks = []
    with pytest.raises(grpc.RpcError) as info:
        for ack in daemon.stub.StoreStream(iter([*good, bad])):
            acks.append(ack.batch_id)
    assert info.value.code() == Code.INVALID_ARGUMENT
    assert acks == [0, 1, 2]
    results = daemon.stub.Retrieve(pb.RetrieveRequest(namespace="s2", keys=["k0", "k1", "k2", "x"]))
    assert [r.found for r in results.results] == [True, True, True, False]


def test_unknown_method_is_unimplemented(daemon: Daemon) -> None:
    call = daemon.channel.unary_unary("/memd.v1.MemoryService/NoSuchMethod")
    with pytest.raises(grpc.RpcError) as info:
        call(b"")
    assert info.value.code() == Code.UNIMPLEMENTED


def test_errors_are_counted_by_code(daemon: Daemon) -> None:
    call_error(daemon.stub.Store, pb.StoreRequest(namespace=""))
    families = daemon.metrics()
    assert (
        sample(
            families, "grpc_server_handled_total", grpc_method="Store", grpc_code="INVALID_ARGUMENT"
        )
        == 1
    )
