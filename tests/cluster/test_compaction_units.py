"""The pure parts of log compaction: the purge point against a model of a partition's
log, the hole check of the applier, the applied sequences a node publishes."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from memd.cluster.compaction import purge_point
from memd.cluster.entry import Entry
from memd.cluster.placement import NodeRecord
from memd.cluster.replica import LogGap, PartitionState, Replica


@st.composite
def _logs(draw: st.DrawFn) -> tuple[list[int], list[int | None], int]:
    """A partition's log (its sequences: gaps between them are other partitions'
    entries), how far each replica applied it (owner first; None: not said), and K."""
    gaps = draw(st.lists(st.integers(1, 5), min_size=0, max_size=40))
    log = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    owner = len(log)  # the owner applied every entry it appended
    others = draw(st.lists(st.one_of(st.none(), st.integers(0, owner)), max_size=3))
    # A replica's applied sequence: 0 (nothing) or the sequence of its last entry.
    applied = [log[n - 1] if n else 0 for n in [owner]] + [
        None if n is None else (log[n - 1] if n else 0) for n in others
    ]
    return log, applied, draw(st.integers(1, 10))


@given(_logs())
def test_a_purge_keeps_what_any_replica_lacks_and_the_last_k(
    case: tuple[list[int], list[int | None], int],
) -> None:
    log, applied, keep = case
    recent = deque(log, maxlen=keep)
    point = purge_point(applied, recent[0] if len(recent) >= keep else None)
    kept = [seq for seq in log if seq >= point]
    if point == 0:
        assert kept == log
        assert None in applied or len(log) < keep
        return
    # Never an entry some current replica has not applied.
    for a in applied:
        assert a is not None
        assert all(seq in kept for seq in log if seq > a)
    # At least the last K, and the last entry always (the log is never emptied, so a
    # node can tell what the first entry left follows).
    assert len(kept) >= keep and kept[-1] == log[-1]
    # And everything below the point is gone: the lowest replica's entries and the
    # K-th last entry bound it, nothing else.
    lowest = min(a for a in applied if a is not None)
    assert point == min(recent[0], lowest + 1)


def test_nothing_is_purged_while_a_replica_has_not_said() -> None:
    assert purge_point([100, None], 50) == 0
    assert purge_point([100, 90], None) == 0
    assert purge_point([], 50) == 0
    assert purge_point([100, 90, 95], 97) == 91
    assert purge_point([100, 99], 60) == 60


def _entry(prev: int) -> Entry:
    return Entry("barrier", b"", 0, 1, "n1", prev)


def test_an_entry_after_a_hole_is_not_applied() -> None:
    state = PartitionState(0, applied=10)
    replica = Replica.__new__(Replica)  # the hole check comes before any engine call
    try:
        replica.apply(state, 20, _entry(prev=15))
    except LogGap as gap:
        assert "follows 15" in str(gap)
    else:
        raise AssertionError("an entry after a purged one was applied")
    assert state.applied == 10
    replica.max_items = 1
    assert replica.apply(state, 20, _entry(prev=10))  # its predecessor applied: applied
    assert state.applied == 20
    assert not replica.apply(state, 20, _entry(prev=10))  # again: skipped


def test_a_node_publishes_what_it_applied_per_partition() -> None:
    record = NodeRecord("h:1", 5, applied={3: 17, 0: 2})
    assert NodeRecord.decode(record.encode()) == record
    old = b'{"address": "h:1", "seen_ms": 5}'  # a node of the previous version
    assert NodeRecord.decode(old).applied == {}


def test_an_entry_read_back_knows_its_predecessor() -> None:
    entry = Entry("store", b"x", 7, 2, "n1")
    again = Entry.from_message(entry.headers(41), b"x")
    assert again.prev == 41
    assert Entry.from_message({"Memd-Kind": "store"}, b"").prev == -1
