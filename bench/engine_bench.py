"""Core engine benchmarks: memd (through Python) against the Python ``lmdb`` package.

    python bench/engine_bench.py [--full] [--reps 5] [--n 20000] [--dir TMPDIR]
                                 [--parts puts reads sweep reopen]

Every figure is the median of ``--reps`` repetitions, and every ratio compares memd
with its baseline measured in the same run, alternating the two sides, on the same
filesystem: these machines are shared and noisy, so only same-run ratios mean
anything. Sync flags match: memd "sync" vs LMDB's default fsync per commit, memd
"nosync" vs ``sync=False``. What each case does is in ``bench/engine_cases.py``.

Prints the machine, a markdown table, and writes the same as JSON to ``bench/out/``.
Reopen time and RSS are measured in fresh processes at 100 000 memories (and at
1 000 000 with ``--full``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import engine_cases as c
import lmdb

import memd
from memd import EngineOptions

OUT = Path(__file__).resolve().parent / "out"
PARTS = ["puts", "reads", "sweep", "reopen"]


def fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


class Table:
    def __init__(self, reps: int) -> None:
        self.reps = reps
        self.rows: list[dict[str, object]] = []

    def add(
        self,
        name: str,
        unit: str,
        ours: float,
        baseline: str = "",
        base: float | None = None,
        better: str | None = None,
    ) -> None:
        better = better or ("higher" if unit.endswith("/s") else "lower")
        ratio = ours / base if base else None
        self.rows.append(
            {"benchmark": name, "unit": unit, "memd": ours, "baseline": baseline,
             "baseline_value": base, "ratio": ratio, "better": better}
        )  # fmt: skip
        vs = f" vs {fmt(base)} {baseline} ({ratio:.2f}x)" if base and ratio else ""
        print(f"  {name}: {fmt(ours)} {unit}{vs}", flush=True)

    def paired(
        self, name: str, unit: str, ours: Callable[[], float], baseline: str,
        theirs: Callable[[], float], better: str | None = None,
    ) -> None:  # fmt: skip
        """Median of reps of each side, alternating so drift hits both alike."""
        a, b = [], []
        for _ in range(self.reps):
            a.append(ours())
            b.append(theirs())
        self.add(name, unit, statistics.median(a), baseline, statistics.median(b), better)

    def markdown(self) -> str:
        lines = [
            "| benchmark | memd | baseline | baseline value | memd/baseline | unit |",
            "|---|---:|---|---:|---:|---|",
        ]
        for r in self.rows:
            base, ratio = r["baseline_value"], r["ratio"]
            cells = [
                r["benchmark"],
                fmt(r["memd"]),  # type: ignore[arg-type]
                r["baseline"],
                fmt(base) if base else "",  # type: ignore[arg-type]
                f"{ratio:.2f} ({r['better']} is better)" if ratio else "",
                r["unit"],
            ]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
        return "\n".join(lines)


def bench_puts(t: Table, d: c.Dirs, n: int) -> None:
    for durability in ("sync", "nosync"):
        lmdb_flags = "sync" if durability == "sync" else "sync=False"
        for batch in (100, 1000):
            t.paired(
                f"put_many {batch}/batch, {durability}", "items/s",
                partial(c.memd_put, d, durability, batch, n),
                f"py-lmdb putmulti {batch}/txn, {lmdb_flags}",
                partial(c.lmdb_put, d, durability, batch, n),
            )  # fmt: skip
    t.paired(
        "put_many 1000/batch at capacity (each put demotes one)", "items/s",
        partial(c.memd_put_evicting, d, n // 2, n),
        "memd below capacity",
        partial(c.memd_put_evicting, d, 0, n),
    )  # fmt: skip


def bench_reads(t: Table, d: c.Dirs, n: int) -> None:
    memd_dir, lmdb_dir, batches = c.read_fixture(d, n)
    env = lmdb.open(str(lmdb_dir), map_size=8 << 30, max_dbs=8, readonly=True)
    db = env.open_db(b"memories", create=False)
    opts = EngineOptions(durability="nosync", tiers=c.UNBOUNDED)
    with memd.Engine(memd_dir, opts) as eng:
        for count in (False, True):
            t.paired(
                f"get_many 1000/batch, count_access={count}", "items/s",
                partial(c.memd_get, eng, batches, count),
                "py-lmdb getmulti, 1 txn/batch",
                partial(c.lmdb_get, env, batches),
            )  # fmt: skip

        def lmdb_one(k: str) -> object:
            with env.begin(db=db) as txn:
                return txn.get(c.lmdb_key(k))

        sample = batches[0] * 5
        runs = [
            (c.latencies(partial(eng.get, c.NS), sample), c.latencies(lmdb_one, sample))
            for _ in range(t.reps)
        ]
        for i, label in enumerate(("p50", "p99")):
            t.add(
                f"single get latency {label}", "µs",
                statistics.median(r[0][i] for r in runs),
                "py-lmdb get in its own txn",
                statistics.median(r[1][i] for r in runs),
            )  # fmt: skip
    env.close()


def bench_sweep(t: Table, d: c.Dirs, n: int) -> None:
    t.paired(
        "sweep cost per expired memory", "µs", partial(c.memd_sweep, d, n),
        "py-lmdb delete 1000/txn", partial(c.lmdb_delete, d, n),
    )  # fmt: skip


def bench_reopen(t: Table, d: c.Dirs, size: int) -> None:
    path = d.new()
    start = time.perf_counter()
    c.build_store(path, size)
    t.add(f"build {size:,} (default tiers, nosync)", "s", time.perf_counter() - start)
    probes = [c.reopen(path) for _ in range(t.reps)]
    assert all(p["count"] == size for p in probes)

    def med(f: Callable[[dict], float]) -> float:
        return statistics.median(f(p) for p in probes)

    t.add(f"reopen {size:,}: open", "s", med(lambda p: p["open_s"]))
    t.add(f"reopen {size:,}: ready (open + 1st get)", "s", med(lambda p: p["ready_s"]))
    t.add(f"reopen {size:,}: RSS after open", "MiB", med(lambda p: p["after"]["VmRSS"] / 1024))
    per = med(lambda p: (p["after"]["RssAnon"] - p["before"]["RssAnon"]) * 1024 / size)
    t.add(f"reopen {size:,}: anonymous memory per memory", "bytes", per)
    t.add(f"{size:,}: data.mdb per memory", "bytes", (path / "data.mdb").stat().st_size / size)


def main() -> None:
    p = argparse.ArgumentParser(description="memd core benchmarks vs py-lmdb")
    p.add_argument("--full", action="store_true", help="also reopen 1 000 000 memories")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--n", type=int, default=20_000, help="memories per throughput rep")
    p.add_argument("--dir", default=None, help="scratch directory (default: system temp)")
    p.add_argument(
        "--parts", nargs="+", choices=PARTS, default=PARTS, help="which cases to run (all)"
    )
    args = p.parse_args()
    header = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "nproc": len(os.sched_getaffinity(0)),
        "load_avg_1m": os.getloadavg()[0],
        "machine": platform.platform(),
        "python": platform.python_version(),
        "py_lmdb": f"{lmdb.__version__} (LMDB {'.'.join(map(str, lmdb.version()))})",
        "reps": args.reps,
        "n": args.n,
        "parts": args.parts,
    }
    for k, v in header.items():
        print(f"{k}: {v}")
    table, dirs = Table(args.reps), c.Dirs(args.dir)
    try:
        if "puts" in args.parts:
            bench_puts(table, dirs, args.n)
        if "reads" in args.parts:
            bench_reads(table, dirs, args.n)
        if "sweep" in args.parts:
            bench_sweep(table, dirs, args.n)
        for size in (100_000, 1_000_000) if args.full else (100_000,):
            if "reopen" in args.parts:
                bench_reopen(table, dirs, size)
    finally:
        dirs.cleanup()
    header["load_avg_1m_end"] = os.getloadavg()[0]
    print("\n" + table.markdown())
    OUT.mkdir(exist_ok=True)
    out = OUT / f"engine_bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({**header, "rows": table.rows}, indent=2))
    print(f"\nload average at end: {header['load_avg_1m_end']:.2f}\nwrote {out}")


if __name__ == "__main__":
    main()
