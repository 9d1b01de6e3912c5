"""Measurements for ``bench/engine_bench.py``: each function runs one repetition.

The py-lmdb side is the strict baseline: records shaped and sized like memd's (for a
200-byte value, ~290 bytes: 72-byte header, lengths, value) are encoded before the
clock starts and written with ``putmulti`` / read with ``getmulti``, one transaction
per batch. memd's inputs (``NewMemory`` lists, key lists) are built before the clock
starts too. ``python bench/engine_cases.py DIR`` is the reopen probe run in a fresh
process (so its RSS is its own).
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

import memd
from memd import EngineOptions, NewMemory, Tier, TierOptions

NS = "bench"
VALUE = bytes(range(200))
UNBOUNDED = (TierOptions(0), TierOptions(0), TierOptions(0), TierOptions(0))
HEADER = struct.Struct("<BBBBfiIQQQQQQQ")


def keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i:09d}" for i in range(n)]


def lmdb_record(now_ms: int) -> bytes:
    """A record shaped like memd's for a 200-byte value and empty text/tags/metadata."""
    head = HEADER.pack(1, 2, 0, 0, 0.5, 0, 0, now_ms, now_ms, now_ms, 0, 1, 0, 0)
    return head + struct.pack("<I", 0) + struct.pack("<I", len(VALUE)) + VALUE + bytes(8)


def lmdb_key(key: str) -> bytes:
    return NS.encode() + b"\x00" + key.encode()


class Dirs:
    def __init__(self, base: str | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="memd-bench-", dir=base))

    def new(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.root))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --- measurements (each returns one repetition's figure) ----------------------------------


def memd_put(d: Dirs, durability: str, batch: int, n: int) -> float:
    items = [NewMemory(key=k, value=VALUE) for k in keys(n)]
    with memd.Engine(d.new(), EngineOptions(durability=durability, tiers=UNBOUNDED)) as eng:
        t = time.perf_counter()
        for i in range(0, n, batch):
            eng.put_many(NS, items[i : i + batch])
        return n / (time.perf_counter() - t)


def lmdb_put(d: Dirs, durability: str, batch: int, n: int) -> float:
    rec = lmdb_record(time.time_ns() // 1_000_000)
    pairs = [(lmdb_key(k), rec) for k in keys(n)]
    env = lmdb.open(str(d.new()), map_size=8 << 30, max_dbs=8, sync=durability == "sync")
    db = env.open_db(b"memories")
    t = time.perf_counter()
    for i in range(0, n, batch):
        with env.begin(write=True, db=db) as txn:
            txn.cursor().putmulti(pairs[i : i + batch])
    rate = n / (time.perf_counter() - t)
    env.close()
    return rate


def read_fixture(d: Dirs, n: int) -> tuple[Path, Path, list[list[str]]]:
    """Same n memories in a memd store and a py-lmdb env; shuffled 1000-key batches."""
    memd_dir, lmdb_dir = d.new(), d.new()
    with memd.Engine(memd_dir, EngineOptions(durability="nosync", tiers=UNBOUNDED)) as eng:
        for i in range(0, n, 1000):
            eng.put_many(
                NS,
                [NewMemory(key=k, value=VALUE, tier=Tier.WORKING) for k in keys(n)[i : i + 1000]],
            )
    env = lmdb.open(str(lmdb_dir), map_size=8 << 30, max_dbs=8)
    with env.begin(write=True, db=env.open_db(b"memories")) as txn:
        txn.cursor().putmulti([(lmdb_key(k), lmdb_record(0)) for k in keys(n)])
    env.close()
    order = keys(n)
    random.Random(1).shuffle(order)
    return memd_dir, lmdb_dir, [order[i : i + 1000] for i in range(0, n, 1000)]


def memd_get(eng: memd.Engine, batches: list[list[str]], count_access: bool) -> float:
    t = time.perf_counter()
    for b in batches:
        got = eng.get_many(NS, b, count_access=count_access)
    assert got[-1] is not None
    return sum(map(len, batches)) / (time.perf_counter() - t)


def lmdb_get(env: lmdb.Environment, batches: list[list[str]]) -> float:
    db = env.open_db(b"memories")
    encoded = [[lmdb_key(k) for k in b] for b in batches]
    t = time.perf_counter()
    for b in encoded:
        with env.begin(db=db) as txn:
            got = txn.cursor().getmulti(b)
    assert len(got) == len(encoded[-1])
    return sum(map(len, batches)) / (time.perf_counter() - t)


def latencies(get: Callable[[str], object], ks: list[str]) -> tuple[float, float]:
    samples = []
    for k in ks:
        t = time.perf_counter_ns()
        get(k)
        samples.append(time.perf_counter_ns() - t)
    q = statistics.quantiles(samples, n=100)
    return q[49] / 1000, q[98] / 1000  # p50, p99 in µs


def memd_sweep(d: Dirs, n: int) -> float:
    now = [1_000_000]
    with memd.Engine(
        d.new(), EngineOptions(durability="nosync", tiers=UNBOUNDED), clock=lambda: now[0]
    ) as eng:
        for i in range(0, n, 1000):
            eng.put_many(
                NS, [NewMemory(key=k, value=VALUE, ttl_ms=10) for k in keys(n)[i : i + 1000]]
            )
        now[0] += 100
        t, removed = time.perf_counter(), 0
        while True:
            r = eng.sweep(1000)
            removed += r.expired
            if not r.more:
                break
        assert removed == n
        return (time.perf_counter() - t) / n * 1e6


def lmdb_delete(d: Dirs, n: int) -> float:
    env = lmdb.open(str(d.new()), map_size=8 << 30, max_dbs=8, sync=False)
    db = env.open_db(b"memories")
    ks = [lmdb_key(k) for k in keys(n)]
    with env.begin(write=True, db=db) as txn:
        txn.cursor().putmulti([(k, lmdb_record(0)) for k in ks])
    t = time.perf_counter()
    for i in range(0, n, 1000):
        with env.begin(write=True, db=db) as txn:
            for k in ks[i : i + 1000]:
                txn.delete(k)
    took = (time.perf_counter() - t) / n * 1e6
    env.close()
    return took


def memd_put_evicting(d: Dirs, capacity: int, n: int) -> float:
    """Put n new memories into SHORT_TERM already holding `capacity` (0: unbounded)."""
    tiers = (TierOptions(0), TierOptions(capacity), TierOptions(0), TierOptions(0))
    fill = capacity or n
    with memd.Engine(d.new(), EngineOptions(durability="nosync", tiers=tiers)) as eng:
        for i in range(0, fill, 1000):
            eng.put_many(
                NS, [NewMemory(key=k, value=VALUE) for k in keys(fill, "old")[i : i + 1000]]
            )
        items = [NewMemory(key=k, value=VALUE) for k in keys(n)]
        t = time.perf_counter()
        for i in range(0, n, 1000):
            eng.put_many(NS, items[i : i + 1000])
        rate = n / (time.perf_counter() - t)
        assert eng.stats(NS)[0].tiers[1].count == (capacity or fill + n)
        return rate


def build_store(path: Path, n: int) -> None:
    """n memories with the daemon's default tiers (so most of them end up demoted)."""
    with memd.Engine(path, EngineOptions(durability="nosync")) as eng:
        for i in range(0, n, 1000):
            eng.put_many(
                NS, [NewMemory(key=f"k{j:09d}", value=VALUE) for j in range(i, min(n, i + 1000))]
            )


def rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(rest.split()[0])
    return fields


def open_probe(path: str) -> None:
    """Child process: open the store, serve one read, report time and memory as JSON."""
    before = rss_kib()
    t = time.perf_counter()
    eng = memd.Engine(path, EngineOptions(durability="nosync"))
    opened = time.perf_counter() - t
    assert eng.get(NS, "k000000000") is not None
    ready = time.perf_counter() - t
    after = rss_kib()
    count = sum(ti.count for ti in eng.stats(NS)[0].tiers)
    eng.close()
    print(
        json.dumps(
            {"open_s": opened, "ready_s": ready, "before": before, "after": after, "count": count}
        )
    )


def reopen(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


if __name__ == "__main__":
    open_probe(sys.argv[1])
