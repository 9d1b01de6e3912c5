"""Cluster mode against a single node, in the same run (issue 16's performance compass).

Starts a single-node ``memd serve`` and a 3 NATS + 3 memd cluster on loopback
(``deploy/cluster/cluster.sh``), then measures with one Python gRPC client:
- StoreStream: memories per second, streams of ``--batches`` batches of ``--batch``
  memories with server-made keys (cluster: sent to the namespace's owner);
- unary Retrieve of one key as a peek: calls per second on the single node, on the
  owner, and through another node (forwarded, one hop);
- unary Retrieve of one key counting the access: on the single node (in memory,
  flushed every second) and on the owner (recorded for its ``touch`` entries, appended
  about every second and applied by every replica: memd/cluster/touch.py).
Runs alternate between the single node and the cluster; each figure is the median of
``--repeat`` runs; the ratios are cluster / single.

Usage: ``python bench/cluster_bench.py [--repeat 3] [--calls 2000]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402

from memd._pb.v1 import cluster_service_pb2 as cpb  # noqa: E402
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc  # noqa: E402
from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc  # noqa: E402
from memd.cluster.partition import partition_of  # noqa: E402

MEMD = str(Path(sys.executable).parent / "memd")
NS = "bench:cluster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(address: str) -> None:
    stub = pb_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    for _ in range(600):
        try:
            stub.ListNamespaces(pb.ListNamespacesRequest(), timeout=1)
            return
        except grpc.RpcError:
            time.sleep(0.1)
    raise RuntimeError(f"{address} not ready")


def store_stream(stub: pb_grpc.MemoryServiceStub, batches: int, size: int) -> float:
    def requests() -> Iterator[pb.StoreRequest]:
        for b in range(batches):
            memories = [mpb.NewMemory(text=f"memory {b} {i} of the bench") for i in range(size)]
            yield pb.StoreRequest(namespace=NS, memories=memories)

    start = time.perf_counter()
    for reply in stub.StoreStream(requests(), timeout=300):
        assert not reply.errors
    return batches * size / (time.perf_counter() - start)


def retrieve_rate(
    stub: pb_grpc.MemoryServiceStub, key: str, calls: int, peek: bool = True
) -> float:
    request = pb.RetrieveRequest(namespace=NS, keys=[key], peek=peek)
    start = time.perf_counter()
    for _ in range(calls):
        assert stub.Retrieve(request, timeout=10).results[0].found
    return calls / (time.perf_counter() - start)


def prepare(address: str) -> tuple[pb_grpc.MemoryServiceStub, str]:
    stub = pb_grpc.MemoryServiceStub(grpc.insecure_channel(address))
    request = pb.StoreRequest(namespace=NS, memories=[mpb.NewMemory(key="k", text="t")])
    for _ in range(300):  # the owner may still be catching up right after the start
        try:
            key = stub.Store(request, timeout=30).keys[0]
            break
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            time.sleep(0.1)
    retrieve_rate(stub, key, 100)  # warm up the channel
    return stub, key


def measure(single: str, owner: str, via: str, args: argparse.Namespace) -> dict[str, list[float]]:
    """Alternate single-node and cluster runs, so drift in the machine's load hits both."""
    solo, key = prepare(single)
    direct, _ = prepare(owner)
    other, _ = prepare(via)
    out: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name, run in [
            ("single_store", lambda: store_stream(solo, args.batches, args.batch)),
            ("cluster_store", lambda: store_stream(direct, args.batches, args.batch)),
            ("single_retrieve", lambda: retrieve_rate(solo, key, args.calls)),
            ("cluster_retrieve", lambda: retrieve_rate(direct, key, args.calls)),
            ("cluster_forwarded", lambda: retrieve_rate(other, key, args.calls)),
            ("single_counted", lambda: retrieve_rate(solo, key, args.calls, peek=False)),
            ("cluster_counted", lambda: retrieve_rate(direct, key, args.calls, peek=False)),
        ]:
            out.setdefault(name, []).append(run())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        single = subprocess.Popen(
            [MEMD, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", f"{tmp}/single",
             "--metrics-listen", "off", "--embed-backend", "none"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = 10_000 + (os.getpid() % 200) * 100  # below the ephemeral port range
        env = dict(os.environ, CLUSTER_DIR=f"{tmp}/cluster", CLUSTER_PORT_BASE=str(base), MEMD=MEMD)
        script = ["bash", str(REPO / "deploy" / "cluster" / "cluster.sh")]
        try:
            wait_ready(f"127.0.0.1:{port}")
            subprocess.run([*script, "up"], env=env, check=True, capture_output=True)
            placement = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(f"127.0.0.1:{base + 21}"))
            for _ in range(300):
                reply = placement.Cluster(cpb.ClusterRequest(), timeout=5)
                record = reply.partitions[partition_of(NS, reply.partition_count)]
                if record.owner:
                    break
                time.sleep(0.1)
            addresses = {n.id: n.address for n in reply.nodes}
            owner = addresses[record.owner]
            via = next(a for a in addresses.values() if a != owner)
            wait_ready(owner)
            time.sleep(1)
            runs = measure(f"127.0.0.1:{port}", owner, via, args)
        finally:
            single.terminate()
            single.wait(30)
            subprocess.run([*script, "down"], env=env, capture_output=True, check=False)
    figures = {name: statistics.median(values) for name, values in runs.items()}
    print(f"cluster bench: median of {args.repeat} alternating runs; one Python client")
    rows = [
        (
            f"StoreStream ({args.batches} x {args.batch}) memories/s",
            "single_store",
            "cluster_store",
        ),
        ("unary Retrieve (peek) on the owner, calls/s", "single_retrieve", "cluster_retrieve"),
        ("unary Retrieve (peek) forwarded, calls/s", "single_retrieve", "cluster_forwarded"),
        ("unary Retrieve (counted) on the owner, calls/s", "single_counted", "cluster_counted"),
    ]
    for label, base, figure in rows:
        single_rate, cluster_rate = figures[base], figures[figure]
        ratio = cluster_rate / single_rate
        print(
            f"  {label}: single {single_rate:,.0f}, cluster {cluster_rate:,.0f}, ratio {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
