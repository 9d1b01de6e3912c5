"""The follower's half of a read on a replica (``memd/cluster/read_index.py``), against a
real grpcio server standing in for the owner's ``ClusterService/ReadIndex``, and the
owner's half (``answer``) on partition states.

``test_replica_reads.py`` runs both halves in a real cluster.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from prometheus_client import CollectorRegistry

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster import read_index
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.placement import Placement
from memd.cluster.read_index import ReadIndex, answer
from memd.cluster.replica import PartitionState


class _Owner:
    """Answers ``index`` for every partition, read when the call arrives; a call waits
    while ``hold`` is clear. Counts the calls and the partitions each one named."""

    def __init__(self) -> None:
        self.index = 0
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self.calls: list[list[int]] = []
        self.refuse = False

    def read_index(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        asked = list(cpb.ReadIndexRequest.FromString(request).partitions)
        self.calls.append(asked)
        if self.refuse:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "needs ADMIN on *")
        index = self.index
        self.arrived.set()
        self.hold.wait(10)
        return cpb.ReadIndexResponse(sequences=[index] * len(asked)).SerializeToString()


@pytest.fixture
def owner() -> Iterator[tuple[_Owner, str]]:
    handlers = _Owner()
    server = grpc.server(ThreadPoolExecutor(4))
    method = grpc.unary_unary_rpc_method_handler(handlers.read_index)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("memd.v1.ClusterService", {"ReadIndex": method}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield handlers, f"127.0.0.1:{port}"
    handlers.hold.set()
    server.stop(None)


@pytest.fixture
def states() -> list[PartitionState]:
    return [PartitionState(p) for p in range(4)]


def _index(states: list[PartitionState]) -> ReadIndex:
    return ReadIndex(states, (), ClusterMetrics(CollectorRegistry()))


def test_a_read_waits_until_its_copy_applied_the_owner_s_index(
    owner: tuple[_Owner, str], states: list[PartitionState]
) -> None:
    handlers, address = owner
    reads = _index(states)
    handlers.index = 7
    states[1].applied = 5

    def apply_later() -> None:
        time.sleep(0.05)
        states[1].applied = 7
        reads.advanced()

    threading.Thread(target=apply_later).start()
    start = time.monotonic()
    assert reads.ready(1, address)
    assert time.monotonic() - start >= 0.04  # it did wait for the apply
    assert states[1].applied == 7


def test_a_copy_that_does_not_catch_up_or_an_owner_that_does_not_answer_forwards(
    owner: tuple[_Owner, str], states: list[PartitionState]
) -> None:
    handlers, address = owner
    reads = _index(states)
    handlers.index = 9
    states[0].applied = 3
    start = time.monotonic()
    assert not reads.ready(0, address)
    assert time.monotonic() - start >= read_index.APPLY_WAIT_S * 0.9
    handlers.index = -1  # not the owner (any more)
    assert not reads.ready(0, address)
    assert not reads.ready(0, "127.0.0.1:1")  # nobody there


def test_reads_share_rounds_but_never_join_one_in_flight(
    owner: tuple[_Owner, str], states: list[PartitionState]
) -> None:
    handlers, address = owner
    reads = _index(states)
    handlers.index = 5
    states[2].applied = 5
    handlers.hold.clear()
    first: list[bool] = []
    a = threading.Thread(target=lambda: first.append(reads.ready(2, address)))
    a.start()
    assert handlers.arrived.wait(5)  # round 1 is in flight, answered with 5
    # A write is acknowledged after round 1 was answered: reads from now on must wait
    # for it, so none of them may take round 1's answer.
    handlers.index = 6
    later: list[bool] = []
    waiters = [
        threading.Thread(target=lambda p=p: later.append(reads.ready(p, address)))
        for p in (2, 2, 2, 3, 3)
    ]
    for t in waiters:
        t.start()
    time.sleep(0.05)
    handlers.hold.set()
    a.join(5)
    assert first == [True]
    time.sleep(0.05)
    assert later == [], "a later read was answered from an earlier round"
    states[2].applied = states[3].applied = 6
    reads.advanced()
    for t in waiters:
        t.join(5)
    assert later == [True] * 5
    assert len(handlers.calls) == 2, handlers.calls  # five reads, one round
    assert handlers.calls[1] == [2, 3]


def test_the_owner_answers_only_under_a_live_lease(states: list[PartitionState]) -> None:
    now = 10_000
    state = states[0]
    state.applied = 42
    state.serving = True
    state.placement = Placement(owner="n1", epoch=3, lease_until_ms=now + 1000)
    assert answer(states, "n1", [0], now) == [42]
    assert answer(states, "n2", [0], now) == [-1]  # the record names another owner
    state.placement = Placement(owner="n1", epoch=3, lease_until_ms=now - 1)
    assert answer(states, "n1", [0], now) == [-1]  # lapsed, by this node's clock
    state.placement = Placement(owner="n1", epoch=3, lease_until_ms=now + 1000)
    state.serving = False
    assert answer(states, "n1", [0, 1], now) == [-1, -1]


def test_an_owner_refusing_this_node_s_token_is_said_once_and_reads_are_forwarded(
    owner: tuple[_Owner, str], states: list[PartitionState], caplog: pytest.LogCaptureFixture
) -> None:
    handlers, address = owner
    reads = _index(states)
    handlers.refuse = True
    with caplog.at_level(logging.WARNING, logger="memd.cluster"):
        assert not reads.ready(0, address)
        assert not reads.ready(1, address)
    said = [r for r in caplog.records if "read index refused" in r.getMessage()]
    assert len(said) == 1 and len(handlers.calls) == 2
