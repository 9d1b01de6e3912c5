"""Progress of a long export or import: a bar on a terminal, plain lines in logs.

On a terminal (stderr is a TTY) one line redrawn in place, at most ten times a
second: ``import [#####.....] 48.2% 482,113 memories 31,904/s ETA 0:00:16``. Anywhere
else (a log file, systemd, CI) a plain line every ``interval_s`` seconds, so logs stay
readable: ``import: 48.2% 482113 memories, 31904/s, ETA 16s``. The rate counts the
memories of this run; the fraction and the ETA come from ``done`` out of ``total``
(bytes of the file for an import, memories for an export), so a resumed run starts
where the last one stopped.
"""

from __future__ import annotations

import sys
import time
from typing import Literal, TextIO

Mode = Literal["auto", "bar", "lines", "none"]

_BAR_WIDTH = 24
_REDRAW_S = 0.1


class Progress:
    """Reports progress towards ``total`` on ``stream``.

    Args:
        what: The operation's name, first on every line.
        total: Units of work in all (0: unknown, no percentage or ETA).
        mode: ``bar`` or ``lines`` as above; ``auto`` picks ``bar`` when ``stream`` is a
            terminal; ``none`` prints nothing.
        start: Units already done before this run (a resumed import).
        stream: Where to write; stderr by default.
        interval_s: Seconds between plain lines.
    """

    def __init__(
        self,
        what: str,
        total: int,
        mode: Mode = "auto",
        *,
        start: int = 0,
        stream: TextIO | None = None,
        interval_s: float = 10.0,
    ) -> None:
        self._stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self._stream.isatty() else "lines"
        self._mode = mode
        self._what = what
        self._total = total
        self._start_units = start
        self._began = time.monotonic()
        self._last = 0.0
        self._interval = _REDRAW_S if mode == "bar" else interval_s
        self._done = start
        self._memories = 0

    def update(self, done: int, memories: int) -> None:
        """``done`` units are finished, ``memories`` of them in this run; redraw if due."""
        self._done, self._memories = done, memories
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(final=False)

    def finish(self, summary: str) -> None:
        """Draw the last state and end with ``summary`` on its own line."""
        if self._mode == "none":
            return
        self._draw(final=True)
        self._stream.write(f"{self._what}: {summary}\n")
        self._stream.flush()

    def _draw(self, *, final: bool) -> None:
        if self._mode == "none":
            return
        elapsed = max(time.monotonic() - self._began, 1e-9)
        rate = self._memories / elapsed
        fraction = min(self._done / self._total, 1.0) if self._total else None
        eta = self._eta(elapsed) if fraction is not None and not final else None
        if self._mode == "bar":
            filled = round(_BAR_WIDTH * (fraction or 0.0))
            bar = f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] " if fraction is not None else ""
            pct = f"{100 * fraction:5.1f}% " if fraction is not None else ""
            tail = f" ETA {_clock(eta)}" if eta is not None else ""
            line = f"\r{self._what} {bar}{pct}{self._memories:,} memories {rate:,.0f}/s{tail}"
            self._stream.write(line + ("\n" if final else "\x1b[K"))
        else:
            pct = f"{100 * fraction:.1f}% " if fraction is not None else ""
            tail = f", ETA {_seconds(eta)}" if eta is not None else ""
            self._stream.write(
                f"{self._what}: {pct}{self._memories} memories, {rate:.0f}/s{tail}\n"
            )
        self._stream.flush()

    def _eta(self, elapsed: float) -> float | None:
        units = self._done - self._start_units
        if units <= 0:
            return None
        return (self._total - self._done) * elapsed / units


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else _clock(seconds)
