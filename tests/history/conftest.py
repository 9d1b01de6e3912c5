"""Fixtures for export/import tests: real daemons, a varied seeded store, ``memd`` runs.

The daemons run with the capacity-triggered consolidation off (the full lifecycle pass
is ten minutes away): a round trip compares what the store holds at two moments, so
nothing may move memories in between. Everything else is the daemon's default.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon_launcher import REPO, Daemon, clean_env

from memd.cli import main

from .dataset import SEEDED, seed

QUIET = ("--lifecycle-capacity-check-s", "0")

MakeDaemon = Callable[[], Daemon]


def run_memd(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """``python -m memd ARGS`` to completion, output captured (stderr is not a TTY)."""
    return subprocess.run(
        [sys.executable, "-m", "memd", *args],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon holding ``dataset.SEEDED`` memories, shared by a module's tests (read only)."""
    daemon = Daemon(tmp_path_factory.mktemp("source") / "data", *QUIET)
    seed(daemon.stub)
    yield daemon
    daemon.close()


@pytest.fixture(scope="module")
def exported(source: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source daemon's export (every namespace)."""
    path = tmp_path_factory.mktemp("export") / "memories.jsonl"
    done = run_memd("export", "--target", source.address, "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert len(path.read_bytes().splitlines()) == SEEDED
    return path


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[MakeDaemon]:
    """``make_daemon()``: a new empty daemon, stopped at teardown."""
    started: list[Daemon] = []

    def make() -> Daemon:
        daemon = Daemon(tmp_path / f"d{len(started)}" / "data", *QUIET)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.close()


def export_of(daemon: Daemon, path: Path, *flags: str, in_process: bool = False) -> bytes:
    """Export ``daemon`` into ``path`` (with ``flags``) and return the file's bytes.

    ``in_process`` runs the same command through ``memd.cli.main`` in this process,
    saving the interpreter start of a subprocess for tests that export many times.
    """
    args = ("export", "--target", daemon.address, "-o", str(path), "--progress", "none", *flags)
    if in_process:
        assert main(list(args)) == 0
    else:
        done = run_memd(*args)
        assert done.returncode == 0, done.stderr
    return path.read_bytes()
