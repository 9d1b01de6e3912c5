"""The lease tick of a ``ClusterNode``: registration, leases, take-overs, moves.

A mixin of ``ClusterNode`` (``node.py``), which owns the attributes declared here.
Every third of a lease: renew this node's registration, read the placement of every
partition, renew the leases it owns, claim free partitions and take over lapsed ones it
ranks first for (``placement.py``, ``take.py``); hand one partition whose best node is
another one to that node (rebalancing, ``moves.py``); follow exactly the partitions
whose records name it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import nats.js.errors as js_errors

from memd.cluster.compaction import Compactor
from memd.cluster.entry import wall_ms
from memd.cluster.follow import Following
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.moves import hand_over, rebalance_one, stop_serving
from memd.cluster.options import ClusterOptions
from memd.cluster.partition import node_key, placement_key
from memd.cluster.placement import NodeRecord, Placement, Pool
from memd.cluster.replica import PartitionState, Replica
from memd.cluster.take import TakeOver
from memd.logs import event

log = logging.getLogger("memd.cluster")


class Leasing:
    """The lease tick (see the module docstring)."""

    id: str
    replica: Replica
    options: ClusterOptions
    metrics: ClusterMetrics
    nodes: dict[str, NodeRecord]
    following: Following
    draining: bool
    _kv: Any
    _lease_ms: int
    _started_ms: int
    _leaving: bool
    _take: TakeOver
    compactor: Compactor

    _register: Callable[[int], Coroutine[Any, Any, None]]

    @property
    def states(self) -> list[PartitionState]:
        """Every partition's state, in partition order."""
        return self.replica.states

    # ---- leases and placement -------------------------------------------------------

    async def _lease_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.lease_s / 3)
            try:
                await self._tick()
            except Exception as exc:  # NATS unreachable: keep trying; leases lapse
                event(log, logging.WARNING, "lease tick failed", error=str(exc))

    async def _tick(self) -> None:
        now = wall_ms()
        await self._register(now)
        nodes: dict[str, NodeRecord] = {}
        try:
            keys = await self._kv.keys()
        except js_errors.NoKeysError:
            keys = []
        listed = {k.removeprefix("node.") for k in keys if k.startswith("node.")}
        # The listing is a watch over the bucket, which every node rewrites each tick;
        # it was seen (twice in full test runs) to miss a live node's record; a node missing
        # from this map is "not registered" (a drain of it refused, its partitions'
        # owner unknown). Records known from the last tick are asked for by name.
        for node_id in sorted(listed | set(self.nodes)):
            try:
                nodes[node_id] = NodeRecord.decode((await self._kv.get(node_key(node_id))).value)
            except js_errors.KeyNotFoundError:
                continue
        self.nodes = nodes
        pool = Pool.of(nodes, now, self._lease_ms)
        for state in self.states:
            await self._tick_partition(state, now, pool)
        if not (self.draining or self._leaving):
            moved = await rebalance_one(
                self.id, self._kv, self.states, pool, nodes, now, self._lease_ms
            )
            if moved is not None:
                self.metrics.handovers.inc()
        await self.following.sync(self._replicated())
        owned = sum(s.serving for s in self.states)
        self.metrics.partitions.labels("owner").set(owned)
        self.metrics.partitions.labels("follower").set(len(self.following.partitions) - owned)
        await self.compactor.tick()

    def _replicated(self) -> set[int]:
        """Partitions this node should follow.

        Those it serves or is taking over, and those whose record names it owner or
        follower.
        """
        out = set(self._take.taking)
        for state in self.states:
            record = state.placement
            if state.serving or (
                record is not None and (record.owner == self.id or self.id in record.followers)
            ):
                out.add(state.number)
        return out

    async def _tick_partition(self, state: PartitionState, now: int, pool: Pool) -> None:
        if state.number in self._take.taking or self._leaving:
            return  # a take-over is catching up (it renews nothing until it serves)
        key = placement_key(state.number)
        try:
            found = await self._kv.get(key)
            record: Placement | None = Placement.decode(found.value)
            revision = found.revision
        except js_errors.KeyNotFoundError:
            record, revision = None, 0
        state.placement, state.revision, state.placement_ms = record, revision, wall_ms()
        if record is not None and record.owner == self.id:
            if self.draining:
                # Named owner while drained (handed over before the registry said so,
                # or a take-over that finished after the drain): pass it on.
                if state.serving:
                    await asyncio.to_thread(stop_serving, state)
                await hand_over(
                    self._kv, state, pool.best(state.number, self.id), now, self._lease_ms
                )
                return
            if not state.serving:
                self._take.start(state, record, revision, now, pool.eligible)
                return
            # The followers follow the pool: a node that joined replaces a worse-ranked
            # one, a node that left is replaced.
            followers = pool.followers(state.number, self.id, self.options.replicas - 1)
            renewed = replace(
                record, lease_until_ms=now + self._lease_ms, followers=followers, seq=state.applied
            )
            try:
                state.revision = await self._kv.update(key, renewed.encode(), last=revision)
                state.placement = renewed
            except js_errors.KeyWrongLastSequenceError:
                state.serving = False
            return
        if state.serving:  # the record names another owner: stop at once
            state.serving = False
        if self.draining:
            return
        if record is None:
            # Give every node one lease to register before free partitions are dealt.
            if now - self._started_ms >= self._lease_ms and pool.best(state.number) == self.id:
                self._take.start(state, None, 0, now, pool.eligible)
            return
        if now > record.lease_until_ms:
            # The first active follower caught up on it takes over (a short catch-up),
            # else the first active follower, else the best-ranked eligible node;
            # after a second lease, any active one.
            late = now > record.lease_until_ms + self._lease_ms
            heirs = [f for f in record.followers if f in pool.active]
            caught_up = [f for f in heirs if state.number in self.nodes[f].caught_up]
            heir = next(iter(caught_up + heirs), None) or pool.best(state.number, record.owner)
            if heir == self.id or (late and self.id in pool.active and self.id != record.owner):
                self._take.start(state, record, revision, now, pool.eligible)


def lease_lapsed(lease_until_ms: int, read_ms: int, lease_ms: int, now_ms: int) -> bool:
    """Whether a lease, as read from the bucket at ``read_ms``, has lapsed by ``now_ms``.

    A lease that had lapsed when it was read has lapsed. One that lapsed only since may
    have been renewed after the read: the owner renews every third of a lease, and
    this node's next read is late when its tick is (a loaded machine, 256 records to
    read). Judged by the clock alone, a late tick made a live owner look gone and
    every forwarded call UNAVAILABLE until the next read. So the record is trusted
    for a lease after it was read; past that this node's view is too old to vouch
    for the owner, and the clock decides again. A paused owner is thus noticed at
    the first read after its lease lapsed, at most a tick late.
    """
    if lease_until_ms < read_ms:
        return True
    return lease_until_ms < now_ms and now_ms - read_ms > lease_ms
