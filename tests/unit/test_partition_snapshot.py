"""``Engine.read_partition`` / ``install_partition``: a cluster partition's copy
(``rust_core/src/engine/snapshot.rs``, docs/cluster.md "Log compaction").

An installed copy must leave the receiving store byte for byte as the sender's for the
copied namespaces (records, packed vectors, free vector slots: what the cluster tests'
digest compares), drop the partition's namespaces the copy lacks, keep every other
namespace, record the copy's sequence in the same transaction, and serve reads and
searches from the new records at once. A copy that does not hold together changes
nothing.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memd
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.errors import InvalidArgument
from memd.types import NewMemory, SearchQuery

DIGEST = Path(__file__).resolve().parents[1] / "cluster" / "digest.py"


def _vec(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}f", *xs)


def _fill(engine: memd.Engine, ns: str, n: int, dim: int = 4) -> None:
    items = [
        NewMemory(
            key=f"k{i:03}", text=f"memory {i} of {ns}", embedding=_vec(*[i + d for d in range(dim)])
        )
        for i in range(n)
    ]
    engine.put_many(ns, items)
    # Free vector slots in the middle: a replay of the records would pack them anew.
    engine.delete_many(ns, [f"k{i:03}" for i in range(1, n, 3)])


def _digests(*paths: Path) -> list[dict[str, Any]]:
    import json

    done = subprocess.run(
        [sys.executable, str(DIGEST), *map(str, paths)], capture_output=True, text=True, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_an_installed_copy_is_the_senders_bytes_and_serves_at_once(
    make_engine: Callable[..., memd.Engine], tmp_path: Path
) -> None:
    source = make_engine(path=tmp_path / "source")
    _fill(source, "part:a", 40)
    _fill(source, "part:b", 7, dim=3)
    chunks = source.read_partition(["part:a", "part:b", "part:absent"], 42, chunk_bytes=512)
    assert len(chunks) > 1, "small chunks: the copy travels in several"
    first = cpb.PartitionSnapshotChunk.FromString(chunks[0])
    assert first.sequence == 42 and list(first.namespaces) == ["part:a", "part:b"]

    target = make_engine(path=tmp_path / "target")
    _fill(target, "part:a", 5)  # an older state of a copied namespace: replaced
    _fill(target, "part:gone", 3)  # of the partition, not in the copy: dropped
    _fill(target, "other:kept", 4)  # of another partition: untouched
    held = ["part:a", "part:gone"]
    assert target.install_partition(chunks, held, mark=("p3", 42)) == 42
    assert target.applied("p3") == 42
    assert sorted(target.namespaces()) == ["other:kept", "part:a", "part:b"]

    # The in-memory view is the new records': reads and both kinds of search.
    got = target.get_many("part:a", ["k000", "k001", "k039"], count_access=False)
    assert [m.key if m else None for m in got] == ["k000", None, "k039"]
    want = [h.key for h in source.search(SearchQuery("part:a", text="memory 9", k=3))]
    assert [h.key for h in target.search(SearchQuery("part:a", text="memory 9", k=3))] == want
    query = SearchQuery("part:b", vector=_vec(3, 4, 5), k=2)
    assert [h.key for h in target.search(query)] == [h.key for h in source.search(query)]
    # New writes land beside the copy's as they would on the sender.
    target.put("part:a", NewMemory(key="new", text="after", embedding=_vec(1, 2, 3, 4)))
    source.put("part:a", NewMemory(key="new", text="after", embedding=_vec(1, 2, 3, 4)))
    source.close()
    target.close()
    a, b = _digests(tmp_path / "source", tmp_path / "target")
    for ns in ("part:a", "part:b"):
        assert a["records"][ns] == b["records"][ns]
        assert a["namespaces"][ns] == b["namespaces"][ns], ns


def test_a_copy_that_does_not_hold_together_changes_nothing(
    make_engine: Callable[..., memd.Engine], tmp_path: Path
) -> None:
    source = make_engine(path=tmp_path / "source")
    _fill(source, "part:a", 5)
    good = source.read_partition(["part:a"], 9)
    stranger = cpb.PartitionSnapshotChunk(
        sequence=9,
        records=[
            cpb.StoreRecord(database=cpb.STORE_DATABASE_MEMORIES, key=b"other\0k", value=b"x")
        ],
    ).SerializeToString()
    later = cpb.PartitionSnapshotChunk(sequence=10).SerializeToString()
    target = make_engine(path=tmp_path / "target")
    _fill(target, "part:a", 2)
    for bad in ([], [b"\xff\xff"], [*good, stranger], [*good, later]):
        with pytest.raises(InvalidArgument):
            target.install_partition(bad, ["part:a"], mark=("p0", 9))
    assert target.applied("p0") == 0
    assert len(target.list("part:a").items) == 1
