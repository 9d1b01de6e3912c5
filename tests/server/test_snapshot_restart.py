"""The search snapshot across daemon restarts: a clean stop writes it, the next start
uses it; a kill -9 after writes leaves it stale, and the next start refuses it, says so
in its log, rebuilds from LMDB and serves every acknowledged write (docs/daemon.md,
"Restart: the search snapshot")."""

from __future__ import annotations

import signal
import struct
from pathlib import Path

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon

SNAPSHOT = "search.snapshot"
WORDS = "river stone cloud ember forest harbor lantern meadow signal winter".split()


def vec(i: int) -> bytes:
    return struct.pack("<4f", 1.0, (i % 7) / 7, (i % 3) / 3, (i % 5) / 5)


def store(d: Daemon, keys: range) -> None:
    items = [
        mpb.NewMemory(
            key=f"k{i:04d}", text=f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]}", embedding=vec(i)
        )
        for i in keys
    ]
    assert not d.stub.Store(pb.StoreRequest(namespace="s", memories=items)).errors


def hits(d: Daemon, **kwargs: object) -> list[str]:
    req = pb.SearchRequest(namespace="s", limit=50, **kwargs)  # type: ignore[arg-type]
    return [h.memory.key for page in d.stub.Search(req) for h in page.hits]


def searches(d: Daemon) -> list[list[str]]:
    return [
        hits(d, query="harbor"),
        hits(d, query="zeppelin"),
        hits(d, embedding=vec(3)),
        hits(d, query="river lantern", embedding=vec(5)),
    ]


def origin(d: Daemon) -> str:
    """The open's own account of its search state: the engine's log line."""
    lines = [line for line in d.lines if "search state of" in line or "search snapshot" in line]
    assert len(lines) == 1, d.log()
    return lines[0]


def test_kill_9_after_writes_rebuilds_and_says_so(start_daemon: StartDaemon) -> None:
    data: Path
    d = start_daemon()
    data = d.data_dir
    store(d, range(300))
    assert d.stop(signal.SIGTERM) == 0
    assert (data / SNAPSHOT).is_file(), "a clean stop writes the snapshot"

    d = start_daemon()
    assert "loaded from its snapshot" in origin(d)
    before = searches(d)
    assert all(before[i] for i in (0, 2, 3)) and not before[1]
    # Acknowledged writes after the snapshot, then a crash: the snapshot is now stale.
    d.stub.Store(
        pb.StoreRequest(
            namespace="s",
            memories=[mpb.NewMemory(key="late", text="zeppelin harbor", embedding=vec(3))],
        )
    )
    deleted = before[0][0]
    d.stub.Delete(pb.DeleteRequest(namespace="s", keys=[deleted]))
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL
    assert (data / SNAPSHOT).is_file(), "the old snapshot is still on disk after the kill"

    d = start_daemon()
    line = origin(d)
    assert "refused" in line and "stale" in line and "rebuilt" in line, line
    assert "WARNING" in line or '"warning"' in line.lower(), line
    assert not (data / SNAPSHOT).exists(), "a refused snapshot is deleted, never tried again"
    rebuilt = searches(d)
    assert rebuilt[1] == ["late"], "the acknowledged write is searchable"
    assert deleted not in rebuilt[0], "the acknowledged delete holds"
    assert "late" in rebuilt[2]
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace="s", keys=["late", deleted], peek=True))
    assert [r.found for r in got.results] == [True, False]
    assert d.stop(signal.SIGTERM) == 0

    d = start_daemon()
    assert "loaded from its snapshot" in origin(d), "the clean stop after the rebuild wrote one"
    assert searches(d) == rebuilt


def test_a_stop_over_the_snapshot_budget_skips_it_and_says_so(start_daemon: StartDaemon) -> None:
    """``--snapshot-budget-s`` bounds the SIGTERM stop: a snapshot that would overrun it
    (here a budget of 0) is not written, the log says why, and the next start rebuilds
    and serves every acknowledged write."""
    d = start_daemon("--snapshot-budget-s", "0")
    data = d.data_dir
    store(d, range(200))
    written = searches(d)
    assert d.stop(signal.SIGTERM) == 0
    assert not (data / SNAPSHOT).exists() and not (data / f"{SNAPSHOT}.tmp").exists()
    skipped = [line for line in d.lines if "search snapshot of" in line]
    assert len(skipped) == 1 and "not written" in skipped[0] and "budget" in skipped[0], d.log()

    d = start_daemon()
    assert "built from LMDB (no snapshot)" in origin(d)
    assert searches(d) == written
    assert d.stop(signal.SIGTERM) == 0
    assert (data / SNAPSHOT).is_file(), "the default budget writes it"
