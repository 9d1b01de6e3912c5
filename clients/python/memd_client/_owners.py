"""Routing calls straight to a namespace's owner in a memd cluster (``route_to_owner``).

Any node of a cluster answers any request, forwarding it to the owner of the
namespace's partition: one more gRPC hop, which costs a read about as much as the read
itself (docs/cluster.md, "Figures"). A client that knows the placement map skips it:
it asks ``ClusterService/Cluster`` once for the partition count, each partition's
owner and the nodes' addresses, computes the partition of a namespace itself
(BLAKE2b-64 of the UTF-8 name, big-endian, modulo the count: part of the wire
contract) and sends the call on a channel to the owner.

The map may be stale: a call to a node that no longer owns the partition is still
answered (that node forwards it), and a call that fails UNAVAILABLE (the owner died or
is handing the partition over) makes the client read the map again before its retry.
A map older than ``MAX_AGE_S``, or with a partition whose owner is unknown (then its
calls go to the target), is read again by the next call (at most once per
``REFRESH_MIN_S``), so a partition that moved, or a new owner after a failover, is
found even when nothing failed.
A daemon without ``ClusterService`` (a single node) leaves every call on the target.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc

REFRESH_MIN_S = 0.2  # at most one map read per this long, however many calls fail
MAX_AGE_S = 5.0  # a map this old is read again by the next call


def partition_of(namespace: str, count: int) -> int:
    """The partition of ``namespace`` (the daemon's ``memd.cluster.partition``)."""
    digest = hashlib.blake2b(namespace.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


class _Placement:
    """The placement map as last read, and the method table of a channel per node.

    What the blocking and the asyncio routes share; they differ in how they read the map.

    Args:
        target_calls: The method table of the client's own channel.
        map_channel: The client's own channel (for ``ClusterService/Cluster``).
        connect: Makes a channel to a node's address, with the client's settings.
        tables: Makes the method table of a channel.
    """

    def __init__(
        self,
        target_calls: dict[str, Any],
        map_channel: Any,
        connect: Callable[[str], Any],
        tables: Callable[[Any], dict[str, Any]],
    ) -> None:
        self._target = target_calls
        self._map = cpb_grpc.ClusterServiceStub(map_channel)  # type: ignore[no-untyped-call]
        self._connect = connect
        self._tables = tables
        self._channels: dict[str, Any] = {}  # address -> channel
        self._by_address: dict[str, dict[str, Any]] = {}
        self._owners: list[str] = []  # partition -> owner's address ("" unknown)
        self._read_at = -REFRESH_MIN_S
        self._single = False

    def _known(self, namespace: str | None) -> dict[str, Any] | None:
        """The table for ``namespace`` if the map settles it now; None: read the map."""
        if not namespace or self._single:
            return self._target
        owners = self._owners
        if owners:
            address = owners[partition_of(namespace, len(owners))]
            if address and time.monotonic() - self._read_at < MAX_AGE_S:
                table: dict[str, Any] = self._by_address.get(address, self._target)
                return table
        return None

    def _after_read(self, namespace: str) -> dict[str, Any]:
        owners = self._owners
        address = owners[partition_of(namespace, len(owners))] if owners else ""
        return self._by_address.get(address, self._target) if address else self._target

    def _due(self) -> bool:
        """Whether the map may be read now (at most once per ``REFRESH_MIN_S``)."""
        if time.monotonic() - self._read_at < REFRESH_MIN_S:
            return False
        self._read_at = time.monotonic()
        return True

    def _failed(self, exc: grpc.RpcError) -> None:
        # A single node has no ClusterService: route nothing, ask no more. Unreachable:
        # keep what we had.
        self._single = exc.code() == grpc.StatusCode.UNIMPLEMENTED

    def _adopt(self, reply: cpb.ClusterResponse) -> None:
        # Every registered node's address, live or not (as the Go and TypeScript clients):
        # "live" is the answering node's view of a heartbeat a third of a lease apart,
        # which a loaded machine can miss for a moment; an owner that really died fails
        # UNAVAILABLE, and the call is retried after the map is read again.
        addresses = {n.id: n.address for n in reply.nodes}
        owners = [addresses.get(p.owner, "") for p in reply.partitions]
        for address in set(owners) - set(self._by_address) - {""}:
            channel = self._channels[address] = self._connect(address)
            self._by_address[address] = self._tables(channel)
        self._owners = owners

    def _release(self) -> list[Any]:
        channels = list(self._channels.values())
        self._channels.clear()
        self._by_address.clear()
        self._owners = []
        return channels


class OwnerRoutes(_Placement):
    """Owner routing for the blocking ``Client`` (arguments as ``_Placement``)."""

    def __init__(
        self,
        target_calls: dict[str, Any],
        map_channel: Any,
        connect: Callable[[str], Any],
        tables: Callable[[Any], dict[str, Any]],
    ) -> None:
        super().__init__(target_calls, map_channel, connect, tables)
        self._lock = threading.Lock()
        self.refresh()

    def calls(self, namespace: str | None) -> dict[str, Any]:
        """The method table to send a call about ``namespace`` on."""
        known = self._known(namespace)
        if known is not None:
            return known
        self.refresh()  # unknown owner, or an old map (at most every REFRESH_MIN_S)
        return self._after_read(cast(str, namespace))

    def refresh(self) -> None:
        """Read the placement map again (at most once per ``REFRESH_MIN_S``)."""
        with self._lock:
            if not self._due():
                return
            try:
                reply = self._map.Cluster(cpb.ClusterRequest(), timeout=5)
            except grpc.RpcError as exc:
                self._failed(exc)
                return
            self._adopt(reply)

    def close(self) -> None:
        """Close the channels to the nodes."""
        with self._lock:
            for channel in self._release():
                channel.close()


class AsyncOwnerRoutes(_Placement):
    """Owner routing for the ``AsyncClient``.

    As ``OwnerRoutes``, on ``grpc.aio`` channels, the map read without blocking the
    event loop (by the first call, and again when ``OwnerRoutes`` would read it).
    Create it inside the loop.
    """

    async def calls(self, namespace: str | None) -> dict[str, Any]:
        """The method table to send a call about ``namespace`` on."""
        known = self._known(namespace)
        if known is not None:
            return known
        await self.refresh()
        return self._after_read(cast(str, namespace))

    def cached(self, namespace: str) -> dict[str, Any]:
        """The method table for ``namespace`` from the map as last read, not reading it.

        For calls that are not awaited; a node that does not own the partition forwards
        the call.
        """
        known = self._known(namespace)
        return known if known is not None else self._after_read(namespace)

    async def refresh(self) -> None:
        """Read the placement map again (at most once per ``REFRESH_MIN_S``).

        One event loop runs the client, so the check and the read need no lock: a second
        caller inside the window finds the map not due and goes on with the one it has.
        """
        if not self._due():
            return
        try:
            reply = await self._map.Cluster(cpb.ClusterRequest(), timeout=5)
        except grpc.RpcError as exc:
            self._failed(exc)
            return
        self._adopt(reply)

    async def close(self) -> None:
        """Close the channels to the nodes."""
        for channel in self._release():
            await channel.close()
