"""The reference proxy: HAProxy (deploy/cluster/haproxy.cfg) in front of the cluster,
hashing gRPC requests by their ``memd-namespace`` header."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from functools import partial

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from tests.cluster.conftest import ROOT, Cluster, retry

CONFIG = ROOT / "deploy" / "cluster" / "haproxy.cfg"


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[pb_grpc.MemoryServiceStub]:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(binary):
        pytest.fail("haproxy is not installed: `make haproxy` installs Debian's package")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        HAPROXY_BIND=f"127.0.0.1:{port}",
        **{f"MEMD_{n}": cluster.address(n) for n in (1, 2, 3)},
    )
    process = subprocess.Popen([binary, "-db", "-f", str(CONFIG)], env=env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield pb_grpc.MemoryServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    finally:
        process.terminate()
        process.wait(10)


def _store(stub: pb_grpc.MemoryServiceStub, ns: str, key: str) -> None:
    request = pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(key=key, text=key)])
    retry(partial(stub.Store, request, metadata=[("memd-namespace", ns)], timeout=5), 60)


def _found(stub: pb_grpc.MemoryServiceStub, ns: str, keys: list[str]) -> list[bool]:
    request = pb.RetrieveRequest(namespace=ns, keys=keys)
    got, _ = retry(partial(stub.Retrieve, request, metadata=[("memd-namespace", ns)], timeout=5))
    return [r.found for r in got.results]


def test_haproxy_serves_the_cluster_and_survives_a_node(
    cluster: Cluster, proxy: pb_grpc.MemoryServiceStub
) -> None:
    namespaces = [f"proxy:{i}" for i in range(6)]
    for ns in namespaces:
        _store(proxy, ns, "before")
    with pytest.raises(grpc.RpcError) as err:
        request = pb.StoreRequest(namespace="proxy:0", memories=[mpb.NewMemory(text="x")])
        proxy.Store(request, metadata=[("memd-namespace", "proxy:1")], timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    cluster.kill9("memd-3")
    for ns in namespaces:  # the proxy's checks and the cluster's failover, together
        _store(proxy, ns, "after")
        assert _found(proxy, ns, ["before", "after"]) == [True, True]
    cluster.run("node-up", "3")
    cluster.converged()
