"""Reopen from the search snapshot: every reopen searches exactly like a fresh rebuild.

A clean close writes ``search.snapshot`` beside LMDB; the next open uses it only when it
matches the store (``docs/operations.md``, search snapshot). Each test compares the
hits of a set of keyword, vector, hybrid and filtered searches after the reopen with
those of a fresh rebuild of the same directory (snapshot removed), and checks the
engine's own account of where its search state came from.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import T0_MS, FakeClock

import memd
from memd import EngineOptions, NewMemory, SearchQuery
from memd.engine import pack_embedding
from memd.errors import InvalidArgument
from memd.types import SearchFilter

SNAPSHOT = "search.snapshot"
WORDS = "river stone cloud ember forest harbor lantern meadow signal winter copper garden".split()
DIM = 16


def memories(rng: random.Random, n: int, prefix: str) -> list[NewMemory]:
    return [
        NewMemory(
            key=f"{prefix}{i:05d}",
            text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),
            embedding=pack_embedding(rng.gauss(0, 1) for _ in range(DIM)),
            tags=[f"t{rng.randint(0, 4)}"],
            metadata={"type": rng.choice(["fact", "event", "note"])},
            importance=round(rng.random(), 3),
        )
        for i in range(n)
    ]


def populate(engine: memd.Engine, n: int = 600) -> None:
    rng = random.Random(13)
    for ns in ("a", "b"):
        items = memories(rng, n if ns == "a" else 40, "k")
        for at in range(0, len(items), 200):
            engine.put_many(ns, items[at : at + 200])
    engine.delete_many("a", [f"k{i:05d}" for i in range(0, n, 7)])
    engine.put_many("a", memories(rng, 30, "k"))  # rewrites: new slots for old keys


def queries() -> list[SearchQuery]:
    rng = random.Random(5)
    vec = pack_embedding(rng.gauss(0, 1) for _ in range(DIM))
    tags = SearchFilter(tags_any=["t1", "t3"])
    meta = SearchFilter(metadata={"type": "event"})
    return [
        SearchQuery("a", text="river stone", k=20),
        SearchQuery("a", text="winter", k=20, filter=meta),
        SearchQuery("a", vector=vec, k=20),
        SearchQuery("a", vector=vec, k=20, exact=True, filter=tags),
        SearchQuery("a", text="harbor lantern", vector=vec, k=20),
        SearchQuery("b", text="meadow", vector=vec, k=10),
    ]


def hits(engine: memd.Engine) -> list[list[tuple[str, float]]]:
    return [[(h.key, round(h.score, 5)) for h in engine.search(q)] for q in queries()]


def open_engine(path: Path, **options: object) -> memd.Engine:
    return memd.Engine(path, EngineOptions(**options), clock=FakeClock())  # type: ignore[arg-type]


def fresh_rebuild(path: Path, **options: object) -> list[list[tuple[str, float]]]:
    (path / SNAPSHOT).unlink(missing_ok=True)
    with open_engine(path, **options) as engine:
        assert engine.open_report == (False, "")
        assert [step for step, _, _ in engine.open_phases] == ["rebuild"]
        return hits(engine)


def closed_store(tmp_path: Path) -> tuple[Path, list[list[tuple[str, float]]]]:
    path = tmp_path / "store"
    with open_engine(path) as engine:
        assert engine.open_report == (False, ""), "a new store has no snapshot"
        populate(engine)
        before = hits(engine)
    assert (path / SNAPSHOT).is_file(), "a clean close writes the snapshot"
    return path, before


def test_a_clean_close_reopens_from_the_snapshot(tmp_path: Path) -> None:
    path, before = closed_store(tmp_path)
    with open_engine(path) as engine:
        assert engine.open_report == (True, "")
        steps = [step for step, wall, cpu in engine.open_phases if wall >= 0 and cpu >= 0]
        assert steps == [
            "header pass",
            "snapshot map",
            "snapshot checksum",
            "snapshot decode",
            "snapshot check",
        ]
        assert hits(engine) == before
        assert all(before), "every query has hits"
        engine.put_many("a", [NewMemory(key="new", text="zeppelin river")])
        engine.delete_many("a", ["k00001"])
        assert [h.key for h in engine.search(SearchQuery("a", text="zeppelin"))] == ["new"]
        after_writes = hits(engine)
    with open_engine(path) as engine:
        assert engine.open_report == (True, ""), "the second close wrote a new snapshot"
        assert hits(engine) == after_writes
    assert fresh_rebuild(path) == after_writes


def test_kill_after_the_snapshot_rebuilds_with_every_acknowledged_write(tmp_path: Path) -> None:
    path, _ = closed_store(tmp_path)
    writer = (
        "import sys, memd\n"
        f"e = memd.Engine(sys.argv[1], clock=lambda: {T0_MS})\n"
        "e.put_many('a', [memd.NewMemory(key='late', text='zeppelin harbor')])\n"
        "e.delete_many('a', ['k00002'])\n"
        "print('acked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", writer, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"acked\n", proc.stderr.read() if proc.stderr else b""
    finally:
        proc.kill()  # SIGKILL: the commits are in LMDB, the snapshot is the old one
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with open_engine(path) as engine:
        from_snapshot, reason = engine.open_report
        assert not from_snapshot and "stale" in reason, reason
        assert not (path / SNAPSHOT).exists(), "a refused snapshot is deleted"
        assert [h.key for h in engine.search(SearchQuery("a", text="zeppelin"))] == ["late"]
        assert engine.get("a", "k00002") is None
        reopened = hits(engine)
    assert fresh_rebuild(path) == reopened


def test_a_corrupt_or_torn_snapshot_is_refused(tmp_path: Path) -> None:
    path, before = closed_store(tmp_path)
    snap = path / SNAPSHOT
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x01
    snap.write_bytes(bytes(data))
    with open_engine(path) as engine:
        assert engine.open_report[0] is False and "checksum" in engine.open_report[1]
        assert hits(engine) == before
    snap.write_bytes(snap.read_bytes()[:1000])
    with open_engine(path) as engine:
        assert engine.open_report[0] is False and "malformed" in engine.open_report[1]
        assert hits(engine) == before


def test_a_search_language_change_invalidates_it(tmp_path: Path) -> None:
    path, _ = closed_store(tmp_path)
    with open_engine(path, search_language="none") as engine:
        from_snapshot, reason = engine.open_report
        assert not from_snapshot and "changed (english -> none)" in reason
        reopened = hits(engine)
    assert fresh_rebuild(path, search_language="none") == reopened


def test_a_stop_words_change_invalidates_it(tmp_path: Path) -> None:
    path, _ = closed_store(tmp_path)
    with open_engine(path, search_stop_words=True) as engine:
        from_snapshot, reason = engine.open_report
        assert not from_snapshot and "changed (english -> english+stop)" in reason
        reopened = hits(engine)
    assert fresh_rebuild(path, search_stop_words=True) == reopened


def test_the_graph_comes_back_built(tmp_path: Path) -> None:
    """Past the graph threshold (10 000 vectors) the HNSW graph is saved too: the
    reopened namespace walks the same graph at once, nothing pending."""
    path = tmp_path / "store"
    rng = random.Random(3)
    items = memories(rng, 10_400, "g")
    with open_engine(path) as engine:
        for at in range(0, len(items), 1000):
            engine.put_many("a", items[at : at + 1000])
        engine.delete_many("a", [f"g{i:05d}" for i in range(0, 400)])
        while engine.vector_index("a")[2]:  # type: ignore[index]
            engine.search(SearchQuery("a", text="river", k=1))  # the writer builds when idle
        built = engine.vector_index("a")
        before = hits(engine)
    assert built is not None and built[1] >= 10_000 and built[2] == 0
    with open_engine(path) as engine:
        assert engine.open_report == (True, "")
        assert engine.vector_index("a") == built
        assert hits(engine) == before, "the same graph walk, the same hits"


def test_a_close_over_its_snapshot_budget_leaves_no_new_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A budget the write cannot meet (0 s) abandons it: no file is renamed into place,
    the log says so, and the next open rebuilds everything that was acknowledged."""
    path, _ = closed_store(tmp_path)
    old = (path / SNAPSHOT).read_bytes()
    engine = open_engine(path)
    engine.put_many("a", [NewMemory(key="late", text="zeppelin harbor")])
    after = hits(engine)
    with caplog.at_level(logging.INFO, logger="memd.engine"):
        engine.close(snapshot_budget_s=0)
    assert "not written (not written within its time budget of 0 s" in caplog.text
    assert (path / SNAPSHOT).read_bytes() == old, "the old, now stale, snapshot is untouched"
    assert not (path / f"{SNAPSHOT}.tmp").exists()
    with open_engine(path) as engine:
        from_snapshot, reason = engine.open_report
        assert not from_snapshot and "stale" in reason, reason
        assert hits(engine) == after
        with pytest.raises(InvalidArgument, match="snapshot_budget_s"):
            engine.close(snapshot_budget_s=-1)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="memd.engine"):
            engine.close(snapshot_budget_s=60)
        assert "search snapshot of" in caplog.text and "written:" in caplog.text
        assert "close: writer stop" in caplog.text and "snapshot write" in caplog.text
    with open_engine(path) as engine:
        assert engine.open_report == (True, "")
        assert hits(engine) == after
