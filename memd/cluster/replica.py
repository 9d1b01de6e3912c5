"""Applying the log to this node's store: one ``PartitionState`` per partition.

Every entry is applied under its partition's lock, exactly once per store: the
engine records the entry's sequence in the same LMDB transaction as its effects
(``Engine.store_encoded(..., mark=...)``), and an entry at or below the partition's
applied sequence is skipped. The owner applies its own entries right after the log
accepted them (holding the lock from append to apply, so nothing can come between);
the follower path (``ClusterNode``'s applier thread) applies everyone else's, and skips
the owner's own when the consumer hands them back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster import transfer_steps
from memd.cluster.entry import Entry
from memd.cluster.partition import mark_name, partition_of
from memd.cluster.placement import Placement
from memd.engine import Engine
from memd.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from memd.logs import event
from memd.server import convert, ops

log = logging.getLogger("memd.cluster")

DETERMINISTIC = (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition)
"""Errors every replica raises alike for the same entry on the same state: the entry
counts as applied. Any other error (a full disk) is this node's alone: the entry is
retried, never skipped."""


@dataclass
class PartitionState:
    """What this node knows and holds of one partition.

    Attributes:
        number: The partition.
        lock: Held from an owner's append to its apply, and by every apply.
        applied: Last log sequence applied to this store (the engine's durable mark,
            or the sequence of a barrier or of an entry the engine refused).
        serving: This node owns the partition and is caught up: it accepts writes.
        epoch: The epoch this node owns it at (when serving).
        serving_since_ms: Wall-clock ms this node started serving it (rebalancing
            leaves a partition just taken over alone for a while).
        placement: The record last read from the bucket, and its revision.
        revision: KV revision of ``placement`` (0: none read).
        placement_ms: Wall-clock ms the lease tick last read ``placement``.
        recent: The sequences of the last entries applied here as the owner, oldest
            first (at most ``--cluster-log-keep-entries``): an owner purges its log
            only below the oldest, so it keeps at least that many (``compaction.py``).
        purged_below: The owner purged the log below this sequence (0: never here).
    """

    number: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    applied: int = 0
    serving: bool = False
    epoch: int = 0
    serving_since_ms: int = 0
    placement: Placement | None = None
    revision: int = 0
    placement_ms: int = 0
    recent: deque[int] = field(default_factory=deque)
    purged_below: int = 0


class LogGap(Exception):
    """An entry whose predecessor this node never applied: entries were purged."""


class Replica:
    """This node's store, seen as a replica of every partition.

    Args:
        engine: The store.
        partitions: Number of partitions.
        max_items: Most items per applied Store (the daemon's ``--max-batch-items``).
        keep: How many applied sequences each partition remembers (``recent``).
    """

    def __init__(self, engine: Engine, partitions: int, max_items: int, keep: int = 0) -> None:
        self.engine = engine
        self.max_items = max_items
        self.states = [
            PartitionState(p, applied=engine.applied(mark_name(p)), recent=deque(maxlen=keep))
            for p in range(partitions)
        ]

    def namespaces_of(self, partition: int) -> list[str]:
        """The namespaces this store holds in ``partition``, in byte order.

        Applied by a replica at an entry's place in the log, this is the same list on
        every replica: a partition's namespaces change only through its own entries.
        """
        count = len(self.states)
        names = [ns for ns in self.engine.namespaces() if partition_of(ns, count) == partition]
        return sorted(names, key=lambda n: n.encode())

    def apply_locked(self, state: PartitionState, seq: int, entry: Entry) -> Any:
        """Apply ``entry`` (sequence ``seq``) to the store; the caller holds ``state.lock``.

        Returns what the engine answered (a serialized ``StoreResponse``, or for a
        ``stores`` entry one per Store or the error refusing it, a removed
        count, deleted flags, a sweep's, lifecycle pass's or transfer's report), for
        the owner to reply with.

        Raises:
            memd.errors.MemdError: The engine refused it. ``DETERMINISTIC`` errors
                still advance ``applied``; others leave it for a retry.
        """
        mark = (mark_name(state.number), seq)
        try:
            out = self._apply(entry, state.number, mark)
        except DETERMINISTIC:
            self._applied(state, seq)
            raise
        self._applied(state, seq)
        return out

    @staticmethod
    def _applied(state: PartitionState, seq: int) -> None:
        state.applied = seq
        # Only an owner purges, so only what it applied as the owner is kept: a node
        # that never owns the partition keeps nothing (4 096 sequences each, for
        # every partition, added up). A new owner keeps more than K entries until it
        # appended K itself: it purges later, never sooner.
        if state.serving and state.recent.maxlen:
            state.recent.append(seq)

    def apply(self, state: PartitionState, seq: int, entry: Entry) -> bool:
        """Follower path: apply unless already applied; ``True`` if it was applied now.

        Raises:
            memd.errors.MemdError: A non-deterministic failure; retry the same entry.
            LogGap: The entry's predecessor was never applied here (purged from the
                log): nothing is applied; the partition needs a copy (``snapshot.py``).
        """
        with state.lock:
            if seq <= state.applied:
                return False
            if state.serving:
                # An entry this node did not append: another node owns the partition
                # now (this one was paused, or cut off, past its lease). Stop serving
                # BEFORE applying it: a write accepted here afterwards would expect
                # this entry's sequence and pass the log's fence under the old epoch.
                state.serving = False
                event(
                    log, logging.WARNING, "deposed", partition=state.number, seq=seq, by=entry.node
                )
            if entry.prev >= 0 and entry.prev != state.applied:
                # Every entry names the one before it in its partition's log; applying
                # one after a hole would silently lose what the hole held.
                raise LogGap(
                    f"partition {state.number}: entry {seq} follows {entry.prev}, "
                    f"applied here: {state.applied}"
                )
            try:
                self.apply_locked(state, seq, entry)
            except DETERMINISTIC as exc:
                event(
                    log,
                    logging.DEBUG,
                    "entry refused",
                    partition=state.number,
                    seq=seq,
                    error=str(exc),
                )
            return True

    def _apply(self, entry: Entry, partition: int, mark: tuple[str, int]) -> Any:
        now, payload = entry.now_ms, entry.payload
        if entry.kind == "store":
            reply, _ = self.engine.store_encoded(payload, self.max_items, now_ms=now, mark=mark)
            return reply
        if entry.kind == "stores":
            group = cpb.StoreGroup.FromString(payload)
            after = [k - 1 if k else None for k in group.after]
            return self.engine.store_encoded_group(
                list(group.requests), after, self.max_items, now_ms=now, mark=mark
            )
        if entry.kind == "delete":
            req = pb.DeleteRequest.FromString(payload)
            return self.engine.delete_many(req.namespace, req.keys, now_ms=now, mark=mark)
        if entry.kind == "drop":
            req_drop = pb.DropNamespaceRequest.FromString(payload)
            return self.engine.drop_namespace(req_drop.namespace, mark=mark)
        if entry.kind == "clear":
            req_clear = pb.ClearRequest.FromString(payload)
            return self.engine.clear(req_clear.namespace, req_clear.tier, mark=mark)
        if entry.kind == "transfer":
            return ops.transfer(self.engine, pb.TransferRequest.FromString(payload), now, mark)
        if entry.kind == "transfer_in":
            return transfer_steps.apply_transfer_in(self.engine, payload, self.max_items, now, mark)
        if entry.kind == "transfer_out":
            return transfer_steps.apply_transfer_out(self.engine, payload, now, mark)
        if entry.kind == "sweep":
            req_sweep = pb.SweepRequest.FromString(payload)
            names = self.namespaces_of(partition)
            return self.engine.sweep(req_sweep.max_items, namespaces=names, now_ms=now, mark=mark)
        if entry.kind == "lifecycle":
            run = convert.lifecycle_run(pb.RunLifecycleRequest.FromString(payload))
            if run.namespace is None or run.dry_run:
                raise InvalidArgument("a lifecycle entry names one namespace, never a dry run")
            return self.engine.lifecycle(
                run.namespace,
                consolidate=run.consolidate,
                policies=run.policies,
                max_actions=run.max_actions,
                now_ms=now,
                mark=mark,
            )
        if entry.kind == "touch":
            return self.engine.touch(payload, now_ms=now, mark=mark)
        return 0  # barrier: nothing to apply
