"""Export -> import into an empty daemon -> export gives the same bytes; importing
again changes nothing; an import cut off (importer killed, daemon stopped) resumes
where it stopped when rerun, and still ends with the same bytes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from daemon_launcher import REPO, Daemon, clean_env

from .conftest import QUIET, MakeDaemon, export_of, run_memd
from .dataset import SEEDED


def _import(
    daemon: Daemon, path: Path, checkpoint: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    # An explicit checkpoint: the default sits next to the shared export file.
    return run_memd(
        "import", "--target", daemon.address, str(path), "--checkpoint", str(checkpoint), *flags
    )


def test_the_export_holds_the_variety_it_should(exported: Path) -> None:
    docs = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert {d["tier"] for d in docs} == {"working", "short_term", "long_term", "archive"}
    assert len({d["created_ms"] for d in docs}) > SEEDED // 2
    assert sum(d["version"] > 1 for d in docs) > SEEDED // 2
    assert sum(d["access_count"] > 0 for d in docs) > SEEDED // 2
    assert sum(d["expires_at_ms"] > 0 for d in docs) >= 3 * SEEDED // 20
    assert sum(d["embedding"] != "" for d in docs) == SEEDED - SEEDED // 20
    assert any(len(d["key"]) == 26 for d in docs), "server-made keys"


def test_export_import_export_gives_the_same_bytes(
    exported: Path, make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    target = make_daemon()
    done = _import(target, exported, tmp_path / "cp")
    assert done.returncode == 0, done.stderr
    assert f"import: {SEEDED} stored, 0 rejected, 0 skipped (expired)" in done.stderr
    assert not (tmp_path / "cp").exists(), "a finished import leaves no checkpoint"
    assert export_of(target, tmp_path / "again.jsonl") == exported.read_bytes()


def test_importing_twice_changes_nothing(
    exported: Path, make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    target = make_daemon()
    for _ in range(2):
        done = _import(target, exported, tmp_path / "cp")
        assert done.returncode == 0, done.stderr
    assert export_of(target, tmp_path / "again.jsonl") == exported.read_bytes()


def _start_slow_import(daemon: Daemon, path: Path, checkpoint: Path) -> subprocess.Popen[str]:
    """An import paced to ~5 s, so it can be cut off midway."""
    args = ["import", "--target", daemon.address, str(path), "--checkpoint", str(checkpoint)]
    return subprocess.Popen(
        [sys.executable, "-m", "memd", *args, "--batch-size", "100", "--max-rate", "1000"],
        cwd=REPO,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_progress(proc: subprocess.Popen[str], checkpoint: Path) -> dict[str, int]:
    """The first checkpoint that records acknowledged work (saved about once a second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the import ended before it could be cut off: {proc.stderr}"
        try:
            state: dict[str, int] = json.loads(checkpoint.read_text())
        except (FileNotFoundError, ValueError):
            state = {"stored": 0}
        if state["stored"] > 0:
            return state
        time.sleep(0.02)
    raise AssertionError("no progress recorded within 30 s")


def _assert_sent_only_the_rest(stderr: str, state: dict[str, int]) -> None:
    """The resumed run stored the lines after the checkpoint, and the total is whole."""
    rest = SEEDED - state["stored"]
    assert f"import: 100.0% {rest} memories, " in stderr, stderr  # this run's progress
    assert f"import: {SEEDED} stored, 0 rejected" in stderr


def test_a_killed_import_resumes_where_it_stopped(
    exported: Path, make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    target, checkpoint = make_daemon(), tmp_path / "cp"
    proc = _start_slow_import(target, exported, checkpoint)
    _wait_for_progress(proc, checkpoint)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    state = json.loads(checkpoint.read_text())
    assert 0 < state["stored"] < SEEDED and state["line"] == state["stored"]
    done = _import(target, exported, checkpoint)
    assert done.returncode == 0, done.stderr
    assert f"resuming {exported} after line {state['line']}" in done.stderr
    _assert_sent_only_the_rest(done.stderr, state)
    assert export_of(target, tmp_path / "again.jsonl") == exported.read_bytes()


def test_an_import_cut_off_by_the_daemon_resumes_after_its_restart(
    exported: Path, tmp_path: Path
) -> None:
    data, checkpoint = tmp_path / "data", tmp_path / "cp"
    daemon = Daemon(data, *QUIET)
    try:
        proc = _start_slow_import(daemon, exported, checkpoint)
        _wait_for_progress(proc, checkpoint)
        assert daemon.stop() == 0
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "UNAVAILABLE" in err and "rerun the same command to continue after line" in err
    finally:
        daemon.close()
    state = json.loads(checkpoint.read_text())
    assert 0 < state["stored"] < SEEDED
    daemon = Daemon(data, *QUIET)  # the same store, a new address
    try:
        done = _import(daemon, exported, checkpoint)
        assert done.returncode == 0, done.stderr
        assert "resuming" in done.stderr
        _assert_sent_only_the_rest(done.stderr, state)
        assert export_of(daemon, tmp_path / "again.jsonl") == exported.read_bytes()
    finally:
        daemon.close()
