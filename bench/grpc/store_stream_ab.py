"""ghz StoreStream against two builds of the daemon, alternating, in one job.

    python bench/grpc/store_stream_ab.py --baseline DIR [--candidate DIR2]
                                         [--rounds 3] [--duration 5] [--unpinned]

``DIR`` (and ``DIR2``) each hold a ``memd`` package with its own ``_core`` build
(``bench/write_path_ab.py`` explains how to keep main's); without ``--candidate`` the
other side is this checkout. Each round starts a fresh daemon of each build on a new
store (the same flags as ``bench/grpc/run.py``: default tiers, sync, no embedder) and
runs ghz's StoreStream scenario (streams of 5 batches of 1 000 memories, concurrency
2) against it. Prints the median memories/s of each side and their ratio; JSON in
``bench/out/``. On a shared machine only the ratio within one job means anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as grpc_run  # noqa: E402

ITEMS = grpc_run.STREAM_BATCHES * grpc_run.BATCH_ITEMS


def one_round(ghz: str, tmp: Path, root: Path, duration: float, pinned: bool) -> float:
    """memories/s of one ghz run against a daemon importing ``memd`` from ``root``."""
    grpc_run.REPO = root  # start_server puts REPO on the daemon's PYTHONPATH
    sc = grpc_run.Scenario(
        "StoreStream", "memd", "StoreStream", binary=grpc_run.stream_file(tmp), concurrency=2
    )
    with grpc_run.serving(sc, tmp, pinned) as (_, port):
        return grpc_run.run_ghz(ghz, sc, port, duration, pinned)["qps"] * ITEMS


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="directory holding the baseline memd/")
    p.add_argument("--candidate", default=None, help="directory holding the measured memd/")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per ghz run")
    p.add_argument("--unpinned", action="store_true", help="no taskset pinning")
    args = p.parse_args()
    ghz = grpc_run.ghz_path()
    sides = {"this": Path(args.candidate or grpc_run.REPO), "baseline": Path(args.baseline)}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="memd-ab-stream-") as tmp:
        for _ in range(args.rounds):
            for side, root in sides.items():
                rates[side].append(
                    one_round(ghz, Path(tmp), root, args.duration, not args.unpinned)
                )
                print(f"  {side}: {rates[side][-1]:,.0f} memories/s", flush=True)
    med = {side: statistics.median(r) for side, r in rates.items()}
    ratio = med["this"] / med["baseline"]
    load_end = os.getloadavg()[0]
    print(
        f"\nStoreStream, medians of {args.rounds} rounds, load average {load_start:.1f} -> "
        f"{load_end:.1f}\n| build | memories/s | runs |\n|---|---:|---|\n"
        + "\n".join(f"| {s} | {med[s]:,.0f} | {[round(x) for x in rates[s]]} |" for s in sides)
        + f"\nratio this / baseline: {ratio:.2f}"
    )
    out = HERE.parent / "out" / f"store_stream_ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "load_avg_1m": [load_start, load_end],
                "rates": rates,
                "medians": med,
                "ratio": ratio,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
