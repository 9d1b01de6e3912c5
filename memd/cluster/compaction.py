"""Log compaction: an owner purges its partition's log below what every replica applied.

Every node publishes, in its registration (``NodeRecord.applied``, renewed each lease
tick), the last sequence it applied of each partition it follows. Once a lease (every
``COMPACT_EVERY_TICKS`` ticks), the owner of a partition computes its purge point
(``purge_point``): the smaller of

- the oldest of the last K entries it appended as the owner (K =
  ``--cluster-log-keep-entries``; until it has appended K entries of the partition it
  purges nothing), so the log keeps at least the last K entries for a replica that
  falls a little behind, and
- one past the lowest sequence applied by the partition's current replicas: the owner
  and every follower its record names (the live, not drained nodes, rewritten at every
  renewal). A follower that has published no sequence for the partition yet holds the
  purge back entirely.

and purges the partition's subject below it (JetStream's purge by subject up to a
sequence). A purge therefore never removes an entry a current replica has not applied.
A replica that is not current (stopped, paused past its lease, drained) is dropped from
the record at the owner's next renewal and is not waited for: when it follows the
partition again it finds the hole and installs a copy of the partition from another
node (``snapshot.py``). Sequences published are at most a tick old, hence never above
what the node has applied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memd.cluster.partition import STREAM, subject
from memd.cluster.replica import PartitionState
from memd.logs import event

if TYPE_CHECKING:
    from memd.cluster.node import ClusterNode

log = logging.getLogger("memd.cluster")

COMPACT_EVERY_TICKS = 3
"""Ticks between two compaction passes of an owner (three ticks: one lease)."""
PURGE_TIMEOUT_S = 5.0


def purge_point(applied: Sequence[int | None], oldest_kept: int | None) -> int:
    """The sequence below which a partition's log may be purged; 0 when none may be.

    Args:
        applied: The last sequence applied by each current replica of the partition
            (the owner's included); None for one that has not said.
        oldest_kept: The oldest of the last K entries the owner applied; None when it
            knows fewer than K.
    """
    if oldest_kept is None or not applied or any(a is None for a in applied):
        return 0
    return min(oldest_kept, min(a for a in applied if a is not None) + 1)


class Compactor:
    """The compaction pass of one node, run at the end of its lease tick.

    Args:
        node: The node (its options, states, registry and NATS connection).
    """

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._ticks = 0

    def replicas_applied(self, state: PartitionState) -> list[int | None]:
        """What each current replica of ``state``'s partition applied (owner first)."""
        record = state.placement
        followers = record.followers if record is not None else ()
        out: list[int | None] = [state.applied]
        for follower in followers:
            registered = self._node.nodes.get(follower)
            out.append(None if registered is None else registered.applied.get(state.number))
        return out

    async def tick(self) -> None:
        """Purge the log of every partition this node serves where a purge is due."""
        node = self._node
        keep = node.options.log_keep_entries
        self._ticks += 1
        if keep <= 0 or self._ticks % COMPACT_EVERY_TICKS:
            return
        for state in node.states:
            record = state.placement
            if not state.serving or record is None or record.owner != node.id:
                continue
            oldest = state.recent[0] if len(state.recent) >= keep else None
            point = purge_point(self.replicas_applied(state), oldest)
            if point <= max(1, state.purged_below):
                continue
            try:
                purged = await self.purge(state.number, point)
            except Exception as exc:  # NATS busy or gone: the next pass tries again
                event(log, logging.WARNING, "purge failed", partition=state.number, error=str(exc))
                continue
            state.purged_below = point
            node.metrics.purged.inc(purged)
            if purged:
                event(
                    log, logging.INFO, "log purged", partition=state.number, below=point, n=purged
                )

    async def purge(self, partition: int, below: int) -> int:
        """Purge ``partition``'s entries below sequence ``below``; how many went.

        The JetStream API directly (nats-py's ``purge_stream`` drops the count).
        """
        request = json.dumps({"filter": subject(partition), "seq": below}).encode()
        reply = await self._node.nc.request(
            f"$JS.API.STREAM.PURGE.{STREAM}", request, timeout=PURGE_TIMEOUT_S
        )
        answer = json.loads(reply.data)
        if not answer.get("success"):
            raise RuntimeError(f"purge refused: {answer.get('error')}")
        return int(answer.get("purged", 0))
