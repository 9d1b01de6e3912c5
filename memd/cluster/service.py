"""``memd.v1.ClusterService``: the placement map, for smart clients and operators."""

from __future__ import annotations

from typing import Any

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode

SERVICE_NAME: str = cpb.DESCRIPTOR.services_by_name["ClusterService"].full_name


class ClusterServicer(cpb_grpc.ClusterServiceServicer):
    """Answers ``Cluster`` from the node's last read of the placement bucket.

    Args:
        node: This node's cluster membership.
    """

    def __init__(self, node: ClusterNode) -> None:
        self._node = node

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
            reply.nodes.add(id=node_id, address=info.address, live=now - info.seen_ms <= lease_ms)
        return reply


def add_to_server(servicer: ClusterServicer, server: grpc.Server) -> None:
    """Register the service."""
    cpb_grpc.add_ClusterServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
