"""A real memd cluster for the tests: 3 NATS servers and 3 memd nodes on loopback,
started and stopped by the project's own ``deploy/cluster/cluster.sh``.

One cluster per test module (a start takes a few seconds); each module's tests use
their own namespaces. ``MEMD_CLUSTER_LONG=1`` turns on the longer fault variants.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.cluster.placement import NodeRecord, Pool

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "cluster" / "cluster.sh"
LONG = os.environ.get("MEMD_CLUSTER_LONG") == "1"
LEASE_S = 1.5
NOISE_POLICY = """
[[lifecycle.policies]]
name = "forget_noise"
action = "delete"
categories = ["noise"]
min_age = "1ms"
"""
T = TypeVar("T")


def _free_base() -> int:
    """A port base whose 14 ports (see cluster.sh; a fourth node too) are all free now."""
    for _ in range(50):
        # Below the kernel's ephemeral range (32768-60999), where other processes'
        # outgoing connections could take a port between this check and the bind.
        base = random.randrange(10_000, 32_000, 100)
        ports = [base + d for d in (1, 2, 3, 11, 12, 13, 21, 22, 23, 24, 31, 32, 33, 34)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


@dataclass
class Cluster:
    dir: Path
    base: int
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args], env=self.env, text=True, capture_output=True, check=check
        )

    def address(self, node: int) -> str:
        return f"127.0.0.1:{self.base + 20 + node}"

    def metrics_url(self, node: int) -> str:
        return f"http://127.0.0.1:{self.base + 30 + node}/metrics"

    def metric(self, node: int, name: str) -> float:
        """The value of an unlabelled metric on ``node``'s Prometheus page."""
        with urllib.request.urlopen(self.metrics_url(node), timeout=5) as page:
            for line in page.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not exported by node {node}")

    def counter(self, node: int, name: str, method: str) -> float:
        """A per-method counter on ``node``'s page (0 until the method was counted)."""
        with urllib.request.urlopen(self.metrics_url(node), timeout=5) as page:
            text = page.read().decode()
        prefix = f'{name}{{method="{method}"}} '
        return sum(
            float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
        )

    def pid(self, name: str) -> int:
        return int((self.dir / f"{name}.pid").read_text())

    def signal(self, name: str, sig: int) -> None:
        os.kill(self.pid(name), sig)

    def kill9(self, name: str) -> None:
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stub(self, node: int) -> pb_grpc.MemoryServiceStub:
        return pb_grpc.MemoryServiceStub(grpc.insecure_channel(self.address(node)))

    def placement(self, node: int) -> cpb.ClusterResponse:
        stub = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(self.address(node)))
        return stub.Cluster(cpb.ClusterRequest(), timeout=5)

    def any_placement(self) -> cpb.ClusterResponse:
        """The placement map as the first node that answers reads it: a test may just
        have killed node 1, and every node reads the same KV bucket."""
        failure: grpc.RpcError | None = None
        for node in (1, 2, 3):
            try:
                return self.placement(node)
            except grpc.RpcError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def restore(self) -> None:
        """Bring back every node a failed test left down, so the next test starts whole."""
        for n in (1, 2, 3):
            self.run("nats-up", str(n), check=False)
        for n in (1, 2, 3):
            self.run("node-up", str(n), check=False)
        self.run("node-down", "4", check=False)  # the fourth node is a test's guest

    def wait_owned(self, timeout: float = 30.0) -> cpb.ClusterResponse:
        """Wait until every partition has an owner with a live lease (as the first live
        node reads it)."""
        deadline = time.monotonic() + timeout
        while True:
            placement, _ = retry(self.any_placement)
            now_ms = time.time() * 1000
            if all(p.owner and p.lease_until_ms > now_ms for p in placement.partitions):
                return placement
            if time.monotonic() > deadline:
                raise AssertionError(f"partitions without a live owner: {placement}")
            time.sleep(0.2)

    def wait_balanced(self, timeout: float = 40.0) -> cpb.ClusterResponse:
        """Wait until every partition is owned by its best node (the ranking of
        ``memd.cluster.placement.Pool``) and lists its followers, so no rebalancing move
        is still due."""
        deadline = time.monotonic() + timeout
        while True:
            placement = self.wait_owned(timeout)
            pool = Pool.of(
                {
                    n.id: NodeRecord(n.address, 0, n.draining, n.ready)
                    for n in placement.nodes
                    if n.live
                },
                0,
                1,
            )
            # A partition just handed over keeps the old record's followers until its
            # new owner's take-over writes its own list: wait for that list too.
            followers = min(2, len(pool.eligible) - 1)  # replicas 3 (cluster.sh)
            if all(
                p.owner == pool.best(p.partition) and len(p.followers) >= followers
                for p in placement.partitions
            ):
                return placement
            if time.monotonic() > deadline:
                raise AssertionError(f"partitions not rebalanced: {placement}")
            time.sleep(0.2)

    def digests(self, nodes: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, Any]]:
        dirs = [str(self.dir / f"memd-{n}") for n in nodes]
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "digest.py"), *dirs],
            text=True,
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    def converged(
        self, timeout: float = 20.0, nodes: tuple[int, ...] = (1, 2, 3)
    ) -> list[dict[str, Any]]:
        """Wait until every node holds byte-identical namespaces; returns the digests."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = self.digests(nodes)
            except AssertionError:  # read while a replica committed: read again
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            if all(d["namespaces"] == found[0]["namespaces"] for d in found):
                return found
            if time.monotonic() > deadline:
                diff = {n: d["namespaces"] for n, d in zip(nodes, found, strict=True)}
                raise AssertionError(f"replicas differ after {timeout} s: {diff}")
            time.sleep(0.2)


def retry(call: Callable[[], T], timeout: float = 30.0) -> tuple[T, float]:
    """Run ``call`` until it does not fail UNAVAILABLE (or time out); returns its result
    and the seconds from the start of the first failed attempt to the success: the
    unavailability a client saw."""
    start = time.monotonic()
    first_failure: float | None = None
    while True:
        attempt = time.monotonic()
        try:
            result = call()
            return result, (time.monotonic() - first_failure) if first_failure else 0.0
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            if first_failure is None:
                first_failure = attempt
            if time.monotonic() - start > timeout:
                raise
            time.sleep(0.05)


@pytest.fixture
def whole(cluster: Cluster) -> Iterator[Cluster]:
    """The module's cluster, settled before the test (no move due), every node running
    again after it, pass or fail."""
    try:
        cluster.wait_balanced()
        yield cluster
    finally:
        cluster.restore()


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    # A module may start its nodes with more flags (``CLUSTER_ARGS``, a string), and so
    # may a run (``MEMD_CLUSTER_EXTRA_ARGS``: e.g. every fault test on a log compacted
    # down to a few entries, ``--cluster-log-keep-entries 4``).
    extra = " ".join(
        (os.environ.get("MEMD_CLUSTER_EXTRA_ARGS", ""), getattr(request.module, "CLUSTER_ARGS", ""))
    )
    for attempt in range(3):
        directory = tmp_path_factory.mktemp("cluster")
        base = _free_base()
        # One lifecycle policy, for the logged lifecycle passes (effects_cases.py):
        # it only touches memories of category "noise", which no other test stores.
        config = directory / "memd.toml"
        config.write_text(NOISE_POLICY)
        env = dict(
            os.environ,
            CLUSTER_DIR=str(directory),
            CLUSTER_PORT_BASE=str(base),
            CLUSTER_LEASE_S=str(LEASE_S),
            CLUSTER_PARTITIONS="8",
            MEMD=str(Path(sys.executable).parent / "memd"),
            # One backup directory for the three nodes: each writes <path>/<node id>.
            MEMD_ARGS=f"--backup-dir {directory / 'backups'} --config {config} {extra}",
        )
        c = Cluster(directory, base, env)
        try:
            c.run("up")
            break
        except subprocess.CalledProcessError as exc:
            c.run("down", check=False)
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(directory.glob("*.log"))
            )
            # A port taken by another process between the check and the bind: again,
            # elsewhere; anything else (or a third time) is a failure.
            if attempt == 2 or "cannot listen" not in logs:
                pytest.fail(f"cluster did not start: {exc.stderr}\n{logs}")
    try:
        c.wait_owned()
        yield c
    finally:
        c.run("down", check=False)
