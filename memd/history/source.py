"""What ``memd import`` reads: records from a source file, each with where it came from.

A source turns a file into ``Record``s from a position on (so an import can resume),
each carrying the position after it. ``JsonlSource`` reads the memd format
(``memd.history.jsonl``); ``memd.history.mem0.Mem0Source`` reads Mem0's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from memd._pb.v1 import memory_pb2 as mpb
from memd.history.jsonl import FormatError, decode


@dataclass(frozen=True, slots=True)
class Record:
    """One item of a source.

    Attributes:
        label: Where it is, for messages: ``line 12``, ``item 3 (id ...)``.
        line: Its number in the source (its line, or its index + 1 in a document).
        end: The source position right after it.
        namespace: Where it goes.
        memory: What to store; None when ``error`` or ``skip`` says why not.
        error: Why it cannot be stored (malformed); counts as rejected.
        skip: Why it is left out on purpose (already expired); not an error.
    """

    label: str
    line: int
    end: int
    namespace: str = ""
    memory: mpb.NewMemory | None = None
    error: str = ""
    skip: str = ""


class Source(Protocol):
    """A file ``memd import`` can read.

    Attributes:
        format: Its format's name (``--from``), recorded in the checkpoint.
        total: Its size in units of ``Record.end`` (bytes, items), for progress.
    """

    format: str
    total: int

    def records(self, position: int, line: int) -> Iterator[Record]:
        """The records from ``position`` on; ``line`` items come before it."""
        ...


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(when: dt.datetime) -> int:
    """Whole milliseconds since the Unix epoch (exact: no float); naive times are UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - _EPOCH) // dt.timedelta(milliseconds=1)


def expired(memory: mpb.NewMemory, now_ms: int) -> bool:
    """True when the history gives an expiry at or before ``now_ms``.

    The daemon would reject the memory (it expired before it arrived), so it is not sent.
    """
    at = memory.history.expires_at_ms if memory.HasField("history") else 0
    return 0 < at <= now_ms


class JsonlSource:
    """The memd JSON Lines format, resumable at any line boundary (a byte offset).

    Blank lines are ignored; a malformed line is a rejected record naming its line.
    """

    format = "memd"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = path.stat().st_size

    def records(self, position: int, line: int) -> Iterator[Record]:
        """The records after byte ``position``, which is the start of line ``line + 1``."""
        now_ms = time.time_ns() // 1_000_000
        with self.path.open("rb") as fh:
            fh.seek(position)
            for raw in fh:
                position += len(raw)
                line += 1
                if not raw.strip():
                    continue
                label = f"line {line}"
                try:
                    namespace, memory = decode(raw)
                except FormatError as exc:
                    yield Record(label, line, position, error=str(exc))
                    continue
                if expired(memory, now_ms):
                    yield Record(label, line, position, namespace, skip="expired before the import")
                    continue
                yield Record(label, line, position, namespace, memory)
