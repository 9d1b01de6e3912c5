"""Cluster-wide admin: fan-out of ListNamespaces, Stats and Backup; drain of a running
node and rebalancing when it comes back (the moves a join makes)."""

from __future__ import annotations

import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import grpc
import lmdb
import pytest

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry
from tests.cluster.test_failover import Checker, _check_all_readable

NAMESPACES = [f"admin:{i}/agent" for i in range(10)]


def _memd(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "memd"), *args],
        text=True,
        capture_output=True,
        timeout=90,
        check=False,
    )


def _fill(cluster: Cluster) -> None:
    for i, ns in enumerate(NAMESPACES):
        memories = [mpb.NewMemory(key=f"k{j}", text=f"{ns} {j}") for j in range(i + 1)]
        retry(
            lambda ns=ns, m=memories, n=1 + i % 3: cluster.stub(n).Store(
                pb.StoreRequest(namespace=ns, memories=m), timeout=10
            )
        )


def test_list_namespaces_and_stats_fan_out_to_every_owner(whole: Cluster) -> None:
    cluster = whole
    _fill(cluster)
    placement = cluster.wait_balanced()
    owners = {placement.partitions[partition_of(ns, 8)].owner for ns in NAMESPACES}
    assert len(owners) == 3, "the namespaces live on every node"
    for node in (1, 2, 3):
        stub = cluster.stub(node)
        listed, _ = retry(partial(stub.ListNamespaces, pb.ListNamespacesRequest(), timeout=10))
        assert set(NAMESPACES) <= set(listed.namespaces), node
        assert list(listed.namespaces) == sorted(listed.namespaces)
        stats, _ = retry(partial(stub.Stats, pb.StatsRequest(), timeout=10))
        counted = {
            s.namespace: sum(t.count for t in s.tiers)
            for s in stats.namespaces
            if s.namespace in NAMESPACES
        }
        assert counted == {ns: i + 1 for i, ns in enumerate(NAMESPACES)}, node
        assert 0 < stats.map_used_bytes <= stats.map_size_bytes


def test_a_forwarded_list_reports_only_the_partitions_its_node_serves(cluster: Cluster) -> None:
    # What each node contributes to a fan-out (the merge's completeness check rests on it).
    placement = cluster.wait_balanced()
    _fill(cluster)
    served_by: dict[int, set[int]] = {}
    for node in (1, 2, 3):
        listed, call = cluster.stub(node).ListNamespaces.with_call(
            pb.ListNamespacesRequest(), metadata=[("memd-forwarded", "test")], timeout=10
        )
        served = dict(call.trailing_metadata())["memd-served"]
        served_by[node] = {int(p) for p in served.split(",") if p}
        assert {partition_of(ns, 8) for ns in listed.namespaces} <= served_by[node]
    owned = {
        n: {p.partition for p in placement.partitions if p.owner == f"memd-{n}"} for n in (1, 2, 3)
    }
    assert served_by == owned


def test_backup_fans_out_to_every_node(cluster: Cluster) -> None:
    _fill(cluster)
    reply, _ = retry(lambda: cluster.stub(2).Backup(pb.BackupRequest(path="nightly/1"), timeout=60))
    assert reply.path == "nightly/1"
    copies = {c.node_id: c for c in reply.node_copies}
    assert set(copies) == {"memd-1", "memd-2", "memd-3"}
    assert reply.bytes == sum(c.bytes for c in copies.values()) > 0
    for node_id, copy in copies.items():
        assert copy.path.endswith(f"nightly/1/{node_id}")
        # Each copy is a plain LMDB environment holding the namespaces (read independently).
        env = lmdb.open(copy.path, readonly=True, lock=False, max_dbs=64)
        try:
            assert env.stat()["entries"] > 0
        finally:
            env.close()
    with pytest.raises(grpc.RpcError) as err:  # the same path again: refused, changes nothing
        cluster.stub(1).Backup(pb.BackupRequest(path="nightly/1"), timeout=60)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_running_node_is_drained_and_gets_its_partitions_back_on_resume(
    whole: Cluster,
) -> None:
    cluster = whole
    before = cluster.wait_balanced()
    mine = {p.partition for p in before.partitions if p.owner == "memd-2"}
    assert mine, "node 2 owns partitions to drain"
    ns = next(f"drain:{i}" for i in range(100) if partition_of(f"drain:{i}", 8) in mine)
    checker = Checker(cluster, 2, ns)  # writes through the node being drained
    with checker.running():
        checker.wait_acks(20, 30)
        done = _memd(
            cluster, "cluster", "drain", "--target", cluster.address(1), "--node", "memd-2"
        )
        assert done.returncode == 0, done.stderr
        assert f"memd-2: drained, {len(mine)} partitions handed over" in done.stdout
        checker.wait_acks(20, 30)
        placement = cluster.placement(3)
        assert not [p.partition for p in placement.partitions if p.owner == "memd-2"]
        node2 = next(n for n in placement.nodes if n.id == "memd-2")
        assert node2.live and node2.draining
        # Still running: it answers (forwarding every request) and still follows the log.
        assert _memd(cluster, "health", "--target", cluster.address(2)).returncode == 0
        again = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(cluster.address(2)))
        reply = again.Drain(cpb.DrainRequest(), timeout=10)
        assert reply.draining and reply.released == 0  # drained twice: nothing more to hand
        done = _memd(
            cluster, "cluster", "drain", "--target", cluster.address(2), "--resume", "--wait", "0"
        )
        assert done.returncode == 0 and "memd-2: in service" in done.stdout, done.stderr
        # Rebalancing (the steps of a join) hands node 2 its share back.
        deadline = time.monotonic() + 30
        while True:
            after = cluster.wait_balanced()
            if {p.partition for p in after.partitions if p.owner == "memd-2"} == mine:
                break
            assert time.monotonic() < deadline, after
            time.sleep(0.2)
        checker.wait_acks(20, 30)
    assert max(checker.gaps) < 10, checker.gaps
    _check_all_readable(cluster, ns, checker.acked, (1, 2, 3))
    cluster.converged()
    print(
        f"\n[drain + resume, running node] acknowledged {len(checker.acked)}, lost 0, "
        f"longest unavailability {max(checker.gaps):.2f} s"
    )


def test_draining_an_unknown_node_is_not_found(cluster: Cluster) -> None:
    stub = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(cluster.address(1)))
    with pytest.raises(grpc.RpcError) as err:
        stub.Drain(cpb.DrainRequest(node_id="memd-9"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def _replicas(p: cpb.PartitionPlacement) -> set[str]:
    return {p.owner, *p.followers}


def test_a_fourth_node_joins_gets_its_share_and_replicates_only_r_partitions(
    whole: Cluster,
) -> None:
    cluster = whole
    namespaces = [f"join:{i}" for i in range(24)]
    for i, ns in enumerate(namespaces):  # written before the node joins: it must replay
        retry(
            lambda ns=ns, n=1 + i % 3: cluster.stub(n).Store(
                pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(key="k", text=ns)]),
                timeout=10,
            )
        )
    cluster.run("node-up", "4")
    deadline = time.monotonic() + 60
    while True:  # rebalanced with node 4 among the owners, and its followers listed
        placement = cluster.wait_balanced(60)
        # R = 3: an owner and two followers of four nodes.
        if any(p.owner == "memd-4" for p in placement.partitions) and all(
            len(_replicas(p)) == 3 and p.owner not in p.followers for p in placement.partitions
        ):
            break
        assert time.monotonic() < deadline, placement
        time.sleep(0.3)
    mine = {p.partition for p in placement.partitions if "memd-4" in _replicas(p)}
    assert 0 < len(mine) < 8
    # Every namespace is held, byte for byte, by its partition's replicas, node 4 (which
    # joined empty) among them. Node 4 may hold more: a node keeps what it applied of a
    # partition it stopped replicating, and on a loaded machine a node whose heartbeat
    # came late can be passed over for a moment, node 4 following its partitions until
    # it is back (seen once in CI-like runs). That node 4 replicates only R of the
    # partitions is the placement's assertion above.
    expect = {
        ns: {
            int(n.removeprefix("memd-"))
            for n in _replicas(placement.partitions[partition_of(ns, 8)])
        }
        for ns in namespaces
    }
    deadline = time.monotonic() + 30
    while True:
        digests = dict(zip((1, 2, 3, 4), cluster.digests((1, 2, 3, 4)), strict=True))
        same = all(
            len(held := {digests[n]["namespaces"].get(ns) for n in nodes}) == 1 and None not in held
            for ns, nodes in expect.items()
        )
        on_4 = {ns for ns in namespaces if ns in digests[4]["namespaces"]}
        if same and on_4 >= {ns for ns, nodes in expect.items() if 4 in nodes}:
            break
        assert time.monotonic() < deadline, (digests, expect)
        time.sleep(0.3)
    for ns in namespaces:
        got, _ = retry(
            partial(
                cluster.stub(4).Retrieve, pb.RetrieveRequest(namespace=ns, keys=["k"]), timeout=10
            )
        )
        assert got.results[0].found, ns
    cluster.run("node-down", "4")  # SIGTERM: hands its partitions over
    deadline = time.monotonic() + 30
    while [p for p in cluster.wait_balanced(60).partitions if "memd-4" in _replicas(p)]:
        assert time.monotonic() < deadline, "node 4 still named a replica after leaving"
        time.sleep(0.3)
