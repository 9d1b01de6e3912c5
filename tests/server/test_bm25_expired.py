"""BM25's statistics leave out expired memories the sweep has not removed yet, through
a real daemon with the sweep off: a namespace whose other "zebra" memories have
expired scores the survivor exactly as a namespace that never held them."""

from __future__ import annotations

import time

import pytest
from memd_client import Client

from .daemon import StartDaemon

KEEP = [
    {"key": "a", "text": "a zebra by the river", "ttl_ms": 0},
    {"key": "e", "text": "plain words about something else entirely", "ttl_ms": 0},
]
GOING = [
    {"key": f"t{i}", "text": "zebra zebra " + "padding " * (i + 3), "ttl_ms": 400} for i in range(3)
]


def bm25_of_a(c: Client, ns: str) -> float:
    hits = c.search(ns, "zebra river", mode="keyword", explain=True)
    by_key = {h.memory.key: h for h in hits}
    assert by_key.keys() <= {"a", "t0", "t1", "t2"}
    e = by_key["a"].explain
    assert e is not None
    return float(e["bm25"])


def test_expired_memories_leave_idf_and_average_length(start_daemon: StartDaemon) -> None:
    d = start_daemon("--sweep-interval-s", "0", "--lifecycle-interval-s", "0")
    with Client(d.address) as c:
        c.store("only", KEEP)
        c.store("mixed", KEEP + GOING)
        alone = bm25_of_a(c, "only")
        with_going = bm25_of_a(c, "mixed")
        # While they live, the other zebras (longer memories) change the word's idf and
        # the average length: another score.
        assert abs(with_going - alone) > 1e-3
        time.sleep(0.6)
        # Expired but not swept (the sweep is off): not hits, and not statistics.
        assert [h.memory.key for h in c.search("mixed", "zebra", mode="keyword")] == ["a"]
        assert bm25_of_a(c, "mixed") == pytest.approx(alone, rel=1e-5)
