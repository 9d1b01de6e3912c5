"""Reads' access statistics and promotions as ``touch`` log entries (memd/cluster/touch.py).

Collected by ``test_replication.py`` (imported there), so that they run on that
module's cluster instead of starting one more. Reads through the owner and through a
forwarding node count on every replica: the same access counts and last-access times
(byte-identical records, compared with the digest helper), and a memory read often
lately, or an important one, is promoted one tier up on every replica, as a single
node promotes it (three reads within the hour by default).
"""

from __future__ import annotations

from typing import Any

from daemon_launcher import wait_for

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import mark_name, partition_of
from tests.cluster.conftest import Cluster, retry

PARTITIONS = 8
FOLLOWER_READ = (("memd-max-staleness-ms", "600000"),)
Seen = dict[str, tuple[int, int]]  # key -> (access count, tier)


def _owner_and_others(c: Cluster, ns: str) -> tuple[int, list[int]]:
    placement, _ = retry(c.any_placement)
    owner = int(placement.partitions[partition_of(ns, PARTITIONS)].owner.removeprefix("memd-"))
    return owner, [n for n in (1, 2, 3) if n != owner]


def _memories() -> list[mpb.NewMemory]:
    return [
        mpb.NewMemory(key="plain", text="a plain memory"),
        mpb.NewMemory(key="searched", text="a memory about zebras"),
        mpb.NewMemory(key="hot", text="a cold memory read often", tier=mpb.TIER_LONG_TERM),
        mpb.NewMemory(key="vip", text="an important one", tier=mpb.TIER_LONG_TERM, importance=0.9),
        mpb.NewMemory(key="unread", text="nobody reads this", tier=mpb.TIER_LONG_TERM),
    ]


KEYS = ["plain", "searched", "hot", "vip", "unread"]


def _seen(c: Cluster, node: int, ns: str, metadata: Any = ()) -> tuple[Seen, dict[str, int]]:
    """What ``node`` answers for KEYS, read as a peek: (stats by key, last access)."""
    request = pb.RetrieveRequest(namespace=ns, keys=KEYS, peek=True)
    reply, _ = retry(lambda: c.stub(node).Retrieve(request, timeout=10, metadata=metadata))
    found = [r.memory for r in reply.results if r.found]
    return (
        {m.key: (m.access_count, m.tier) for m in found},
        {m.key: m.last_access_ms for m in found},
    )


def _counted_on_the_owner(c: Cluster, owner: int, ns: str) -> None:
    """Wait until ``owner`` holds WANT; failing, say what it held and who owned ``ns``.

    Seen once in CI (and once beside a Rust build) to time out on a loaded machine,
    with nothing said: an overshoot would be a read counted twice (a forwarded or
    client retry after the owner counted it), a shortfall reads lost with a move.
    """
    seen: Seen = {}

    def counted() -> bool:
        nonlocal seen
        seen = _seen(c, owner, ns)[0]
        return seen == WANT

    try:
        wait_for("counted on the owner", counted, 20.0, 0.2)
    except AssertionError:
        placement, _ = retry(c.any_placement)
        record = placement.partitions[partition_of(ns, PARTITIONS)]
        dropped = c.metric(owner, "memd_cluster_touch_reads_dropped_total")
        raise AssertionError(
            f"owner memd-{owner} holds {seen}, want {WANT}; the partition's record now: "
            f"owner {record.owner}, epoch {record.epoch}; reads dropped there: {dropped}"
        ) from None


def _converged(c: Cluster, ns: str, nodes: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, Any]]:
    """Byte-identical namespaces and the same recorded sequence of ``ns``'s partition."""
    mark = mark_name(partition_of(ns, PARTITIONS))
    found: list[dict[str, Any]] = []

    def same() -> bool:
        nonlocal found
        found = c.converged(nodes=nodes)
        return len({d["applied"].get(mark) for d in found}) == 1

    wait_for(f"converged on {ns}", same, 20.0, 0.2)
    return found


def _read(c: Cluster, node: int, ns: str, keys: list[str]) -> None:
    request = pb.RetrieveRequest(namespace=ns, keys=keys)
    reply, _ = retry(lambda: c.stub(node).Retrieve(request, timeout=10))
    assert all(r.found for r in reply.results)


def _store(c: Cluster, node: int, ns: str) -> None:
    request = pb.StoreRequest(namespace=ns, memories=_memories())
    reply, _ = retry(lambda: c.stub(node).Store(request, timeout=10))
    assert not reply.errors


WANT: Seen = {
    "plain": (1, mpb.TIER_SHORT_TERM),
    "searched": (1, mpb.TIER_SHORT_TERM),
    "hot": (3, mpb.TIER_SHORT_TERM),  # three reads: promoted out of LONG_TERM
    "vip": (1, mpb.TIER_SHORT_TERM),  # importance 0.9: promoted by one read
    "unread": (0, mpb.TIER_LONG_TERM),
}


def test_reads_through_the_owner_and_a_forwarder_count_on_every_replica(cluster: Cluster) -> None:
    c = cluster
    ns = "touch:reads"
    owner, (other, third) = _owner_and_others(c, ns)
    _store(c, other, ns)
    _converged(c, ns)
    before = _seen(c, owner, ns)[0]
    assert all(count == 0 for count, _ in before.values())
    # Through the owner and through a node that forwards to it; a search that counts.
    _read(c, owner, ns, ["plain", "hot"])
    _read(c, other, ns, ["hot", "vip"])
    _read(c, third, ns, ["hot"])
    search = pb.SearchRequest(namespace=ns, query="zebras", limit=1, count_access=True)
    hits, _ = retry(lambda: list(c.stub(third).Search(search, timeout=10)))
    assert [h.memory.key for page in hits for h in page.hits] == ["searched"]
    # The owner appends a touch entry about a second later; every replica applies it.
    _counted_on_the_owner(c, owner, ns)
    assert c.metric(owner, "memd_cluster_touch_entries_total") >= 1
    assert c.metric(owner, "memd_cluster_touch_reads_dropped_total") == 0
    digests = _converged(c, ns)
    assert len({d["namespaces"][ns] for d in digests}) == 1
    # The followers' in-memory views agree too (a follower read is served from them).
    owner_view = _seen(c, owner, ns)
    for node in (other, third):
        assert _seen(c, node, ns, FOLLOWER_READ) == owner_view


def test_a_follower_restarted_while_reads_are_logged_converges(whole: Cluster) -> None:
    c = whole
    ns = "touch:restart"
    owner, (follower, _) = _owner_and_others(c, ns)
    _store(c, owner, ns)
    _converged(c, ns)
    c.kill9(f"memd-{follower}")
    try:
        live = tuple(n for n in (1, 2, 3) if n != follower)
        _read(c, owner, ns, ["plain", "hot", "vip"])
        _read(c, owner, ns, ["hot"])
        _read(c, owner, ns, ["hot"])
        search = pb.SearchRequest(namespace=ns, query="zebras", limit=1, count_access=True)
        retry(lambda: list(c.stub(owner).Search(search, timeout=10)))
        _counted_on_the_owner(c, owner, ns)
        _converged(c, ns, live)
    finally:
        c.run("node-up", str(follower))  # resumes from its recorded sequences
    _converged(c, ns)
    assert _seen(c, follower, ns, FOLLOWER_READ) == _seen(c, owner, ns)
