"""Fixtures for end-to-end tests against real ``memd serve`` processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .daemon import Daemon, StartDaemon


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[StartDaemon]:
    """``start_daemon(*flags, data_dir=None, env=None, default_embedding=False)``: a daemon.

    Every daemon started through it is stopped at teardown. ``data_dir`` defaults to
    ``tmp_path / "data"``, so two calls in one test reopen the same store.
    """
    started: list[Daemon] = []

    def start(
        *flags: str,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        default_embedding: bool = False,
    ) -> Daemon:
        daemon = Daemon(
            data_dir or tmp_path / "data", *flags, env=env, default_embedding=default_embedding
        )
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for a whole module; tests isolate themselves by namespace."""
    daemon = Daemon(tmp_path_factory.mktemp("shared") / "data")
    yield daemon
    daemon.close()


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses."""
    return f"test:{uuid.uuid4().hex[:12]}"
