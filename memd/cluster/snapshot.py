"""A partition's copy, for nodes whose log entries were purged (``compaction.py``).

A node that holds the partition serves it; a node that lacks the entries installs it.
A node that starts following a partition whose log no longer holds the entries after
its applied sequence (``Following``: the first entry left names an earlier entry this
node never applied) must not replay a hole. It asks another node for a copy instead
(``ClusterService/PartitionSnapshot``): the owner first, then the followers, then any
other live node. The node asked holds the partition's lock (no entry of it is applied
meanwhile) while the engine reads the partition's namespaces in one LMDB read
transaction, and names the sequence S it has applied: the copy is the state after
exactly the log up to S. The copy is the store's own bytes (records, vector groups,
free-group list, namespace entries: ``rust_core/src/engine/snapshot.rs``), so the
replicas stay byte-identical.

Installing holds the partition's lock here and replaces the partition's namespaces
with the copy's in ONE LMDB transaction that also records S as the partition's
applied sequence. A crash during the install leaves the old state and its old mark:
the restarted node finds the hole again and installs again. Following resumes from
S + 1.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster.call_meta import node_credentials
from memd.cluster.partition import check_partition, mark_name
from memd.cluster.replica import PartitionState, Replica
from memd.errors import FailedPrecondition, Unavailable
from memd.logs import event

if TYPE_CHECKING:
    from memd.cluster.node import ClusterNode

log = logging.getLogger("memd.cluster")

METHOD = "/memd.v1.ClusterService/PartitionSnapshot"
CHUNK_BYTES = 1 << 20
"""About this many bytes of records per chunk (gRPC's default limit is 4 MiB)."""
FETCH_TIMEOUT_S = 120.0


def read_copy(replica: Replica, partition: int, min_sequence: int) -> list[bytes]:
    """This node's copy of ``partition``: serialized ``PartitionSnapshotChunk``s.

    Raises:
        InvalidArgument: No such partition.
        FailedPrecondition: This node's copy is older than ``min_sequence``.
    """
    check_partition(partition, len(replica.states))
    state = replica.states[partition]
    with state.lock:  # no entry of the partition is applied while the copy is read
        if state.applied < min_sequence:
            raise FailedPrecondition(
                f"this node has applied partition {partition} up to {state.applied}, "
                f"not {min_sequence}"
            )
        names = replica.namespaces_of(partition)
        return replica.engine.read_partition(names, state.applied, CHUNK_BYTES)


def install_copy(replica: Replica, state: PartitionState, chunks: list[bytes]) -> int | None:
    """Install a copy of ``state``'s partition; returns its sequence, None if not newer.

    Raises:
        FailedPrecondition: This node serves the partition (it never replaces a
            partition it accepts writes for).
        memd.errors.MemdError: The engine refused the copy; nothing changed.
    """
    sequence = int(cpb.PartitionSnapshotChunk.FromString(chunks[0]).sequence)
    with state.lock:
        if state.serving:
            raise FailedPrecondition(f"partition {state.number} is served here")
        if sequence <= state.applied:
            return None
        held = replica.namespaces_of(state.number)
        mark = (mark_name(state.number), sequence)
        replica.engine.install_partition(chunks, held, mark=mark)
        state.applied = sequence
        state.recent.clear()
        return sequence


def sources(node: ClusterNode, partition: int) -> list[tuple[str, str]]:
    """Nodes to ask for a copy, best first: the owner, the followers, the others."""
    record = node.states[partition].placement
    named = [record.owner, *record.followers] if record is not None else []
    others = sorted(n for n in node.nodes if n not in named)
    return [
        (n, node.nodes[n].address)
        for n in dict.fromkeys(named + others)
        if n in node.nodes and n != node.id
    ]


def fetch_copy(node: ClusterNode, partition: int, min_sequence: int) -> list[bytes]:
    """A copy of ``partition`` holding at least every entry up to ``min_sequence``.

    Blocking (call it from a worker thread). Raises Unavailable if no node has one.
    """
    request = cpb.PartitionSnapshotRequest(partition=partition, min_sequence=min_sequence)
    metadata = node_credentials(node.options.admin_token_file)
    failures = []
    for node_id, address in sources(node, partition):
        options = [("grpc.max_receive_message_length", 4 * CHUNK_BYTES + (1 << 20))]
        with grpc.insecure_channel(address, options) as channel:
            call = channel.unary_stream(
                METHOD, request_serializer=cpb.PartitionSnapshotRequest.SerializeToString
            )
            try:
                chunks = list(call(request, metadata=metadata, timeout=FETCH_TIMEOUT_S))
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                failures.append(f"{node_id}: {code}")
                continue
        if chunks:
            node.metrics.snapshot_bytes.inc(sum(len(c) for c in chunks))
            return chunks
    raise Unavailable(f"no node has a copy of partition {partition} at {min_sequence}: {failures}")


def fetch_and_install(node: ClusterNode, partition: int, min_sequence: int) -> int | None:
    """Fetch a copy of ``partition`` and install it (blocking); its sequence, or None."""
    chunks = fetch_copy(node, partition, min_sequence)
    sequence = install_copy(node.replica, node.states[partition], chunks)
    if sequence is not None:
        node.metrics.snapshots_installed.inc()
    event(
        log,
        logging.INFO,
        "partition copy installed",
        partition=partition,
        sequence=sequence,
        needed=min_sequence,
        chunks=len(chunks),
    )
    return sequence
