"""Cluster-wide admin calls: ListNamespaces, Stats of every namespace, Backup.

The node asked answers for the partitions it serves and asks every other live node
the same request, forwarded (``memd-forwarded``, the caller's token and deadline kept).
A node answering a forwarded ListNamespaces or Stats reports only the namespaces of the
partitions it serves (owns and is caught up on: read-your-writes, as for any read), and
which partitions those were, in the trailing metadata ``memd-served``. The node asked
merges the answers and checks that every partition was served by someone: a partition
with no serving owner (a failover under way) makes the call UNAVAILABLE (retry) rather
than answer with namespaces silently missing. A partition that moved during the call
may be reported twice: namespaces are merged by name.

Backup asks every live node for a hot copy of its own store, written under its own
backup directory as ``<path>/<node id>``; each node's copy holds every partition it
replicates, so together (and, in this phase, each of them) they hold the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.entry import wall_ms
from memd.cluster.forward import Forwarder
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.placement import Pool
from memd.errors import Unavailable

SERVED = "memd-served"
"""Trailing metadata of a forwarded ListNamespaces or Stats: the partitions answered for."""


def served_header(partitions: Iterable[int]) -> tuple[tuple[str, str]]:
    """The trailing metadata naming ``partitions``."""
    return ((SERVED, ",".join(str(p) for p in sorted(partitions))),)


def served_of(trailing: Any) -> set[int]:
    """The partitions a node's trailing metadata names."""
    for key, value in trailing or ():
        if key == SERVED:
            return {int(p) for p in str(value).split(",") if p}
    return set()


class FanOut:
    """Asks every other live node, and merges.

    Args:
        node: This node's cluster membership.
        forwarder: Channels to the other nodes.
    """

    def __init__(self, node: ClusterNode, forwarder: Forwarder) -> None:
        self._node = node
        self._fwd = forwarder

    def served(self) -> set[int]:
        """Partitions this node serves now."""
        return {s.number for s in self._node.states if s.serving}

    def local(self, namespaces: Iterable[str], served: set[int]) -> list[str]:
        """The names among ``namespaces`` whose partition is in ``served``."""
        count = len(self._node.states)
        return [ns for ns in namespaces if partition_of(ns, count) in served]

    def others(self) -> list[tuple[str, str]]:
        """(id, address) of every other live node."""
        node = self._node
        pool = Pool.of(node.nodes, wall_ms(), int(node.options.lease_s * 1000))
        return [(n, node.nodes[n].address) for n in pool.live if n != node.id]

    def ask(
        self,
        method: str,
        request: Any,
        context: Any,
        response_type: Any,
    ) -> list[tuple[str, Any, Any]]:
        """Forward ``request`` to every other live node: (node id, reply, trailing metadata).

        Raises:
            memd.errors.MemdError: A node failed (as its status); UNAVAILABLE when one
                could not be reached.
        """
        serialize: Callable[[Any], bytes] = type(request).SerializeToString
        return self._fwd.gather(
            self.others(), method, request, context, serialize, response_type.FromString
        )

    def check_covered(self, served: set[int]) -> None:
        """Raise UNAVAILABLE unless every partition was answered for."""
        missing = sorted(set(range(len(self._node.states))) - served)
        if missing:
            raise Unavailable(
                f"partitions {missing} have no serving owner right now "
                "(a failover or a move is under way); retry"
            )

    def namespaces(self, request: pb.ListNamespacesRequest, context: Any) -> list[str]:
        """Every namespace of the cluster, in byte order."""
        served = self.served()
        names = set(self.local(self._node.replica.engine.namespaces(), served))
        for _, reply, trailing in self.ask(
            "ListNamespaces", request, context, pb.ListNamespacesResponse
        ):
            names.update(reply.namespaces)
            served |= served_of(trailing)
        self.check_covered(served)
        return sorted(names, key=lambda n: n.encode())

    def stats(
        self, request: pb.StatsRequest, context: Any, local: pb.StatsResponse
    ) -> pb.StatsResponse:
        """Every namespace's statistics, each from its owner; ``local``: this node's own.

        The map figures are the fullest node's (the one that limits writes first).
        """
        served = self.served()
        keep = set(self.local((s.namespace for s in local.namespaces), served))
        merged = {s.namespace: s for s in local.namespaces if s.namespace in keep}
        fullest = local
        for _, reply, trailing in self.ask("Stats", request, context, pb.StatsResponse):
            for s in reply.namespaces:
                merged.setdefault(s.namespace, s)
            served |= served_of(trailing)
            if _fill(reply) > _fill(fullest):
                fullest = reply
        self.check_covered(served)
        return pb.StatsResponse(
            namespaces=[merged[n] for n in sorted(merged, key=lambda n: n.encode())],
            map_size_bytes=fullest.map_size_bytes,
            map_used_bytes=fullest.map_used_bytes,
        )

    def backup(
        self, request: pb.BackupRequest, context: Any, local: pb.BackupResponse
    ) -> pb.BackupResponse:
        """Every live node's copy; ``local``: this node's own, already written."""
        reply = pb.BackupResponse(path=request.path)
        reply.node_copies.add(node_id=self._node.id, path=local.path, bytes=local.bytes)
        for node_id, copy, _ in self.ask("Backup", request, context, pb.BackupResponse):
            reply.node_copies.add(node_id=node_id, path=copy.path, bytes=copy.bytes)
        reply.bytes = sum(c.bytes for c in reply.node_copies)
        return reply


def _fill(stats: pb.StatsResponse) -> float:
    return stats.map_used_bytes / stats.map_size_bytes if stats.map_size_bytes else 0.0
