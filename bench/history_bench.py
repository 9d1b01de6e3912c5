"""Rates of ``memd export`` and ``memd import`` against real daemons (issue 12).

    .venv/bin/python bench/history_bench.py            # 100 000 memories, 384-dim vectors
    .venv/bin/python bench/history_bench.py --full     # 1 000 000 memories (repeats 1)
    options: --n N, --dim D, --repeats R

The store: N memories in 10 namespaces, each with a history (created over the last
year, idle, read a few times), a ~100-byte text, a small value, tags, metadata and a
D-dimensional vector; per namespace 50 in WORKING, 800 in SHORT_TERM, 60 % of the rest
in LONG_TERM and the others in ARCHIVE (within the default capacities: nothing is
evicted). The daemons are ``python -m memd serve`` with the default configuration
(sync durability) except the capacity-triggered consolidation, off so that the stores
stay comparable byte for byte.

Measured, each R times (median, with min and max), every memory of the store:
  - export: ``memd export -o FILE`` of the seeded daemon, end to end (the command's
    wall time, interpreter start included), and the rate its progress line reports;
  - import: ``memd import FILE`` into a new empty daemon, likewise; then an export of
    that daemon must equal FILE byte for byte (checked, not timed);
  - baseline: the same memories streamed by this process through StoreStream as
    prebuilt serialized requests of 1 000 (no file, no JSON, no protobuf building)
    into a new empty daemon: what the daemon takes; import / baseline is the cost of
    reading the file;
  - re-import: the same file again into the imported daemon (every key present), once.

Prints a markdown table and writes it as JSON to ``bench/out/history_bench.json``.
The machine is shared: other processes' load shows up in every figure alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from daemon_launcher import Daemon, clean_env  # noqa: E402

from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd.history.jsonl import decode  # noqa: E402

NAMESPACES = 10
BATCH = 1_000
DAY_MS = 86_400_000
FLAGS = ("--lifecycle-capacity-check-s", "0")
WORDS = (
    "user prefers short answers meeting moved tuesday order shipped invoice paid deploy "
    "failed retry later price alert market opened lower report ready reminder call back"
).split()
RATE = re.compile(r"memories, (\d+)/s")


def memories(n: int, dim: int, now_ms: int) -> Iterator[tuple[str, list[mpb.NewMemory]]]:
    """The store, as (namespace, batch) pairs."""
    rng = random.Random(7)
    per_ns = n // NAMESPACES
    for ns_index in range(NAMESPACES):
        ns, batch = f"agent-{ns_index}/user:{ns_index * 31}", []
        for i in range(per_ns):
            rest = i - 850
            tier = 1 if i < 50 else 2 if i < 850 else 3 if rest < 0.6 * (per_ns - 850) else 4
            created = now_ms - rng.randrange(1, 365 * DAY_MS)
            used = created + rng.randrange(now_ms - created)
            batch.append(
                mpb.NewMemory(
                    key=f"m{i:07d}",
                    text=" ".join(rng.choices(WORDS, k=16)),
                    value=rng.randbytes(24),
                    embedding=struct.pack(f"<{dim}f", *(rng.random() for _ in range(dim))),
                    tags=rng.sample(WORDS, 2),
                    metadata={"type": "fact", "source": "bench"},
                    importance=rng.random() * 0.6,
                    tier=tier,  # type: ignore[arg-type]
                    history=mpb.MemoryHistory(
                        created_ms=created,
                        updated_ms=created,
                        last_access_ms=used,
                        access_count=rng.randrange(3),
                        version=1,
                    ),
                )
            )
            if len(batch) == BATCH:
                yield ns, batch
                batch = []
        if batch:
            yield ns, batch


def seed(daemon: Daemon, n: int, dim: int) -> float:
    """Store the data set; returns the seconds it took."""
    now_ms = time.time_ns() // 1_000_000
    requests = (pb.StoreRequest(namespace=ns, memories=b) for ns, b in memories(n, dim, now_ms))
    began = time.perf_counter()
    for reply in daemon.stub.StoreStream(requests, timeout=3600):
        assert not reply.errors, reply.errors[:3]
    return time.perf_counter() - began


def memd(*args: str) -> tuple[float, int]:
    """Run ``python -m memd ARGS``: (wall seconds, the rate its last progress line gives)."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "memd", *args, "--progress", "lines"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"memd {args[0]} failed:\n{done.stderr}")
    return wall, int(RATE.findall(done.stderr)[-1])


def prebuilt(path: Path) -> list[bytes]:
    """The file's memories as serialized StoreRequests of ``BATCH`` (untimed)."""
    out: list[bytes] = []
    ns, batch = "", []
    with path.open("rb") as fh:
        for line in fh:
            namespace, item = decode(line)
            if batch and (namespace != ns or len(batch) == BATCH):
                out.append(pb.StoreRequest(namespace=ns, memories=batch).SerializeToString())
                batch = []
            ns = namespace
            batch.append(item)
    out.append(pb.StoreRequest(namespace=ns, memories=batch).SerializeToString())
    return out


def baseline(daemon: Daemon, requests: list[bytes]) -> float:
    """Stream the prebuilt requests; returns the seconds until the last acknowledgement."""
    call = daemon.channel.stream_stream(
        "/memd.v1.MemoryService/StoreStream",
        request_serializer=None,
        response_deserializer=pb.StoreResponse.FromString,
    )
    began = time.perf_counter()
    for reply in call(iter(requests), timeout=3600):
        assert not reply.errors
    return time.perf_counter() - began


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1 000 000 memories, repeats 1")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, repeats = (1_000_000, 1) if args.full else (args.n, args.repeats)
    work = Path(tempfile.mkdtemp(prefix="memd-history-bench-"))
    results: dict[str, Any] = {"n": n, "dim": args.dim, "repeats": repeats}
    try:
        source = Daemon(work / "source", *FLAGS)
        results["seed_s"] = seed(source, n, args.dim)
        exported = work / "export.jsonl"
        export_wall, export_rate = [], []
        for _ in range(repeats):
            wall, rate = memd("export", "--target", source.address, "-o", str(exported))
            export_wall.append(n / wall)
            export_rate.append(rate)
        source.close()
        shutil.rmtree(work / "source")
        results["file_bytes"] = exported.stat().st_size
        requests = prebuilt(exported)
        import_wall, import_rate, base = [], [], []
        for r in range(repeats):
            empty = Daemon(work / f"base{r}", *FLAGS)
            base.append(n / baseline(empty, requests))
            empty.close()
            shutil.rmtree(work / f"base{r}")
            target = Daemon(work / f"target{r}", *FLAGS)
            wall, rate = memd("import", "--target", target.address, str(exported))
            import_wall.append(n / wall)
            import_rate.append(rate)
            again = work / "again.jsonl"
            memd("export", "--target", target.address, "-o", str(again))
            assert again.read_bytes() == exported.read_bytes(), "round trip differs"
            if r == repeats - 1:
                wall, rate = memd("import", "--target", target.address, str(exported))
                results["reimport"] = {"wall": n / wall, "reported": rate}
            target.close()
            shutil.rmtree(work / f"target{r}")
        results["export"] = {"wall": spread(export_wall), "reported": spread(export_rate)}
        results["import"] = {"wall": spread(import_wall), "reported": spread(import_rate)}
        results["baseline"] = spread(base)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    return 0


def report(res: dict[str, Any]) -> None:
    res["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    res["date"] = time.strftime("%Y-%m-%d")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "history_bench.json").write_text(json.dumps(res, indent=2) + "\n")
    ratio = res["import"]["reported"]["median"] / res["baseline"]["median"]

    def row(name: str, s: dict[str, float]) -> str:
        return f"| {name} | {s['median']:,.0f} | {s['min']:,.0f} - {s['max']:,.0f} |"

    size_mb = res["file_bytes"] / 1e6
    print(f"\n{res['n']:,} memories, {res['dim']}-dim vectors, file {size_mb:,.0f} MB,")
    print(f"median of {res['repeats']}; {res['machine']}; {res['date']}\n")
    print("| memories/s | median | min - max |\n|---|---|---|")
    print(row("export, end to end", res["export"]["wall"]))
    print(row("export, as its progress reports", res["export"]["reported"]))
    print(row("import into an empty daemon, end to end", res["import"]["wall"]))
    print(row("import, as its progress reports", res["import"]["reported"]))
    print(row("baseline: prebuilt StoreStream requests", res["baseline"]))
    print(f"| re-import (every key present), end to end | {res['reimport']['wall']:,.0f} | |")
    print(f"\nimport / baseline: {ratio:.2f}; seeding took {res['seed_s']:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
