"""The ``[cluster]`` options: where NATS is, who this node is, partitions and lease."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace

from memd.config_parse import ConfigError, grpc_address


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """Cluster mode settings; ``url`` empty means single-node mode.

    Attributes:
        url: NATS server URLs, comma-separated (``nats://h1:4222,nats://h2:4222``).
        node_id: This node's id (default: the host name).
        advertise: gRPC address other nodes and clients reach this node at.
        partitions: Number of partitions namespaces are hashed into (fixed at creation).
        replicas: JetStream replicas of the log and of the placement bucket.
        lease_s: Seconds an owner's lease lasts; a lapsed lease is taken over.
        log_keep_entries: Entries of each partition's log its owner always keeps when
            it compacts the log (``compaction.py``); 0: the log is never compacted.
        replica_reads: A read this node follows the partition of is answered from its
            own copy once it has applied the owner's read index (``read_index.py``);
            off: forwarded to the owner.
        admin_token_file: The daemon's ``--admin-token-file``: a node asking another
            for a partition's copy or a read index presents this token (ADMIN).
    """

    url: str = ""
    node_id: str = ""
    advertise: str = ""
    partitions: int = 16
    replicas: int = 3
    lease_s: float = 3.0
    log_keep_entries: int = 4096
    replica_reads: bool = True
    admin_token_file: str = ""

    @property
    def enabled(self) -> bool:
        """Cluster mode is on."""
        return bool(self.url)

    @property
    def servers(self) -> list[str]:
        """The NATS URLs as a list."""
        return [part.strip() for part in self.url.split(",") if part.strip()]

    def resolved(self, listen: tuple[str, ...]) -> ClusterOptions:
        """These options with the node id and advertised address filled in.

        Raises:
            ConfigError: No TCP address to advertise.
        """
        node_id = self.node_id or socket.gethostname()
        advertise = self.advertise
        if not advertise:
            tcp = [a for a in listen if not a.startswith("unix:")]
            if not tcp or tcp[0].rpartition(":")[2] == "0":
                raise ConfigError(
                    "cluster: --cluster-advertise is required (no fixed TCP listen address)"
                )
            advertise = tcp[0]
        return replace(self, node_id=node_id, advertise=advertise)


def nats_urls(raw: str) -> str:
    """Parse ``--cluster``: comma-separated ``nats://host:port`` URLs."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    for part in parts:
        if not part.startswith(("nats://", "tls://")):
            raise ConfigError(f"expected nats://host:port URLs, got {part!r}")
    return ",".join(parts)


def node_id(raw: str) -> str:
    """Parse ``--cluster-node-id``: letters, digits, ``-`` and ``_`` (a NATS KV key part)."""
    if raw and not all(c.isalnum() or c in "-_" for c in raw):
        raise ConfigError(f"a node id is letters, digits, - and _; got {raw!r}")
    return raw


def advertise_address(raw: str) -> str:
    """Parse ``--cluster-advertise``: host:port, or empty for the first listen address."""
    return grpc_address(raw) if raw else raw
