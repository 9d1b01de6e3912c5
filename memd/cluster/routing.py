"""Routing a cluster node's requests: served here, or forwarded to the owner.

A mixin of ``ClusterMemoryServicer`` (``servicer.py``). A request is served here when
this node owns its partition; a read may also be served from this node's follower
copy: one with a staleness bound the copy meets (``reads.py``, counting no access), or
any Retrieve, List or Search once the copy applied the owner's read index
(``read_index.py``; its counted accesses are sent to the owner by ``touch.py``).
Anything else goes to the owner, one hop (``forward.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

from google.protobuf.message import DecodeError
from prometheus_client import Counter

from memd._core import peek_namespace
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.call_meta import CallMeta
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.reads import parse_max_staleness, report
from memd.errors import InvalidArgument, Unavailable


class Route(NamedTuple):
    """Where a request runs: its partition and the owner to forward to (None: here).

    ``follower``: served here from a follower copy under a staleness bound, which
    counts no access (a read on a replica after the read index is not one: it counts
    as asked).
    """

    partition: int
    owner: tuple[str, str] | None
    meta: CallMeta
    follower: bool = False


class Routing:
    """``_route`` and its helpers, over the servicer's node."""

    _node: ClusterNode
    _count: int  # partitions
    _replica_reads: bool  # --cluster-replica-reads
    _children: dict[tuple[Counter, str], Any]  # (counter, method) -> its child

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
        replica: bool = False,
    ) -> Route:
        """Route a request: served here, or forwarded to its partition's owner.

        Served here: as its owner; for a ``read`` with a staleness bound that this
        node's follower copy meets, as a follower (counting no access); for a
        ``replica`` read, from this node's follower copy once it applied the owner's
        read index (``read_index.py``), counting its accesses as asked (``touch.py``
        sends them to the owner).

        Args:
            method: The RPC's name (for the metrics).
            namespace: The request's namespace; None for a raw request (``body``),
                routed by its ``memd-namespace`` header when it has one, without
                decoding the body. The header is checked against the body where the
                request is served: here, or on the owner (the header goes with it).
            context: The call's context.
            read: A read (a staleness bound applies).
            body: The serialized request, when ``namespace`` is None.
            replica: A read a follower may answer after the owner's read index.

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
        if replica and self._replica_reads and self._read_here(partition, owner[1]):
            if namespace is None:
                _check_header(sent, peek_namespace(cast(bytes, body)))
            self._counted(self._node.metrics.replica_reads, method).inc()
            return Route(partition, None, meta)
        self._counted(self._node.metrics.forwards, method).inc()
        return Route(partition, owner, meta)

    def _read_here(self, partition: int, owner_address: str) -> bool:
        """Whether this node's follower copy of ``partition`` may answer a read now."""
        node = self._node
        return node.following.follows(partition) and node.read_index.ready(partition, owner_address)

    def _still(self, partition: int, owner: tuple[str, str]) -> Callable[[], bool]:
        """Whether ``owner`` still holds ``partition`` (a live lease, as last read)."""
        return lambda: self._node.owner_address(partition) == owner

    def _counted(self, counter: Counter, method: str) -> Any:
        """``counter``'s child for ``method``, looked up once (a hot path)."""
        child = self._children.get((counter, method))
        if child is None:
            child = self._children[counter, method] = counter.labels(method)
        return child


def _check_header(sent: str | None, namespace: str) -> None:
    """Refuse a ``memd-namespace`` header that differs from the body's namespace."""
    if sent is not None and sent != namespace:
        raise InvalidArgument(
            f"the memd-namespace header ({sent!r}) differs from the request's "
            f"namespace ({namespace!r})"
        )


def peeks(request: bytes) -> bool:
    """A serialized ``RetrieveRequest`` counts no access (malformed: no, it is forwarded)."""
    try:
        return bool(pb.RetrieveRequest.FromString(request).peek)
    except DecodeError:
        return False
