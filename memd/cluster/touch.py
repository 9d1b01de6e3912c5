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
the reads an old owner recorded before its partition moved. Reads that cannot be logged
yet (the partition is moving) wait in the ``Outbox`` and are tried again for
``KEEP_S``, then given up (``memd_cluster_touch_keys_unsent_total``). A follower's
bounded-staleness read counts nothing (it is served as a peek).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from time import monotonic

import grpc
from google.protobuf.message import DecodeError

from memd._core import relay_unary
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode
from memd.cluster.partition import check_partition, partition_of
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
KEEP_S = 10.0
"""How long taken reads that cannot be logged yet (a move) are kept and tried again."""
TOUCH_METHOD = "/memd.v1.ClusterService/Touch"
_OK = grpc.StatusCode.OK.value[0]


def by_partition(node: ClusterNode) -> dict[int, list[str]]:
    """The namespaces this store holds, grouped by partition (one engine call)."""
    count = len(node.states)
    out: dict[int, list[str]] = defaultdict(list)
    for ns in node.replica.engine.namespaces():
        out[partition_of(ns, count)].append(ns)
    return out


@dataclass
class _Taken:
    """Reads taken from the engine's buffer as one ``TouchEntry``, not yet logged."""

    payload: bytes
    keys: int
    since: float  # monotonic time they were taken


class Outbox:
    """Reads taken from the engine's buffer, per partition, until they are logged.

    Each partition's taken reads are delivered in order: appended as a ``touch`` entry
    here while this node serves the partition, else sent to its owner (``Touch``). Reads
    that cannot be delivered now (the partition is moving, its owner is unknown or
    refuses) wait, with the later reads of their partition behind them, and are tried
    again at the job's next run, for up to ``KEEP_S``; then they are given up
    (``memd_cluster_touch_keys_unsent_total``). So a move loses no reads unless it lasts
    longer than that; a single node would have counted them all.

    Args:
        node: This node (its engine, states, owners and metrics).
    """

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._taken: dict[int, deque[_Taken]] = defaultdict(deque)

    @property
    def partitions(self) -> list[int]:
        """Partitions with taken reads waiting."""
        return list(self._taken)

    def take(self, partition: int, names: list[str], max_keys: int = MAX_KEYS) -> bool:
        """Take the waiting reads of ``names`` (``partition``'s); more are waiting."""
        taken = self._node.replica.engine.take_touches(names, max_keys)
        if taken is None:
            return False
        payload, keys, _, more = taken
        self._taken[partition].append(_Taken(payload, keys, monotonic()))
        return more

    def deliver(self, partition: int) -> int:
        """Deliver ``partition``'s taken reads, oldest first; the keys delivered."""
        queue = self._taken.get(partition)
        done = 0
        while queue:
            item = queue[0]
            if self._deliver(partition, item):
                done += item.keys
            elif monotonic() - item.since <= KEEP_S:
                break  # the next run tries again; the later reads wait behind
            else:
                self._node.metrics.touch_unsent.inc(item.keys)
            queue.popleft()
        if not queue:
            self._taken.pop(partition, None)
        return done

    def _deliver(self, partition: int, item: _Taken) -> bool:
        node = self._node
        if node.states[partition].serving:
            try:
                node.write(partition, "touch", item.payload, wall_ms())
            except (Unavailable, InvalidArgument):
                return False
            node.metrics.touch_entries.inc()
            return True
        owner = node.owner_address(partition)
        if owner is None or owner[0] == node.id:
            return False  # a take-over or hand-over is under way
        request = cpb.TouchRequest(partition=partition, entry=item.payload).SerializeToString()
        code, _, _, _ = relay_unary(
            owner[1],
            TOUCH_METHOD,
            node.credentials,
            request,
            SEND_TIMEOUT_S,
            node.max_entry_bytes + (64 << 10),
        )
        if code != _OK:
            return False
        node.metrics.touch_sent.inc(item.keys)
        return True


def log_touches(node: ClusterNode, partition: int, entry: bytes) -> None:
    """As ``partition``'s owner, append the reads a follower sent as a ``touch`` entry.

    Raises:
        InvalidArgument: ``entry`` is not a ``TouchEntry`` of namespaces of
            ``partition``; nothing is appended.
        Unavailable: This node does not serve the partition (any more).
    """
    count = len(node.states)
    check_partition(partition, count)
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
    outbox = Outbox(node)

    def run() -> RunResult:
        nonlocal last, dropped_seen
        waiting, dropped = node.replica.engine.pending_touches()
        metrics.touch_waiting.set(waiting)
        if dropped > dropped_seen:  # the engine counts since open; the metric counts up
            metrics.touch_dropped.inc(dropped - dropped_seen)
            dropped_seen = dropped
        if waiting == 0 and not outbox.partitions:
            return RunResult(0, False)
        if monotonic() - last < interval_s and waiting < EARLY_KEYS:
            return RunResult(0, False)
        last = monotonic()
        done, more = 0, False
        groups = by_partition(node) if waiting else {}
        for partition in sorted(set(groups) | set(outbox.partitions)):
            names = groups.get(partition)
            if names:
                more = outbox.take(partition, names) or more
            done += outbox.deliver(partition)
        return RunResult(done, more)

    return Job("touch", CHECK_S, CHECK_S, run)
