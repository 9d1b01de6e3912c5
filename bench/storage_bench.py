"""Disk per memory and ingest rate as a store grows: what "storage that fits the data"
(issue 13) is measured against.

One engine (fresh data directory, ``--durability``) ingests ``--memories`` memories of
25 words (500-word vocabulary) with ``--dim``-d random float32 vectors, in ``put_many``
batches of 1 000 with server-made keys. Printed:

- the ingest rate (memories/s) over the first ``--window`` memories and over the last
  ``--window`` before the end, and their ratio (the issue's target: >= 0.8 between
  100 000 and 1 000 000);
- from the closed store, read in a separate process with the ``lmdb`` package: the
  ``memories`` database's entries, the leaf/branch/overflow pages of ``memories`` and
  of the packed vectors (``vectors`` + ``vector_free``, record format 2), the mean
  raw record size (what a format-1 record would be: the record with its vector
  inline, i.e. the data a memory holds) and key size, the B-trees' bytes per memory
  ((leaf + branch + overflow pages) x page size / entries), the file's bytes per
  memory, and the first over the raw record size (the target: <= 1.3).

With more than ``--mark`` memories (default 100 000) it also prints the rate over the
window ending at the mark and the last window's rate over it: at ``--memories
1000000``, ingest at 1 000 000 against ingest at 100 000 in one run. The same per CPU
second of the process (all threads) is printed beside it, which the load of a shared
machine moves much less than the wall-clock rate.

Usage: ``python bench/storage_bench.py [--memories 100000] [--window 20000]
[--mark 100000] [--dim 384] [--durability nosync] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import memd
from memd import NewMemory

NS = "bench"
BATCH = 1_000

STAT = """
import json, os, sys, lmdb
env = lmdb.open(sys.argv[1], readonly=True, lock=False, max_dbs=8)
db = env.open_db(b"memories", create=False)
with env.begin() as t:
    names = [bytes(k) for k, _ in t.cursor()]
packed = [env.open_db(n, create=False) for n in (b"vectors", b"vector_free") if n in names]
with env.begin() as t:
    st = t.stat(db)
    record = key = 0
    for k, v in t.cursor(db):
        key += len(k)
        record += len(v)
        dim = int.from_bytes(v[12:16], "little")
        if v[0] == 2 and dim:  # the vector is elsewhere; the record holds a u64 slot
            record += 4 * dim - 8
    vec = {"leaf_pages": 0, "branch_pages": 0, "overflow_pages": 0}
    for pdb in packed:
        s = t.stat(pdb)
        for f in vec:
            vec[f] += s[f]
st.update(record_bytes=record, key_bytes=key, vectors=vec,
          file_bytes=os.path.getsize(os.path.join(sys.argv[1], "data.mdb")))
print(json.dumps(st))
"""


def batches(n: int, dim: int, seed: int = 7) -> Iterator[list[NewMemory]]:
    """The memories to store, a batch at a time (made outside the timed calls)."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i:03}" for i in range(500)])
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        vectors = rng.standard_normal((size, dim), dtype=np.float32)
        texts = rng.choice(words, size=(size, 25))
        yield [
            NewMemory(text=" ".join(t), embedding=v.tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=20_000)
    parser.add_argument(
        "--mark",
        type=int,
        default=100_000,
        help="also the rate over the window ending at this many memories, and the last "
        "window's rate over it (the issue's ratio: 1 000 000 against 100 000)",
    )
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--durability", choices=("sync", "nosync"), default="nosync")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    window = max(BATCH, min(args.window, args.memories // 2)) // BATCH
    with tempfile.TemporaryDirectory(prefix="memd-storage-bench-") as tmp:
        data = Path(tmp) / "data"
        engine = memd.Engine(data, memd.EngineOptions(durability=args.durability))
        times, cpu = [], []
        try:
            for items in batches(args.memories, args.dim):
                t0, c0 = time.perf_counter(), time.process_time()
                results = engine.put_many(NS, items)
                times.append(time.perf_counter() - t0)
                # CPU seconds of every thread of the process (the writer's included):
                # steadier than wall time on a shared machine.
                cpu.append(time.process_time() - c0)
                assert all(r.error is None for r in results)
        finally:
            engine.close()
        first = window * BATCH / sum(times[:window])
        last = window * BATCH / sum(times[-window:])
        end = args.mark // BATCH
        at_mark = window * BATCH / sum(times[end - window : end]) if end < len(times) else None
        cpu_last = window * BATCH / sum(cpu[-window:])
        cpu_mark = window * BATCH / sum(cpu[end - window : end]) if end < len(cpu) else None
        out = subprocess.run(
            [sys.executable, "-c", STAT, str(data)], capture_output=True, text=True, check=True
        )
        st = json.loads(out.stdout)
    n = st["entries"]
    vec = st["vectors"]
    vec_pages = vec["leaf_pages"] + vec["branch_pages"] + vec["overflow_pages"]
    pages = st["leaf_pages"] + st["branch_pages"] + st["overflow_pages"] + vec_pages
    record = st["record_bytes"] / n
    tree = pages * st["psize"] / n
    figures = {
        "memories": n,
        "dim": args.dim,
        "durability": args.durability,
        "ingest_first_per_s": round(first),
        "ingest_last_per_s": round(last),
        "ingest_ratio": round(last / first, 3),
        "ingest_at_mark_per_s": at_mark and round(at_mark),
        "ingest_last_over_mark": at_mark and round(last / at_mark, 3),
        "ingest_per_cpu_s_last": round(cpu_last),
        "ingest_per_cpu_s_at_mark": cpu_mark and round(cpu_mark),
        "ingest_per_cpu_s_last_over_mark": cpu_mark and round(cpu_last / cpu_mark, 3),
        "record_bytes": round(record, 1),
        "key_bytes": round(st["key_bytes"] / n, 1),
        "leaf_pages": st["leaf_pages"],
        "branch_pages": st["branch_pages"],
        "overflow_pages": st["overflow_pages"],
        "vector_pages": vec,
        "tree_bytes_per_memory": round(tree),
        "file_bytes_per_memory": round(st["file_bytes"] / n),
        "tree_over_record": round(tree / record, 2),
    }
    w = window * BATCH
    print(f"{n} memories, {args.dim}-d, {args.durability}, batches of {BATCH}")
    print(f"ingest, first {w}: {first:,.0f}/s; last {w}: {last:,.0f}/s; ratio {last / first:.2f}")
    if at_mark:
        print(
            f"ingest, {w} up to {args.mark}: {at_mark:,.0f}/s; "
            f"last / that {last / at_mark:.2f} (target >= 0.8)"
        )
    if cpu_mark:
        print(
            f"per CPU second: up to {args.mark} {cpu_mark:,.0f}/s, last {cpu_last:,.0f}/s; "
            f"last / that {cpu_last / cpu_mark:.2f}"
        )
    print(
        f"record {record:.0f} B + key {figures['key_bytes']:.0f} B; pages: "
        f"{st['leaf_pages']} leaf, {st['branch_pages']} branch, {st['overflow_pages']} overflow; "
        f"vectors: {vec['leaf_pages']} leaf, {vec['branch_pages']} branch, "
        f"{vec['overflow_pages']} overflow"
    )
    print(
        f"B-tree {tree:,.0f} B/memory ({tree / record:.2f} x the record), "
        f"file {figures['file_bytes_per_memory']:,} B/memory"
    )
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
