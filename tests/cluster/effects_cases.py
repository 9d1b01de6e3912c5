"""The engine's own effects as log entries: sweeps, lifecycle passes, Clear, Transfer.

Collected by ``test_replication.py`` (imported there), so that they run on that
module's cluster instead of starting one more (a start costs seconds of CI time).
"""

from __future__ import annotations

import struct
import time
from typing import Any

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import mark_name, partition_of
from tests.cluster.conftest import Cluster, retry

TTL_MS = 1_500
PARTITIONS = 8


def _memories(n_ttl: int, n_kept: int, tag: str) -> list[mpb.NewMemory]:
    def vector(j: int) -> bytes:
        return struct.pack("<4f", 1.0, float(j), 0.5, -float(j))

    expiring = [
        mpb.NewMemory(
            key=f"{tag}-t{j}", text=f"{tag} short {j}", embedding=vector(j), ttl_ms=TTL_MS
        )
        for j in range(n_ttl)
    ]
    kept = [
        mpb.NewMemory(key=f"{tag}-k{j}", text=f"{tag} kept {j}", embedding=vector(100 + j))
        for j in range(n_kept)
    ]
    return expiring + kept


def _noise(n: int) -> list[mpb.NewMemory]:
    """Memories the cluster's lifecycle policy deletes (conftest.NOISE_POLICY)."""
    return [
        mpb.NewMemory(key=f"noise-{j}", text=f"noise {j}", metadata={"category": "noise"})
        for j in range(n)
    ]


def _store(c: Cluster, node: int, ns: str, memories: list[mpb.NewMemory]) -> None:
    request = pb.StoreRequest(namespace=ns, memories=memories)
    reply, _ = retry(lambda: c.stub(node).Store(request, timeout=10))
    assert not reply.errors


def _call(c: Cluster, node: int, method: str, request: Any, **kwargs: Any) -> Any:
    reply, _ = retry(lambda: getattr(c.stub(node), method)(request, timeout=15, **kwargs))
    return reply


def _owner(c: Cluster, ns: str) -> int:
    record = retry(c.any_placement)[0].partitions[partition_of(ns, PARTITIONS)]
    return int(record.owner.removeprefix("memd-"))


def _settled(
    c: Cluster, want: dict[str, int], nodes: tuple[int, ...] = (1, 2, 3), timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Wait until every node holds ``want`` records per namespace, byte-identical
    namespaces and the same recorded sequences; returns the digests."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            found = c.digests(nodes)
        except AssertionError:  # read while a replica committed: read again
            time.sleep(0.2)
            continue
        counts_ok = all(d["records"].get(ns, 0) == n for d in found for ns, n in want.items())
        same = all(
            d["namespaces"] == found[0]["namespaces"] and d["applied"] == found[0]["applied"]
            for d in found
        )
        if counts_ok and same:
            return found
        time.sleep(0.3)
    raise AssertionError(f"not settled on {want} after {timeout} s: {found}")


def test_scheduled_sweeps_expire_ttl_memories_on_every_replica(cluster: Cluster) -> None:
    names = [f"effects:ttl/{i}" for i in range(4)]
    assert len({partition_of(ns, PARTITIONS) for ns in names}) > 1
    for i, ns in enumerate(names):
        _store(cluster, 1 + i % 3, ns, _memories(6, 4, "s"))
    # Reads that meet the expired memories, likely before the sweeps: in cluster mode
    # they hide them without removing them on the owner alone (no lazy expiry), which
    # would leave the owner nothing to sweep and the followers holding them.
    time.sleep(TTL_MS / 1000)
    keys = [f"s-t{j}" for j in range(6)]
    for ns in names:
        got = _call(
            cluster, _owner(cluster, ns), "Retrieve", pb.RetrieveRequest(namespace=ns, keys=keys)
        )
        assert not any(r.found for r in got.results)
    # The owners' schedulers (every second) append a sweep entry once the TTLs pass;
    # nobody calls Sweep. The vectors of the swept memories go too (same digest).
    _settled(cluster, dict.fromkeys(names, 4))


def test_sweep_lifecycle_clear_and_transfer_are_answered_in_cluster_mode(
    cluster: Cluster,
) -> None:
    ns = "effects:rpc"
    partition = partition_of(ns, PARTITIONS)
    other = next(n for n in (1, 2, 3) if n != _owner(cluster, ns))
    _store(cluster, other, ns, _memories(0, 6, "r") + _noise(2))
    before = _settled(cluster, {ns: 8})[0]["applied"].get(mark_name(partition), 0)
    # RunLifecycle of one namespace: a logged pass (forwarded to the owner); the
    # cluster's policy deletes the "noise" memories on every replica.
    dry = _call(cluster, other, "RunLifecycle", pb.RunLifecycleRequest(namespace=ns, dry_run=True))
    assert dry.dry_run and len(dry.actions) == 2
    report = _call(cluster, other, "RunLifecycle", pb.RunLifecycleRequest(namespace=ns))
    assert (report.scanned, len(report.actions)) == (8, 2)
    assert {a.rule for a in report.actions} == {"forget_noise"}
    after = _settled(cluster, {ns: 6})[0]["applied"][mark_name(partition)]
    assert after == before + 1, "the pass is one entry, the dry run none"
    with pytest.raises(grpc.RpcError) as err:
        cluster.stub(other).RunLifecycle(pb.RunLifecycleRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Sweep: of every partition (fan-out), or of one namespace's (its header).
    swept = _call(cluster, 2, "Sweep", pb.SweepRequest())
    assert swept.expired == 0 and not swept.more
    header = (("memd-namespace", ns),)
    assert _call(cluster, other, "Sweep", pb.SweepRequest(), metadata=header).expired == 0
    # Transfer within a partition (one entry); across partitions (a saga: see
    # transfer_cases.py).
    target = next(
        f"effects:rpc-target/{i}"
        for i in range(1_000)
        if partition_of(f"effects:rpc-target/{i}", PARTITIONS) == partition
    )
    moved = _call(
        cluster,
        other,
        "Transfer",
        pb.TransferRequest(namespace=ns, target_namespace=target, keys=["r-k0", "r-k1"], move=True),
    )
    assert moved.transferred == 2
    _settled(cluster, {ns: 4, target: 2})
    elsewhere = next(
        f"effects:rpc-far/{i}"
        for i in range(1_000)
        if partition_of(f"effects:rpc-far/{i}", PARTITIONS) != partition
    )
    far = pb.TransferRequest(namespace=ns, target_namespace=elsewhere, whole_namespace=True)
    assert _call(cluster, other, "Transfer", far).transferred == 4
    _settled(cluster, {ns: 4, target: 2, elsewhere: 4})
    # Clear: every tier of the namespace, on every replica.
    cleared = _call(cluster, other, "Clear", pb.ClearRequest(namespace=ns))
    assert cleared.removed == 4
    _settled(cluster, {ns: 0, target: 2})
    with pytest.raises(grpc.RpcError) as err:
        cluster.stub(other).Clear(pb.ClearRequest(namespace="effects:nobody"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_follower_restarted_mid_way_converges_on_the_effects(whole: Cluster) -> None:
    c = whole
    ns = "effects:restart"
    owner = _owner(c, ns)
    follower = next(n for n in (1, 2, 3) if n != owner)
    _store(c, owner, ns, _memories(5, 3, "f") + _noise(1))
    _settled(c, {ns: 9})
    c.kill9(f"memd-{follower}")
    try:
        # While it is down: the TTLs pass and the owner sweeps, a lifecycle pass runs,
        # a store and a partial clear follow.
        live = tuple(n for n in (1, 2, 3) if n != follower)
        _settled(c, {ns: 4}, nodes=live)
        report = _call(c, owner, "RunLifecycle", pb.RunLifecycleRequest(namespace=ns))
        assert len(report.actions) == 1  # the noise memory
        _store(c, owner, ns, _memories(0, 2, "g"))
        _call(c, owner, "Clear", pb.ClearRequest(namespace=ns, tier=mpb.TIER_ARCHIVE))
    finally:
        c.run("node-up", str(follower))  # resumes from its recorded sequences
    _settled(c, {ns: 5})


def test_consolidation_on_capacity_is_a_logged_entry(cluster: Cluster) -> None:
    # SHORT_TERM's default capacity is 1 000 and consolidate_at 0.8: 800 memories fill it
    # enough; the owner's check (every 5 s) logs a consolidation-only lifecycle entry that
    # moves the important ones to LONG_TERM on every replica.
    ns = "effects:full"
    placement, _ = retry(cluster.any_placement)
    owner = int(placement.partitions[partition_of(ns, PARTITIONS)].owner.removeprefix("memd-"))
    important = [
        mpb.NewMemory(key=f"imp-{j}", text=f"key fact {j}", importance=0.9) for j in range(10)
    ]
    plain = [mpb.NewMemory(key=f"p-{j}", text=f"detail {j}") for j in range(790)]
    _store(cluster, 1 + owner % 3, ns, important + plain)
    keys = [m.key for m in important] + ["p-0"]
    deadline = time.monotonic() + 20

    def tiers() -> list[int]:
        request = pb.RetrieveRequest(namespace=ns, keys=keys, peek=True)
        return [r.memory.tier for r in _call(cluster, owner, "Retrieve", request).results]

    while tiers() != [mpb.TIER_LONG_TERM] * 10 + [mpb.TIER_SHORT_TERM]:
        assert time.monotonic() < deadline, f"not consolidated: {tiers()}"
        time.sleep(0.3)
    _settled(cluster, {ns: 800})
