"""The owner's write path and the follower's apply path of a ``ClusterNode``.

A mixin of ``ClusterNode`` (``node.py``), which owns the attributes declared here.
- Writing (owner): append the entry to the partition's subject expecting the last
  sequence applied here (the fence), apply it with that sequence in the same LMDB
  transaction, only then reply; the partition's lock is held from append to apply.
- Applying (every replica): the ordered consumers (``follow.py``) hand each entry to
  ``_on_entry`` on the cluster loop; one thread applies them in log order per
  partition, never skipping one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import nats.js.errors as js_errors

from memd.cluster.entry import Entry
from memd.cluster.follow import Following
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.partition import partition_of_subject, subject
from memd.cluster.read_index import ReadIndex
from memd.cluster.replica import DETERMINISTIC, LogGap, PartitionState, Replica
from memd.cluster.take import WRONG_LAST_SEQUENCE
from memd.errors import MemdError, Unavailable
from memd.logs import event

log = logging.getLogger("memd.cluster")

APPEND_TIMEOUT_S = 2.0
"""How long an append (or any JetStream call) may take before the owner gives up on it:
short, because while it waits the partition's lock is held and every write of the
partition waits with it; a NATS server that died is noticed in this time."""


class LogPaths:
    """``ClusterNode.write`` and the apply loop (see the module docstring)."""

    id: str
    replica: Replica
    metrics: ClusterMetrics
    following: Following
    read_index: ReadIndex
    _js: Any
    _inbox: queue.Queue[tuple[int, int, Entry, float] | None]
    _stopping: threading.Event

    call: Callable[[Coroutine[Any, Any, Any], float], Any]
    loop: Any

    @property
    def states(self) -> list[PartitionState]:
        """Every partition's state, in partition order."""
        return self.replica.states

    # ---- the owner's write path ---------------------------------------------------

    def write(self, partition: int, kind: str, payload: bytes, now_ms: int) -> Any:
        """Append an entry to ``partition``'s log as its owner, apply it, return the result.

        Raises:
            Unavailable: This node does not serve the partition (any more), or the log
                did not confirm the append (then its outcome is unknown).
            memd.errors.MemdError: The engine refused the entry.
        """
        state = self.states[partition]
        with state.lock:
            entry = Entry(kind, payload, now_ms, state.epoch, self.id)
            return self.append_and_apply_locked(state, entry)

    def append_and_apply_locked(self, state: PartitionState, entry: Entry) -> Any:
        """``write``'s work; the caller holds ``state.lock`` (``group_commit.py`` too).

        Raises:
            Unavailable, memd.errors.MemdError: As ``write``.
        """
        partition = state.number
        if not state.serving:
            raise Unavailable(f"partition {partition} is moving to another node; retry")
        headers = entry.headers(state.applied)
        try:
            ack = self.call(
                self._js.publish(subject(partition), entry.payload, headers=headers),
                APPEND_TIMEOUT_S + 1,
            )
        except js_errors.APIError as exc:
            state.serving = False
            if exc.err_code in WRONG_LAST_SEQUENCE:
                self.metrics.fenced.inc()
                event(log, logging.WARNING, "fenced", partition=partition, epoch=state.epoch)
                raise Unavailable(
                    f"this node is no longer the owner of partition {partition}; retry"
                ) from None
            raise Unavailable(f"the log refused the write ({exc}); retry") from None
        except Exception as exc:
            state.serving = False
            raise Unavailable(
                f"the log did not confirm the write ({type(exc).__name__}); "
                "it may or may not be applied: retry"
            ) from None
        try:
            return self.replica.apply_locked(state, ack.seq, entry)
        except DETERMINISTIC:
            raise  # refused alike everywhere: the entry counts as applied
        except MemdError:
            # Logged but not applied here (a full disk): stop serving; the applier
            # retries the entry, and the partition moves if this node cannot.
            state.serving = False
            raise

    # ---- the follower's apply path -------------------------------------------------

    async def _on_entry(self, msg: Any) -> None:
        try:
            entry = Entry.from_message(msg.headers, msg.data)
        except ValueError as exc:
            event(
                log,
                logging.WARNING,
                "skipping foreign message",
                subject=msg.subject,
                error=str(exc),
            )
            return
        meta = msg.metadata
        partition = partition_of_subject(msg.subject)
        self.following.delivered(partition, meta.sequence.stream, meta.num_pending)
        self.metrics.pending.set(meta.num_pending + self._inbox.qsize())
        published = meta.timestamp.timestamp() if meta.timestamp else time.time()
        self._inbox.put((partition, meta.sequence.stream, entry, published))

    def _apply_forever(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            partition, seq, entry, published = item
            state = self.states[partition]
            while not self._stopping.is_set():
                try:
                    if self.replica.apply(state, seq, entry):
                        self.metrics.applied.inc()
                        self.metrics.lag_seconds.set(max(0.0, time.time() - published))
                        self.read_index.advanced()
                    break
                except LogGap as gap:
                    # Entries this node needs were purged (it was paused, or away):
                    # follow the partition again, which installs a copy first.
                    event(log, logging.WARNING, "log gap", partition=partition, error=str(gap))
                    self.metrics.log_gaps.inc()
                    asyncio.run_coroutine_threadsafe(self.following.resync(partition), self.loop)
                    break
                except MemdError as exc:
                    # Never skip an entry: a node that cannot apply stops following.
                    event(
                        log,
                        logging.ERROR,
                        "apply failed",
                        partition=partition,
                        seq=seq,
                        error=str(exc),
                    )
                    time.sleep(1.0)
            if self._inbox.empty():
                self.metrics.lag_seconds.set(0.0)
