"""Assembling a cluster node inside ``MemdServer`` (only when ``--cluster`` is set)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import grpc

from memd.cluster.forward import Forwarder
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.node import ClusterNode
from memd.cluster.replica import Replica
from memd.cluster.service import SERVICE_NAME, ClusterServicer, add_to_server
from memd.cluster.servicer import ClusterMemoryServicer
from memd.config import Config
from memd.engine import Engine
from memd.logs import event
from memd.metrics import Metrics

log = logging.getLogger("memd.cluster")


@dataclass
class ClusterParts:
    """What the server holds of cluster mode.

    Attributes:
        node: The NATS membership (started by ``start``).
        forwarder: Channels to the other nodes.
        service_name: The extra gRPC service, for reflection.
    """

    node: ClusterNode
    forwarder: Forwarder
    service_name: str = SERVICE_NAME

    def stop(self) -> None:
        """Leave: stop leasing (other nodes take the partitions over), close channels."""
        self.node.stop()
        self.forwarder.close()


def build(
    cfg: Config,
    engine: Engine,
    metrics: Metrics,
    servicer_args: dict[str, Any],
    server: grpc.Server,
) -> tuple[ClusterMemoryServicer, ClusterParts]:
    """Join the cluster and make the routing servicer; registers ``ClusterService``.

    Raises:
        memd.config_parse.ConfigError: No address to advertise.
        memd.errors.Unavailable: NATS cannot be reached.
    """
    options = replace(cfg.cluster.resolved(cfg.listen), admin_token_file=cfg.admin_token_file)
    replica = Replica(engine, options.partitions, cfg.max_batch_items, options.log_keep_entries)
    node = ClusterNode(options, replica, ClusterMetrics(metrics.registry))
    node.start()
    forwarder = Forwarder(options.node_id, cfg.max_message_bytes)
    servicer = ClusterMemoryServicer(node, forwarder, **servicer_args)
    add_to_server(ClusterServicer(node, forwarder), server)
    event(
        log,
        logging.INFO,
        "cluster joined",
        node=options.node_id,
        advertise=options.advertise,
        partitions=options.partitions,
        nats=options.url,
    )
    return servicer, ClusterParts(node, forwarder)
