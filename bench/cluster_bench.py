"""Cluster mode against a single node, in the same run (issue 16's performance compass).

Starts a single-node ``memd serve`` and a 3 NATS + 3 memd cluster on loopback
(``deploy/cluster/cluster.sh``), then measures with one Python gRPC client:
- StoreStream: memories per second, streams of ``--batches`` batches of ``--batch``
  memories with server-made keys (cluster: sent to the namespace's owner);
- unary Retrieve of one key as a peek: calls per second on the single node, on the
  owner, and through another node (a follower: answered from its copy after the
  owner's read index, docs/cluster.md "Reads on a replica"; with ``--cluster-args
  '--cluster-replica-reads false'``, forwarded to the owner, one hop);
- unary Retrieve of one key counting the access: on the single node (in memory,
  flushed every second), on the owner (recorded for its ``touch`` entries, appended
  about every second and applied by every replica: memd/cluster/touch.py) and through
  another node (answered from its copy and the reads sent to the owner; or forwarded);
- with ``--ghz-seconds S``, unary Retrieve (peek, with the ``memd-namespace`` header the
  clients send) under load: ghz with ``--ghz-concurrency`` calls in flight for S
  seconds, on the single node, the owner and a non-owner. One sequential client
  measures a call's latency, where a hop costs a whole second server call (see
  bench/grpc/relay_ceiling.py); under load the forwarding node and the owner each
  spend their own process's core, which is what a cluster's throughput rests on.
Runs alternate between the single node and the cluster; each figure is the median of
``--repeat`` runs; the ratios are cluster / single. Then ``--failovers`` times: kill -9
the namespace's owner and time, from the kill, until a Store through a surviving node
is acknowledged (a client retrying every 50 ms), then restart the node and let the
placement settle. The four figures of issue 16 are printed in one table and written,
with every run's value and the machine's load, to ``bench/out/cluster_bench.json``.

Usage: ``python bench/cluster_bench.py [--repeat 3] [--calls 2000] [--failovers 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "clients" / "python")]

import grpc  # noqa: E402
from memd_client import Client  # noqa: E402

from bench.grpc.run import ghz_path  # noqa: E402
from memd._pb.v1 import cluster_service_pb2 as cpb  # noqa: E402
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc  # noqa: E402
from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc  # noqa: E402
from memd.cluster.partition import partition_of  # noqa: E402
from memd.cluster.placement import NodeRecord, Pool  # noqa: E402

MEMD = str(Path(sys.executable).parent / "memd")
NS = "bench:cluster"
LEASE_S = 3.0  # deploy/cluster/cluster.sh's default
OUT = REPO / "bench" / "out" / "cluster_bench.json"


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


def ghz_rate(address: str, key: str, seconds: float, concurrency: int) -> float:
    """Peek Retrieve calls per second that ghz gets answered OK, ``concurrency`` in flight."""
    done = subprocess.run(
        [ghz_path(), "--insecure", "--call", "memd.v1.MemoryService.Retrieve",
         "-c", str(concurrency), "--connections", str(min(2, concurrency)),
         "-z", f"{seconds}s", "--duration-stop", "wait", "--format", "json",
         "-d", json.dumps({"namespace": NS, "keys": [key], "peek": True}),
         "-m", json.dumps({"memd-namespace": NS}), address],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = json.loads(done.stdout)
    codes = out.get("statusCodeDistribution", {})
    assert set(codes) <= {"OK"}, codes
    return float(codes.get("OK", 0)) / (out["total"] / 1e9)


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


def wait_balanced(base: int) -> None:
    """Wait until every partition is owned by the node ranking first for it (as in
    tests/cluster): no rebalancing move is then due to interrupt the measurement."""
    stub = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(f"127.0.0.1:{base + 21}"))
    for _ in range(600):
        reply = stub.Cluster(cpb.ClusterRequest(), timeout=5)
        live = {n.id: NodeRecord(n.address, 0, n.draining, n.ready) for n in reply.nodes if n.live}
        pool = Pool.of(live, 0, 1)
        now_ms = time.time() * 1e3
        if all(
            p.owner == pool.best(p.partition) and p.lease_until_ms > now_ms
            for p in reply.partitions
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("the placement did not settle")


def owner_of(base: int) -> tuple[str, dict[str, str]]:
    """The namespace's owner (once it has one) and every node's address, from any node."""
    for _ in range(300):
        for node in (1, 2, 3):
            stub = cpb_grpc.ClusterServiceStub(
                grpc.insecure_channel(f"127.0.0.1:{base + 20 + node}")
            )
            try:
                reply = stub.Cluster(cpb.ClusterRequest(), timeout=2)
            except grpc.RpcError:
                continue
            record = reply.partitions[partition_of(NS, reply.partition_count)]
            live = {n.id for n in reply.nodes if n.live}
            if record.owner and record.owner in live and record.lease_until_ms > time.time() * 1e3:
                return record.owner, {n.id: n.address for n in reply.nodes}
        time.sleep(0.1)
    raise RuntimeError(f"{NS} has no live owner")


def failover_s(base: int, cluster_dir: str, script: list[str], env: dict[str, str]) -> float:
    """Kill -9 the owner; seconds until a Store through a survivor is acknowledged."""
    owner, addresses = owner_of(base)
    survivor = next(a for n, a in addresses.items() if n != owner)
    stub = pb_grpc.MemoryServiceStub(grpc.insecure_channel(survivor))
    request = pb.StoreRequest(namespace=NS, memories=[mpb.NewMemory(key="f", text="failover")])
    stub.Store(request, timeout=10)  # the channel is up before the clock starts
    pid = int(Path(cluster_dir, f"{owner}.pid").read_text())
    killed = time.monotonic()
    os.kill(pid, 9)
    while True:
        try:
            stub.Store(request, timeout=1)
            took = time.monotonic() - killed
            break
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            if time.monotonic() - killed > 60:
                raise
            time.sleep(0.05)
    subprocess.run([*script, "node-up", owner.removeprefix("memd-")], env=env, check=True,
                   capture_output=True)  # fmt: skip
    time.sleep(3 * LEASE_S)  # the restarted node catches up; rebalancing hands it back
    return took


def metric(url: str, name: str) -> float:
    """An unlabelled counter of a node's Prometheus page (0 when absent)."""
    with urllib.request.urlopen(url, timeout=5) as page:
        for line in page.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def grouped_store(stub: pb_grpc.MemoryServiceStub, metrics_url: str, args: argparse.Namespace,
                  out: dict[str, list[float]]) -> float:  # fmt: skip
    """``store_stream`` on the owner, recording how many log entries its batches took."""
    appends = metric(metrics_url, "memd_cluster_store_appends_total")
    rate = store_stream(stub, args.batches, args.batch)
    entries = metric(metrics_url, "memd_cluster_store_appends_total") - appends
    out.setdefault("batches_per_entry", []).append(args.batches / max(entries, 1.0))
    return rate


def measure(
    single: str, owner: str, via: str, metrics_url: str, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Alternate single-node and cluster runs, so drift in the machine's load hits both."""
    solo, key = prepare(single)
    direct, _ = prepare(owner)
    other, _ = prepare(via)
    # The Python client, on the single node and entering the cluster at the non-owner
    # with route_to_owner (it sends the reads to the owner itself: no forwarding hop).
    client_single, client_routed = Client(single), Client(via, route_to_owner=True)
    out: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name, run in [
            ("single_store", lambda: store_stream(solo, args.batches, args.batch)),
            ("cluster_store", lambda: grouped_store(direct, metrics_url, args, out)),
            ("single_retrieve", lambda: retrieve_rate(solo, key, args.calls)),
            ("cluster_retrieve", lambda: retrieve_rate(direct, key, args.calls)),
            ("cluster_forwarded", lambda: retrieve_rate(other, key, args.calls)),
            ("single_counted", lambda: retrieve_rate(solo, key, args.calls, peek=False)),
            ("cluster_counted", lambda: retrieve_rate(direct, key, args.calls, peek=False)),
            ("counted_via", lambda: retrieve_rate(other, key, args.calls, peek=False)),
            ("client_single", lambda: client_rate(client_single, key, args.calls)),
            ("client_routed", lambda: client_rate(client_routed, key, args.calls)),
        ]:
            out.setdefault(name, []).append(run())
        if args.ghz_seconds:
            for name, address in [
                ("ghz_single", single),
                ("ghz_owner", owner),
                ("ghz_forwarded", via),
            ]:
                rate = ghz_rate(address, key, args.ghz_seconds, args.ghz_concurrency)
                out.setdefault(name, []).append(rate)
    client_single.close()
    client_routed.close()
    return out


def client_rate(client: Client, key: str, calls: int) -> float:
    client.get(NS, [key], peek=True)  # warm up (the routed client's channel to the owner)
    start = time.perf_counter()
    for _ in range(calls):
        assert client.get(NS, [key], peek=True)[key] is not None
    return calls / (time.perf_counter() - start)


CLUSTER_SH = ["bash", str(REPO / "deploy" / "cluster" / "cluster.sh")]


def cluster_env(tmp: str, base: int, memd_args: str = "") -> dict[str, str]:
    """``cluster.sh``'s environment for a cluster under ``tmp`` on ports from ``base``,
    its nodes started with ``memd_args`` too."""
    return dict(
        os.environ,
        CLUSTER_DIR=f"{tmp}/cluster",
        CLUSTER_PORT_BASE=str(base),
        MEMD=MEMD,
        MEMD_ARGS=memd_args,
    )


@contextmanager
def single_and_cluster(
    tmp: str, memd_args: str = ""
) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """A single-node ``memd serve`` and a 3 NATS + 3 memd cluster on loopback (nodes
    started with ``memd_args`` too), both under ``tmp`` and ready (the cluster
    balanced); yields (the single node's process, its port, the cluster's port base),
    and stops both afterwards."""
    port = free_port()
    single = subprocess.Popen(
        [MEMD, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", f"{tmp}/single",
         "--metrics-listen", "off", "--embed-backend", "none"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = 10_000 + (os.getpid() % 200) * 100  # below the ephemeral port range
    env = cluster_env(tmp, base, memd_args)
    try:
        wait_ready(f"127.0.0.1:{port}")
        subprocess.run([*CLUSTER_SH, "up"], env=env, check=True, capture_output=True)
        wait_balanced(base)
        yield single, port, base
    finally:
        single.terminate()
        single.wait(30)
        subprocess.run([*CLUSTER_SH, "down"], env=env, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--ghz-seconds", type=float, default=0.0, help="0: no ghz rows")
    parser.add_argument("--ghz-concurrency", type=int, default=16)
    parser.add_argument(
        "--cluster-args",
        default="",
        help="more flags for the cluster's nodes, e.g. '--cluster-replica-reads false' "
        "(reads through a non-owner forwarded, not answered from its copy)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory() as tmp,
        single_and_cluster(tmp, args.cluster_args) as (single, port, base),
    ):
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
        owner_node = int(record.owner.rsplit("-", 1)[1])
        metrics_url = f"http://127.0.0.1:{base + 30 + owner_node}/metrics"
        runs = measure(f"127.0.0.1:{port}", owner, via, metrics_url, args)
        single.terminate()  # the failovers need no single node
        runs["failover_s"] = [
            failover_s(
                base, f"{tmp}/cluster", CLUSTER_SH, cluster_env(tmp, base, args.cluster_args)
            )
            for _ in range(args.failovers)
        ]
    figures = {name: statistics.median(values) for name, values in runs.items() if values}
    report(args, runs, figures, load_before)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[float]],
    figures: dict[str, float],
    load_before: float,
) -> None:
    """Print the four figures of issue 16 in one table; write them as JSON."""
    rows: list[dict[str, Any]] = []
    for label, base, figure, target in [
        (f"StoreStream ({args.batches} x {args.batch}), cluster / single", "single_store",
         "cluster_store", 0.5),
        ("unary Retrieve (peek) on the owner, cluster / single", "single_retrieve",
         "cluster_retrieve", 0.9),
        ("unary Retrieve (peek) via a non-owner, cluster / single", "single_retrieve",
         "cluster_forwarded", 0.5),
        ("unary Retrieve (counted) on the owner, cluster / single", "single_counted",
         "cluster_counted", 0.9),
        ("unary Retrieve (counted) via a non-owner, cluster / single", "single_counted",
         "counted_via", 0.5),
        ("client get (peek), route_to_owner via a non-owner / single", "client_single",
         "client_routed", 0.5),
        ("ghz Retrieve (peek) under load on the owner, cluster / single", "ghz_single",
         "ghz_owner", 0.9),
        ("ghz Retrieve (peek) under load via a non-owner, cluster / single", "ghz_single",
         "ghz_forwarded", 0.5),
    ]:  # fmt: skip
        if base not in runs:
            continue
        ratios = [c / s for c, s in zip(runs[figure], runs[base], strict=True)]
        rows.append({
            "figure": label, "single_per_s": figures[base], "cluster_per_s": figures[figure],
            "ratio": figures[figure] / figures[base], "ratio_per_run": ratios,
            "target": f">= {target}", "met": figures[figure] / figures[base] >= target,
        })  # fmt: skip
    failover = figures.get("failover_s")  # none with --failovers 0
    if failover is not None:
        rows.append({
            "figure": "failover after kill -9 of the owner (s)", "median_s": failover,
            "runs_s": runs["failover_s"], "lease_s": LEASE_S, "ratio": failover / LEASE_S,
            "target": "<= 2 x lease", "met": failover <= 2 * LEASE_S,
        })  # fmt: skip
    load_after = os.getloadavg()[0]
    print(
        f"cluster bench: medians of {args.repeat} alternating runs (failover: {args.failovers}); "
        f"one Python client; load average {load_before:.1f} before, {load_after:.1f} after; "
        f"cluster flags: {args.cluster_args or '(none)'}"
    )
    print(f"  {'figure':<56} {'median':>9} {'target':>14}  met  runs")
    for row in rows:
        runs_text = ", ".join(f"{v:.2f}" for v in row.get("ratio_per_run", row.get("runs_s", [])))
        value = row.get("median_s", row["ratio"])
        print(f"  {row['figure']:<56} {value:>9.2f} {row['target']:>14}  "
              f"{'yes' if row['met'] else 'NO ':<4} {runs_text}")  # fmt: skip
    for row in rows:
        if "single_per_s" not in row:
            continue
        print(f"    {row['figure']}: single {row['single_per_s']:,.0f}/s, "
              f"cluster {row['cluster_per_s']:,.0f}/s")  # fmt: skip
    if "batches_per_entry" in runs:
        per_entry = ", ".join(f"{v:.1f}" for v in runs["batches_per_entry"])
        print(f"    StoreStream batches per log entry on the owner (group commit): {per_entry}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": vars(args), "load_average": [load_before, load_after], "rows": rows,
        "runs": runs,
    }, indent=2) + "\n")  # fmt: skip
    print(f"  JSON: {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
