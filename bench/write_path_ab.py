"""Write-path A/B: two builds of memd on the same cases, CPU time per memory.

    python bench/write_path_ab.py --baseline DIR [--candidate DIR2] [--rounds 5] [--n 30000]
                                  [--cases default_tiers at_capacity get_counted ingest_vectors]

``DIR`` holds another build's ``memd`` package (for example main's: copy ``memd/``
with its ``_core.abi3.so`` there before rebuilding); the other side is ``DIR2``'s, or
the ``memd`` this interpreter imports. Each round runs every case once per build, alternating,
each in a fresh process, and reports the process's CPU time (user + system, every
thread: the caller's and the engine's writer) per memory, besides the wall time.

Why CPU time: on a shared machine (other engineers build and benchmark on the same
two cores) wall-clock rates of one build swing two to five times between runs, while
the CPU an operation costs moves far less; a ratio of medians of CPU per memory is
what tells two builds apart there. It is not the throughput: report wall rates only
from a quiet machine.

Cases (inputs built before the clock starts):

- ``default_tiers``: ``--n`` memories with a 200-byte value, 1 000 per ``put_many``,
  the daemon's default capacities (100 / 1 000 / 100 000): past 1 100, every memory
  demotes one from WORKING and one from SHORT_TERM, each chosen among the memories tied
  with the oldest (a batch shares its millisecond);
- ``unbounded``: the same with every tier unbounded (nothing is demoted: the shape of
  ``bench/engine_bench.py``'s put_many cases against py-lmdb);
- ``at_capacity``: the same into an unbounded tier after filling SHORT_TERM (capacity
  ``--n``/2) so each put demotes one;
- ``get_counted``: ``get_many`` of 1 000 shuffled keys with access counting;
- ``ingest_vectors``: 25-word texts with 384-d vectors (as ``bench/storage_bench.py``),
  default tiers.

Prints a markdown table; JSON in ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
CASES = ["default_tiers", "unbounded", "at_capacity", "get_counted", "ingest_vectors"]

CHILD = r"""
import json, random, resource, shutil, sys, tempfile, time
import numpy as np
import memd
from memd import EngineOptions, NewMemory, Tier, TierOptions
case, n = sys.argv[1], int(sys.argv[2])
VALUE = bytes(range(200))
keys = [f"k{i:09d}" for i in range(n)]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def timed(eng, batches, op):
    c, t = cpu(), time.perf_counter()
    for b in batches:
        op(eng, b)
    return cpu() - c, time.perf_counter() - t
put = lambda eng, b: eng.put_many("bench", b)
chunks = lambda xs: [xs[i : i + 1000] for i in range(0, len(xs), 1000)]
d = tempfile.mkdtemp(prefix="memd-ab-")
if case == "default_tiers":
    eng = memd.Engine(d, EngineOptions(durability="nosync"))
    out = timed(eng, chunks([NewMemory(key=k, value=VALUE) for k in keys]), put)
elif case == "unbounded":
    free = tuple(TierOptions(0) for _ in range(4))
    eng = memd.Engine(d, EngineOptions(durability="nosync", tiers=free))
    out = timed(eng, chunks([NewMemory(key=k, value=VALUE) for k in keys]), put)
elif case == "at_capacity":
    tiers = (TierOptions(0), TierOptions(n // 2), TierOptions(0), TierOptions(0))
    eng = memd.Engine(d, EngineOptions(durability="nosync", tiers=tiers))
    for b in chunks([NewMemory(key="old" + k, value=VALUE) for k in keys[: n // 2]]):
        put(eng, b)
    out = timed(eng, chunks([NewMemory(key=k, value=VALUE) for k in keys]), put)
elif case == "get_counted":
    free = tuple(TierOptions(0) for _ in range(4))
    eng = memd.Engine(d, EngineOptions(durability="nosync", tiers=free))
    for b in chunks([NewMemory(key=k, value=VALUE, tier=Tier.WORKING) for k in keys]):
        put(eng, b)
    order = keys[:]
    random.Random(1).shuffle(order)
    out = timed(eng, chunks(order), lambda e, b: e.get_many("bench", b, count_access=True))
elif case == "ingest_vectors":
    rng = np.random.default_rng(7)
    words = np.array([f"w{i:03}" for i in range(500)])
    vecs = rng.standard_normal((n, 384), dtype=np.float32)
    texts = rng.choice(words, size=(n, 25))
    items = [NewMemory(text=" ".join(t), embedding=v.tobytes()) for t, v in zip(texts, vecs)]
    eng = memd.Engine(d, EngineOptions(durability="nosync"))
    out = timed(eng, chunks(items), put)
eng.close()
shutil.rmtree(d)
print(json.dumps({"cpu_s": out[0], "wall_s": out[1], "core": memd._core.__file__}))
"""


def run(case: str, n: int, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", CHILD, case, str(n)],
        capture_output=True, text=True, check=True, env=env, cwd="/",
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="directory holding the baseline memd/")
    p.add_argument("--candidate", default=None, help="directory holding the measured memd/")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=30_000)
    p.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    args = p.parse_args()
    header = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": platform.platform(),
        "nproc": len(os.sched_getaffinity(0)),
        "load_avg_1m_start": os.getloadavg()[0],
        "rounds": args.rounds,
        "n": args.n,
    }
    print("\n".join(f"{k}: {v}" for k, v in header.items()), flush=True)
    rows = []
    for case in args.cases:
        runs: dict[str, list[dict[str, float]]] = {"this": [], "baseline": []}
        for _ in range(args.rounds):
            runs["this"].append(run(case, args.n, args.candidate))
            runs["baseline"].append(run(case, args.n, args.baseline))
        assert runs["this"][0]["core"] != runs["baseline"][0]["core"], "same build twice"
        fields = ("cpu_s", "wall_s")
        med = {
            side: {f: statistics.median(r[f] for r in rs) * 1e6 / args.n for f in fields}
            for side, rs in runs.items()
        }
        row = {
            "case": case,
            "cpu_us_per_memory": med["this"]["cpu_s"],
            "baseline_cpu_us_per_memory": med["baseline"]["cpu_s"],
            "cpu_ratio": med["this"]["cpu_s"] / med["baseline"]["cpu_s"],
            "wall_us_per_memory": med["this"]["wall_s"],
            "baseline_wall_us_per_memory": med["baseline"]["wall_s"],
            "runs": runs,
        }
        rows.append(row)
        print(
            f"  {case}: CPU {row['cpu_us_per_memory']:.2f} vs "
            f"{row['baseline_cpu_us_per_memory']:.2f} µs/memory ({row['cpu_ratio']:.2f}x)",
            flush=True,
        )
    header["load_avg_1m_end"] = os.getloadavg()[0]
    print(
        f"\nmedians of {args.rounds} rounds, n = {args.n}, load average "
        f"{header['load_avg_1m_start']:.1f} -> {header['load_avg_1m_end']:.1f}\n"
        "| case | CPU µs/memory | baseline | ratio (lower is better) "
        "| wall µs/memory | baseline wall |\n|---|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| {r['case']} | {r['cpu_us_per_memory']:.2f} | {r['baseline_cpu_us_per_memory']:.2f} "
            f"| {r['cpu_ratio']:.2f} | {r['wall_us_per_memory']:.2f} "
            f"| {r['baseline_wall_us_per_memory']:.2f} |"
        )
    OUT.mkdir(exist_ok=True)
    out = OUT / f"write_path_ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({**header, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
