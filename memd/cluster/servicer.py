"""The MemoryService of a cluster node: route each request to its partition's owner.

A request for a partition this node serves runs here; writes go through the log first
(``ClusterNode.write``), reads straight to the store. Any other request is forwarded,
one hop, to the owner (``forward.py``). In this phase:
- reads on the owner count accesses as on a single node, but the engine only records
  them (``deferred_access``): the owner logs them as ``touch`` entries (``touch.py``)
  that every replica applies; a follower's bounded-staleness read counts nothing (a
  peek), since only the owner logs;
- Clear, Transfer within a partition, RunLifecycle of a namespace and Sweep are log
  entries on the owner (``effect_rpcs.py``), like the owner's scheduled sweeps and
  lifecycle passes (``effects.py``); BatchSearch (one namespace) runs on the owner,
  counting no access, like Search;
- ListNamespaces, Stats without a namespace and Backup fan out to every live node
  (``fanout.py``); a forwarded one answers for this node alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.effect_rpcs import EffectHandlers
from memd.cluster.entry import fill_keys, wall_ms
from memd.cluster.fanout import FanOut, served_header
from memd.cluster.forward import Forwarder, forwarded, header_namespace
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.reads import max_staleness_ms, report
from memd.errors import CapacityExceeded, InvalidArgument, Unavailable
from memd.server.servicer import MemoryServicer


class ClusterMemoryServicer(EffectHandlers, MemoryServicer):
    """``MemoryServicer`` with routing and replicated writes.

    Args:
        node: This node's cluster membership.
        forwarder: Channels to the other nodes.
        *args: As ``MemoryServicer``.
        **kwargs: As ``MemoryServicer``.
    """

    def __init__(self, node: ClusterNode, forwarder: Forwarder, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._node = node
        self._fwd = forwarder
        self._count = len(node.states)
        self._fan = FanOut(node, forwarder)
        self._slice = node.options.lease_s  # a forwarded read's attempt: one lease

    def _owner(
        self, method: str, namespace: str, context: Any, read: bool = False
    ) -> tuple[int, tuple[str, str] | None]:
        """The partition of ``namespace`` and its owner, or None when it is served here.

        Served here: as its owner, or, for a ``read`` with a staleness bound that this
        node's follower copy meets, as a follower.
        """
        sent = header_namespace(context)
        if sent is not None and sent != namespace:
            raise InvalidArgument(
                f"the memd-namespace header ({sent!r}) differs from the request's "
                f"namespace ({namespace!r})"
            )
        partition = partition_of(namespace, self._count)
        bound = max_staleness_ms(context) if read else None
        state = self._node.states[partition]
        if state.serving:
            if bound is not None:
                report(context, "owner")
            return partition, None
        if bound is not None:
            lag = self._node.staleness(partition)
            if lag is not None and lag[0] <= bound:
                report(context, "follower", *lag)
                self._node.metrics.follower_reads.labels(method).inc()
                return partition, None
            report(context, "owner")
        owner = self._node.owner_address(partition)
        if forwarded(context) or owner is None or owner[0] == self._node.id:
            raise Unavailable(f"partition {partition} has no serving owner right now; retry")
        self._node.metrics.forwards.labels(method).inc()
        return partition, owner

    def _still(self, partition: int, owner: tuple[str, str]) -> Callable[[], bool]:
        """Whether ``owner`` still holds ``partition`` (a live lease, as last read)."""
        return lambda: self._node.owner_address(partition) == owner

    def Store(self, request: bytes, context: Any) -> bytes:
        """Store one batch through the partition's log; reply once applied here."""
        now = wall_ms()
        req, payload = fill_keys(request, now)
        if len(req.memories) > self._max_items:
            raise CapacityExceeded(
                f"{len(req.memories)} items in one message; the limit is {self._max_items}"
            )
        partition, owner = self._owner("Store", req.namespace, context)
        if owner is not None:
            still = self._still(partition, owner)
            return cast(bytes, self._fwd.unary(owner, "Store", request, context, still))
        reply = self._node.write(partition, "store", payload, now)
        self._items["Store"].observe(len(req.memories))
        return reply  # type: ignore[no-any-return]

    def Retrieve(self, request: bytes, context: Any) -> bytes:
        """Read on the owner (a follower's read as a peek: see the module docstring)."""
        req = pb.RetrieveRequest.FromString(request)
        partition, owner = self._owner("Retrieve", req.namespace, context, read=True)
        if owner is not None:
            still = self._still(partition, owner)
            return cast(
                bytes, self._fwd.read(owner, "Retrieve", request, context, still, self._slice)
            )
        if not req.peek and not self._node.states[partition].serving:
            req.peek = True
            request = req.SerializeToString()
        return super().Retrieve(request, context)

    def List(self, request: bytes, context: Any) -> bytes:
        """One page, from the owner."""
        req = pb.ListRequest.FromString(request)
        partition, owner = self._owner("List", req.namespace, context, read=True)
        if owner is not None:
            still = self._still(partition, owner)
            return cast(bytes, self._fwd.read(owner, "List", request, context, still, self._slice))
        return super().List(request, context)

    def Search(self, request: pb.SearchRequest, context: Any) -> Iterator[pb.SearchResponse]:
        """Search on the owner (a follower's search counts no access), or forward."""
        partition, owner = self._owner("Search", request.namespace, context, read=True)
        if owner is not None:
            yield from self._fwd.stream(
                owner,
                "Search",
                request,
                context,
                pb.SearchRequest.SerializeToString,
                pb.SearchResponse.FromString,
            )
            return
        if not self._node.states[partition].serving:
            request.count_access = False
        yield from super().Search(request, context)

    def Delete(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        """Delete through the partition's log."""
        self._batch("Delete", len(request.keys))
        partition, owner = self._owner("Delete", request.namespace, context)
        if owner is not None:
            return self._fwd.unary(  # type: ignore[no-any-return]
                owner,
                "Delete",
                request,
                context,
                self._still(partition, owner),
                pb.DeleteRequest.SerializeToString,
                pb.DeleteResponse.FromString,
            )
        deleted = self._node.write(partition, "delete", request.SerializeToString(), wall_ms())
        return pb.DeleteResponse(deleted=deleted, deleted_count=sum(deleted))

    def DropNamespace(
        self, request: pb.DropNamespaceRequest, context: Any
    ) -> pb.DropNamespaceResponse:
        """Drop through the partition's log."""
        partition, owner = self._owner("DropNamespace", request.namespace, context)
        if owner is not None:
            return self._fwd.unary(  # type: ignore[no-any-return]
                owner,
                "DropNamespace",
                request,
                context,
                self._still(partition, owner),
                pb.DropNamespaceRequest.SerializeToString,
                pb.DropNamespaceResponse.FromString,
            )
        removed = self._node.write(partition, "drop", request.SerializeToString(), wall_ms())
        return pb.DropNamespaceResponse(removed=removed)

    def Stats(self, request: pb.StatsRequest, context: Any) -> pb.StatsResponse:
        """One namespace's statistics from its owner; every namespace's from every node."""
        if request.namespace:
            partition, owner = self._owner("Stats", request.namespace, context)
            if owner is not None:
                return self._fwd.unary(  # type: ignore[no-any-return]
                    owner,
                    "Stats",
                    request,
                    context,
                    self._still(partition, owner),
                    pb.StatsRequest.SerializeToString,
                    pb.StatsResponse.FromString,
                )
        local = super().Stats(request, context)
        if request.namespace:
            return local
        if forwarded(context):  # one node's part of a fan-out: the partitions it serves
            served = self._fan.served()
            keep = set(self._fan.local((s.namespace for s in local.namespaces), served))
            context.set_trailing_metadata(served_header(served))
            kept = [s for s in local.namespaces if s.namespace in keep]
            del local.namespaces[:]
            local.namespaces.extend(kept)
            return local
        return self._fan.stats(request, context, local)

    def ListNamespaces(
        self, request: pb.ListNamespacesRequest, context: Any
    ) -> pb.ListNamespacesResponse:
        """Every namespace of the cluster, each reported by its partition's owner."""
        if forwarded(context):
            served = self._fan.served()
            context.set_trailing_metadata(served_header(served))
            names = self._fan.local(self._engine.namespaces(), served)
            return pb.ListNamespacesResponse(namespaces=names)
        return pb.ListNamespacesResponse(namespaces=self._fan.namespaces(request, context))

    def Backup(self, request: pb.BackupRequest, context: Any) -> pb.BackupResponse:
        """A hot copy on every live node, each in ``<path>/<node id>``."""
        # An empty path stays empty, refused as on a single node.
        mine = pb.BackupRequest(path=request.path and f"{request.path}/{self._node.id}")
        local = super().Backup(mine, context)
        if forwarded(context):
            return local
        return self._fan.backup(request, context, local)

    def BatchSearch(self, request: pb.BatchSearchRequest, context: Any) -> Iterator[bytes]:
        """One namespace's batch on its owner (a follower's counts no access), or forward."""
        partition, owner = self._owner("BatchSearch", request.namespace, context, read=True)
        if owner is not None:
            yield from self._fwd.stream(
                owner,
                "BatchSearch",
                request,
                context,
                pb.BatchSearchRequest.SerializeToString,
                bytes,  # raw replies (``RAW_REPLIES``): relayed as they come
            )
            return
        if not self._node.states[partition].serving:
            request.shared.count_access = False
            for query in request.queries:
                query.count_access = False
        yield from super().BatchSearch(request, context)
