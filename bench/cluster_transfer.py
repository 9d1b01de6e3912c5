"""Transfer in cluster mode against a single node, in the same run.

Starts a single-node ``memd serve`` and a 3 NATS + 3 memd cluster on loopback
(``deploy/cluster/cluster.sh``); stores ``--memories`` memories (text, a 64-dimension
embedding) in a source namespace on both; then, alternating single node and cluster,
times one Transfer copying the whole namespace with OVERWRITE (so every run does the
same work), sent to the source's owner:
- single: the single node's one engine job;
- within: the cluster, target in the source's partition (one ``transfer`` entry);
- across: the cluster, target in another partition owned by another node (the saga:
  read, a ``transfer_in`` entry on the target's owner, memd/cluster/transfer.py);
and, for a move, ``across (move)``: a move there and a move back (two sagas with step
(c), halved). Each figure is the median of ``--repeat`` runs, in milliseconds per
transfer; the ratios are cluster / single. JSON in ``bench/out/cluster_transfer.json``.

Usage: ``python bench/cluster_transfer.py [--repeat 7] [--memories 500]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import grpc  # noqa: E402

from bench.cluster_bench import single_and_cluster  # noqa: E402
from memd._pb.v1 import cluster_service_pb2 as cpb  # noqa: E402
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc  # noqa: E402
from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc  # noqa: E402
from memd.cluster.partition import partition_of  # noqa: E402

SOURCE = "bench:xfer/source"
OUT = REPO / "bench" / "out" / "cluster_transfer.json"


def memories(n: int) -> list[mpb.NewMemory]:
    return [
        mpb.NewMemory(
            key=f"m{i:05d}",
            text=f"memory {i} about transfers across partitions",
            embedding=struct.pack("<64f", *((i + j) % 7 / 7 for j in range(64))),
        )
        for i in range(n)
    ]


def timed(stub: pb_grpc.MemoryServiceStub, request: pb.TransferRequest) -> float:
    start = time.perf_counter()
    reply = stub.Transfer(request, timeout=60)
    elapsed = (time.perf_counter() - start) * 1e3
    assert reply.transferred > 0, reply
    return elapsed


def settled(stub: pb_grpc.MemoryServiceStub, request: pb.TransferRequest) -> None:
    """Send ``request`` until it succeeds: right after the placement settles, a
    partition's new owner may still be catching up (UNAVAILABLE, as a client sees)."""
    for _ in range(100):
        try:
            stub.Transfer(request, timeout=60)
            return
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                raise
            time.sleep(0.1)
    raise RuntimeError("the cluster stayed unavailable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--memories", type=int, default=500)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs: dict[str, list[float]] = {"single": [], "within": [], "across": [], "across_move": []}
    with tempfile.TemporaryDirectory() as tmp, single_and_cluster(tmp) as (_, port, base):
        reply = cpb_grpc.ClusterServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{base + 21}")
        ).Cluster(cpb.ClusterRequest(), timeout=5)
        count = reply.partition_count
        owners = [p.owner for p in reply.partitions]
        addresses = {n.id: n.address for n in reply.nodes}
        home = partition_of(SOURCE, count)
        within = next(
            f"bench:xfer/w{i}" for i in range(10_000)
            if partition_of(f"bench:xfer/w{i}", count) == home
        )  # fmt: skip
        across = next(
            f"bench:xfer/a{i}" for i in range(10_000)
            if owners[partition_of(f"bench:xfer/a{i}", count)] != owners[home]
        )  # fmt: skip
        one = pb_grpc.MemoryServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        owner = pb_grpc.MemoryServiceStub(grpc.insecure_channel(addresses[owners[home]]))
        items = memories(args.memories)
        for stub in (one, owner):
            for i in range(0, len(items), 250):
                stub.Store(pb.StoreRequest(namespace=SOURCE, memories=items[i : i + 250]))

        def copy(target: str) -> pb.TransferRequest:
            return pb.TransferRequest(
                namespace=SOURCE, target_namespace=target, whole_namespace=True,
                on_conflict=pb.TRANSFER_CONFLICT_OVERWRITE,
            )  # fmt: skip

        settled(owner, copy(within))
        settled(owner, copy(across))
        for _ in range(args.repeat):
            runs["single"].append(timed(one, copy(within)))
            runs["within"].append(timed(owner, copy(within)))
            runs["across"].append(timed(owner, copy(across)))
            there = copy(across)
            there.move = True
            back = pb.TransferRequest()
            back.CopyFrom(there)
            back.namespace, back.target_namespace = across, SOURCE
            far = pb_grpc.MemoryServiceStub(
                grpc.insecure_channel(addresses[owners[partition_of(across, count)]])
            )
            runs["across_move"].append((timed(owner, there) + timed(far, back)) / 2)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    load_after = os.getloadavg()[0]
    print(
        f"Transfer of a whole namespace ({args.memories} memories, 64-d vectors, OVERWRITE): "
        f"medians of {args.repeat} alternating runs; load average {load_before:.1f} before, "
        f"{load_after:.1f} after (a shared machine: other work runs beside it)"
    )
    for name, label in [
        ("single", "single node (one engine job)"),
        ("within", "cluster, within a partition (one entry)"),
        ("across", "cluster, across partitions (copy: read + transfer_in)"),
        ("across_move", "cluster, across partitions (move: + transfer_out)"),
    ]:
        ratio = medians[name] / medians["single"]
        print(f"  {label:<56} {medians[name]:8.1f} ms  x{ratio:5.2f} single")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(args),
        "load_average": [load_before, load_after], "runs_ms": runs, "medians_ms": medians,
    }, indent=2) + "\n")  # fmt: skip
    print(f"  JSON: {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
