"""Unary Retrieve while the daemon builds an HNSW graph, against Retrieve when idle.

    .venv/bin/python bench/graph_fairness.py            # 60 000 vectors, 3 rounds
    .venv/bin/python bench/graph_fairness.py --n 20000 --rounds 1

Each round starts a fresh daemon (``memd serve``, default tiers and sync durability,
pinned as ``bench/grpc/run.py`` does: server on core 0, ghz and this script on core 1),
stores 1 000 small keyed memories to read in ``reads`` and ``--n`` memories with random
384-d vectors in ``vectors`` (the writer builds that namespace's graph once writes stop
for 2 ms), then runs ghz unary Retrieve (one key per call, concurrency 16, 2
connections) for ``--window`` seconds at once, while the graph is being built; then
waits until the daemon's CPU falls idle (the build is over: nothing else runs) and runs
the same load again, idle. The daemon's CPU seconds during the build window show the
build's share. Prints medians over rounds and the ratio build / idle; JSON in bench/out/.
The lifecycle-pass counterpart is ``bench/lifecycle_bench.py`` (its daemon section).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "grpc"))
sys.path.insert(0, str(REPO / "clients" / "python"))

import run as grpc_run  # noqa: E402
from memd_client import Client  # noqa: E402

DIM = 384
READS = 1_000


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, limit_s: float = 600) -> float:
    """Seconds until the process uses under 5 % of a core over half a second."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        before = cpu_s(pid)
        time.sleep(0.5)
        if cpu_s(pid) - before < 0.025:
            return time.perf_counter() - t0
    raise RuntimeError("the daemon never fell idle")


def load(port: int, n: int) -> None:
    rng = random.Random(7)
    with Client(f"127.0.0.1:{port}", timeout=600) as c:
        c.bulk_store("reads", ({"key": f"k{i}", "text": f"note {i}"} for i in range(READS)))
        c.bulk_store(
            "vectors",
            (
                {
                    "text": f"vector {i}",
                    "embedding": struct.pack(f"<{DIM}f", *(rng.gauss(0, 1) for _ in range(DIM))),
                }
                for i in range(n)
            ),
        )


def retrieve(ghz: str, port: int, window: float, pinned: bool) -> dict[str, float]:
    data = {"namespace": "reads", "keys": [f"k{{{{mod .RequestNumber {READS}}}}}"]}
    sc = grpc_run.Scenario("Retrieve", "memd", "Retrieve", data)
    return grpc_run.run_ghz(ghz, sc, port, window, pinned)


def one_round(ghz: str, n: int, window: float, pinned: bool, tmp: Path) -> dict[str, Any]:
    sc = grpc_run.Scenario("fairness", "memd", "Retrieve")
    with grpc_run.serving(sc, tmp, pinned) as (proc, port):
        load(port, n)
        cpu0 = cpu_s(proc.pid)
        during = retrieve(ghz, port, window, pinned)
        during["daemon_cpu_s"] = cpu_s(proc.pid) - cpu0
        during["build_left_s"] = wait_idle(proc.pid)
        cpu0 = cpu_s(proc.pid)
        idle = retrieve(ghz, port, window, pinned)
        idle["daemon_cpu_s"] = cpu_s(proc.pid) - cpu0
        return {"build": during, "idle": idle}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60_000, help="vectors to build a graph of")
    p.add_argument("--window", type=float, default=5.0, help="seconds per Retrieve load")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    ghz = grpc_run.ghz_path()
    pinned = bool(shutil.which("taskset")) and len(os.sched_getaffinity(0)) >= 2
    if pinned:
        os.sched_setaffinity(0, {1})
    rounds = []
    with tempfile.TemporaryDirectory(prefix="memd-fair-") as tmpdir:
        for r in range(args.rounds):
            res = one_round(ghz, args.n, args.window, pinned, Path(tmpdir))
            b, i = res["build"], res["idle"]
            print(
                f"round {r + 1}: Retrieve during the build {b['qps']:,.0f}/s "
                f"(p99 {b['p99_ms']:.2f} ms, daemon CPU {b['daemon_cpu_s']:.1f} s, build "
                f"still ran {b['build_left_s']:.1f} s after), idle {i['qps']:,.0f}/s "
                f"(p99 {i['p99_ms']:.2f} ms): {b['qps'] / i['qps']:.2f} x",
                flush=True,
            )
            rounds.append(res)
    med = {k: statistics.median(r[k]["qps"] for r in rounds) for k in ("build", "idle")}
    ratio = statistics.median(r["build"]["qps"] / r["idle"]["qps"] for r in rounds)
    print("\n| Retrieve | QPS (median) | ratio to idle |\n|---|---:|---:|")
    print(f"| idle | {med['idle']:,.0f} | 1.00 |")
    print(f"| during an HNSW build of {args.n:,} vectors | {med['build']:,.0f} | {ratio:.2f} |")
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"graph-fairness-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "pinned": pinned, "rounds": rounds}, indent=2))
    print(f"\nwritten to {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
