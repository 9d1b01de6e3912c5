"""``memd import``: a source file into a running daemon through ``StoreStream``.

Records are grouped into batches (one namespace each, at most ``batch_size`` memories
and about ``MAX_BATCH_BYTES``) and streamed with at most ``window`` unacknowledged
batches in flight, so reading the file, the network and the daemon's commits
overlap. Every memory keeps its key and its history, and the daemon stores a memory
with history as exactly that memory, so sending one twice changes nothing: the
import is idempotent by key, and resuming (``memd.history.checkpoint``) may resend
the last batches safely. A record the daemon rejects is reported with its place in
the file and the import goes on; malformed lines likewise.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.history import checkpoint
from memd.history.progress import Mode, Progress
from memd.history.source import Record, Source

MAX_BATCH_BYTES = 4 << 20
"""Encoded size at which a batch is sent; the server's default limit is 16 MiB."""
_SAVE_EVERY_S = 1.0
_SHOWN_ERRORS = 20
_ITEM_PREFIX = re.compile(r"^item \d+: ")


@dataclass(frozen=True)
class ImportOptions:
    """How to import.

    Attributes:
        batch_size: Most memories per StoreRequest (the server allows 10 000).
        window: Batches sent ahead of their acknowledgement.
        max_rate: Most memories per second (0: as fast as the daemon takes them), to
            spare a daemon that serves agents meanwhile.
        progress: Progress display (``memd.history.progress``).
        checkpoint: Where to record progress; None: no resuming.
        restart: Ignore an existing checkpoint and start from the beginning.
    """

    batch_size: int = 1_000
    window: int = 4
    max_rate: float = 0.0
    progress: Mode = "auto"
    checkpoint: Path | None = None
    restart: bool = False


@dataclass
class _Batch:
    """Records sent (or, without memories, settled) together."""

    id: int
    namespace: str
    memories: list[mpb.NewMemory] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (label, why): not sent
    skipped: int = 0
    bytes: int = 0
    line: int = 0
    end: int = 0


def batches(records: Iterator[Record], size: int, max_bytes: int) -> Iterator[_Batch]:
    """Group records: a batch ends when full or before another namespace's memory.

    Refused and skipped records ride along with the next memories, so a batch without
    memories comes only last.
    """
    batch = _Batch(0, "")
    for r in records:
        if r.memory is not None and batch.memories and r.namespace != batch.namespace:
            yield batch
            batch = _Batch(batch.id + 1, "")
        if r.memory is not None:
            batch.namespace = r.namespace
            batch.memories.append(r.memory)
            batch.labels.append(f"{r.label} ({r.namespace} {r.memory.key!r})")
            batch.bytes += r.memory.ByteSize()
        elif r.error:
            batch.refused.append((r.label, r.error))
        else:
            batch.skipped += 1
        batch.line, batch.end = r.line, r.end
        if len(batch.memories) >= size or batch.bytes >= max_bytes:
            yield batch
            batch = _Batch(batch.id + 1, "")
    if batch.memories or batch.refused or batch.skipped:
        yield batch


class Importer:
    """One import of ``source`` through ``stub`` (a ``MemoryServiceStub``).

    Args:
        stub: The daemon.
        source: What to read.
        options: How.
        metadata: Call metadata (the authorization header).
        errors: Where rejected records are reported.
    """

    def __init__(
        self,
        stub: Any,
        source: Source,
        options: ImportOptions,
        *,
        metadata: Sequence[tuple[str, str]] = (),
        errors: TextIO | None = None,
    ) -> None:
        self._stub = stub
        self._source = source
        self._opts = options
        self._metadata = metadata
        self._errors = errors or sys.stderr
        self._identity = ""
        self.state = checkpoint.Checkpoint(source="", format=source.format)
        self.resumed = False

    def start(self, path: Path) -> None:
        """Load the checkpoint for the source file ``path`` (unless restarting).

        Raises:
            checkpoint.CheckpointError: It belongs to another file or is unreadable.
            OSError: The checkpoint cannot be written.
        """
        self._identity = checkpoint.identity(path)
        fresh = checkpoint.Checkpoint(source=self._identity, format=self._source.format)
        cp = self._opts.checkpoint
        loaded = None if cp is None or self._opts.restart else checkpoint.load(cp, *self._key())
        self.state = loaded or fresh
        self.resumed = loaded is not None
        self._save()  # fails now, not after an hour of importing, if it cannot be written

    def _key(self) -> tuple[str, str]:
        return self._identity, self._source.format

    def run(self) -> bool:
        """Import everything after the checkpoint.

        Returns:
            True when every record was stored or skipped (expired).

        On an RPC error or an interrupt the checkpoint is saved and the exception
        propagates (rerun to resume).
        """
        opts, start = self._opts, self.state
        bar = Progress("import", self._source.total, opts.progress, start=start.position)
        sending = _Sender(self._source.records(start.position, start.line), opts)
        responses = self._stub.StoreStream(sending.requests(), metadata=self._metadata)
        saved = time.monotonic()
        try:
            for reply in responses:
                self._settle(sending.acknowledged(reply.batch_id), reply.errors)
                merges = sum(1 for key in reply.merged_into if key)
                self.state = replace(self.state, merged=self.state.merged + merges)
                bar.update(self.state.position, self.state.stored - start.stored)
                if time.monotonic() - saved >= _SAVE_EVERY_S:
                    self._save()
                    saved = time.monotonic()
            sending.reraise()
            for batch in sending.unsent:
                self._settle(batch, [])
        except BaseException:
            sending.stop()
            responses.cancel()
            self._save()
            raise
        if opts.checkpoint is not None:
            opts.checkpoint.unlink(missing_ok=True)
        s = self.state
        note = f" ({s.merged} merged into existing memories by dedup)" if s.merged else ""
        bar.finish(f"{s.stored} stored{note}, {s.rejected} rejected, {s.skipped} skipped (expired)")
        return s.rejected == 0

    def _settle(self, batch: _Batch, errors: Sequence[mpb.ItemError]) -> None:
        refused = batch.refused + [
            (batch.labels[e.index], _ITEM_PREFIX.sub("", e.message, count=1)) for e in errors
        ]
        for label, why in refused:
            if self.state.rejected < _SHOWN_ERRORS:
                self._errors.write(f"import: {label}: {why}\n")
            elif self.state.rejected == _SHOWN_ERRORS:
                self._errors.write("import: more rejected items are counted, not shown\n")
            self.state = replace(self.state, rejected=self.state.rejected + 1)
        self.state = replace(
            self.state,
            position=batch.end,
            line=batch.line,
            stored=self.state.stored + len(batch.memories) - len(errors),
            skipped=self.state.skipped + batch.skipped,
        )

    def _save(self) -> None:
        if self._opts.checkpoint is not None:
            checkpoint.save(self._opts.checkpoint, self.state)


class _Sender:
    """The request side of the stream, run by gRPC on its own thread.

    Batches go out while fewer than ``window`` await their acknowledgement.
    """

    def __init__(self, records: Iterator[Record], opts: ImportOptions) -> None:
        self._batches = batches(records, opts.batch_size, MAX_BATCH_BYTES)
        self._opts = opts
        self._room = threading.Semaphore(opts.window)
        self._stopped = threading.Event()
        self._pending: deque[_Batch] = deque()
        self._error: BaseException | None = None
        self.unsent: list[_Batch] = []

    def requests(self) -> Iterator[pb.StoreRequest]:
        """StoreRequests, one per batch with memories."""
        began, sent = time.monotonic(), 0
        try:
            for batch in self._batches:
                if not batch.memories:  # only last: settled once the rest is acknowledged
                    self.unsent.append(batch)
                    return
                while not self._room.acquire(timeout=0.1):
                    if self._stopped.is_set():
                        return
                if self._opts.max_rate > 0:
                    sent += len(batch.memories)
                    self._stopped.wait(sent / self._opts.max_rate - (time.monotonic() - began))
                if self._stopped.is_set():
                    return
                self._pending.append(batch)
                yield pb.StoreRequest(
                    namespace=batch.namespace, memories=batch.memories, batch_id=batch.id
                )
        except Exception as exc:  # reading the source failed: end the stream, raise in run()
            self._error = exc

    def acknowledged(self, batch_id: int) -> _Batch:
        """The batch a reply acknowledges (replies come in order)."""
        batch = self._pending.popleft()
        self._room.release()
        if batch.id != batch_id:
            raise RuntimeError(f"reply for batch {batch_id}, expected {batch.id}")
        return batch

    def reraise(self) -> None:
        """Raise what stopped reading the source, if anything did."""
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Send nothing more."""
        self._stopped.set()
