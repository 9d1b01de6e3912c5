"""A full disk is RESOURCE_EXHAUSTED, never INTERNAL, and loses nothing acknowledged.

A real daemon keeps its store on a small tmpfs mounted by the test (root only). The
test fills the filesystem until Store is refused, checks that everything acknowledged
still reads back (Retrieve and Search) while the disk is full, frees space by removing
a filler file placed on the same tmpfs, checks that Store works again (until the disk
is full again, with small memories this time), and finally restarts the daemon on the
full disk to check that every acknowledged memory survived.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon

NS = "disk:full"
VALUE_BYTES = 96 * 1024
SMALL_VALUE_BYTES = 2000
FILLER_BYTES = 2 << 20


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted at ``tmp_path / "fs"``, unmounted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def memory(i: int, size: int = VALUE_BYTES) -> mpb.NewMemory:
    # Random bytes: incompressible, so every memory really takes its size on disk.
    return mpb.NewMemory(key=f"m{i:05d}", text=f"note {i} about disks", value=os.urandom(size))


def fill(daemon: Daemon, acked: dict[str, bytes], first: int, size: int) -> int:
    """Stores one memory per call until three are refused; returns how many were acked.

    A refusal must be RESOURCE_EXHAUSTED saying the disk is full, never INTERNAL. Large
    memories fill the disk midway through a write (LMDB: a short write, EIO); small ones
    on a page boundary (ENOSPC): `rust_core/src/store/disk.rs` maps both.
    """
    refused, stored = 0, 0
    for i in range(first, first + 100_000):
        item = memory(i, size)
        try:
            ack = daemon.stub.Store(pb.StoreRequest(namespace=NS, memories=[item], atomic=True))
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.code(), e.details())
            assert "disk is full" in (e.details() or "")
            refused += 1
            if refused == 3:
                return stored
            continue
        assert not ack.errors and list(ack.keys) == [item.key]
        acked[item.key] = item.value
        stored += 1
    raise AssertionError("the filesystem never filled up")


def read_back(daemon: Daemon, acked: dict[str, bytes]) -> None:
    """Every acknowledged memory reads back with its value (in message-sized chunks)."""
    keys = sorted(acked)
    for start in range(0, len(keys), 32):
        chunk = keys[start : start + 32]
        reply = daemon.stub.Retrieve(pb.RetrieveRequest(namespace=NS, keys=chunk, peek=True))
        assert [(r.key, r.found) for r in reply.results] == [(k, True) for k in chunk]
        assert all(r.memory.value == acked[r.key] for r in reply.results)


def test_full_disk_is_resource_exhausted_and_loses_nothing(
    small_fs: Path, start_daemon: StartDaemon
) -> None:
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * FILLER_BYTES)
    data_dir = small_fs / "data"
    daemon = start_daemon(data_dir=data_dir)
    acked: dict[str, bytes] = {}
    assert fill(daemon, acked, 0, VALUE_BYTES) > 10

    # Reads go on while the disk is full.
    read_back(daemon, acked)
    hits = [
        h.memory.key
        for page in daemon.stub.Search(pb.SearchRequest(namespace=NS, query="disks", limit=5))
        for h in page.hits
    ]
    assert len(hits) == 5 and set(hits) <= set(acked)

    # Space freed: the same writer commits again, until the disk is full again.
    filler.unlink()
    assert fill(daemon, acked, 10_000, SMALL_VALUE_BYTES) > 100
    read_back(daemon, acked)

    # Nothing acknowledged was lost, even restarting on a full disk.
    assert daemon.close() == 0
    restarted = start_daemon(data_dir=data_dir)
    read_back(restarted, acked)
    stats = restarted.stub.Stats(pb.StatsRequest(namespace=NS))
    assert sum(t.count for s in stats.namespaces for t in s.tiers) == len(acked)
