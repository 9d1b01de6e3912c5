"""ghz StoreStream with one and two streams, sync and nosync: where the daemon waits.

    python bench/grpc/store_stream_matrix.py [--rounds 2] [--duration 4] [--unpinned]

Each cell starts a fresh daemon (``bench/grpc/run.py``'s flags: default tiers, no
embedder; ``nosync`` adds ``--engine-durability nosync``) and runs ghz's StoreStream
scenario (streams of 5 batches of 1 000 memories) with concurrency 1 or 2. Besides the
rate it reports how busy the daemon was: its CPU time (every thread) over the run's
wall time, as a share of one core. A daemon pinned to one core and busy well below
100 % is waiting (for fsync, or for requests); near 100 % it is CPU-bound. Prints a
markdown table; JSON in ``bench/out/``.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cell(ghz: str, tmp: Path, sync: bool, streams: int, duration: float, pinned: bool):
    flags = () if sync else grpc_run.NOSYNC
    sc = grpc_run.Scenario(
        "StoreStream", "memd", "StoreStream", binary=grpc_run.stream_file(tmp),
        concurrency=streams, flags=flags,
    )  # fmt: skip
    with grpc_run.serving(sc, tmp, pinned) as (proc, port):
        start, t = cpu_seconds(proc.pid), time.perf_counter()
        qps = grpc_run.run_ghz(ghz, sc, port, duration, pinned)["qps"]
        busy = (cpu_seconds(proc.pid) - start) / (time.perf_counter() - t)
    return qps * ITEMS, busy


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=float, default=4.0, help="seconds per ghz run")
    p.add_argument("--unpinned", action="store_true", help="no taskset pinning")
    args = p.parse_args()
    ghz = grpc_run.ghz_path()
    cells = [(sync, streams) for sync in (True, False) for streams in (1, 2)]
    runs: dict[str, list[tuple[float, float]]] = {f"{s}-{n}": [] for s, n in cells}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="memd-stream-matrix-") as tmp:
        for _ in range(args.rounds):
            for sync, streams in cells:
                rate, busy = cell(ghz, Path(tmp), sync, streams, args.duration, not args.unpinned)
                runs[f"{sync}-{streams}"].append((rate, busy))
                mode = "sync" if sync else "nosync"
                print(f"  {mode}, {streams} stream(s): {rate:,.0f} memories/s, "
                      f"daemon busy {busy:.0%}", flush=True)  # fmt: skip
    load_end = os.getloadavg()[0]
    print(
        f"\nmedians of {args.rounds} rounds, load average {load_start:.1f} -> {load_end:.1f}\n"
        "| durability | streams | memories/s | daemon busy (share of a core) |\n"
        "|---|---:|---:|---:|"
    )
    for sync, streams in cells:
        r = runs[f"{sync}-{streams}"]
        rate = statistics.median(x for x, _ in r)
        busy = statistics.median(b for _, b in r)
        print(f"| {'sync' if sync else 'nosync'} | {streams} | {rate:,.0f} | {busy:.0%} |")
    out = HERE.parent / "out" / f"store_stream_matrix-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "load_avg_1m": [load_start, load_end],
                "runs": runs,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
