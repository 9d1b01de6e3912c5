"""Access control of a Transfer across partitions (and of partition copies), on a one-node
cluster with --auth.

The source's owner calls ``ClusterService/TransferIn`` on the target's owner with the
caller's token (memd/cluster/transfer.py); the RPC needs WRITE on the target, like the
Transfer itself. One node owns every partition here, so a Transfer runs its step (b)
locally; TransferIn is called directly to check its rule.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.cluster.partition import partition_of
from tests.daemon_cluster import OneNats, wait_owned
from tests.daemon_launcher import Daemon

SOURCE = "xfer-auth:source"
TARGET = next(
    f"xfer-auth:target-{i}"
    for i in range(100)
    if partition_of(f"xfer-auth:target-{i}", 4) != partition_of(SOURCE, 4)
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("auth-cluster")
    nats = OneNats(tmp)
    try:
        daemon = Daemon(
            tmp / "data",
            *nats.serve_flags(),
            tokens={
                "mover": f"{SOURCE}=read,delete;{TARGET}=write",
                "reader": f"{SOURCE}=read,delete;{TARGET}=read",
            },
        )
        try:
            wait_owned(daemon.channel)
            yield daemon
        finally:
            daemon.close()
    finally:
        nats.stop()


def _memory(stub: pb_grpc.MemoryServiceStub, ns: str, key: str) -> bool:
    got = stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=[key], peek=True), timeout=10)
    return bool(got.results[0].found)


def test_transfer_in_needs_write_on_the_target(node: Daemon) -> None:
    step = cpb.TransferInRequest(
        namespace=TARGET,
        transfer=pb.TransferRequest(namespace=SOURCE, target_namespace=TARGET, keys=["a"]),
        memories=[mpb.Memory(key="a", text="alpha", version=1, created_ms=1, updated_ms=1)],
    )
    with pytest.raises(grpc.RpcError) as err:
        cpb_grpc.ClusterServiceStub(node.connect(node.tokens["reader"])).TransferIn(
            step, timeout=10
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = pb_grpc.MemoryServiceStub(node.channel)
    assert not _memory(admin, TARGET, "a")
    done = cpb_grpc.ClusterServiceStub(node.connect(node.tokens["mover"])).TransferIn(
        step, timeout=10
    )
    assert list(done.landed) == ["a"] and done.report.transferred == 1
    assert _memory(admin, TARGET, "a")


def test_a_move_across_partitions_needs_write_on_the_target(node: Daemon) -> None:
    admin = pb_grpc.MemoryServiceStub(node.channel)
    admin.Store(
        pb.StoreRequest(namespace=SOURCE, memories=[mpb.NewMemory(key="m", text="moving")]),
        timeout=10,
    )
    move = pb.TransferRequest(namespace=SOURCE, target_namespace=TARGET, keys=["m"], move=True)
    with pytest.raises(grpc.RpcError) as err:
        pb_grpc.MemoryServiceStub(node.connect(node.tokens["reader"])).Transfer(move, timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _memory(admin, SOURCE, "m") and not _memory(admin, TARGET, "m")
    reply = pb_grpc.MemoryServiceStub(node.connect(node.tokens["mover"])).Transfer(move, timeout=10)
    assert reply.transferred == 1
    assert not _memory(admin, SOURCE, "m") and _memory(admin, TARGET, "m")


def test_a_partition_copy_needs_admin(node: Daemon) -> None:
    # Nodes ask each other for copies with the admin token file's token (snapshot.py).
    request = cpb.PartitionSnapshotRequest(partition=partition_of(SOURCE, 4))
    with pytest.raises(grpc.RpcError) as err:
        list(
            cpb_grpc.ClusterServiceStub(node.connect(node.tokens["mover"])).PartitionSnapshot(
                request, timeout=10
            )
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    chunks = list(cpb_grpc.ClusterServiceStub(node.channel).PartitionSnapshot(request, timeout=10))
    assert chunks and chunks[0].sequence > 0
