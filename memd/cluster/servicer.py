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
  lifecycle passes (``effects.py``); a Transfer across partitions is a saga of entries
  on the two partitions' logs (``transfer.py``); BatchSearch (one namespace) runs on the owner,
  counting no access, like Search;
- ListNamespaces, Stats without a namespace and Backup fan out to every live node
  (``fanout.py``); a forwarded one answers for this node alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

from memd._core import peek_namespace
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.call_meta import CallMeta, forwarded
from memd.cluster.effect_rpcs import EffectHandlers
from memd.cluster.entry import wall_ms
from memd.cluster.fanout import FanOut, served_header
from memd.cluster.forward import Forwarder
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.reads import parse_max_staleness, report
from memd.cluster.store_rpcs import StoreHandlers
from memd.errors import InvalidArgument, Unavailable
from memd.server.servicer import MemoryServicer

# A RetrieveRequest holding only ``peek = true`` (field 3). Appended to a serialized
# request it sets peek whatever the request said: protobuf parsers (prost in the
# engine among them) merge concatenated messages, the last value of a field winning.
_PEEK = pb.RetrieveRequest(peek=True).SerializeToString()


class Route(NamedTuple):
    """Where a request runs: its partition and the owner to forward to (None: here).

    ``follower``: served here from a follower copy (a bounded-staleness read), which
    counts no access.
    """

    partition: int
    owner: tuple[str, str] | None
    meta: CallMeta
    follower: bool = False


class ClusterMemoryServicer(StoreHandlers, EffectHandlers, MemoryServicer):
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
        self._forwards: dict[str, Any] = {}  # method -> its forwards counter
        self.groups = node.stores  # StoreHandlers'

    def _owner(
        self, method: str, namespace: str, context: Any, read: bool = False
    ) -> tuple[int, tuple[str, str] | None]:
        """The partition of ``namespace`` and its owner, or None when it is served here."""
        route = self._route(method, namespace, context, read)
        return route.partition, route.owner

    def _route(
        self,
        method: str,
        namespace: str | None,
        context: Any,
        read: bool = False,
        body: bytes | None = None,
    ) -> Route:
        """Route a request: served here, or forwarded to its partition's owner.

        Served here: as its owner, or, for a ``read`` with a staleness bound that this
        node's follower copy meets, as a follower.

        Args:
            method: The RPC's name (for the metrics).
            namespace: The request's namespace; None for a raw request (``body``),
                routed by its ``memd-namespace`` header when it has one, without
                decoding the body. The header is checked against the body where the
                request is served: here, or on the owner (the header goes with it).
            context: The call's context.
            read: A read (a staleness bound applies).
            body: The serialized request, when ``namespace`` is None.

        Raises:
            InvalidArgument: The header differs from the body's namespace, or a
                malformed staleness bound.
            Unavailable: No owner serves the partition now (or a second hop was due).
        """
        meta = CallMeta(context, self._node.id)
        sent = meta.namespace
        if namespace is not None:
            _check_header(sent, namespace)
        elif sent is None:
            namespace = peek_namespace(cast(bytes, body))
        routed_by = namespace if namespace is not None else cast(str, sent)
        partition = partition_of(routed_by, self._count)
        bound = parse_max_staleness(meta.max_staleness) if read else None
        state = self._node.states[partition]
        owned = state.serving
        follower = False
        if owned:
            if bound is not None:
                report(context, "owner")
        elif bound is not None:
            lag = self._node.staleness(partition)
            if lag is not None and lag[0] <= bound:
                report(context, "follower", *lag)
                self._node.metrics.follower_reads.labels(method).inc()
                follower = True
            else:
                report(context, "owner")
        if owned or follower:
            if namespace is None:  # routed by the header: check it against the body
                _check_header(sent, peek_namespace(cast(bytes, body)))
            return Route(partition, None, meta, follower)
        owner = self._node.owner_address(partition)
        if meta.forwarded or owner is None or owner[0] == self._node.id:
            raise Unavailable(f"partition {partition} has no serving owner right now; retry")
        forwards = self._forwards.get(method)
        if forwards is None:
            forwards = self._forwards[method] = self._node.metrics.forwards.labels(method)
        forwards.inc()
        return Route(partition, owner, meta)

    def _still(self, partition: int, owner: tuple[str, str]) -> Callable[[], bool]:
        """Whether ``owner`` still holds ``partition`` (a live lease, as last read)."""
        return lambda: self._node.owner_address(partition) == owner

    def Retrieve(self, request: bytes, context: Any) -> bytes:
        """Read on the owner (a follower's read as a peek: see the module docstring)."""
        route = self._route("Retrieve", None, context, read=True, body=request)
        if route.owner is not None:
            return self._relay("Retrieve", request, context, route)
        if route.follower:
            request += _PEEK
        return super().Retrieve(request, context)

    def List(self, request: bytes, context: Any) -> bytes:
        """One page, from the owner."""
        route = self._route("List", None, context, read=True, body=request)
        if route.owner is not None:
            return self._relay("List", request, context, route)
        return super().List(request, context)

    def _relay(self, method: str, request: bytes, context: Any, route: Route) -> bytes:
        """The owner's reply to a raw read, its bytes relayed untouched both ways."""
        owner = cast(tuple[str, str], route.owner)
        still = self._still(route.partition, owner)
        reply = self._fwd.read(owner, method, request, context, route.meta, still, self._slice)
        return cast(bytes, reply)

    def Search(self, request: pb.SearchRequest, context: Any) -> Iterator[pb.SearchResponse]:
        """Search on the owner (a follower's search counts no access), or forward."""
        route = self._route("Search", request.namespace, context, read=True)
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


def _check_header(sent: str | None, namespace: str) -> None:
    """Refuse a ``memd-namespace`` header that differs from the body's namespace."""
    if sent is not None and sent != namespace:
        raise InvalidArgument(
            f"the memd-namespace header ({sent!r}) differs from the request's "
            f"namespace ({namespace!r})"
        )
