"""Structured logging: one line per event, as ``key=value`` text or JSON.

Call sites log an event name as the message and put the details in ``extra``::

    log.info("listening", extra={"fields": {"address": "127.0.0.1:50051"}})

which prints ``2025-01-01T12:00:00.000Z INFO memd.server listening address=127.0.0.1:50051``
or ``{"ts": "...", "level": "info", "logger": "memd.server", "event": "listening",
"address": "127.0.0.1:50051"}``. Exceptions are folded into the same line (``exc`` field)
so a log shipper never splits an event.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

_RESERVED = frozenset(("ts", "level", "logger", "event"))


def _timestamp(record: logging.LogRecord) -> str:
    secs = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{secs}.{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    out = {k: v for k, v in fields.items() if k not in _RESERVED} if fields else {}
    if record.args:
        # A stdlib-style call (log.info("x %s", y)) from a library: keep its text.
        out["detail"] = record.getMessage()
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single-line JSON object."""
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.msg if isinstance(record.msg, str) else str(record.msg),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger event key=value ...`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of text."""
        parts = [_timestamp(record), record.levelname, record.name, str(record.msg)]
        for key, value in _fields(record).items():
            text = str(value)
            if not text or any(c in text for c in ' "=\n'):
                text = json.dumps(text)
            parts.append(f"{key}={text}")
        if record.exc_info:
            parts.append("exc=" + json.dumps(self.formatException(record.exc_info)))
        return " ".join(parts)


def setup_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) in the chosen format.

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: ``text`` or ``json``.
        stream: Where to write; stderr by default.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # grpc logs every handler exception with a traceback at ERROR; ours never reach it
    # (the interceptor answers them), so keep its own chatter at warning.
    logging.getLogger("grpc").setLevel(max(logging.WARNING, root.level))


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log event ``name`` with ``fields`` if ``level`` is enabled.

    Args:
        logger: Where to log.
        level: A ``logging`` level.
        name: The event name, e.g. ``"listening"``.
        **fields: Details, rendered as ``key=value`` or JSON members.
    """
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
