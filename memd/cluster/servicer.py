"""The MemoryService of a cluster node: route each request to its partition's owner.

A request for a partition this node serves runs here; writes go through the log first
(``ClusterNode.write``), reads straight to the store. A Retrieve, List or Search may
also be answered from this node's follower copy (``routing.py``, ``read_index.py``).
Any other request is forwarded, one hop, to the owner (``forward.py``). In this phase:
- reads on the owner count accesses as on a single node, but the engine only records
  them (``deferred_access``): the owner logs them as ``touch`` entries (``touch.py``)
  that every replica applies; a follower's bounded-staleness read counts nothing (a
  peek), since only the owner logs;
- Clear, Transfer within a partition, RunLifecycle of a namespace and Sweep are log
  entries on the owner (``effect_rpcs.py``), like the owner's scheduled sweeps and
  lifecycle passes (``effects.py``); a Transfer across partitions is a saga of entries
  on the two partitions' logs (``transfer.py``); BatchSearch (one namespace) runs on the owner,
  counting no access, like Search;
- ListNamespaces, Stats without a namespace and Backup fan out to every live node
  (``fanout.py``); a forwarded one answers for this node alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.call_meta import forwarded
from memd.cluster.effect_rpcs import EffectHandlers
from memd.cluster.entry import wall_ms
from memd.cluster.fanout import FanOut, served_header
from memd.cluster.forward import Forwarder
from memd.cluster.node import ClusterNode
from memd.cluster.routing import Route, Routing, peeks
from memd.cluster.store_rpcs import StoreHandlers
from memd.server.servicer import MemoryServicer

# A RetrieveRequest holding only ``peek = true`` (field 3). Appended to a serialized
# request it sets peek whatever the request said: protobuf parsers (prost in the
# engine among them) merge concatenated messages, the last value of a field winning.
_PEEK = pb.RetrieveRequest(peek=True).SerializeToString()


class ClusterMemoryServicer(Routing, StoreHandlers, EffectHandlers, MemoryServicer):
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
        self._replica_reads = node.options.replica_reads
        self._children: dict[Any, Any] = {}  # Routing's
        self.groups = node.stores  # StoreHandlers'

    def Retrieve(self, request: bytes, context: Any) -> bytes:
        """Read on the owner (a follower's read as a peek: see the module docstring)."""
        route = self._route("Retrieve", None, context, read=True, body=request, replica=True)
        if route.owner is not None:
            if not peeks(request):
                # A counted read is sent once: resent after a slow first attempt
                # (``Forwarder.read``), it would be counted twice.
                owner = route.owner
                still = self._still(route.partition, owner)
                return cast(bytes, self._fwd.unary(owner, "Retrieve", request, context, still))
            return self._relay("Retrieve", request, context, route)
        if route.follower:
            request += _PEEK
        return super().Retrieve(request, context)

    def List(self, request: bytes, context: Any) -> bytes:
        """One page, from the owner."""
        route = self._route("List", None, context, read=True, body=request, replica=True)
        if route.owner is not None:
            return self._relay("List", request, context, route)
        return super().List(request, context)

    def _relay(self, method: str, request: bytes, context: Any, route: Route) -> bytes:
        """The owner's reply to a raw read that counts nothing (bytes relayed untouched)."""
        owner = cast(tuple[str, str], route.owner)
        still = self._still(route.partition, owner)
        reply = self._fwd.read(owner, method, request, context, route.meta, still, self._slice)
        return cast(bytes, reply)

    def Search(self, request: pb.SearchRequest, context: Any) -> Iterator[pb.SearchResponse]:
        """Search on the owner (a follower's search counts no access), or forward."""
        route = self._route(
            "Search",
            request.namespace,
            context,
            read=True,
            replica=True,
        )
        if route.owner is not None:
            yield from self._fwd.stream(
                route.owner,
                "Search",
                request,
                context,
                pb.SearchRequest.SerializeToString,
                pb.SearchResponse.FromString,
            )
            return
        if route.follower:
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
        route = self._route("BatchSearch", request.namespace, context, read=True)
        if route.owner is not None:
            yield from self._fwd.stream(
                route.owner,
                "BatchSearch",
                request,
                context,
                pb.BatchSearchRequest.SerializeToString,
                bytes,  # raw replies (``RAW_REPLIES``): relayed as they come
            )
            return
        if route.follower:
            request.shared.count_access = False
            for query in request.queries:
                query.count_access = False
        yield from super().BatchSearch(request, context)
