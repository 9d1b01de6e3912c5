"""Fixtures of the archive tests: a real S3 server (s3s-fs), archive keys, and real
daemons configured to offload every ARCHIVE memory at once."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_launcher import Daemon, wait_for

from .s3server import SECRET_KEY, S3Server

StartArchived = Callable[..., Daemon]


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    """A running S3 server with an empty bucket, stopped at teardown."""
    server = S3Server(tmp_path / "s3")
    server.start()
    yield server
    server.close()


def new_key(path: Path) -> Path:
    """Write a fresh 256-bit archive key (hex) to ``path``."""
    path.write_text(secrets.token_hex(32) + "\n")
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The archive key of the test's daemons."""
    return new_key(tmp_path / "archive-a.key")


@pytest.fixture
def start_archived(tmp_path: Path, s3: S3Server, key_file: Path) -> Iterator[StartArchived]:
    """``start_archived(*flags, key=key_file)``: a daemon on ``tmp_path/data`` using ``s3``.

    It offloads every ARCHIVE memory (of at least one byte) on its next pass, a pass
    every 0.1 s. Every daemon started through it is stopped at teardown.
    """
    started: list[Daemon] = []

    def start(*flags: str, key: Path = key_file, secret_key: str = SECRET_KEY) -> Daemon:
        archive = s3.daemon_flags(
            tmp_path,
            key,
            *("--archive-offload-after-ms", "0", "--archive-offload-min-bytes", "1"),
            *("--archive-interval-s", "0.1", "--archive-timeout-ms", "2000"),
            secret_key=secret_key,
        )
        daemon = Daemon(tmp_path / "data", *archive, *flags)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses."""
    return f"test:{uuid.uuid4().hex[:12]}"


def archive_runs(daemon: Daemon) -> list[dict[str, Any]]:
    """The archive job's ``job run`` log events so far."""
    return [e for e in daemon.events if e.get("event") == "job run" and e.get("job") == "archive"]


def wait_offloaded(daemon: Daemon, n: int, timeout: float = 20.0) -> None:
    """Wait until the daemon's archive passes have offloaded ``n`` memories in all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(e["items"] - e.get("collected", 0) for e in archive_runs(daemon))
        if done >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} memories offloaded; log:\n{daemon.log()}")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``check`` until true (``wait_for`` with the check first)."""
    wait_for(what, check, timeout)
