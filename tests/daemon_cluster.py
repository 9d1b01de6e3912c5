"""A one-node memd cluster for the launcher's ``--cluster``: one JetStream nats-server.

The Go and TypeScript clients' tests run against the daemon ``daemon_launcher.py``
starts; with ``--cluster`` that daemon is a cluster node (``memd serve --cluster``)
over a single nats-server with JetStream, replicas 1, so it owns every partition and
serves everything itself: it checks the ``memd-namespace`` header against the body and
answers bounded-staleness reads as their owner (docs/cluster.md). A three-node cluster
(tests/cluster) costs three daemons and three NATS servers per test module; one node
is enough to check what a client sends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

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

    def serve_flags(self) -> list[str]:
        """``memd serve`` flags making the daemon the only node of a cluster over it."""
        return [
            *("--cluster", self.url, "--cluster-node-id", "memd-test"),
            # Its port is ephemeral (unknown here); no other node would dial it.
            *("--cluster-advertise", "127.0.0.1:1"),
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
