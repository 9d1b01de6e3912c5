"""Log compaction and partition copies (docs/cluster.md "Log compaction"), on a cluster
whose owners keep only the last 4 entries of each partition's log.

- A follower killed while its partition's log is purged past it comes back, finds the
  hole, installs a copy from another node and follows on: every replica holds the same
  bytes, nothing acknowledged is lost.
- A SIGSTOPped follower holds the purge point while its partition's record names it;
  once it is dropped the log is purged past it, and after SIGCONT it installs a copy.
- A fourth node that joins after purges gets its partitions by copies and serves them.
- An owner killed under a checker's writes comes back after the new owner purged past
  it, installs a copy, and every acknowledged write is readable everywhere (three
  rounds with ``MEMD_CLUSTER_LONG=1``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import time
from functools import partial

import grpc
import nats
import nats.js.errors
import pytest

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.entry import EXPECTED_LAST
from memd.cluster.partition import BUCKET, STREAM, node_key, partition_of, subject
from tests.cluster.conftest import LONG, Cluster, retry
from tests.cluster.test_failover import _check_all_readable, _node_number, _watch

CLUSTER_ARGS = "--cluster-log-keep-entries 4"
KEEP = 4


def _store(cluster: Cluster, node: int, ns: str, keys: range, value_bytes: int = 0) -> None:
    """Store one memory per call (one log entry each), then delete every third."""
    for k in keys:
        vector = struct.pack("<4f", *(float(k + d) for d in range(4)))
        memory = mpb.NewMemory(
            key=f"k{k}", text=f"{ns} memory {k}", embedding=vector, value=bytes(value_bytes)
        )
        retry(
            partial(
                cluster.stub(node).Store,
                pb.StoreRequest(namespace=ns, memories=[memory]),
                timeout=10,
            )
        )
    gone = [f"k{k}" for k in keys if k % 3 == 1]
    retry(partial(cluster.stub(node).Delete, pb.DeleteRequest(namespace=ns, keys=gone), timeout=10))


def _owner_and_follower(cluster: Cluster, ns: str) -> tuple[int, int, int]:
    placement = cluster.wait_balanced()
    p = placement.partitions[partition_of(ns, 8)]
    return (
        p.partition,
        int(p.owner.removeprefix("memd-")),
        int(p.followers[0].removeprefix("memd-")),
    )


async def _log_state(url: str, partition: int, node: str) -> tuple[int, int, list[str], int]:
    """(predecessor of the partition's first entry left, what ``node`` published as
    applied, the followers its record names, the partition's last entry)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        first = await js.get_msg(STREAM, seq=1, subject=subject(partition), next=True)
        prev = int((first.headers or {})[EXPECTED_LAST])
        last = int((await js.get_last_msg(STREAM, subject(partition))).seq)
        kv = await js.key_value(BUCKET)
        applied = json.loads((await kv.get(node_key(node))).value)["applied"].get(
            str(partition), -1
        )
        record = json.loads((await kv.get(f"partition.{partition}")).value)
        return prev, int(applied), list(record["followers"]), last
    finally:
        await nc.close()


def _log(cluster: Cluster, partition: int, node: int) -> tuple[int, int, list[str], int]:
    url = f"nats://127.0.0.1:{cluster.base + 1}"
    return asyncio.run(_log_state(url, partition, f"memd-{node}"))


def _readable(cluster: Cluster, node: int, ns: str, keys: range) -> None:
    want = [f"k{k}" for k in keys if k % 3 != 1]
    for at in range(0, len(want), 10):  # replies of large memories stay small
        request = pb.RetrieveRequest(namespace=ns, keys=want[at : at + 10], peek=True)
        got, _ = retry(partial(cluster.stub(node).Retrieve, request, timeout=10))
        assert all(r.found for r in got.results), [r.key for r in got.results if not r.found]


def _applied_everything(cluster: Cluster, partition: int, node: int) -> int:
    """Wait until ``node`` applied (and said so) every entry of ``partition``; the last."""
    deadline = time.monotonic() + 30
    while True:
        _, applied, _, last = _log(cluster, partition, node)
        if applied >= last:
            return last
        assert time.monotonic() < deadline, (applied, last)
        time.sleep(0.1)


def test_a_follower_back_after_a_purge_installs_a_copy(whole: Cluster) -> None:
    cluster = whole
    ns = "compact:down"
    partition, owner, follower = _owner_and_follower(cluster, ns)
    _store(cluster, owner, ns, range(0, 6))
    last = _applied_everything(cluster, partition, follower)
    cluster.kill9(f"memd-{follower}")
    _store(cluster, owner, ns, range(6, 30))
    deadline, k = time.monotonic() + 30, 30
    while True:  # the log purged past what the killed follower applied
        prev, _, _, _ = _log(cluster, partition, follower)
        if prev > last:
            break
        assert time.monotonic() < deadline, (prev, last)
        _store(cluster, owner, ns, range(k, k + 1))
        k += 1
        time.sleep(0.3)
    assert cluster.metric(owner, "memd_cluster_log_entries_purged_total") > 0
    cluster.run("node-up", str(follower))
    digests = cluster.converged(timeout=60)
    assert digests[0]["records"][ns] == len([j for j in range(k) if j % 3 != 1])
    assert cluster.metric(follower, "memd_cluster_snapshots_installed_total") >= 1
    for node in (1, 2, 3):
        _readable(cluster, node, ns, range(k))


def test_a_paused_follower_holds_the_purge_until_dropped(whole: Cluster) -> None:
    cluster = whole
    ns = "compact:paused"
    partition, owner, follower = _owner_and_follower(cluster, ns)
    _store(cluster, owner, ns, range(0, 6))
    last = _applied_everything(cluster, partition, follower)
    cluster.signal(f"memd-{follower}", signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 30
        held = 0
        k = 6
        while True:
            # Large entries: more than the paused node's socket and NATS's flow control
            # take in, so that entries it has not received are purged.
            _store(cluster, owner, ns, range(k, k + 3), value_bytes=256 << 10)
            k += 3
            prev, applied, named, _ = _log(cluster, partition, follower)
            if f"memd-{follower}" in named:
                # Read before and after the log: named throughout, so counted.
                _, _, named_after, _ = _log(cluster, partition, follower)
                if f"memd-{follower}" in named_after:
                    assert prev <= applied, "purged what a current replica had not applied"
                    held += 1
            elif prev > last:
                break  # dropped, and purged past everything it applied
            assert time.monotonic() < deadline, (prev, applied, named)
        assert held > 0, "the follower was dropped before it could hold anything"
    finally:
        cluster.signal(f"memd-{follower}", signal.SIGCONT)
    digests = cluster.converged(timeout=60)
    assert digests[0]["records"][ns] == len([j for j in range(k) if j % 3 != 1])
    assert cluster.metric(follower, "memd_cluster_snapshots_installed_total") >= 1
    _readable(cluster, follower, ns, range(k))


def test_a_node_that_joins_after_purges_gets_its_partitions_by_copies(whole: Cluster) -> None:
    cluster = whole
    namespaces = [f"compact:join:{i}" for i in range(16)]
    for i, ns in enumerate(namespaces):
        _store(cluster, 1 + i % 3, ns, range(0, 6))
    deadline = time.monotonic() + 30
    for partition in {partition_of(ns, 8) for ns in namespaces}:
        while _log(cluster, partition, 1)[0] == 0:  # nothing purged from it yet
            assert time.monotonic() < deadline, partition
            time.sleep(0.3)
    cluster.run("node-up", "4")
    try:
        deadline = time.monotonic() + 60
        while True:
            placement = cluster.wait_balanced(60)
            if any(p.owner == "memd-4" for p in placement.partitions):
                break
            assert time.monotonic() < deadline, placement
            time.sleep(0.3)
        mine = {
            ns
            for ns in namespaces
            if "memd-4"
            in {
                placement.partitions[partition_of(ns, 8)].owner,
                *placement.partitions[partition_of(ns, 8)].followers,
            }
        }
        assert mine
        deadline = time.monotonic() + 60
        while True:
            digests = dict(zip((1, 2, 3, 4), cluster.digests((1, 2, 3, 4)), strict=True))
            if all(
                digests[4]["namespaces"].get(ns) == digests[n]["namespaces"].get(ns)
                for ns in mine
                for n in (1, 2, 3)
                if ns in digests[n]["namespaces"]
                and f"memd-{n}"
                in {
                    placement.partitions[partition_of(ns, 8)].owner,
                    *placement.partitions[partition_of(ns, 8)].followers,
                }
            ) and all(ns in digests[4]["namespaces"] for ns in mine):
                break
            assert time.monotonic() < deadline, digests
            time.sleep(0.3)
        assert cluster.metric(4, "memd_cluster_snapshots_installed_total") >= 1
        for ns in namespaces:
            _readable(cluster, 4, ns, range(6))
    finally:
        cluster.run("node-down", "4")


def test_a_partition_copy_names_its_sequence_and_refuses_bad_requests(cluster: Cluster) -> None:
    ns = "compact:copy"
    _store(cluster, 1, ns, range(0, 3))
    partition = partition_of(ns, 8)
    stub = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(cluster.address(1)))
    for request, code in (
        (cpb.PartitionSnapshotRequest(partition=99), grpc.StatusCode.INVALID_ARGUMENT),
        (
            cpb.PartitionSnapshotRequest(partition=partition, min_sequence=1 << 60),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.PartitionSnapshot(request, timeout=10))
        assert refused.value.code() == code
    chunks, _ = retry(
        lambda: list(
            stub.PartitionSnapshot(cpb.PartitionSnapshotRequest(partition=partition), timeout=10)
        )
    )
    assert chunks[0].sequence > 0 and ns in chunks[0].namespaces
    keys = {r.key for c in chunks for r in c.records if r.database == cpb.STORE_DATABASE_MEMORIES}
    assert {f"{ns}\0k0".encode(), f"{ns}\0k2".encode()} <= keys
    assert f"{ns}\0k1".encode() not in keys  # deleted


@pytest.mark.parametrize("round_", range(3 if LONG else 1))
def test_an_owner_killed_under_writes_comes_back_by_a_copy(whole: Cluster, round_: int) -> None:
    cluster = whole
    ns = f"compact:owner/{round_}"
    owner, _, checker = _watch(cluster, ns)
    old = _node_number(owner)
    partition = partition_of(ns, 8)
    with checker.running():
        checker.wait_acks(10, 30)
        cluster.kill9(owner)
        # The dead owner applied nothing past the log's last entry at its death (it
        # appends before it applies, and no other node appends before its lease
        # lapses). What it published as applied may be a tick older than what it
        # applied, so it cannot tell when the purge has passed the node.
        _, _, _, last_at_death = _log(cluster, partition, old)
        deadline = time.monotonic() + 60
        while True:  # the new owner purged its log past what the old one applied
            checker.wait_acks(5, 30)
            prev, _, _, _ = _log(cluster, partition, old)
            if prev > last_at_death:
                break
            assert time.monotonic() < deadline, (prev, last_at_death)
        cluster.run("node-up", str(old))
        checker.wait_acks(20, 60)  # and on, while it installs and takes its share back
    cluster.converged(timeout=60)
    _check_all_readable(cluster, ns, checker.acked, (1, 2, 3))
    assert cluster.metric(old, "memd_cluster_snapshots_installed_total") >= 1
