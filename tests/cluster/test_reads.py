"""Follower reads with bounded staleness (``memd-max-staleness-ms``), against a real
cluster: served from a follower's copy within the bound, reported in the trailing
metadata, and still served while the owner is paused."""

from __future__ import annotations

import signal
import time

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.partition import partition_of
from tests.cluster.conftest import Cluster, retry

NS = "reads:team"


def _read(c: Cluster, node: int, bound: str, timeout: float = 10) -> tuple[bool, dict[str, str]]:
    reply, call = c.stub(node).Retrieve.with_call(
        pb.RetrieveRequest(namespace=NS, keys=["k"]),
        metadata=[("memd-max-staleness-ms", bound)],
        timeout=timeout,
    )
    return reply.results[0].found, dict(call.trailing_metadata())


def _roles(c: Cluster) -> tuple[int, int]:
    placement = c.wait_balanced()
    record = placement.partitions[partition_of(NS, 8)]
    owner = int(record.owner.removeprefix("memd-"))
    return owner, int(record.followers[0].removeprefix("memd-"))


def test_a_follower_serves_reads_within_the_bound_and_says_so(whole: Cluster) -> None:
    c = whole
    owner, follower = _roles(c)
    retry(
        lambda: c.stub(owner).Store(
            pb.StoreRequest(namespace=NS, memories=[mpb.NewMemory(key="k", text="t")]), timeout=10
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
        pb.RetrieveRequest(namespace=NS, keys=["k"]), timeout=10
    )
    assert reply.results[0].found and "memd-read-from" not in dict(call.trailing_metadata())

    # The owner paused: its follower still answers within a generous bound, and the
    # staleness it reports grows with the pause (no renewal, no entry since).
    c.signal(f"memd-{owner}", signal.SIGSTOP)
    try:
        found, first = _read(c, follower, "60000")
        time.sleep(0.4)
        found_again, second = _read(c, follower, "60000")
        assert found and found_again
        assert first["memd-read-from"] == second["memd-read-from"] == "follower"
        grew = int(second["memd-staleness-ms"]) - int(first["memd-staleness-ms"])
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
