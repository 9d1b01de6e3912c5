"""Reads on a replica in a real cluster (docs/cluster.md "Reads on a replica",
``memd/cluster/read_index.py``).

A follower answers a read from its own copy once it has applied the owner's read
index: writes acknowledged by the owner (or forwarded to it) and read
at once through a follower are found every time, and the follower's counters show it
answered them itself; a counted read answered there is counted on every replica (the
follower sends it to the owner, which logs it). The wait for the index
itself is shown deterministically in ``test_read_index.py`` (here the follower's copy
is seldom behind by more than the read-index call takes).
"""

from __future__ import annotations

import time

import grpc
import pytest

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry

NS = "replica:reads"
READS = "memd_cluster_replica_reads_total"
FORWARDS = "memd_cluster_forwards_total"


def _roles(c: Cluster, ns: str = NS) -> tuple[int, int]:
    record = c.wait_balanced().partitions[partition_of(ns, 8)]
    return int(record.owner.removeprefix("memd-")), int(record.followers[0].removeprefix("memd-"))


def _store(c: Cluster, node: int, key: str, text: str) -> None:
    memory = mpb.NewMemory(key=key, text=text)
    retry(lambda: c.stub(node).Store(pb.StoreRequest(namespace=NS, memories=[memory]), timeout=10))


def test_a_follower_reads_every_write_acknowledged_before_the_read(whole: Cluster) -> None:
    c = whole
    owner, follower = _roles(c)
    _store(c, owner, "warm", "warm up")
    reads = {m: c.counter(follower, READS, m) for m in ("Retrieve", "List", "Search")}
    forwards = c.counter(follower, FORWARDS, "Retrieve")
    rounds = c.metric(follower, "memd_cluster_read_index_rounds_total")
    at_follower = c.stub(follower)
    for i in range(40):
        # Acknowledged by the owner (directly, or forwarded), then read at once on
        # the follower.
        _store(c, owner if i % 2 else follower, f"k{i}", f"fact number {i}")
        got = at_follower.Retrieve(
            pb.RetrieveRequest(namespace=NS, keys=[f"k{i}"], peek=True), timeout=10
        )
        assert got.results[0].found, i
    listed = at_follower.List(pb.ListRequest(namespace=NS, page_size=100), timeout=10)
    assert {m.key for m in listed.memories} >= {f"k{i}" for i in range(40)}
    hits = [
        h.memory.key
        for page in at_follower.Search(
            pb.SearchRequest(namespace=NS, query="number 39", limit=3), timeout=10
        )
        for h in page.hits
    ]
    assert "k39" in hits
    assert c.counter(follower, READS, "Retrieve") == reads["Retrieve"] + 40
    assert c.counter(follower, READS, "List") == reads["List"] + 1
    assert c.counter(follower, READS, "Search") == reads["Search"] + 1
    assert c.counter(follower, FORWARDS, "Retrieve") == forwards, "peeks are read here"
    assert c.metric(follower, "memd_cluster_read_index_rounds_total") > rounds


def _access_count(c: Cluster, node: int, key: str) -> int:
    """``key``'s access count in ``node``'s own copy (a peek: answered there)."""
    request = pb.RetrieveRequest(namespace=NS, keys=[key], peek=True)
    got, _ = retry(lambda: c.stub(node).Retrieve(request, timeout=10))  # a move: UNAVAILABLE
    return int(got.results[0].memory.access_count)


def test_a_counted_read_on_a_replica_is_counted_on_every_replica(whole: Cluster) -> None:
    c = whole
    owner, follower = _roles(c)
    _store(c, owner, "counted", "read me")
    reads = c.counter(follower, READS, "Retrieve")
    forwards = c.counter(follower, FORWARDS, "Retrieve")
    sent = c.metric(follower, "memd_cluster_touch_keys_sent_total")
    at_follower = c.stub(follower)
    for _ in range(3):
        got = at_follower.Retrieve(pb.RetrieveRequest(namespace=NS, keys=["counted"]), timeout=10)
        assert got.results[0].found
    assert c.counter(follower, READS, "Retrieve") == reads + 3, "answered by the follower"
    assert c.counter(follower, FORWARDS, "Retrieve") == forwards
    # The follower sends the reads it recorded to the owner, which logs them as a
    # touch entry: every replica counts them, as if the owner had served them.
    deadline = time.monotonic() + 20
    while True:
        counts = {n: _access_count(c, n, "counted") for n in (1, 2, 3)}
        if all(v == 3 for v in counts.values()):
            break
        assert time.monotonic() < deadline, counts
        time.sleep(0.2)
    assert c.metric(follower, "memd_cluster_touch_keys_sent_total") >= sent + 1
    c.converged()


def test_only_the_owner_gives_a_read_index(whole: Cluster) -> None:
    c = whole
    owner, follower = _roles(c)
    _store(c, owner, "indexed", "x")
    partition = partition_of(NS, 8)
    request = cpb.ReadIndexRequest(partitions=[partition])
    at_owner = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(c.address(owner)))
    at_follower = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(c.address(follower)))
    index = at_owner.ReadIndex(request, timeout=10).sequences
    assert len(index) == 1 and index[0] > 0
    assert list(at_follower.ReadIndex(request, timeout=10).sequences) == [-1]
    with pytest.raises(grpc.RpcError) as refused:
        at_owner.ReadIndex(cpb.ReadIndexRequest(partitions=[partition, 8]), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_only_the_owner_logs_a_follower_s_reads_and_only_a_touch_entry_of_its_partition(
    whole: Cluster,
) -> None:
    c = whole
    owner, follower = _roles(c)
    partition = partition_of(NS, 8)
    other = next(f"other:{i}" for i in range(100) if partition_of(f"other:{i}", 8) != partition)
    entry = cpb.TouchEntry(
        namespaces=[
            cpb.TouchNamespace(
                namespace=NS, accesses=[cpb.KeyAccess(key="x", count=1, times_ms=[1])]
            )
        ]
    ).SerializeToString()
    foreign = cpb.TouchEntry(namespaces=[cpb.TouchNamespace(namespace=other)]).SerializeToString()
    at_owner = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(c.address(owner)))
    at_follower = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(c.address(follower)))
    entries = c.metric(owner, "memd_cluster_touch_entries_total")
    for request, code in (
        (cpb.TouchRequest(partition=8, entry=entry), grpc.StatusCode.INVALID_ARGUMENT),
        (
            cpb.TouchRequest(partition=partition, entry=b"\xff\xff"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (cpb.TouchRequest(partition=partition), grpc.StatusCode.INVALID_ARGUMENT),
        (cpb.TouchRequest(partition=partition, entry=foreign), grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            at_owner.Touch(request, timeout=10)
        assert refused.value.code() == code, request
    assert c.metric(owner, "memd_cluster_touch_entries_total") == entries  # nothing logged
    with pytest.raises(grpc.RpcError) as refused:
        at_follower.Touch(cpb.TouchRequest(partition=partition, entry=entry), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    at_owner.Touch(cpb.TouchRequest(partition=partition, entry=entry), timeout=10)
    assert c.metric(owner, "memd_cluster_touch_entries_total") == entries + 1


def test_reads_an_owner_counted_before_it_was_drained_reach_every_replica(
    whole: Cluster,
) -> None:
    c = whole
    ns_key = "drained"
    owner, _ = _roles(c)
    _store(c, owner, ns_key, "read just before a move")
    at_owner = cpb_grpc.ClusterServiceStub(grpc.insecure_channel(c.address(owner)))
    try:
        # Counted on the owner, which loses the partition before its next touch entry
        # (about once a second) in most runs: it sends them to the new owner instead.
        for _ in range(2):
            got = c.stub(owner).Retrieve(
                pb.RetrieveRequest(namespace=NS, keys=[ns_key]), timeout=10
            )
            assert got.results[0].found
        assert at_owner.Drain(cpb.DrainRequest(), timeout=10).draining
        deadline = time.monotonic() + 30
        while True:
            counts = {n: _access_count(c, n, ns_key) for n in (1, 2, 3)}
            if all(v == 2 for v in counts.values()):
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.2)
    finally:
        at_owner.Drain(cpb.DrainRequest(resume=True), timeout=10)
