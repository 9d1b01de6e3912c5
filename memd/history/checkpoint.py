"""Where an import stands: the checkpoint file that lets ``memd import`` resume.

After the daemon acknowledges a batch (committed), the importer records where the
source continues after it. An interrupted import (Ctrl-C, a kill, the daemon going
away) rerun with the same command resumes there. The file is replaced atomically and
at most about once a second, so it may lag the last acknowledgement: the batches
after it are sent again, which is harmless because a store with history is
idempotent by key (the same memory again is the same memory).

A checkpoint names its source by size and a hash of its first 64 KiB, so a rerun on
another or a changed file is refused instead of skipping the wrong lines.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

_HEAD_BYTES = 64 * 1024
_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint that cannot be used for this source (unreadable, another file)."""


@dataclass(frozen=True)
class Checkpoint:
    """Progress of one import of one source file.

    Attributes:
        source: The source file's size and head hash (``identity``).
        format: The source format (``memd``, ``mem0``).
        position: Where reading continues: a byte offset (JSON Lines) or an item
            index (a JSON document).
        line: Items read before ``position`` (lines, or a document's items), so
            messages keep numbering from 1 at the start of the file.
        stored: Memories acknowledged as stored.
        merged: Of those, stored by merging into an existing memory (dedup, which
            applies to records without a history).
        rejected: Items the daemon or the parser refused.
        skipped: Items left out on purpose (already expired).
    """

    source: str
    format: str
    position: int = 0
    line: int = 0
    stored: int = 0
    merged: int = 0
    rejected: int = 0
    skipped: int = 0


def identity(path: Path) -> str:
    """``size:sha256-of-the-first-64KiB`` of a file."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    return f"{path.stat().st_size}:{hashlib.sha256(head).hexdigest()}"


def load(path: Path, source: str, fmt: str) -> Checkpoint | None:
    """The checkpoint in ``path`` for this source, or None when there is none.

    Raises:
        CheckpointError: The file is unreadable or belongs to another source.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is unreadable ({exc}); pass --restart") from None
    if not isinstance(doc, dict) or doc.pop("version", None) != _VERSION:
        raise CheckpointError(f"checkpoint {path} is not one memd import wrote; pass --restart")
    try:
        cp = Checkpoint(**doc)
    except TypeError:
        raise CheckpointError(f"checkpoint {path} is damaged; pass --restart") from None
    if (cp.source, cp.format) != (source, fmt):
        raise CheckpointError(
            f"checkpoint {path} belongs to another or a changed source file; rerun with "
            "--restart to import this file from the start"
        )
    return cp


def save(path: Path, cp: Checkpoint) -> None:
    """Write ``cp`` to ``path`` atomically (a reader sees the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": _VERSION, **asdict(cp)}) + "\n", encoding="utf-8")
    os.replace(tmp, path)
