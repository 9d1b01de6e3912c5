"""The Python client (``memd_client``) against a real cluster: the ``memd-namespace``
header on namespace-scoped calls, and follower reads (``max_staleness_ms``)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from memd_client import AsyncClient, Client, InvalidArgument
from memd_client._rpc import multicallables

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster

NS = "clients:py/team"


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


def _counter(c: Cluster, node: int, name: str, method: str) -> float:
    with urllib.request.urlopen(c.metrics_url(node), timeout=5) as page:
        text = page.read().decode()
    prefix = f'{name}{{method="{method}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_the_client_sends_the_namespace_header_where_the_request_is_checked(
    whole: Cluster,
) -> None:
    owner, follower = _roles(whole)
    for node in (owner, follower):  # served there, or forwarded with the header
        with Client(whole.address(node)) as client:
            client.store(NS, [{"key": "k", "text": "tea"}])  # the client retries
            assert client.get(NS, ["k"])["k"] is not None
            # The test's own channel interceptor renames the body after the client
            # built its metadata (the client's channel, reached by its private name).
            renamed = grpc.intercept_channel(client._channel, _Rename())
            client._calls = multicallables(renamed)
            with pytest.raises(InvalidArgument, match="memd-namespace"):
                client.get(NS, ["k"])


def test_follower_reads_through_the_sync_and_the_async_client(whole: Cluster) -> None:
    _, follower = _roles(whole)
    with Client(whole.address(follower)) as client:
        client.store(NS, [{"key": "f", "text": "coffee"}])  # the client retries
        whole.converged()
        reads = {m: _counter(whole, follower, "memd_cluster_follower_reads_total", m) for m in
                 ("Retrieve", "List", "Search")}  # fmt: skip
        forwards = _counter(whole, follower, "memd_cluster_forwards_total", "Retrieve")
        assert client.get(NS, ["f"], max_staleness_ms=60_000)["f"] is not None
        assert "f" in {m.key for m in client.list(NS, max_staleness_ms=60_000)}
        assert [h.memory.key for h in client.search(NS, "coffee", max_staleness_ms=60_000)] == ["f"]
        for method, before in reads.items():  # answered by the follower, not forwarded
            assert _counter(whole, follower, "memd_cluster_follower_reads_total", method) == (
                before + 1
            ), method
        assert _counter(whole, follower, "memd_cluster_forwards_total", "Retrieve") == forwards
        assert client.get(NS, ["f"])["f"] is not None  # no bound: the owner answers
        assert _counter(whole, follower, "memd_cluster_forwards_total", "Retrieve") == (
            forwards + 1
        )
        with pytest.raises(ValueError, match="max_staleness_ms"):
            client.get(NS, ["f"], max_staleness_ms=-1)

    async def read() -> bool:
        async with AsyncClient(whole.address(follower)) as aio:
            return (await aio.get(NS, ["f"], max_staleness_ms=60_000))["f"] is not None

    before = _counter(whole, follower, "memd_cluster_follower_reads_total", "Retrieve")
    assert asyncio.run(read())
    after = _counter(whole, follower, "memd_cluster_follower_reads_total", "Retrieve")
    assert after == before + 1
