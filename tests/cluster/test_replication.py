"""Replication: every node answers for every namespace, replicas hold identical bytes,
and follower reads with bounded staleness (``memd-max-staleness-ms``)."""

from __future__ import annotations

import signal
import time
import urllib.request
from functools import partial

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry
from tests.cluster.effects_cases import (  # run on this module's cluster (see there)
    test_a_follower_restarted_mid_way_converges_on_the_effects,
    test_consolidation_on_capacity_is_a_logged_entry,
    test_scheduled_sweeps_expire_ttl_memories_on_every_replica,
    test_sweep_lifecycle_clear_and_transfer_are_answered_in_cluster_mode,
)
from tests.cluster.group_cases import (  # group commit of Stores, on this cluster too
    test_a_bad_batch_among_grouped_ones_fails_alone,
    test_concurrent_streams_are_grouped_and_identical_on_every_replica,
)
from tests.cluster.touch_cases import (  # reads' touch entries, on this cluster too
    test_a_follower_restarted_while_reads_are_logged_converges,
    test_reads_through_the_owner_and_a_forwarder_count_on_every_replica,
)
from tests.cluster.transfer_cases import (  # Transfer across partitions, on this cluster too
    single,
    test_a_transfer_larger_than_one_log_entry_is_refused_with_nothing_done,
    test_a_write_racing_a_move_is_never_lost,
    test_copy_and_move_across_partitions_do_what_a_single_node_does,
)

__all__ = [
    "single",
    "test_a_bad_batch_among_grouped_ones_fails_alone",
    "test_a_follower_restarted_mid_way_converges_on_the_effects",
    "test_a_follower_restarted_while_reads_are_logged_converges",
    "test_a_transfer_larger_than_one_log_entry_is_refused_with_nothing_done",
    "test_a_write_racing_a_move_is_never_lost",
    "test_concurrent_streams_are_grouped_and_identical_on_every_replica",
    "test_consolidation_on_capacity_is_a_logged_entry",
    "test_copy_and_move_across_partitions_do_what_a_single_node_does",
    "test_reads_through_the_owner_and_a_forwarder_count_on_every_replica",
    "test_scheduled_sweeps_expire_ttl_memories_on_every_replica",
    "test_sweep_lifecycle_clear_and_transfer_are_answered_in_cluster_mode",
]

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
    mine = {ns for ns in namespaces if ns.startswith("team:")}  # other tests' aside
    assert mine == set(NAMESPACES) - {NAMESPACES[1]}
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
    # Reads are routed by the header without decoding the body; the node that serves
    # the request (this one, or the owner the header leads to) checks it, so every
    # node refuses a disagreeing header, and a matching one reads as without it.
    read = pb.RetrieveRequest(namespace="header:a", keys=["k"])
    page = pb.ListRequest(namespace="header:a")
    for node in (1, 2, 3):
        for call, message in ((cluster.stub(node).Retrieve, read), (cluster.stub(node).List, page)):
            with pytest.raises(grpc.RpcError) as err:
                retry(partial(call, message, metadata=[("memd-namespace", "other")], timeout=10))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, node
        got, _ = retry(
            partial(cluster.stub(node).Retrieve, read, metadata=[("memd-namespace", "header:a")])
        )
        assert got.results[0].found, node


def test_malformed_read_bytes_are_invalid_argument_on_every_node(cluster: Cluster) -> None:
    # The namespace of a raw read is peeked from its bytes in Rust (no header sent):
    # junk is the caller's error, not an internal one, wherever it lands.
    for node in (1, 2, 3):
        channel = grpc.insecure_channel(cluster.address(node))
        for method in ("Retrieve", "List"):
            call = channel.unary_unary(f"/memd.v1.MemoryService/{method}")
            with pytest.raises(grpc.RpcError) as err:
                call(b"\x0a\xff\xff", timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (node, method)
        channel.close()


def test_batch_search_runs_on_the_owner_through_every_node(cluster: Cluster) -> None:
    ns = "batch:ns"
    _store(cluster, 1, ns, 3, "alpha")
    queries = [pb.SearchRequest(query="alpha"), pb.SearchRequest(query="nothing-like-it")]
    request = pb.BatchSearchRequest(namespace=ns, queries=queries)
    for node in (1, 2, 3):
        pages, _ = retry(lambda n=node: list(cluster.stub(n).BatchSearch(request, timeout=10)))
        hits = {i: 0 for i in range(2)}
        for page in pages:
            hits[page.query_index] += len(page.hits)
        assert hits == {0: 4, 1: 0}, node


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


# ---- follower reads ------------------------------------------------------------

READS_NS = "reads:team"


def _read(c: Cluster, node: int, bound: str, timeout: float = 10) -> tuple[bool, dict[str, str]]:
    reply, call = c.stub(node).Retrieve.with_call(
        pb.RetrieveRequest(namespace=READS_NS, keys=["k"]),
        metadata=[("memd-max-staleness-ms", bound)],
        timeout=timeout,
    )
    return reply.results[0].found, dict(call.trailing_metadata())


def _roles(c: Cluster) -> tuple[int, int]:
    placement = c.wait_balanced()
    record = placement.partitions[partition_of(READS_NS, 8)]
    owner = int(record.owner.removeprefix("memd-"))
    return owner, int(record.followers[0].removeprefix("memd-"))


def test_a_follower_serves_reads_within_the_bound_and_says_so(whole: Cluster) -> None:
    c = whole
    owner, follower = _roles(c)
    retry(
        lambda: c.stub(owner).Store(
            pb.StoreRequest(namespace=READS_NS, memories=[mpb.NewMemory(key="k", text="t")]),
            timeout=10,
        )
    )
    c.converged()
    found, meta = _read(c, follower, "60000")
    assert found and meta["memd-read-from"] == "follower", meta
    assert 0 <= int(meta["memd-staleness-ms"]) <= 60000 and meta["memd-staleness-entries"] == "0"
    found, meta = _read(c, owner, "60000")
    assert found and meta == {
        "memd-read-from": "owner",
        "memd-staleness-ms": "0",
        "memd-staleness-entries": "0",
    }
    with pytest.raises(grpc.RpcError) as err:
        _read(c, follower, "soon")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Without the header, a follower forwards to the owner (read-your-writes) and
    # reports nothing.
    reply, call = c.stub(follower).Retrieve.with_call(
        pb.RetrieveRequest(namespace=READS_NS, keys=["k"]), timeout=10
    )
    assert reply.results[0].found and "memd-read-from" not in dict(call.trailing_metadata())

    # The owner paused: its follower still answers within a generous bound, and the
    # staleness it reports grows with the pause (no renewal, no entry since).
    c.signal(f"memd-{owner}", signal.SIGSTOP)
    try:
        # An entry the owner published just before the pause (a `touch`, a sweep) may
        # still reach the follower between two reads and bring its staleness down;
        # none can be published after it, so within a few pairs of reads one pair
        # sees the staleness grow by the time between them.
        for _ in range(4):
            found, first = _read(c, follower, "60000")
            time.sleep(0.4)
            found_again, second = _read(c, follower, "60000")
            assert found and found_again
            assert first["memd-read-from"] == second["memd-read-from"] == "follower"
            grew = int(second["memd-staleness-ms"]) - int(first["memd-staleness-ms"])
            if grew >= 300:
                break
        assert grew >= 300, (first, second)
        # A bound tighter than that goes to the (paused) owner and cannot be answered.
        with pytest.raises(grpc.RpcError) as err:
            _read(c, follower, "1", timeout=0.5)
        assert err.value.code() in (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNAVAILABLE,
        )
    finally:
        c.signal(f"memd-{owner}", signal.SIGCONT)
