"""A memd cluster for the launcher's ``--cluster``: one JetStream nats-server.

The Go and TypeScript clients' tests run against the daemon ``daemon_launcher.py``
starts; with ``--cluster`` that daemon is a cluster node (``memd serve --cluster``)
over a single nats-server with JetStream, replicas 1, so it owns every partition and
serves everything itself: it checks the ``memd-namespace`` header against the body and
answers bounded-staleness reads as their owner (docs/cluster.md). A three-node cluster
(tests/cluster) costs three daemons and three NATS servers per test module; one node
is enough to check what a client sends. ``--cluster-peers N`` adds N more nodes over
the same nats-server (``Peers``), for the clients' owner routing: calls that go straight
to a partition's owner, and a failover after kill -9 of an owner (with replicas 1 the
node taking a partition over replays its subject from the one nats-server).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc

REPO = Path(__file__).resolve().parents[1]
NATS_SERVER = Path(os.environ.get("NATS_SERVER", REPO / "target" / "tools" / "nats-server"))


class OneNats:
    """One ``nats-server -js`` on a free loopback port, its store under ``directory``."""

    def __init__(self, directory: Path) -> None:
        if not NATS_SERVER.exists():
            raise AssertionError(f"{NATS_SERVER} is missing: run `make nats-server`")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(NATS_SERVER), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(directory / "nats")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("nats-server did not start") from None
                time.sleep(0.05)

    def serve_flags(self, node_id: str = "memd-test", advertise: str = "") -> list[str]:
        """``memd serve`` flags making the daemon a node of a cluster over it.

        Without ``advertise`` the node's port is ephemeral (unknown here), which is
        fine for the only node: no other node dials it.
        """
        return [
            *("--cluster", self.url, "--cluster-node-id", node_id),
            *("--cluster-advertise", advertise or "127.0.0.1:1"),
            *("--cluster-replicas", "1", "--cluster-partitions", "4"),
            *("--cluster-lease-s", "1"),
        ]

    def stop(self) -> None:
        """Stop the server (its store goes with the launcher's temporary directory)."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port() -> int:
    """A loopback port free now (a node's advertised address must be known up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peers:
    """``n`` more memd nodes over ``nats``, each a ``make(data_dir, *flags)`` daemon.

    Node ids ``memd-peer-1``...; each listens on, and advertises, a fixed loopback port.
    """

    def __init__(self, nats: OneNats, n: int, directory: Path, make: Callable[..., Any]) -> None:
        self.daemons: list[Any] = []
        try:
            for i in range(1, n + 1):
                address = f"127.0.0.1:{free_port()}"
                flags = nats.serve_flags(f"memd-peer-{i}", address)
                self.daemons.append(make(directory / f"peer-{i}", "--listen", address, *flags))
        except BaseException:
            self.close()
            raise

    def ready(self) -> list[dict[str, Any]]:
        """What the launcher's ready line says of each peer."""
        return [
            {"node_id": f"memd-peer-{i}", "tcp": d.tcp, "pid": d.proc.pid,
             "metrics": d.metrics_address}
            for i, d in enumerate(self.daemons, 1)
        ]  # fmt: skip

    def close(self) -> None:
        """Stop every peer still running (a test may have killed some)."""
        for d in self.daemons:
            d.close(5.0)


def wait_owned(channel: grpc.Channel, timeout: float = 30.0) -> None:
    """Wait until the node owns every partition (one lease after it joined)."""
    stub = cpb_grpc.ClusterServiceStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        reply = stub.Cluster(cpb.ClusterRequest(), timeout=5)
        now_ms = time.time() * 1000
        if all(p.owner and p.lease_until_ms > now_ms for p in reply.partitions):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions without an owner: {reply}")
        time.sleep(0.1)


def drain_to_peers(channel: grpc.Channel, timeout: float = 60.0) -> None:
    """Drain the launched node (``memd-test``) so that the peers own every partition.

    Rebalancing would give the peers only their share, one partition per tick; a drain
    moves every partition to its best peer (which catches up from the log) at once. The
    launched node keeps answering, by forwarding: a client entering there is forwarded
    every call unless it routes to the owners itself.
    """
    stub = cpb_grpc.ClusterServiceStub(channel)
    stub.Drain(cpb.DrainRequest(node_id="memd-test"), timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        reply = stub.Cluster(cpb.ClusterRequest(), timeout=5)
        now_ms = time.time() * 1000
        if all(
            p.owner.startswith("memd-peer-") and p.lease_until_ms > now_ms for p in reply.partitions
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions not moved to the peers: {reply}")
        time.sleep(0.1)
