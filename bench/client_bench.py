"""The Python client's ``bulk_store`` against ghz StoreStream on the same daemon build.

    .venv/bin/python bench/client_bench.py              # 3 rounds of each
    .venv/bin/python bench/client_bench.py --rounds 5 --n 100000

Per round and per load, a fresh daemon (``memd serve``: default tiers, sync durability,
dedup off as in ``bench/grpc/run.py``; pinned like it: server on core 0, the load on
core 1):
- ghz: StoreStream, streams of 5 batches of 1 000 memories (``bench/grpc/run.py``'s
  stream file), concurrency 2, for ``--duration`` seconds: memories per second;
- the client: ``Client.bulk_store`` of ``--n`` memories of the same shape (a ~70-byte
  text, server-made keys) in batches of 1 000, made beforehand as plain dicts (the
  caller's data), timed from the call to its return: memories per second; once with
  one call, once with ``--streams`` calls in threads at once (like ghz's concurrency).
Prints medians, the ratio client / ghz, and writes JSON to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "grpc"))
sys.path.insert(0, str(REPO / "clients" / "python"))

import run as grpc_run  # noqa: E402
from memd_client import Client  # noqa: E402

ITEMS = grpc_run.STREAM_BATCHES * grpc_run.BATCH_ITEMS


def ghz_round(ghz: str, tmp: Path, duration: float, pinned: bool) -> float:
    sc = grpc_run.Scenario(
        "StoreStream", "memd", "StoreStream", binary=grpc_run.stream_file(tmp), concurrency=2
    )
    with grpc_run.serving(sc, tmp, pinned) as (_, port):
        return grpc_run.run_ghz(ghz, sc, port, duration, pinned)["qps"] * ITEMS


def client_round(n: int, streams: int, tmp: Path, pinned: bool) -> float:
    items = [{"text": f"{grpc_run.TEXT} #{i}"} for i in range(n)]
    share = [items[s::streams] for s in range(streams)]
    sc = grpc_run.Scenario("bulk_store", "memd", "StoreStream")
    with grpc_run.serving(sc, tmp, pinned) as (_, port), Client(f"127.0.0.1:{port}") as c:
        c.bulk_store("warm-up", items[:1000])

        def one(s: int) -> int:
            return c.bulk_store(f"bench-client-{s}", share[s], batch_size=1000).stored

        with ThreadPoolExecutor(streams) as pool:
            t0 = time.perf_counter()
            stored = sum(pool.map(one, range(streams)))
            took = time.perf_counter() - t0
    if stored != n:
        raise RuntimeError(f"stored {stored} of {n}")
    return n / took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000, help="memories per bulk_store round")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per ghz run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--streams", type=int, default=2, help="concurrent bulk_store calls")
    args = p.parse_args()
    ghz = grpc_run.ghz_path()
    pinned = bool(shutil.which("taskset")) and len(os.sched_getaffinity(0)) >= 2
    if pinned:
        os.sched_setaffinity(0, {1})  # this process (the client) and ghz on core 1
    runs: dict[str, list[float]] = {"ghz": [], "client": [], "client_streams": []}
    with tempfile.TemporaryDirectory(prefix="memd-client-") as tmpdir:
        tmp = Path(tmpdir)
        for r in range(args.rounds):  # interleaved, so drift hits every load alike
            runs["ghz"].append(ghz_round(ghz, tmp, args.duration, pinned))
            runs["client"].append(client_round(args.n, 1, tmp, pinned))
            runs["client_streams"].append(client_round(args.n, args.streams, tmp, pinned))
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in runs.items()),
                flush=True,
            )
    med: dict[str, Any] = {k: statistics.median(v) for k, v in runs.items()}
    print("\n| load | memories/s (median) | ratio to ghz |\n|---|---:|---:|")
    print(f"| ghz StoreStream, 2 streams | {med['ghz']:,.0f} | 1.00 |")
    print(f"| bulk_store, 1 call | {med['client']:,.0f} | {med['client'] / med['ghz']:.2f} |")
    print(
        f"| bulk_store, {args.streams} calls at once | {med['client_streams']:,.0f} | "
        f"{med['client_streams'] / med['ghz']:.2f} |"
    )
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"client-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "pinned": pinned, "runs": runs}, indent=2))
    print(f"\nwritten to {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
