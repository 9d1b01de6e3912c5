"""kill -9 at random moments loses nothing acknowledged and never corrupts the store.

A writer process (``tests/crash_writer.py``) stores batches and prints each one after
``put_many`` returned. The test SIGKILLs it after a random delay, then checks with the
independent witness (plain py-lmdb, another process) that every acknowledged key is on
disk with its value and every acknowledged delete stuck, and restarts the writer on
the same directory (so every reopen is a recovery). ``nosync`` must be as safe as
``sync`` here: a process crash leaves committed pages in the OS page cache.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_writer import NS, batch, doomed_key, options
from engine_helpers import list_all
from witness import run_in_subprocess as run_witness

import memd

WRITER = Path(__file__).resolve().parents[1] / "crash_writer.py"


def wait_ready(proc: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 60
    while not out.read_text().startswith("ready\n"):
        assert proc.poll() is None, f"writer died before ready: {proc.stderr.read()!r}"
        assert time.monotonic() < deadline, "writer never became ready"
        time.sleep(0.005)


def run_and_kill(path: Path, durability: str, run: int, delay_s: float, out: Path) -> list[str]:
    """One writer life; returns its complete (acknowledged) output lines."""
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), durability, str(run)],
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
    try:
        wait_ready(proc, out)
        time.sleep(delay_s)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"writer failed on its own: {err.decode()}"
    text = out.read_text()
    return text[: text.rfind("\n") + 1].splitlines()[1:]  # drop a torn last line and "ready"


def in_flight(run: int, lines: list[str], last_put: tuple[int, int]) -> dict[str, bytes | None]:
    """What the call after the last acknowledged line may have committed (key -> value,
    None for a delete): the writer is sequential, so at most one call is in flight."""
    if lines and lines[-1].startswith("put"):
        doomed = doomed_key(*last_put)
        if doomed:
            return {doomed: None}
    seq = last_put[1] + 1 if last_put[0] == run else 0
    return {**batch(run, seq), "counter": f"{run}:{seq}".encode()}


def crash_loop(tmp_path: Path, durability: str, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "store"
    acked: dict[str, bytes] = {}  # what the store must hold
    deleted: set[str] = set()  # acknowledged deletes
    writes = 0
    for run in range(kills):
        lines = run_and_kill(path, durability, run, rng.uniform(0.05, 0.3), tmp_path / "out")
        last_put = (-1, -1)
        for line in lines:
            kind, *args = line.split()
            if kind == "put":
                last_put = (int(args[0]), int(args[1]))
                acked.update(batch(*last_put))
                acked["counter"] = f"{args[0]}:{args[1]}".encode()
                writes += 1
            else:
                assert kind == "del", line
                del acked[args[0]]
                deleted.add(args[0])
        maybe = in_flight(run, lines, last_put)
        dump = run_witness(path)["memories"].get(NS, {})
        on_disk = {k: bytes.fromhex(rec["value_hex"]) for k, rec in dump.items()}
        wrong = [
            k
            for k in acked.keys() | deleted | maybe.keys()
            if on_disk.get(k) not in {acked.get(k), maybe.get(k, acked.get(k))}
        ]
        assert not wrong, f"run {run}: {len(wrong)} keys lost or wrong, e.g. {sorted(wrong)[:3]}"
        for k in maybe:  # the in-flight call may or may not have landed: the disk decides
            if k in on_disk:
                acked[k] = on_disk[k]
            else:
                acked.pop(k, None)
    assert writes >= kills, "the writer acknowledged too little to prove anything"

    # The store reopens cleanly in-process and serves exactly that.
    with memd.Engine(path, options(durability)) as eng:
        keys = sorted(acked)
        got = eng.get_many(NS, keys, count_access=False)
        assert [m.value if m else None for m in got] == [acked[k] for k in keys]
        assert eng.get_many(NS, sorted(deleted)) == [None] * len(deleted)
        assert sum(t.count for t in eng.stats(NS)[0].tiers) == len(acked)
        assert [m.key for m in list_all(eng, NS)] == keys


@pytest.mark.parametrize("durability", ["sync", "nosync"])
def test_kill_9_loses_nothing_acknowledged(tmp_path, durability):
    crash_loop(tmp_path, durability, kills=5, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["sync", "nosync"])
def test_kill_9_many_times(tmp_path, durability):
    crash_loop(tmp_path, durability, kills=20, seed=20_250)
