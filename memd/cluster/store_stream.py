"""StoreStream on a cluster node: batches read ahead, so that one stream's are grouped.

A single node acknowledges a stream's batches one after the other, each after its
commit; done the same way here, a stream's next batch would reach the partition's queue
only after the previous one's append and apply, and group commit (``group_commit.py``)
could never put two batches of one stream in one entry. So a reader thread reads up to
``WINDOW`` batches ahead of the acknowledgements: it validates and routes each one and
queues it for its partition's next append at once; the handler acknowledges them in
order, as each is applied. A client that waits for each acknowledgement before sending
the next batch is served as before (the reader just waits for it).

What a client sees stays as on a single node:
- acknowledgements in order, each sent after its batch was applied;
- the first batch that fails ends the stream with its error, and no later batch is
  applied: a batch read ahead names the previous one of its partition (``after``) and
  is applied only if that one was; before the stream moves on to another partition
  (or to a batch forwarded to another node), the reader waits for what it queued;
- a stream that ends early (the client cancelled) takes back what it queued and no
  append has taken yet; what an append took is applied, not acknowledged, as a batch
  whose client went away during its commit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

from memd.cluster.group_commit import PendingStore, StoreGroups

WINDOW = 8
"""Batches a stream may have queued ahead of its acknowledgements (each at most the
server's message size)."""

_POLL_S = 0.5  # how often a blocked reader looks whether its stream has ended


class PreparedStore(NamedTuple):
    """A Store validated and routed: keys filled in, its partition and owner.

    ``owner`` None: this node serves the partition. ``items``: the batch's size.
    """

    partition: int
    owner: tuple[str, str] | None
    payload: bytes
    now_ms: int
    items: int


class StoreServing(Protocol):
    """What the stream needs of the cluster servicer."""

    groups: StoreGroups

    def prepare_store(self, request: bytes, context: Any) -> PreparedStore:
        """Validate and route one Store (raises as Store would)."""

    def forward_store(self, store: PreparedStore, request: bytes, context: Any) -> bytes:
        """Forward a Store to its partition's owner; its reply."""

    def stored(self, store: PreparedStore) -> None:
        """Count a Store applied here."""

    def check_draining(self) -> None:
        """Raise ``ServerDraining`` if the server no longer accepts batches."""


class _Queued(NamedTuple):
    store: PreparedStore
    request: bytes
    pending: PendingStore | None  # None: forwarded, by the handler, in turn
    forwarded: threading.Event


_END = object()


def store_stream(
    servicer: StoreServing, requests: Iterator[bytes], context: Any
) -> Iterator[bytes]:
    """Store each batch of the stream; acknowledge each after its apply, in order."""
    ahead: queue.Queue[Any] = queue.Queue(maxsize=WINDOW)
    ended = threading.Event()
    reader = threading.Thread(
        target=_read,
        args=(servicer, requests, context, ahead, ended),
        name="memd-store-stream",
        daemon=True,
    )
    reader.start()
    try:
        while True:
            item = ahead.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield _acknowledge(servicer, item, context)
    finally:
        ended.set()
        while True:  # take back what no append has taken yet
            try:
                item = ahead.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Queued) and item.pending is not None:
                servicer.groups.cancel(item.pending)


def _acknowledge(servicer: StoreServing, item: _Queued, context: Any) -> bytes:
    store = item.store
    if item.pending is None:
        try:
            return servicer.forward_store(store, item.request, context)
        finally:
            item.forwarded.set()
    reply = servicer.groups.wait(store.partition, item.pending)
    servicer.stored(store)
    return reply


def _read(
    servicer: StoreServing,
    requests: Iterator[bytes],
    context: Any,
    ahead: queue.Queue[Any],
    ended: threading.Event,
) -> None:
    """The reader thread: validate, route and queue each batch, at most WINDOW ahead."""
    groups = servicer.groups
    last: tuple[int, PendingStore] | None = None  # the partition and batch queued last
    try:
        for request in requests:
            servicer.check_draining()
            store = servicer.prepare_store(request, context)
            if last is not None and (store.owner is not None or store.partition != last[0]):
                # Leaving the partition: what was queued there is applied first.
                if not _wait(last[1].done.wait, ended) or last[1].failed:
                    return
                last = None
            if store.owner is not None:
                item = _Queued(store, request, None, threading.Event())
                if not _put(ahead, item, ended) or not _wait(item.forwarded.wait, ended):
                    return
                continue
            after = last[1] if last is not None else None
            if after is not None and after.failed:
                return
            pending = groups.submit(store.partition, store.payload, store.now_ms, after)
            if not _put(ahead, _Queued(store, request, pending, threading.Event()), ended):
                groups.cancel(pending)
                return
            last = (store.partition, pending)
        _put(ahead, _END, ended)
    except BaseException as exc:  # a bad batch, or the call's end: the handler raises it
        _put(ahead, exc, ended)


def _put(ahead: queue.Queue[Any], item: object, ended: threading.Event) -> bool:
    """Queue ``item`` for the handler; False if the stream ended meanwhile."""
    while not ended.is_set():
        try:
            ahead.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _wait(wait: Callable[[float], bool], ended: threading.Event) -> bool:
    """Wait for an event; False if the stream ended first."""
    while not wait(_POLL_S):
        if ended.is_set():
            return False
    return True
