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

Reads the owner counted for a partition it no longer serves when the job runs are
dropped: the new owner counts its own. A follower's bounded-staleness read counts
nothing (it is served as a peek).
"""

from __future__ import annotations

from collections import defaultdict
from time import monotonic

from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.errors import Unavailable
from memd.server.scheduler import Job, RunResult

MAX_KEYS = 10_000
"""Most keys in one entry: its apply holds the writer for one transaction."""
EARLY_KEYS = 2_000
"""Keys waiting (on the whole node) that make the job append before its interval."""
CHECK_S = 0.1
"""How often the job looks at the buffer's size."""


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


def drop_waiting(node: ClusterNode, names: list[str]) -> None:
    """Forget the reads waiting for namespaces of a partition this node does not serve."""
    while node.replica.engine.take_touches(names, MAX_KEYS) is not None:
        pass


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
                drop_waiting(node, names)
                continue
            try:
                n, left = touch_partition(node, partition, names)
            except Unavailable:
                continue  # moved away meanwhile: the new owner counts its own reads
            if n:
                metrics.touch_entries.inc()
            done += n
            more = more or left
        return RunResult(done, more)

    return Job("touch", CHECK_S, CHECK_S, run)
