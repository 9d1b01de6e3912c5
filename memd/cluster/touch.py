"""Access statistics and promotion on read in cluster mode: the owner's ``touch`` entries.

On a single node a read counts an access (access count, last access time, LRU position)
and may promote the memory one tier up. In cluster mode the engine runs with
``EngineOptions.deferred_access``: a read on a partition's owner only records its hits
in the engine's pending buffer (``rust_core/src/engine/touch.rs``). This module's
scheduler job turns the buffer into one ``touch`` log entry per partition the node
serves, about every ``flush_interval_ms`` (the single node's access-statistics flush
interval), or sooner once ``EARLY_KEYS`` keys are waiting. Every replica, the owner
included, applies the entry through the log like any other: the same accesses at the
same read times, in one transaction with the entry's sequence.

The entry also carries the owner's promotion decisions: promotion by frequency depends
on the recent read times each replica keeps in memory only (a restarted replica has
none), so the owner decides from its own and replicas apply the decided moves without
deciding again (docs/cluster.md).

A read a follower answers from its copy after the owner's read index (a read on a
replica, ``read_index.py``) is recorded the same way in the follower's buffer; for a
partition it does not serve, the job sends the waiting reads to the owner
(``ClusterService/Touch``), which appends them as its own ``touch`` entry
(``log_touches``), so every replica counts them as if the owner had served them. So go
the reads an old owner recorded before its partition moved. Reads no owner takes (the
partition is moving, or its owner gone) are not counted
(``memd_cluster_touch_keys_unsent_total``). A follower's bounded-staleness read counts
nothing (it is served as a peek).
"""

from __future__ import annotations

from collections import defaultdict
from time import monotonic

import grpc
from google.protobuf.message import DecodeError

from memd._core import relay_unary
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.errors import InvalidArgument, Unavailable
from memd.server.scheduler import Job, RunResult

MAX_KEYS = 10_000
"""Most keys in one entry: its apply holds the writer for one transaction."""
EARLY_KEYS = 2_000
"""Keys waiting (on the whole node) that make the job append before its interval."""
CHECK_S = 0.1
"""How often the job looks at the buffer's size."""
SEND_TIMEOUT_S = 2.0
"""Longest a follower waits for the owner to log the reads it sent."""
TOUCH_METHOD = "/memd.v1.ClusterService/Touch"
_OK = grpc.StatusCode.OK.value[0]


def by_partition(node: ClusterNode) -> dict[int, list[str]]:
    """The namespaces this store holds, grouped by partition (one engine call)."""
    count = len(node.states)
    out: dict[int, list[str]] = defaultdict(list)
    for ns in node.replica.engine.namespaces():
        out[partition_of(ns, count)].append(ns)
    return out


def touch_partition(
    node: ClusterNode, partition: int, names: list[str], max_keys: int = MAX_KEYS
) -> tuple[int, bool]:
    """Append the waiting reads of ``names`` (``partition``'s) as one ``touch`` entry.

    Returns:
        (keys logged, more of their keys are waiting). Appends nothing when no read of
        theirs is waiting.

    Raises:
        memd.errors.Unavailable: This node does not serve the partition (any more);
            the taken reads are dropped.
    """
    taken = node.replica.engine.take_touches(names, max_keys)
    if taken is None:
        return 0, False
    payload, keys, _, more = taken
    node.write(partition, "touch", payload, wall_ms())
    return keys, more


def send_partition(
    node: ClusterNode, partition: int, names: list[str], max_keys: int = MAX_KEYS
) -> tuple[int, bool]:
    """Send the waiting reads of ``names`` to their partition's owner, which logs them.

    For a partition this node does not serve (the owner's side: ``log_touches``).

    Returns:
        (keys sent, more of their keys are waiting). Reads the owner did not take are
        counted in ``memd_cluster_touch_keys_unsent_total`` and forgotten.
    """
    taken = node.replica.engine.take_touches(names, max_keys)
    if taken is None:
        return 0, False
    payload, keys, _, more = taken
    owner = node.owner_address(partition)
    code = -1
    if owner is not None:
        request = cpb.TouchRequest(partition=partition, entry=payload).SerializeToString()
        code, _, _, _ = relay_unary(
            owner[1],
            TOUCH_METHOD,
            node.credentials,
            request,
            SEND_TIMEOUT_S,
            node.max_entry_bytes + (64 << 10),
        )
    if code != _OK:
        node.metrics.touch_unsent.inc(keys)
        return 0, more
    node.metrics.touch_sent.inc(keys)
    return keys, more


def log_touches(node: ClusterNode, partition: int, entry: bytes) -> None:
    """As ``partition``'s owner, append the reads a follower sent as a ``touch`` entry.

    Raises:
        InvalidArgument: ``entry`` is not a ``TouchEntry`` of namespaces of
            ``partition``; nothing is appended.
        Unavailable: This node does not serve the partition (any more).
    """
    count = len(node.states)
    if partition >= count:
        raise InvalidArgument(f"partitions are numbered 0 to {count - 1}")
    try:
        parsed = cpb.TouchEntry.FromString(entry)
    except DecodeError:
        raise InvalidArgument("the entry is not a serialized TouchEntry") from None
    names = [n.namespace for n in parsed.namespaces]
    if not names:
        raise InvalidArgument("a touch entry names at least one namespace")
    foreign = [ns for ns in names if partition_of(ns, count) != partition]
    if foreign:
        raise InvalidArgument(f"namespaces of other partitions than {partition}: {foreign[:3]}")
    node.write(partition, "touch", entry, wall_ms())
    node.metrics.touch_entries.inc()


def touch_job(node: ClusterNode, interval_s: float) -> Job:
    """The scheduler's job: one ``touch`` entry per served partition with reads waiting.

    It looks every ``CHECK_S`` and appends when ``interval_s`` has passed since its last
    appends, or when ``EARLY_KEYS`` keys are waiting.
    """
    last = monotonic()
    dropped_seen = 0
    metrics = node.metrics

    def run() -> RunResult:
        nonlocal last, dropped_seen
        waiting, dropped = node.replica.engine.pending_touches()
        metrics.touch_waiting.set(waiting)
        if dropped > dropped_seen:  # the engine counts since open; the metric counts up
            metrics.touch_dropped.inc(dropped - dropped_seen)
            dropped_seen = dropped
        if waiting == 0 or (monotonic() - last < interval_s and waiting < EARLY_KEYS):
            return RunResult(0, False)
        last = monotonic()
        done, more = 0, False
        for partition, names in sorted(by_partition(node).items()):
            if not node.states[partition].serving:
                n, left = send_partition(node, partition, names)
            else:
                try:
                    n, left = touch_partition(node, partition, names)
                except Unavailable:
                    continue  # moved away meanwhile: the reads taken are not counted
                if n:
                    metrics.touch_entries.inc()
            done += n
            more = more or left
        return RunResult(done, more)

    return Job("touch", CHECK_S, CHECK_S, run)
