"""Batch search vs separate searches, through a real daemon and the Python client.

One daemon (fresh data directory) holds ``--memories`` memories of 12 words (from a
500-word vocabulary) with ``--dim``-dimensional random unit vectors. Each round times,
for each workload, the same 32 queries answered two ways, one right after the other:

- ``separate``: 32 ``Client.search`` calls in a row (one RPC each, all hits read);
- ``batch``: one ``Client.batch_search`` call with the 32 queries.

Workloads: ``keyword`` (2-word queries), ``semantic`` (query vectors) and ``mixed``
(a third keyword, a third semantic, a third hybrid; shared filters in the batch).
Every query asks for 10 hits. The figure is the median over the rounds of the time
of each way, and their ratio (separate / batch: how many times more queries per
second one call answers), both from the same run, so a busy machine slows both.

With ``--ghz`` it measures the server instead (no Python client): ghz sends the 32
queries as 32 Search calls (round robin) or as BatchSearch calls of 32, 4 concurrent
callers, ``--ghz-seconds`` per run, the two alternating; the figure is queries answered
per second (32 per BatchSearch call), medians over the rounds, and their ratio.

Usage: ``python bench/batch_search.py [--rounds 15] [--memories 5000] [--dim 384]
[--ghz]``. The issue's target: ratio >= 3 for 32 queries.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "clients" / "python"))
sys.path.insert(0, str(REPO / "bench" / "grpc"))

from daemon_launcher import Daemon  # noqa: E402
from memd_client import Client, pack_embedding  # noqa: E402
from run import ghz_path  # noqa: E402

QUERIES = 32


def vector(rng: random.Random, dim: int) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def populate(client: Client, ns: str, n: int, dim: int, rng: random.Random) -> list[str]:
    words = [f"w{i:03}" for i in range(500)]
    memories = (
        {
            "key": f"m{i:06}",
            "text": " ".join(rng.choice(words) for _ in range(12)),
            "embedding": vector(rng, dim),
            "tags": [f"t{i % 4}"],
        }
        for i in range(n)
    )
    client.bulk_store(ns, memories, batch_size=500)
    return words


def workloads(words: list[str], dim: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    def keyword() -> dict[str, Any]:
        return {"query": f"{rng.choice(words)} {rng.choice(words)}"}

    def semantic() -> dict[str, Any]:
        return {"embedding": vector(rng, dim)}

    def hybrid() -> dict[str, Any]:
        return {**keyword(), **semantic()}

    mixed = [(keyword, semantic, hybrid)[i % 3]() for i in range(QUERIES)]
    return {
        "keyword": [keyword() for _ in range(QUERIES)],
        "semantic": [semantic() for _ in range(QUERIES)],
        "mixed": mixed,
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def one_round(
    client: Client, ns: str, queries: list[dict[str, Any]], shared: Mapping[str, Any]
) -> tuple[float, float]:
    def separate() -> None:
        for q in queries:
            list(client.search(ns, limit=10, **shared, **q))

    def batch() -> None:
        client.batch_search(ns, queries, shared={"limit": 10, **shared})

    # Alternate which goes first, so neither always runs on a warmer cache.
    if random.random() < 0.5:
        return timed(separate), timed(batch)
    b = timed(batch)
    return timed(separate), b


def as_json(query: Mapping[str, Any]) -> dict[str, Any]:
    """A query's fields in protobuf JSON (bytes as base64), for ghz."""
    out = {k: v for k, v in query.items() if k != "embedding"}
    if "embedding" in query:
        out["embedding"] = base64.b64encode(pack_embedding(query["embedding"])).decode()
    return out


def ghz_qps(ghz: str, address: str, method: str, data: object, seconds: float) -> float:
    """Calls per second of ``method`` with ``data`` (a list: round robin)."""
    cmd = [ghz, "--insecure", "--call", f"memd.v1.MemoryService.{method}", "-c", "4"]
    cmd += ["-z", f"{seconds}s", "--duration-stop", "wait", "--format", "json"]
    cmd += ["-d", json.dumps(data), address]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    codes = out.get("statusCodeDistribution", {})
    assert set(codes) == {"OK"}, codes
    return float(codes["OK"]) / (out["total"] / 1e9)


def ghz_rounds(args: argparse.Namespace, address: str, ns: str, loads: dict[str, Any]) -> None:
    ghz = ghz_path()
    print(f"ghz, 4 concurrent callers, {args.ghz_seconds} s per run, {args.rounds} rounds")
    print(f"{'workload':<10} {'Search q/s':>11} {'Batch q/s':>10} {'ratio':>7}")
    for name, queries in loads.items():
        singles = [{"namespace": ns, "limit": 10, **as_json(q)} for q in queries]
        batch = {"namespace": ns, "shared": {"limit": 10}, "queries": [as_json(q) for q in queries]}
        runs = []
        for _ in range(args.rounds):
            one = ghz_qps(ghz, address, "Search", singles, args.ghz_seconds)
            many = QUERIES * ghz_qps(ghz, address, "BatchSearch", batch, args.ghz_seconds)
            runs.append((one, many))
        one = statistics.median(r[0] for r in runs)
        many = statistics.median(r[1] for r in runs)
        ratio = statistics.median(r[1] / r[0] for r in runs)
        print(f"{name:<10} {one:>11.0f} {many:>10.0f} {ratio:>6.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--ghz", action="store_true", help="measure the server with ghz")
    parser.add_argument("--ghz-seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="memd-batch-bench-") as tmp:
        daemon = Daemon(Path(tmp) / "data", "--engine-durability", "nosync")
        try:
            with Client(daemon.address) as client:
                ns = "bench:batch"
                words = populate(client, ns, args.memories, args.dim, rng)
                loads = workloads(words, args.dim, rng)
                shared = {"mixed": {"tiers": [2, 3]}}
                # Equal answers both ways (a benchmark of wrong results is no benchmark).
                for name, queries in loads.items():
                    extra = shared.get(name, {})
                    one = [
                        [h.memory.key for h in client.search(ns, limit=10, **extra, **q)]
                        for q in queries
                    ]
                    many = client.batch_search(ns, queries, shared={"limit": 10, **extra})
                    assert one == [[h.memory.key for h in hits] for hits in many], name
                if args.ghz:
                    loads.pop("mixed")  # shared filters have no ghz form here
                    ghz_rounds(args, daemon.address, ns, loads)
                    return 0
                print(
                    f"{args.memories} memories, {args.dim}-d vectors, {QUERIES} queries of "
                    f"10 hits, {args.rounds} rounds (medians)"
                )
                print(f"{'workload':<10} {'32 calls ms':>12} {'1 batch ms':>11} {'ratio':>7}")
                for name, queries in loads.items():
                    extra = shared.get(name, {})
                    for _ in range(2):  # warm-up
                        one_round(client, ns, queries, extra)
                    runs = [one_round(client, ns, queries, extra) for _ in range(args.rounds)]
                    sep = statistics.median(r[0] for r in runs)
                    bat = statistics.median(r[1] for r in runs)
                    ratios = statistics.median(r[0] / r[1] for r in runs)
                    print(f"{name:<10} {sep * 1e3:>12.2f} {bat * 1e3:>11.2f} {ratios:>6.2f}x")
        finally:
            daemon.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
