"""Reopen time and RSS with and without the search snapshot (issue 13, "fast reopen").

Builds a store of ``--memories`` memories (25 words from a 5 000-word vocabulary,
``--dim``-d random float32 vectors, one namespace), lets the writer build the HNSW
graph (up to ``--graph-wait`` seconds; what is not in the graph then stays pending
and is saved as pending), and closes it cleanly, which writes ``search.snapshot``.
Then, ``--rounds`` times and alternating, a fresh process opens the store:

- ``rebuild``: the snapshot file moved away first, so the open re-reads every record,
  re-tokenizes every text and copies every vector (the graph is then rebuilt in the
  background: the open does not wait for it, and searches scan exactly until then);
- ``snapshot``: the snapshot in place, so the open reads it, graph included.

Each child reports the seconds ``memd.Engine(...)`` took (ready to serve), the CPU
seconds it used meanwhile (user + system, all threads: on a shared machine the wall
time also counts waiting for a core), its RSS right after, and its peak RSS, then
the seconds of one exact vector search ("1st": it reads every row, which is where a
matrix served from the mapped snapshot is faulted in) and the RSS after it, then
exits without closing (a close would rewrite the snapshot). Printed: medians per
mode and snapshot / rebuild ratios, the snapshot's size, and the close that wrote
it. JSON in ``bench/out/reopen_<memories>.json``.

Usage: ``python bench/reopen_bench.py [--memories 100000] [--dim 384] [--rounds 3]
[--graph-wait 900] [--dir DIR] [--baseline PYTHONPATH] [--close-rounds N]`` (``--dir``
keeps the built store for another run; ``--close-rounds`` only opens the kept store
from its snapshot and times its close, which rewrites the snapshot, N times;
``--baseline`` adds a third mode, the snapshot opened by the code of another checkout,
e.g. ``git worktree add /tmp/base main`` with its extension built: the before / after
of a change on the same file, alternating). Each open's steps (``Engine.open_phases``:
wall and thread-CPU seconds) are printed as medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import memd
from memd import EngineOptions, NewMemory, SearchQuery

NS = "bench"
BATCH = 1_000
SNAPSHOT = "search.snapshot"

CHILD = """
import json, os, resource, sys, time
import memd
from memd import EngineOptions
u = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = u.ru_utime + u.ru_stime
t = time.perf_counter()
e = memd.Engine(sys.argv[1], EngineOptions(durability="nosync"))
open_s = time.perf_counter() - t
rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: the latter keeps the peak of the parent this child forked from.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
peak = int(status["VmHWM"].split()[0]) * 1024
cpu_s = usage.ru_utime + usage.ru_stime - cpu0
# The first exact vector search reads every row: with the matrix served from the
# mapped snapshot, this is where its pages are faulted in.
dim = (e.vector_index(sys.argv[2]) or (0,))[0] and int(sys.argv[3])
t = time.perf_counter()
if dim:
    q = memd.pack_embedding([1.0] * dim)
    e.search(memd.SearchQuery(sys.argv[2], vector=q, mode="semantic", exact=True, k=10))
first_search_s = time.perf_counter() - t
rss_search = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print(json.dumps({"open_s": open_s, "cpu_s": cpu_s, "rss": rss, "peak": peak,
                  "first_search_s": first_search_s, "rss_after_search": rss_search,
                  "from_snapshot": e.open_report[0], "graph": e.vector_index(sys.argv[2]),
                  "phases": getattr(e._core, "open_phases", [])}))
sys.stdout.flush()
os._exit(0)  # no close: it would write a new snapshot
"""


CLOSE_CHILD = """
import json, os, resource, sys, time
import memd
from memd import EngineOptions
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
def hwm():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) * 1024
e = memd.Engine(sys.argv[1], EngineOptions(durability="nosync"))
assert e.open_report[0], e.open_report
peak_open, cpu0, t = hwm(), cpu(), time.perf_counter()
size, _, skipped, phases = e._core.close()
close_s = time.perf_counter() - t
print(json.dumps({"close_s": close_s, "cpu_s": cpu() - cpu0, "peak_open": peak_open,
                  "peak_close": hwm(), "bytes": size, "skipped": skipped, "phases": phases}))
"""


def close_rounds(path: Path, rounds: int) -> list[dict[str, float]]:
    """Opens the store from its snapshot and closes it, ``rounds`` times, each in a
    fresh process: the close rewrites the snapshot (nothing changed, so the same one)."""
    out = []
    for _ in range(rounds):
        run = subprocess.run(
            [sys.executable, "-c", CLOSE_CHILD, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        out.append(json.loads(run.stdout))
    return out


def build(path: Path, n: int, dim: int, graph_wait: float) -> dict[str, float]:
    """Ingests the store, waits for the graph, closes; returns what that took."""
    rng = np.random.default_rng(7)
    words = np.array([f"w{i:04}" for i in range(5_000)])
    zipf = 1.0 / np.arange(1, 5_001)
    zipf /= zipf.sum()
    engine = memd.Engine(path, EngineOptions(durability="nosync"))
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        m = min(BATCH, n - start)
        texts = rng.choice(words, size=(m, 25), p=zipf)
        vecs = rng.standard_normal((m, dim), dtype=np.float32)
        items = [
            NewMemory(key=f"m{start + i:08}", text=" ".join(texts[i]), embedding=vecs[i].tobytes())
            for i in range(m)
        ]
        engine.put_many(NS, items)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    while (engine.vector_index(NS) or (0, 0, 0, 0))[2] and time.perf_counter() - t < graph_wait:
        time.sleep(1.0)
    graph_s = time.perf_counter() - t
    graph = engine.vector_index(NS)
    engine.search(SearchQuery(NS, text="w0001", k=1))
    print(f"ingested in {ingest_s:.1f} s; closing at {time.time():.0f}", flush=True)
    t = time.perf_counter()
    engine.close()
    close_s = time.perf_counter() - t
    return {"ingest_s": ingest_s, "graph_wait_s": graph_s, "close_s": close_s, "graph": graph}


def reopen(path: Path, dim: int, pythonpath: str | None = None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), NS, str(dim)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memories", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--graph-wait", type=float, default=900.0)
    ap.add_argument("--dir", type=Path)
    ap.add_argument(
        "--no-rebuild", action="store_true", help="skip the rebuild mode (slow at 1 000 000)"
    )
    ap.add_argument(
        "--baseline",
        metavar="PYTHONPATH",
        help="also open the snapshot with the memd package found there (another checkout "
        "with its extension built), alternating with this one: before / after a change",
    )
    ap.add_argument(
        "--close-rounds",
        type=int,
        default=0,
        help="only measure the close: open the kept store and close it this many times",
    )
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="memd-reopen-"))
    path = root / "store"
    built: dict[str, object] = {}
    if not (path / SNAPSHOT).exists():
        shutil.rmtree(path, ignore_errors=True)
        built = build(path, args.memories, args.dim, args.graph_wait)
        print(f"built {args.memories} memories: {built}")
    if args.close_rounds:
        closes = close_rounds(path, args.close_rounds)
        med = {f: statistics.median(c[f] for c in closes) for f in ("close_s", "cpu_s")}
        print(f"\nclose of {args.memories} memories, {args.close_rounds} rounds: {closes}")
        print(f"close median {med['close_s']:.2f} s wall, {med['cpu_s']:.2f} s CPU")
        for i, (name, _, _) in enumerate(closes[-1]["phases"]):
            wall = statistics.median(c["phases"][i][1] for c in closes)
            cpu = statistics.median(c["phases"][i][2] for c in closes)
            print(f"  close phase {name:16} {wall:8.3f} s wall {cpu:8.3f} s CPU (medians)")
        out = Path(__file__).parent / "out"
        out.mkdir(exist_ok=True)
        report = {"memories": args.memories, "closes": closes, "medians": med}
        (out / f"reopen_close_{args.memories}.json").write_text(json.dumps(report, indent=1))
        return
    kept = root / f"{SNAPSHOT}.kept"
    shutil.copy(path / SNAPSHOT, kept)
    runs: dict[str, list[dict[str, float]]] = {"rebuild": [], "snapshot": []}
    if args.baseline:
        runs["baseline"] = []  # the snapshot opened by the other checkout's code
    if args.no_rebuild:
        del runs["rebuild"]
    for _ in range(args.rounds):
        if not args.no_rebuild:
            (path / SNAPSHOT).unlink()
            runs["rebuild"].append(reopen(path, args.dim))
            shutil.copy(kept, path / SNAPSHOT)
        runs["snapshot"].append(reopen(path, args.dim))
        if args.baseline:
            runs["baseline"].append(reopen(path, args.dim, args.baseline))
    assert all(r["from_snapshot"] for r in runs["snapshot"] + runs.get("baseline", []))
    assert not any(r["from_snapshot"] for r in runs.get("rebuild", [])), runs["rebuild"]
    med = {
        mode: {
            f: statistics.median(r[f] for r in rs)
            for f in ("open_s", "cpu_s", "rss", "peak", "first_search_s", "rss_after_search")
        }
        for mode, rs in runs.items()
    }
    size = kept.stat().st_size
    print(f"\nreopen of {args.memories} memories ({args.dim}-d), medians of {args.rounds}:")
    head = f"{'':10}{'open s':>10}{'CPU s':>10}{'RSS MiB':>10}{'peak MiB':>10}"
    head += f"{'1st s':>8}{'RSS 1st':>9}"
    print(f"{head}   graph (vectors, nodes, pending, condemned)")
    for mode, m in med.items():
        mib = f"{m['rss'] / 2**20:10.0f}{m['peak'] / 2**20:10.0f}"
        mib += f"{m['first_search_s']:8.3f}{m['rss_after_search'] / 2**20:9.0f}"
        print(f"{mode:10}{m['open_s']:10.3f}{m['cpu_s']:10.3f}{mib}   {runs[mode][-1]['graph']}")
    fields = ("open_s", "cpu_s", "rss", "peak", "first_search_s")
    report_extra: dict[str, object] = {}
    ratio: dict[str, float] = {}
    if "rebuild" in med:
        ratio = {f: med["snapshot"][f] / med["rebuild"][f] for f in fields}
        cells = "".join(f"{ratio[f]:10.3f}" for f in fields)
        print(f"{'ratio':10}{cells}   snapshot / rebuild")
    if args.baseline:
        vs_base = {f: med["snapshot"][f] / med["baseline"][f] for f in fields}
        report_extra["snapshot_vs_baseline"] = vs_base
        cells = "".join(f"{vs_base[f]:10.3f}" for f in fields)
        print(f"{'ratio':10}{cells}   snapshot / baseline's snapshot open")
    for mode, rs in runs.items():
        names = [p[0] for p in rs[-1]["phases"]]
        for i, name in enumerate(names):
            wall = statistics.median(r["phases"][i][1] for r in rs)
            cpu = statistics.median(r["phases"][i][2] for r in rs)
            print(f"  {mode} phase {name:18} {wall:8.3f} s wall {cpu:8.3f} s CPU (medians)")
    print(f"snapshot file: {size / 2**20:.0f} MiB ({size / args.memories:.0f} B per memory)")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    report = {
        "memories": args.memories,
        "dim": args.dim,
        "built": built,
        "runs": runs,
        "medians": med,
        "ratio": ratio,
        "snapshot_bytes": size,
        **report_extra,
    }
    (out / f"reopen_{args.memories}.json").write_text(json.dumps(report, indent=1, default=str))
    if not args.dir:
        shutil.rmtree(root)
    else:
        os.remove(kept)


if __name__ == "__main__":
    main()
