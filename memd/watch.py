"""Files re-read when they change: the admin token file and TLS certificates.

Rotation tools (cert-manager, a Kubernetes Secret volume, ``mv new old``) replace a file
atomically, so a change shows as a new inode, size or modification time. Checking
``stat`` at most once per ``min_interval_s`` keeps the cost on the request path to a
clock read, while a rotated file takes effect within that interval.
"""

from __future__ import annotations

import os
import threading
import time


class WatchedFile:
    """Tells whether a file changed since it was last seen.

    Args:
        path: The file.
        min_interval_s: Least time between two ``stat`` calls.
    """

    def __init__(self, path: str, min_interval_s: float = 1.0) -> None:
        self.path = path
        self._interval = min_interval_s
        self._next_check = 0.0
        self._seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def changed(self) -> bool:
        """True the first time, then whenever the file was replaced or modified.

        A file that cannot be stat'ed counts as changed once (the reader then finds
        out why it cannot be read), and again when it reappears.
        """
        now = time.monotonic()
        if now < self._next_check:
            return False
        with self._lock:
            if now < self._next_check:
                return False
            self._next_check = now + self._interval
            try:
                st = os.stat(self.path)
                seen = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError:
                seen = (-1, -1, -1)
            if seen == self._seen:
                return False
            self._seen = seen
            return True

    def read_bytes(self) -> bytes:
        """The file's content; OSError if it cannot be read."""
        with open(self.path, "rb") as fh:
            return fh.read()
