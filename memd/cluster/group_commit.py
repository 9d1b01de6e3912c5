"""Group commit of a partition's Stores on its owner: one log entry for many batches.

An owner's write holds the partition's lock from the append to the log (which waits for
a quorum of NATS servers) through the apply to LMDB (``log_path.py``), so a partition's
writes go one at a time and each pays a whole round trip. Here, Stores that arrive for a
partition while an append of it is in flight wait in its queue; the next writer to get
the lock takes every one waiting (up to ``MAX_BATCHES`` and ``MAX_BYTES``) and appends
them as ONE ``stores`` entry (a ``StoreGroup``), then applies it with one engine call
(``Engine.store_encoded_group``: one transaction, one applied-sequence mark) and hands
each waiting writer its own reply or error. Leader/follower, without a thread of its
own: every waiting writer tries to take the lock, and the one that gets it finds its own
batch either done by the previous holder or still queued, and then commits the queue.

What stays exactly as for one batch alone:
- the fence (the entry expects the partition's last applied sequence), apply before
  acknowledging, and a deposed owner's refusal: one append, as ``write``;
- each batch's reply and error: the engine applies the requests in order, as if one
  after the other, and a batch refused as a whole (an atomic batch with a bad item, a
  dimension mismatch) is refused alone, its neighbours stored;
- a StoreStream never has a batch applied after one of its batches failed: a batch
  read ahead names the previous one (``after``), and is skipped (in the engine, on
  every replica alike) or dropped here when that one failed.
A lone batch still goes as a ``store`` entry, as before, so a node that predates
``stores`` entries follows a cluster that is not busy (see docs/cluster.md for the
mixed-version caveat).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster.entry import Entry, wall_ms
from memd.cluster.log_path import LogPaths
from memd.errors import MemdError, Unavailable

MAX_BATCHES = 64
"""Most Stores in one entry: bounds the entry, and the wait of the first of them."""

MAX_BYTES = 768 * 1024
"""Most request bytes in one entry: under NATS's default message limit (1 MiB), with
room for the framing and headers. A larger batch alone goes as a ``store`` entry."""

_CANCELLED = "the stream ended before this batch was written"
_SKIPPED = "not applied: an earlier batch of the same stream failed"


@dataclass(eq=False, slots=True)
class PendingStore:
    """One Store waiting for its partition's next append.

    Attributes:
        payload: The serialized ``StoreRequest``, keys filled in.
        now_ms: When its keys were made (the entry is applied no earlier).
        after: The previous batch of the same stream, if it was not done yet when
            this one was queued: this one is applied only if that one was.
    """

    payload: bytes
    now_ms: int
    after: PendingStore | None = None
    done: threading.Event = field(default_factory=threading.Event)
    reply: bytes = b""
    error: BaseException | None = None

    def finish(self, reply: bytes = b"", error: BaseException | None = None) -> None:
        """Hand the waiting writer its reply, or the error refusing its batch."""
        self.reply, self.error = reply, error
        self.done.set()

    @property
    def failed(self) -> bool:
        """Done, and refused (or never applied)."""
        return self.done.is_set() and self.error is not None


class StoreGroups:
    """The queues of the partitions' Stores on this node (see the module docstring).

    Args:
        node: This node's write path (its partitions' states and locks, the append).
    """

    def __init__(self, node: LogPaths) -> None:
        self._node = node
        self._mu = threading.Lock()  # guards the queues; never held while waiting
        self._queues: dict[int, deque[PendingStore]] = {}

    def store(self, partition: int, payload: bytes, now_ms: int) -> bytes:
        """Store one batch through the partition's log; its serialized reply.

        Raises:
            Unavailable, memd.errors.MemdError: As ``ClusterNode.write``.
        """
        return self.wait(partition, self.submit(partition, payload, now_ms))

    def submit(
        self, partition: int, payload: bytes, now_ms: int, after: PendingStore | None = None
    ) -> PendingStore:
        """Queue a batch for the partition's next append; ``wait`` for it."""
        pending = PendingStore(payload, now_ms, after)
        with self._mu:
            self._queues.setdefault(partition, deque()).append(pending)
        return pending

    def wait(self, partition: int, pending: PendingStore) -> bytes:
        """Wait until ``pending`` is applied; its reply, or raise its error.

        The thread that gets the partition's lock first commits the queue's head.
        """
        state = self._node.states[partition]
        while not pending.done.is_set():
            with state.lock:
                if not pending.done.is_set():
                    self._commit_locked(partition)
        if pending.error is not None:
            raise pending.error
        return pending.reply

    def cancel(self, pending: PendingStore) -> None:
        """Drop ``pending`` if no append has taken it yet (its stream has ended)."""
        with self._mu:
            for queue in self._queues.values():
                if pending in queue:
                    queue.remove(pending)
                    pending.finish(error=Unavailable(_CANCELLED))
                    return

    def _take(self, partition: int) -> list[PendingStore]:
        """The queue's head: what the next entry carries."""
        taken: list[PendingStore] = []
        size = 0
        with self._mu:
            queue = self._queues.get(partition)
            while queue:
                head = queue[0]
                if head.after is not None and head.after.failed:
                    queue.popleft()  # its stream failed before it: never applied
                    head.finish(error=Unavailable(_SKIPPED))
                    continue
                if taken and (len(taken) >= MAX_BATCHES or size + len(head.payload) > MAX_BYTES):
                    break
                taken.append(queue.popleft())
                size += len(head.payload)
        return taken

    def _commit_locked(self, partition: int) -> None:
        """Append and apply the queue's head as one entry; the caller holds the lock."""
        group = self._take(partition)
        if not group:
            return
        node, state = self._node, self._node.states[partition]
        now = max(wall_ms(), max(p.now_ms for p in group))
        if len(group) == 1:
            entry = Entry("store", group[0].payload, now, state.epoch, node.id)
        else:
            index = {id(p): i for i, p in enumerate(group)}
            after = [index[id(p.after)] + 1 if id(p.after) in index else 0 for p in group]
            payload = cpb.StoreGroup(requests=[p.payload for p in group], after=after)
            entry = Entry("stores", payload.SerializeToString(), now, state.epoch, node.id)
        try:
            out = node.append_and_apply_locked(state, entry)
        except (MemdError, Unavailable) as exc:
            for pending in group:
                pending.finish(error=exc)
            return
        except BaseException as exc:  # never leave a writer waiting forever
            for pending in group:
                pending.finish(error=exc)
            raise
        node.metrics.store_appends.inc()
        if len(group) == 1:
            group[0].finish(reply=out)
            return
        node.metrics.stores_grouped.inc(len(group))
        for pending, one in zip(group, out, strict=True):
            if isinstance(one, BaseException):
                pending.finish(error=one)
            else:
                pending.finish(reply=one[0])
