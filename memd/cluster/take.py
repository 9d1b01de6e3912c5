"""Taking a partition over: the steps that make a node its owner.

A take-over (after a lapsed lease, for a free partition, or for a planned move that
named this node) compare-and-sets the placement record to the next epoch, appends a
*barrier* entry (expecting the subject's current last sequence: from then on a
deposed owner's appends are refused), waits until this node's applier has applied up
to the barrier, then serves. It runs beside the lease tick, since catching up may take
long; the tick skips a partition while its take-over is under way (``taking``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import nats.js.errors as js_errors

from memd.cluster.entry import EPOCH, Entry, wall_ms
from memd.cluster.partition import STREAM, placement_key, subject
from memd.cluster.placement import Placement, rank
from memd.cluster.replica import PartitionState
from memd.logs import event

if TYPE_CHECKING:
    from memd.cluster.node import ClusterNode

log = logging.getLogger("memd.cluster")

WRONG_LAST_SEQUENCE = (10071, 10164)
"""JetStream's error codes for a refused expected-last-sequence (the fence)."""


class TakeOver:
    """The take-overs of one node under way, one task per partition.

    Args:
        node: The node taking partitions.
    """

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self.taking: dict[int, asyncio.Task[None]] = {}

    def start(
        self,
        state: PartitionState,
        record: Placement | None,
        revision: int,
        now: int,
        live: tuple[str, ...],
    ) -> None:
        """Start taking ``state``'s partition (on the cluster loop)."""
        # Catching up may take long: it runs beside the tick, which goes on renewing
        # the other partitions' leases.
        task = self._node.loop.create_task(self._take_logged(state, record, revision, now, live))
        self.taking[state.number] = task
        task.add_done_callback(lambda _: self.taking.pop(state.number, None))

    async def _take_logged(
        self,
        state: PartitionState,
        record: Placement | None,
        revision: int,
        now: int,
        live: tuple[str, ...],
    ) -> None:
        try:
            await self._take(state, record, revision, now, live)
        except Exception as exc:  # NATS unreachable mid-way: the next tick tries again
            event(log, logging.WARNING, "take-over failed", partition=state.number, error=str(exc))

    async def _take(
        self,
        state: PartitionState,
        record: Placement | None,
        revision: int,
        now: int,
        live: tuple[str, ...],
    ) -> None:
        node = self._node
        lease_ms = int(node.options.lease_s * 1000)
        epoch = (record.epoch if record else 0) + 1
        followers = tuple(n for n in rank(state.number, list(live)) if n != node.id)
        placement = Placement(
            node.id, epoch, now + lease_ms, followers[: node.options.replicas - 1]
        )
        key = placement_key(state.number)
        try:
            if revision == 0:
                state.revision = await node.kv.create(key, placement.encode())
            else:
                state.revision = await node.kv.update(key, placement.encode(), last=revision)
        except js_errors.KeyWrongLastSequenceError:
            return  # another node changed it first
        state.placement = placement
        await node.following.follow(state.number)  # the catch-up comes through it
        barrier = await self._append_barrier(state.number, epoch)
        if barrier is None:
            event(log, logging.WARNING, "taken over before the barrier", partition=state.number)
            return
        deadline = time.monotonic() + max(30.0, 10 * node.options.lease_s)
        while state.applied < barrier:
            if time.monotonic() > deadline:
                event(log, logging.WARNING, "catch-up timed out", partition=state.number)
                return
            await asyncio.sleep(0.005)
        if not await asyncio.to_thread(serve_from, state, barrier, epoch):
            event(log, logging.WARNING, "taken over while catching up", partition=state.number)
            return
        if record is not None and record.owner != node.id:
            node.metrics.failovers.inc()
        event(log, logging.INFO, "owning", partition=state.number, epoch=epoch, seq=barrier)

    async def _append_barrier(self, partition: int, epoch: int) -> int | None:
        """Append this take-over's barrier; None if a newer epoch's entry is already in.

        Another node may have taken the partition between our compare-and-set and this
        append (our catch-up or a pause outlasted the lease). Appending after its entries
        would put an older epoch after a newer one in the log; the append expects the
        sequence of the entry whose epoch was checked, so nothing can slip in between.
        """
        js = self._node.js
        entry = Entry("barrier", b"", wall_ms(), epoch, self._node.id)
        while True:
            try:
                found = await js.get_last_msg(STREAM, subject(partition))
                last = int(found.seq)
                if int((found.headers or {}).get(EPOCH, "0")) > epoch:
                    return None
            except js_errors.NotFoundError:
                last = 0
            try:
                ack = await js.publish(subject(partition), b"", headers=entry.headers(last))
                return int(ack.seq)
            except js_errors.APIError as exc:
                if exc.err_code not in WRONG_LAST_SEQUENCE:
                    raise
                # A deposed owner appended meanwhile; its entry is before ours: retry.


def serve_from(state: PartitionState, barrier: int, epoch: int) -> bool:
    """Start serving at ``epoch`` unless another node appended after our barrier.

    A catch-up can outlast the lease it was granted: another node then takes the
    partition and appends its own barrier, which this node's applier applies like
    any entry (it is not serving yet, so nothing deposes it). Serving then would
    pass the log's fence, since the next write expects the sequence just applied,
    and append under a stale epoch. Under the lock the applier takes, nothing can
    come between this check and ``serving``; any later foreign entry deposes us.
    """
    with state.lock:
        if state.applied != barrier:
            return False
        state.epoch = epoch
        state.serving_since_ms = wall_ms()
        state.serving = True
        return True
