"""Transfer across partitions (``memd/cluster/transfer.py``) on a real cluster.

The same requests go to a single-node daemon holding the same memories: replies and
contents must match. Collected by ``test_replication.py`` (imported there), to run on
that module's cluster.
"""

from __future__ import annotations

import random
import struct
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry
from tests.cluster.effects_cases import PARTITIONS, _owner, _settled
from tests.daemon_launcher import Daemon

# What a transfer keeps of a memory; the times differ between the cluster and the
# single node (stored at other moments), and are checked against the source instead.
SAME = (
    "key text value embedding tags metadata importance priority ttl_ms tier version "
    "access_count context"
).split()


def _vec(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}f", *xs)


SOURCE = [
    mpb.NewMemory(key="a", text="alpha", embedding=_vec(1, 0, 0), tags=["x"], importance=0.9),
    mpb.NewMemory(key="b", text="beta", value=b"\x00\x01", metadata={"type": "fact"}),
    mpb.NewMemory(key="c", text="gamma", embedding=_vec(0, 1, 0), tier=mpb.TIER_LONG_TERM),
    mpb.NewMemory(key="d", text="delta", ttl_ms=600_000, context="before"),
]
TARGET = [mpb.NewMemory(key="a", text="theirs", embedding=_vec(0.5, 0.5))]


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("single") / "data")
    try:
        yield daemon
    finally:
        daemon.stop()


def _far_apart(c: Cluster, tag: str) -> tuple[str, str]:
    """A source and a target namespace in different partitions with different owners."""
    source = f"xfer:{tag}/source"
    owner = _owner(c, source)
    for i in range(1_000):
        target = f"xfer:{tag}/target-{i}"
        if partition_of(target, PARTITIONS) != partition_of(source, PARTITIONS):
            if _owner(c, target) != owner:
                return source, target
    raise AssertionError("no target namespace owned by another node")


def _seed(stub: Any, source: str, target: str) -> None:
    for ns, items in ((source, SOURCE), (target, TARGET)):
        request = pb.StoreRequest(namespace=ns, memories=items)
        reply, _ = retry(partial(stub.Store, request, timeout=10))
        assert not reply.errors


def _contents(stub: Any, ns: str) -> dict[str, mpb.Memory]:
    page, _ = retry(lambda: stub.List(pb.ListRequest(namespace=ns, page_size=1000), timeout=10))
    return {m.key: m for m in page.memories}


def _same(cluster_side: dict[str, mpb.Memory], single_side: dict[str, mpb.Memory]) -> None:
    assert cluster_side.keys() == single_side.keys()
    for key, got in cluster_side.items():
        want = single_side[key]
        assert [getattr(got, f) for f in SAME] == [getattr(want, f) for f in SAME], key


def _transfer(stub: Any, request: pb.TransferRequest) -> pb.TransferResponse | grpc.StatusCode:
    # With the routing header the clients send (the source's), relayed to every hop.
    header = (("memd-namespace", request.namespace),)
    try:
        reply, _ = retry(lambda: stub.Transfer(request, timeout=15, metadata=header))
        return reply
    except grpc.RpcError as exc:
        return exc.code()


def test_copy_and_move_across_partitions_do_what_a_single_node_does(
    cluster: Cluster, single: Daemon
) -> None:
    source, target = _far_apart(cluster, "same")
    # Through a node that owns neither namespace when there is one: two hops' worth of
    # routing (the request to the source's owner, step (b) to the target's).
    owners = {_owner(cluster, source), _owner(cluster, target)}
    entry = next((n for n in (1, 2, 3) if n not in owners), 1)
    stub = cluster.stub(entry)
    _seed(stub, source, target)
    _seed(single.stub, source, target)
    before = _contents(stub, source)
    steps = [
        # Bad input, refused with nothing changed, with the single node's statuses.
        pb.TransferRequest(keys=["a"], whole_namespace=True),
        pb.TransferRequest(keys=["b", "a"], move=True),  # "a" is in the target: FAIL
        pb.TransferRequest(keys=["c"], on_conflict=pb.TRANSFER_CONFLICT_SKIP),  # dimension
        # A copy that skips the conflict; missing and duplicate keys.
        pb.TransferRequest(keys=["b", "a", "zz", "b"], on_conflict=pb.TRANSFER_CONFLICT_SKIP),
        # A move of everything: overwrite, the other dimension dropped.
        pb.TransferRequest(
            whole_namespace=True,
            move=True,
            on_conflict=pb.TRANSFER_CONFLICT_OVERWRITE,
            on_dimension_mismatch=pb.TRANSFER_DIMENSION_DROP_EMBEDDING,
        ),
    ]
    for step in steps:
        step.namespace, step.target_namespace = source, target
        got, want = _transfer(stub, step), _transfer(single.stub, step)
        assert got == want, step
    for ns in (source, target):
        _same(_contents(stub, ns), _contents(single.stub, ns))
    moved = _contents(stub, target)
    assert set(moved) == {"a", "b", "c", "d"} and not _contents(stub, source)
    for key in "bcd":  # the memory's past came with it
        assert (moved[key].created_ms, moved[key].version) == (
            before[key].created_ms,
            before[key].version,
        )
    unknown = pb.TransferRequest(namespace="xfer:nobody", target_namespace=target, keys=["a"])
    assert _transfer(stub, unknown) == grpc.StatusCode.NOT_FOUND
    # Every replica applied the same entries: identical bytes everywhere.
    _settled(cluster, {source: 0, target: 4})


def test_a_write_racing_a_move_is_never_lost(cluster: Cluster) -> None:
    """Moves of one key back and forth while a writer keeps storing new versions of it
    in the source: each acknowledged version is found afterwards in the source or in
    the target (a move deletes from the source only what it copied unchanged)."""
    source, target = _far_apart(cluster, "race")
    stub = cluster.stub(_owner(cluster, source))
    writer_stub = cluster.stub(next(n for n in (1, 2, 3) if n != _owner(cluster, source)))
    stop = threading.Event()
    acked: list[str] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            text = f"version {i}"
            request = pb.StoreRequest(
                namespace=source, memories=[mpb.NewMemory(key="k", text=text)]
            )
            retry(lambda: writer_stub.Store(request, timeout=10))  # noqa: B023
            acked.append(text)
            i += 1
            time.sleep(random.random() * 0.01)  # some moves race a write, some do not

    writer = threading.Thread(target=write)
    writer.start()
    kept = moved = 0
    try:
        for _ in range(25):
            request = pb.TransferRequest(
                namespace=source,
                target_namespace=target,
                keys=["k"],
                move=True,
                on_conflict=pb.TRANSFER_CONFLICT_OVERWRITE,
            )
            reply = _transfer(stub, request)
            if reply == grpc.StatusCode.NOT_FOUND:
                continue  # the source was empty (moved away, not written again yet)
            assert isinstance(reply, pb.TransferResponse), reply
            moved += reply.transferred
            kept += reply.kept_changed
    finally:
        stop.set()
        writer.join()
    last = acked[-1]
    here = _contents(stub, source).get("k")
    there = _contents(stub, target).get("k")
    found = {m.text for m in (here, there) if m is not None}
    assert last in found, (last, found)
    assert moved > 0
    print(f"race: {moved} moved, {kept} kept in the source (written meanwhile)")
    _settled(cluster, {source: int(here is not None), target: int(there is not None)})


def test_a_transfer_larger_than_one_log_entry_is_refused_with_nothing_done(
    cluster: Cluster,
) -> None:
    source, target = _far_apart(cluster, "big")
    stub = cluster.stub(1)
    for i in range(3):  # 3 x 400 KB: each store fits in an entry, the three do not
        request = pb.StoreRequest(
            namespace=source, memories=[mpb.NewMemory(key=f"v{i}", value=bytes(400_000))]
        )
        retry(partial(stub.Store, request, timeout=10))
    move = pb.TransferRequest(namespace=source, target_namespace=target, whole_namespace=True)
    move.move = True
    assert _transfer(stub, move) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert set(_contents(stub, source)) == {"v0", "v1", "v2"} and not _contents(stub, target)
    one = pb.TransferRequest(namespace=source, target_namespace=target, keys=["v1"], move=True)
    reply = _transfer(stub, one)
    assert isinstance(reply, pb.TransferResponse) and reply.transferred == 1
    _settled(cluster, {source: 2, target: 1})
