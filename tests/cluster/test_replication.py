"""Replication: every node answers for every namespace, and replicas hold identical bytes."""

from __future__ import annotations

import time
import urllib.request
from functools import partial

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry

NAMESPACES = [f"team:{i}/agent" for i in range(12)]


def _store(c: Cluster, node: int, ns: str, n: int, tag: str) -> list[str]:
    memories = [mpb.NewMemory(key=f"{tag}-{j}", text=f"{ns} says {tag} {j}") for j in range(n)]
    memories.append(mpb.NewMemory(text=f"{ns} keyless {tag}"))  # the owner makes its key
    reply, _ = retry(
        lambda: c.stub(node).Store(pb.StoreRequest(namespace=ns, memories=memories), timeout=10)
    )
    assert not reply.errors
    return list(reply.keys)


def _found(c: Cluster, node: int, ns: str, keys: list[str]) -> list[bool]:
    request = pb.RetrieveRequest(namespace=ns, keys=keys)
    got, _ = retry(partial(c.stub(node).Retrieve, request, timeout=10))
    return [r.found for r in got.results]


def test_every_node_serves_every_namespace_and_replicas_are_identical(cluster: Cluster) -> None:
    assert len({partition_of(ns, 8) for ns in NAMESPACES}) > 3, "spread over partitions"
    acked: dict[str, list[str]] = {}
    for i, ns in enumerate(NAMESPACES):
        acked[ns] = _store(cluster, 1 + i % 3, ns, 20, "a")
    deleted = acked[NAMESPACES[0]][:5]
    reply, _ = retry(
        lambda: cluster.stub(3).Delete(
            pb.DeleteRequest(namespace=NAMESPACES[0], keys=deleted), timeout=10
        )
    )
    assert list(reply.deleted) == [True] * 5
    dropped, _ = retry(
        lambda: cluster.stub(2).DropNamespace(
            pb.DropNamespaceRequest(namespace=NAMESPACES[1]), timeout=10
        )
    )
    assert dropped.removed == 21
    for node in (1, 2, 3):  # read-your-writes through any node (forwarded to the owner)
        for ns in NAMESPACES[2:]:
            assert all(_found(cluster, node, ns, acked[ns])), (node, ns)
        found = _found(cluster, node, NAMESPACES[0], acked[NAMESPACES[0]])
        assert found == [False] * 5 + [True] * 16
    digests = cluster.converged()
    namespaces = digests[0]["namespaces"]
    assert set(namespaces) == set(NAMESPACES) - {NAMESPACES[1]}
    # Every replica recorded the same applied sequence per partition, with its writes.
    assert digests[0]["applied"] and all(d["applied"] == digests[0]["applied"] for d in digests)


def test_search_and_list_are_served_through_any_node(cluster: Cluster) -> None:
    ns = "search:team"
    _store(cluster, 1, ns, 10, "s")
    search = pb.SearchRequest(namespace=ns, query="says s 3", limit=3)
    for node in (1, 2, 3):
        stub = cluster.stub(node)
        hits, _ = retry(partial(lambda s: list(s.Search(search, timeout=10)), stub))
        assert hits and hits[0].hits, node
        page, _ = retry(partial(stub.List, pb.ListRequest(namespace=ns, page_size=100), timeout=10))
        assert len(page.memories) == 11


def test_a_namespace_header_that_disagrees_with_the_body_is_refused(cluster: Cluster) -> None:
    request = pb.StoreRequest(namespace="header:a", memories=[mpb.NewMemory(key="k", text="t")])
    with pytest.raises(grpc.RpcError) as err:
        cluster.stub(1).Store(request, metadata=[("memd-namespace", "header:b")], timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "memd-namespace" in (err.value.details() or "")
    got, _ = retry(
        lambda: cluster.stub(2).Retrieve(
            pb.RetrieveRequest(namespace="header:a", keys=["k"]), timeout=10
        )
    )
    assert not got.results[0].found, "nothing was stored"
    ok, _ = retry(
        lambda: cluster.stub(1).Store(
            request, metadata=[("memd-namespace", "header:a")], timeout=10
        )
    )
    assert list(ok.keys) == ["k"]


def test_unlogged_engine_effects_are_refused_in_cluster_mode(cluster: Cluster) -> None:
    with pytest.raises(grpc.RpcError) as err:
        cluster.stub(1).Sweep(pb.SweepRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_the_cluster_rpc_returns_the_placement_map(cluster: Cluster) -> None:
    placement = cluster.wait_owned()
    assert placement.partition_count == 8
    assert [p.partition for p in placement.partitions] == list(range(8))
    assert sorted(n.id for n in placement.nodes) == ["memd-1", "memd-2", "memd-3"]
    assert all(n.live for n in placement.nodes)
    assert {n.address for n in placement.nodes} == {cluster.address(i) for i in (1, 2, 3)}
    for p in placement.partitions:
        assert p.owner in {"memd-1", "memd-2", "memd-3"} and p.epoch >= 1
        assert len(p.followers) == 2 and p.owner not in p.followers
    # Deterministic placement spreads the partitions: no node owns them all.
    assert len({p.owner for p in placement.partitions}) > 1


def test_each_node_reports_its_partitions_and_forwards(cluster: Cluster) -> None:
    cluster.wait_owned()
    deadline = time.monotonic() + 10  # the gauges follow the map at the next lease tick
    while True:
        pages = []
        for node in (1, 2, 3):
            with urllib.request.urlopen(cluster.metrics_url(node), timeout=5) as page:
                pages.append(page.read().decode())
        owned = sum(_metric(text, 'memd_cluster_partitions{role="owner"}') for text in pages)
        if owned == 8 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert owned == 8, "every partition is served by exactly one node"
    forwards = sum(
        float(line.rsplit(" ", 1)[1])
        for text in pages
        for line in text.splitlines()
        if line.startswith("memd_cluster_forwards_total{")
    )
    assert forwards > 0, "the tests above went through non-owners"
    for text in pages:
        assert "memd_cluster_replication_lag_entries" in text
        assert "memd_cluster_fencing_rejections_total" in text


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")
