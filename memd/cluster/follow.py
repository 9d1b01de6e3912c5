"""Following the log of the partitions this node replicates, and only those.

A partition is replicated by its owner and its R - 1 followers (the placement record).
This node runs one ordered JetStream consumer per partition it replicates, filtered on
the partition's subject, from the sequence after the last one its store applied; all of
them feed the one applier thread (``ClusterNode``), and entries of one partition arrive
in log order because one consumer delivers them. A node dropped from a partition's
replicas stops its consumer; its store keeps what it applied (and its applied mark), so
following again later (a new follower, or a take-over) resumes from there.

A partition is *caught up* here once the store has applied every entry that existed
when its consumer started, or that it delivered with nothing pending after it. The
owner hands a partition over (rebalancing) only to a node caught up on it, so a planned
move costs a short catch-up, not a replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import nats.js.errors as js_errors
from nats.js import api

from memd.cluster.entry import EXPECTED_LAST, wall_ms
from memd.cluster.partition import STREAM, subject
from memd.cluster.placement import Placement
from memd.cluster.replica import PartitionState
from memd.logs import event

log = logging.getLogger("memd.cluster")
_UNKNOWN = 1 << 62
INSTALL_ROUNDS = 3
"""Copies installed in a row for one follow before giving up until the next tick (a
purge may pass a copy's sequence while it travels)."""


class Following:
    """This node's consumers, one per partition it replicates.

    Args:
        states: Every partition's state (their ``applied`` says where to resume).
        on_entry: The consumers' callback.
        install: Fetches and installs a copy of a partition holding at least the
            given sequence (blocking; ``snapshot.fetch_and_install``).
    """

    def __init__(
        self,
        states: list[PartitionState],
        on_entry: Callable[[Any], Awaitable[None]],
        install: Callable[[int, int], int | None],
    ) -> None:
        self._states = states
        self._on_entry = on_entry
        self._install = install
        self._installing: dict[int, asyncio.Task[None]] = {}
        self._gapped: set[int] = set()
        self._subs: dict[int, Any] = {}
        self._tail: dict[int, int] = {}
        self._fresh_ms: dict[int, int] = {}  # when a consumer last had nothing pending
        self.js: Any = None

    @property
    def partitions(self) -> set[int]:
        """Partitions followed now."""
        return set(self._subs)

    def follows(self, partition: int) -> bool:
        """``partition``'s consumer runs (not while it starts, or a copy installs)."""
        return self._subs.get(partition) is not None

    def caught_up(self) -> tuple[int, ...]:
        """Followed partitions whose store has applied every entry known to exist."""
        return tuple(
            sorted(p for p in self._subs if self._states[p].applied >= self._tail.get(p, 0))
        )

    def delivered(self, partition: int, seq: int, pending: int) -> None:
        """A consumer delivered ``seq`` with ``pending`` entries after it."""
        if pending == 0 and partition in self._tail:
            self._fresh_ms[partition] = wall_ms()
            seen = self._tail[partition]
            self._tail[partition] = seq if seen == _UNKNOWN else max(seen, seq)

    def staleness(
        self, partition: int, record: Placement | None, lease_ms: int, now_ms: int
    ) -> tuple[int, int] | None:
        """How far this node's copy of a followed partition may be behind its owner.

        Returns (milliseconds, entries), both upper bounds; None when unknown (not
        followed, or nothing known yet).

        The copy holds every entry up to a moment T, so it misses at most the writes
        acknowledged since T. T is the later of: the last time its consumer delivered an
        entry with nothing pending after it (once applied), and the owner's last lease
        renewal (the record carries the sequence the owner had applied then) once that
        sequence is applied here. The entries are the ones known to exist and not
        applied yet.
        """
        tail = self._tail.get(partition)
        if record is None or partition not in self._subs or tail in (None, _UNKNOWN):
            return None
        applied = self._states[partition].applied
        since = 0
        if applied >= tail:
            since = self._fresh_ms.get(partition, 0)
        if 0 <= record.seq <= applied:
            since = max(since, record.lease_until_ms - lease_ms)
        if since == 0:
            return None
        return max(0, now_ms - since), max(0, tail - applied, record.seq - applied)

    async def follow(self, partition: int) -> None:
        """Start following ``partition`` (no-op if followed)."""
        if partition in self._subs:
            return
        # Claimed before the first await (a take-over and the tick may both ask), and
        # not caught up until the log's last sequence is known.
        self._subs[partition] = None
        self._tail[partition] = _UNKNOWN
        try:
            needed = await self.purged_after_applied(partition)
            if needed is not None:
                # A copy may take long: the lease tick must not wait for it.
                task = asyncio.get_running_loop().create_task(
                    self._install_then_subscribe(partition, needed)
                )
                self._installing[partition] = task
                return
            await self._subscribe(partition)
        except BaseException:
            self._release(partition)
            raise

    async def purged_after_applied(self, partition: int) -> int | None:
        """The sequence a copy must hold if entries after the applied one were purged.

        The first entry left after this node's applied sequence names its predecessor
        in the partition's log; None when that is the applied one (nothing missing) or
        there is no entry after it.
        """
        applied = self._states[partition].applied
        try:
            first = await self.js.get_msg(
                STREAM, seq=applied + 1, subject=subject(partition), next=True
            )
        except js_errors.NotFoundError:
            return None
        prev = int((first.headers or {}).get(EXPECTED_LAST, "-1"))
        return prev if prev > applied else None

    async def _install_then_subscribe(self, partition: int, needed: int | None) -> None:
        try:
            for _ in range(INSTALL_ROUNDS):
                if needed is None:
                    break
                await asyncio.to_thread(self._install, partition, needed)
                needed = await self.purged_after_applied(partition)
            if needed is not None:
                raise RuntimeError(f"the log was purged past {INSTALL_ROUNDS} copies in a row")
            await self._subscribe(partition)
        except Exception as exc:  # no copy to be had now: the next tick tries again
            event(
                log, logging.WARNING, "partition copy failed", partition=partition, error=str(exc)
            )
            if self._subs.get(partition, 0) is None:
                self._release(partition)
        finally:
            self._installing.pop(partition, None)

    async def _subscribe(self, partition: int) -> None:
        try:
            last = (await self.js.get_last_msg(STREAM, subject(partition))).seq
        except js_errors.NotFoundError:
            last = 0
        start = self._states[partition].applied + 1
        sub = await self.js.subscribe(
            subject(partition),
            stream=STREAM,
            cb=self._on_entry,
            ordered_consumer=True,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
            ),
        )
        if partition not in self._subs:  # unfollowed meanwhile
            await sub.unsubscribe()
            return
        self._subs[partition] = sub
        seen = self._tail.get(partition, 0)
        self._tail[partition] = max(int(last), 0 if seen == _UNKNOWN else seen)
        event(log, logging.INFO, "following", partition=partition, start=start, last=last)

    def _release(self, partition: int) -> None:
        self._subs.pop(partition, None)
        self._tail.pop(partition, None)

    async def resync(self, partition: int) -> None:
        """Follow ``partition`` again after the applier found a hole (``LogGap``)."""
        if partition in self._gapped or partition in self._installing:
            return
        if partition not in self._subs:
            return
        self._gapped.add(partition)
        try:
            await self.unfollow(partition)
            await self.follow(partition)
        finally:
            self._gapped.discard(partition)

    async def unfollow(self, partition: int) -> None:
        """Stop following ``partition`` (no-op if not followed)."""
        sub = self._subs.pop(partition, None)
        self._tail.pop(partition, None)
        self._fresh_ms.pop(partition, None)
        task = self._installing.pop(partition, None)
        if task is not None:
            task.cancel()  # an install already under way on its thread completes
        if sub is not None:
            await sub.unsubscribe()
            event(log, logging.INFO, "not following", partition=partition)

    async def sync(self, wanted: Iterable[int]) -> None:
        """Follow exactly ``wanted``."""
        wanted = set(wanted)
        for partition in sorted(set(self._subs) - wanted):
            await self.unfollow(partition)
        for partition in sorted(wanted - set(self._subs)):
            await self.follow(partition)
