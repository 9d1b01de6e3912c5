"""Group commit of a partition's Stores (memd/cluster/group_commit.py, store_stream.py).

Collected by ``test_replication.py`` (the first two) and ``test_failover.py`` (the
kill -9), so that they run on those modules' clusters instead of starting more.
Several StoreStreams write at once into namespaces of ONE partition straight to its
owner, so their batches (and each stream's batches, read ahead) meet in its queue and
go out as ``stores`` entries: every batch is acknowledged, readable through every node
and byte-identical on every replica; a batch refused as a whole fails alone, with its
status, and the later batches of its stream are never applied; a kill -9 of the owner
in the middle loses no acknowledged batch.
"""

from __future__ import annotations

import array
import threading
from collections.abc import Iterator

import grpc
from daemon_launcher import wait_for

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import LEASE_S, Cluster, retry

PARTITIONS = 8
GROUPED = "memd_cluster_stores_grouped_total"


def _same_partition(prefix: str, n: int) -> list[str]:
    """``n`` namespaces that hash to the partition of the first one."""
    names = [f"{prefix}/{i}" for i in range(200)]
    target = partition_of(names[0], PARTITIONS)
    found = [ns for ns in names if partition_of(ns, PARTITIONS) == target][:n]
    assert len(found) == n
    return found


def _owner(c: Cluster, ns: str) -> int:
    placement = c.wait_owned()
    return int(placement.partitions[partition_of(ns, PARTITIONS)].owner.removeprefix("memd-"))


def _batches(ns: str, tag: str, batches: int, size: int) -> list[pb.StoreRequest]:
    return [
        pb.StoreRequest(
            namespace=ns,
            memories=[
                mpb.NewMemory(key=f"{tag}-{b}-{i}", text=f"{ns} {tag} batch {b} item {i}")
                for i in range(size)
            ],
        )
        for b in range(batches)
    ]


class Stream(threading.Thread):
    """One StoreStream of ``requests`` to ``node``: the replies, or the error it ended with."""

    def __init__(self, c: Cluster, node: int, requests: list[pb.StoreRequest]) -> None:
        super().__init__(daemon=True)
        self.stub, self.requests = c.stub(node), requests
        self.replies: list[pb.StoreResponse] = []
        self.error: grpc.RpcError | None = None

    def run(self) -> None:
        def sent() -> Iterator[pb.StoreRequest]:
            yield from self.requests

        try:
            for reply in self.stub.StoreStream(sent(), timeout=60):
                self.replies.append(reply)
        except grpc.RpcError as exc:
            self.error = exc


def _keys_found(c: Cluster, node: int, ns: str, keys: list[str]) -> list[bool]:
    got, _ = retry(
        lambda: c.stub(node).Retrieve(pb.RetrieveRequest(namespace=ns, keys=keys), timeout=10)
    )
    return [r.found for r in got.results]


def test_concurrent_streams_are_grouped_and_identical_on_every_replica(cluster: Cluster) -> None:
    spaces = _same_partition("group:streams", 4)
    owner = _owner(cluster, spaces[0])
    before = cluster.metric(owner, GROUPED)
    streams = [
        Stream(cluster, owner, _batches(ns, f"s{i}", batches=12, size=40))
        for i, ns in enumerate(spaces)
    ]
    for s in streams:
        s.start()
    for s in streams:
        s.join(90)
    for s in streams:
        assert s.error is None, s.error
        assert len(s.replies) == 12 and not any(r.errors for r in s.replies)
        # acknowledged in order: each reply carries its own batch's keys
        assert [list(r.keys) for r in s.replies] == [
            [m.key for m in q.memories] for q in s.requests
        ]
    # Batches did go out together (4 streams of 12 batches, read ahead, one owner).
    assert cluster.metric(owner, GROUPED) > before
    for node in (1, 2, 3):
        for s in streams:
            ns = s.requests[0].namespace
            keys = [m.key for q in s.requests for m in q.memories]
            assert all(_keys_found(cluster, node, ns, keys)), (node, ns)
    digests = cluster.converged()
    for ns in spaces:
        assert digests[0]["records"][ns] == 12 * 40


def _vec(n: int) -> bytes:
    return array.array("f", [1.0] * n).tobytes()


def test_a_bad_batch_among_grouped_ones_fails_alone(cluster: Cluster) -> None:
    spaces = _same_partition("group:bad", 4)
    owner = _owner(cluster, spaces[0])
    bad_ns = spaces[0]
    first = pb.StoreRequest(
        namespace=bad_ns, memories=[mpb.NewMemory(key="v0", text="fixes dim 4", embedding=_vec(4))]
    )
    # Refused in the engine's writer (the namespace's vectors have 4 dimensions), so
    # inside a group entry; the batches after it on the stream must never be applied.
    mismatch = pb.StoreRequest(
        namespace=bad_ns,
        atomic=True,
        memories=[
            mpb.NewMemory(key="m-ok", text="fine"),
            mpb.NewMemory(key="m-bad", text="wrong dim", embedding=_vec(3)),
        ],
    )
    later = _batches(bad_ns, "late", batches=6, size=10)
    bad = Stream(cluster, owner, [first, mismatch, *later])
    good = [
        Stream(cluster, owner, _batches(ns, f"g{i}", batches=10, size=30))
        for i, ns in enumerate(spaces[1:])
    ]
    for s in (*good, bad):
        s.start()
    for s in (*good, bad):
        s.join(90)
    assert bad.error is not None and bad.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dimensions" in (bad.error.details() or "")
    assert len(bad.replies) == 1  # the first batch, then the error
    for s in good:
        assert s.error is None, s.error
        assert len(s.replies) == 10 and not any(r.errors for r in s.replies)
    late_keys = ["m-ok", "m-bad"] + [m.key for q in later for m in q.memories]
    for node in (1, 2, 3):
        assert not any(_keys_found(cluster, node, bad_ns, late_keys)), node
        assert _keys_found(cluster, node, bad_ns, ["v0"]) == [True]
    # A lone unary Store refused the same way, beside concurrent good ones.
    refused = pb.StoreRequest(
        namespace=bad_ns,
        atomic=True,
        memories=[mpb.NewMemory(key="u-bad", text="wrong", embedding=_vec(2))],
    )
    try:
        cluster.stub(owner).Store(refused, timeout=10)
        raise AssertionError("a dimension mismatch in an atomic batch was accepted")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    digests = cluster.converged()
    assert digests[0]["records"][bad_ns] == 1
    for ns in spaces[1:]:
        assert digests[0]["records"][ns] == 10 * 30


class _Writer(threading.Thread):
    """StoreStreams of 4 batches to ``node`` until stopped or refused; what was acked."""

    def __init__(self, c: Cluster, node: int, ns: str) -> None:
        super().__init__(daemon=True)
        self.c, self.node, self.ns = c, node, ns
        self.acked: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        round_ = 0
        while not self.stop.is_set():
            stream = Stream(self.c, self.node, _batches(self.ns, f"r{round_}", 4, 25))
            stream.run()
            for reply in stream.replies:
                self.acked.extend(reply.keys)
            if stream.error is not None:
                return  # its node died: what it acknowledged must survive
            round_ += 1


def test_kill9_of_the_owner_during_grouped_writes_loses_no_acknowledged_batch(
    whole: Cluster,
) -> None:
    cluster = whole
    spaces = _same_partition("group:kill", 3)
    owner = _owner(cluster, spaces[0])
    writers = [_Writer(cluster, owner, ns) for ns in spaces]
    for w in writers:
        w.start()
    before = cluster.metric(owner, GROUPED)
    wait_for("grouped writes", lambda: min(len(w.acked) for w in writers) >= 200, timeout=60)
    assert cluster.metric(owner, GROUPED) > before
    cluster.kill9(f"memd-{owner}")
    for w in writers:
        w.stop.set()
        w.join(60)
    survivors = tuple(n for n in (1, 2, 3) if n != owner)
    for w in writers:
        assert w.acked
        for node in survivors:
            found = _keys_found_long(cluster, node, w.ns, w.acked)
            lost = [k for k, f in zip(w.acked, found, strict=True) if not f]
            assert not lost, f"node {node} lost acknowledged writes: {lost[:10]}"
    print(
        f"\n[kill -9 owner, grouped] acknowledged {sum(len(w.acked) for w in writers)}, "
        f"lost 0 (lease {LEASE_S} s)"
    )
    cluster.run("node-up", str(owner))
    cluster.converged(timeout=60)


def _keys_found_long(c: Cluster, node: int, ns: str, keys: list[str]) -> list[bool]:
    found: list[bool] = []
    for start in range(0, len(keys), 500):
        found += _keys_found(c, node, ns, keys[start : start + 500])
    return found
