"""Follower reads with bounded staleness.

A client that can accept slightly old data sends ``memd-max-staleness-ms: N`` with a
Retrieve, List or Search. A node that follows the namespace's partition then answers
from its own copy when that copy is at most N ms behind the owner (``Following.
staleness``: an upper bound), instead of forwarding to the owner; otherwise the request
goes to the owner as usual. Either way the reply's trailing metadata says where it was
read (``memd-read-from``: ``owner`` or ``follower``) and how far behind that copy was
at most (``memd-staleness-ms``, ``memd-staleness-entries``; 0 on the owner). Without the
header nothing changes: reads go to the owner (read-your-writes).
"""

from __future__ import annotations

from typing import Any

from memd.errors import InvalidArgument

MAX_STALENESS = "memd-max-staleness-ms"
"""Request metadata: the staleness (ms) the caller accepts from a follower."""
READ_FROM, STALENESS_MS, STALENESS_ENTRIES = (
    "memd-read-from",
    "memd-staleness-ms",
    "memd-staleness-entries",
)
_MAX_BOUND_MS = 24 * 3600 * 1000


def parse_max_staleness(text: str | None) -> int | None:
    """The caller's bound (the raw ``memd-max-staleness-ms`` value), if it sent one.

    Raises:
        InvalidArgument: Not a whole number of milliseconds from 0 to one day.
    """
    if text is None:
        return None
    text = text.strip()
    if not text.isdigit() or int(text) > _MAX_BOUND_MS:
        raise InvalidArgument(
            f"{MAX_STALENESS} must be a whole number of milliseconds from 0 to "
            f"{_MAX_BOUND_MS}, not {text!r}"
        )
    return int(text)


def report(context: Any, source: str, ms: int = 0, entries: int = 0) -> None:
    """Say in the trailing metadata where a bounded-staleness read was served."""
    context.set_trailing_metadata(
        ((READ_FROM, source), (STALENESS_MS, str(ms)), (STALENESS_ENTRIES, str(entries)))
    )
