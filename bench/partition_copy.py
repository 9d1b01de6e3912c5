"""A new replica from a partition's copy against a replay of its log, in the same run.

Fills one engine with ``--memories`` memories (text, a 64-dimension embedding) over
``--namespaces`` namespaces, written as a cluster owner applies them: one Store entry
of ``--batch`` memories at a time (``store_encoded`` with the entry's mark), then
deletes every tenth memory (one entry per namespace). Then, alternating, it brings a
fresh engine to the same state two ways:
- replay: apply the same entries again, in order (what a node that follows a
  partition from the log's first entry does, minus the NATS delivery);
- copy: ``read_partition`` on the filled engine and ``install_partition`` on the fresh
  one (what a node behind the purge point does, minus the gRPC transfer).
Each figure is the median of ``--repeat`` runs, in seconds; the ratio is copy / replay.
"read" is the copy's read alone: the time the node asked holds the partition's lock.
JSON in ``bench/out/partition_copy.json``.

Usage: ``python bench/partition_copy.py [--repeat 5] [--memories 20000]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd.engine import Engine  # noqa: E402

OUT = REPO / "bench" / "out" / "partition_copy.json"
NOW = 1_800_000_000_000


def entries(memories: int, namespaces: int, batch: int) -> list[tuple[str, bytes]]:
    """The partition's log: ("store" | "delete", the request's bytes)."""
    out: list[tuple[str, bytes]] = []
    for ns_i in range(namespaces):
        ns = f"bench:copy/{ns_i}"
        per = memories // namespaces
        for at in range(0, per, batch):
            items = [
                mpb.NewMemory(
                    key=f"m{i:06d}",
                    text=f"memory {i} of {ns} about partition copies",
                    embedding=struct.pack("<64f", *((i + j) % 11 / 11 for j in range(64))),
                )
                for i in range(at, min(per, at + batch))
            ]
            out.append(("store", pb.StoreRequest(namespace=ns, memories=items).SerializeToString()))
        gone = [f"m{i:06d}" for i in range(0, per, 10)]
        out.append(("delete", pb.DeleteRequest(namespace=ns, keys=gone).SerializeToString()))
    return out


def replay(engine: Engine, log: list[tuple[str, bytes]]) -> None:
    for seq, (kind, payload) in enumerate(log, start=1):
        mark = ("p0", seq)
        if kind == "store":
            engine.store_encoded(payload, 100_000, now_ms=NOW + seq, mark=mark)
        else:
            req = pb.DeleteRequest.FromString(payload)
            engine.delete_many(req.namespace, list(req.keys), now_ms=NOW + seq, mark=mark)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memories", type=int, default=20_000)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    log = entries(args.memories, args.namespaces, args.batch)
    root = Path(tempfile.mkdtemp(prefix="memd-copy-bench-"))
    try:
        source = Engine(root / "source")
        replay(source, log)
        names = sorted(source.namespaces())
        times: dict[str, list[float]] = {"replay": [], "copy": [], "read": []}
        copy_bytes = 0
        for run in range(args.repeat):
            for way in ("replay", "copy"):
                target = Engine(root / f"{way}-{run}")
                start = time.perf_counter()
                if way == "replay":
                    replay(target, log)
                else:
                    chunks = source.read_partition(names, len(log))
                    times["read"].append(time.perf_counter() - start)
                    target.install_partition(chunks, [], mark=("p0", len(log)))
                    copy_bytes = sum(map(len, chunks))
                times[way].append(time.perf_counter() - start)
                target.close()
                shutil.rmtree(root / f"{way}-{run}")
        source.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {way: statistics.median(t) for way, t in times.items()}
    result = {
        "memories": args.memories,
        "entries": len(log),
        "copy_bytes": copy_bytes,
        "seconds": times,
        "median_s": med,
        "copy_over_replay": med["copy"] / med["replay"],
    }
    print(f"{args.memories} memories, {len(log)} entries, a copy of {copy_bytes / 1e6:.1f} MB")
    print("| way | runs (s) | median (s) |")
    print("|---|---|---|")
    for way, t in times.items():
        print(f"| {way} | {', '.join(f'{x:.2f}' for x in t)} | {med[way]:.2f} |")
    print(f"copy / replay: {result['copy_over_replay']:.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
