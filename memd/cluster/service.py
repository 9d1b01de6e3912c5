"""``memd.v1.ClusterService``: the placement map, draining, TransferIn, partition copies.

The map is for smart clients and operators; Drain moves a node's partitions away
without stopping it (``memd cluster drain``); TransferIn is step (b) of a Transfer
across partitions, called by the source's owner on the target's (``transfer.py``);
PartitionSnapshot sends this node's copy of a partition to a node whose log entries
were purged (``snapshot.py``); ReadIndex tells a follower how far to apply before it
answers a read itself (``read_index.py``), and Touch logs the reads it counted
(``touch.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd.cluster.call_meta import forwarded
from memd.cluster.entry import wall_ms
from memd.cluster.forward import Forwarder
from memd.cluster.node import ClusterNode
from memd.cluster.partition import check_partition, partition_of
from memd.cluster.read_index import answer
from memd.cluster.snapshot import read_copy
from memd.cluster.touch import log_touches
from memd.cluster.transfer import run_transfer_in
from memd.errors import NotFound, Unavailable

SERVICE_NAME: str = cpb.DESCRIPTOR.services_by_name["ClusterService"].full_name


class ClusterServicer(cpb_grpc.ClusterServiceServicer):
    """Answers ``Cluster`` from the node's last read of the placement bucket; ``Drain``.

    Args:
        node: This node's cluster membership.
        forwarder: Channels to the other nodes (a drain of another node goes to it).
    """

    def __init__(self, node: ClusterNode, forwarder: Forwarder) -> None:
        self._node = node
        self._fwd = forwarder

    def Drain(self, request: cpb.DrainRequest, context: Any) -> cpb.DrainResponse:
        """Drain (or resume) this node, or forward to the node named."""
        node = self._node
        if request.node_id and request.node_id != node.id:
            if forwarded(context):
                raise Unavailable(f"node {request.node_id} is not this node; retry")
            target = node.nodes.get(request.node_id)
            if target is None:
                raise NotFound(f"no node {request.node_id!r} is registered in the cluster")
            return self._fwd.call_at(  # type: ignore[no-any-return]
                (request.node_id, target.address),
                f"/{SERVICE_NAME}/Drain",
                request,
                context,
                cpb.DrainRequest.SerializeToString,
                cpb.DrainResponse.FromString,
            )
        released = node.drain(resume=request.resume)
        return cpb.DrainResponse(node_id=node.id, released=released, draining=node.draining)

    def TransferIn(self, request: cpb.TransferInRequest, context: Any) -> cpb.TransferInResponse:
        """Step (b) of a transfer across partitions, as the target's owner (one hop only)."""
        partition = partition_of(request.namespace, len(self._node.states))
        if not self._node.states[partition].serving:
            raise Unavailable(f"partition {partition} is not served by this node; retry")
        return run_transfer_in(self._node, partition, request)

    def PartitionSnapshot(
        self, request: cpb.PartitionSnapshotRequest, context: Any
    ) -> Iterator[cpb.PartitionSnapshotChunk]:
        """This node's copy of a partition, in chunks (read at once, under its lock)."""
        chunks = read_copy(self._node.replica, request.partition, request.min_sequence)
        self._node.metrics.snapshots_served.inc()
        for chunk in chunks:
            yield cpb.PartitionSnapshotChunk.FromString(chunk)

    def ReadIndex(self, request: cpb.ReadIndexRequest, context: Any) -> cpb.ReadIndexResponse:
        """This owner's read index of each partition asked (-1 where it does not serve)."""
        states = self._node.states
        for partition in request.partitions:
            check_partition(partition, len(states))
        sequences = answer(states, self._node.id, request.partitions, wall_ms())
        return cpb.ReadIndexResponse(sequences=sequences)

    def Touch(self, request: cpb.TouchRequest, context: Any) -> cpb.TouchResponse:
        """Log a follower's counted reads as this owner's ``touch`` entry (``touch.py``)."""
        log_touches(self._node, request.partition, request.entry)
        return cpb.TouchResponse()

    def Cluster(self, request: cpb.ClusterRequest, context: Any) -> cpb.ClusterResponse:
        """The placement map as this node last read it."""
        node, now = self._node, wall_ms()
        lease_ms = int(node.options.lease_s * 1000)
        reply = cpb.ClusterResponse(node_id=node.id, partition_count=len(node.states))
        for state in node.states:
            record = state.placement
            entry = reply.partitions.add(partition=state.number)
            if record is not None:
                entry.owner = record.owner
                entry.followers.extend(record.followers)
                entry.epoch = record.epoch
                entry.lease_until_ms = record.lease_until_ms
        for node_id, info in sorted(node.nodes.items()):
            reply.nodes.add(
                id=node_id,
                address=info.address,
                live=now - info.seen_ms <= lease_ms,
                draining=info.draining,
                ready=info.ready,
            )
        return reply


def add_to_server(servicer: ClusterServicer, server: grpc.Server) -> None:
    """Register the service."""
    cpb_grpc.add_ClusterServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
