"""The Python client (``memd_client``) against a real cluster: the ``memd-namespace``
header on namespace-scoped calls, and follower reads (``max_staleness_ms``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from daemon_launcher import Daemon
from memd_client import AsyncClient, Client, DeadlineExceeded, InvalidArgument, Unavailable
from memd_client._rpc import multicallables

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster

NS = "clients:py/team"
T = TypeVar("T")


class _Rename(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Rewrites a Retrieve's namespace after the client set its metadata: the body then
    disagrees with the header the client sent, which only a sent header can reveal."""

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        if isinstance(request, pb.RetrieveRequest):
            request = pb.RetrieveRequest(namespace="elsewhere", keys=request.keys)
        return continuation(details, request)


def _roles(c: Cluster) -> tuple[int, int]:
    record = c.wait_balanced().partitions[partition_of(NS, 8)]
    return int(record.owner.removeprefix("memd-")), int(record.followers[0].removeprefix("memd-"))


def _again(call: Callable[[], T], timeout: float = 30.0) -> T:
    """``call`` until the cluster answers (the client's own retries give up sooner while
    a just-settled placement reaches every node)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (Unavailable, DeadlineExceeded):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_client_sends_the_namespace_header_where_the_request_is_checked(
    whole: Cluster,
) -> None:
    owner, follower = _roles(whole)
    for node in (owner, follower):  # served there, or forwarded with the header
        with Client(whole.address(node)) as client:
            _again(lambda c=client: c.store(NS, [{"key": "k", "text": "tea"}]))  # type: ignore[misc]
            assert _again(lambda c=client: c.get(NS, ["k"]))["k"] is not None  # type: ignore[misc]
            # The test's own channel interceptor renames the body after the client
            # built its metadata (the client's channel, reached by its private name).
            renamed = grpc.intercept_channel(client._channel, _Rename())
            client._calls = multicallables(renamed)
            with pytest.raises(InvalidArgument, match="memd-namespace"):
                client.get(NS, ["k"])


REPLICA = "memd_cluster_replica_reads_total"


def _entered(c: Cluster, node: int, method: str) -> float:
    """Calls of ``method`` that entered the cluster at ``node`` without being its own:
    forwarded to the owner, or answered from its follower copy after a read index."""
    return c.counter(node, "memd_cluster_forwards_total", method) + c.counter(node, REPLICA, method)


def test_follower_reads_through_the_sync_and_the_async_client(whole: Cluster) -> None:
    _, follower = _roles(whole)
    with Client(whole.address(follower)) as client:
        _again(lambda: client.store(NS, [{"key": "f", "text": "coffee"}]))
        whole.converged()
        reads = {m: whole.counter(follower, "memd_cluster_follower_reads_total", m) for m in
                 ("Retrieve", "List", "Search")}  # fmt: skip
        forwards = whole.counter(follower, "memd_cluster_forwards_total", "Retrieve")
        assert client.get(NS, ["f"], max_staleness_ms=60_000)["f"] is not None
        assert "f" in {m.key for m in client.list(NS, max_staleness_ms=60_000)}
        assert [h.memory.key for h in client.search(NS, "coffee", max_staleness_ms=60_000)] == ["f"]
        for method, before in reads.items():  # answered by the follower, not forwarded
            assert whole.counter(follower, "memd_cluster_follower_reads_total", method) == (
                before + 1
            ), method
        assert whole.counter(follower, "memd_cluster_forwards_total", "Retrieve") == forwards
        # No bound: as fresh as the owner's (the follower waits for its read index).
        replica = whole.counter(follower, REPLICA, "Retrieve")
        assert client.get(NS, ["f"])["f"] is not None
        assert whole.counter(follower, REPLICA, "Retrieve") == replica + 1
        with pytest.raises(ValueError, match="max_staleness_ms"):
            client.get(NS, ["f"], max_staleness_ms=-1)

    async def read() -> bool:
        async with AsyncClient(whole.address(follower)) as aio:
            return (await aio.get(NS, ["f"], max_staleness_ms=60_000))["f"] is not None

    before = whole.counter(follower, "memd_cluster_follower_reads_total", "Retrieve")
    assert asyncio.run(read())
    after = whole.counter(follower, "memd_cluster_follower_reads_total", "Retrieve")
    assert after == before + 1


def test_route_to_owner_skips_the_hop_and_follows_a_failover(whole: Cluster) -> None:
    owner, follower = _roles(whole)
    with Client(whole.address(follower), route_to_owner=True) as client:
        _again(lambda: client.store(NS, [{"key": "r", "text": "routed"}]))
        entered = _entered(whole, follower, "Retrieve")
        for _ in range(5):
            assert client.get(NS, ["r"])["r"] is not None
        assert _entered(whole, follower, "Retrieve") == entered
        # The owner dies: the call to it fails UNAVAILABLE, the client reads the map
        # again (from its entry node) and retries until the new owner answers.
        whole.kill9(f"memd-{owner}")
        assert _again(lambda: client.get(NS, ["r"], timeout=2))["r"] is not None
        deadline = time.monotonic() + 30
        while whole.any_placement().partitions[partition_of(NS, 8)].owner == f"memd-{owner}":
            assert time.monotonic() < deadline, "no node took the partition over"
            time.sleep(0.1)
        time.sleep(0.5)  # the entry node's own read of the map (every third of a lease)
        entered = _entered(whole, follower, "Retrieve")
        for _ in range(5):  # straight to the new owner, wherever it is
            assert client.get(NS, ["r"])["r"] is not None
        assert _entered(whole, follower, "Retrieve") == entered


def test_route_to_owner_leaves_a_single_node_alone(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data")  # no ClusterService: every call goes to the target
    try:
        with Client(daemon.address, route_to_owner=True) as client:
            client.store(NS, [{"key": "s", "text": "single"}])
            assert client.get(NS, ["s"], max_staleness_ms=10)["s"] is not None
            assert [m.key for m in client.list(NS)] == ["s"]
    finally:
        daemon.close()


def test_the_async_client_routes_to_the_owner_too(whole: Cluster) -> None:
    ns = f"{NS}/aio"
    owner_of_ns = whole.wait_balanced().partitions[partition_of(ns, 8)].owner
    entry = next(n for n in (1, 2, 3) if f"memd-{n}" != owner_of_ns)

    async def run() -> list[str]:
        async with AsyncClient(whole.address(entry), route_to_owner=True) as aio:
            await aio.store(ns, [{"key": "a", "text": "asyncio routed"}])
            for _ in range(5):
                assert (await aio.get(ns, ["a"]))["a"] is not None
            return [h.memory.key async for h in aio.search(ns, "routed")]

    before = {m: _entered(whole, entry, m) for m in ("Store", "Retrieve", "Search")}
    assert asyncio.run(run()) == ["a"]
    for method, count in before.items():  # every call went straight to the owner
        assert _entered(whole, entry, method) == count, method
    # Without routing, the same calls through the same node are forwarded or answered
    # from its copy (the counters do count them): the assertions above could fail.

    async def plain() -> None:
        async with AsyncClient(whole.address(entry)) as aio:
            assert (await aio.get(ns, ["a"]))["a"] is not None

    asyncio.run(plain())
    assert _entered(whole, entry, "Retrieve") == before["Retrieve"] + 1
