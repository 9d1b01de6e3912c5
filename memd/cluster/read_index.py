"""Reads on a replica: ask the owner how far to read, wait until applied, read here.

Raft's ReadIndex, with a partition's owner in the leader's place. A read that reaches a
follower of its partition is not forwarded whole: the follower asks the owner for its
*read index*, the last log sequence the owner applied, waits until its own copy has
applied that far, and answers from its own store. The answer is the one the owner would
have given when it answered the index, because
- the owner acknowledges a write only after applying it, so the index covers every
  write acknowledged before the owner answered, hence every write acknowledged before
  the read arrived here (the round that carries it starts after it arrived: below);
- a replica applies the same entries in the same order, so at that sequence it holds
  what the owner held.
The owner answers only while it serves the partition under a lease its own clock has
not seen lapse (a paused owner that wakes up answers -1, not an old index); a read
whose index cannot be had, or that its copy does not reach within ``APPLY_WAIT_S``, is
forwarded as before. So a read sees every write acknowledged before it, as from the
owner, and the owner's work per read shrinks to a share of one small call.

**Rounds.** Reads share the owner's answers: at most one round (one ``ReadIndex`` call,
naming every partition asked) is in flight to an owner; reads that arrive meanwhile
gather into the next round, sent as soon as the one in flight returns, by one of
them. A read never joins a round already in flight: that one may have been answered
before a write the reader saw acknowledged.

A counted read served this way is recorded in this node's buffer like one on the owner,
and sent to the owner, which logs it as its own ``touch`` entry (``touch.py``): every
replica counts it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import grpc

from memd._core import relay_unary
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.replica import PartitionState
from memd.logs import event

log = logging.getLogger("memd.cluster")

METHOD = "/memd.v1.ClusterService/ReadIndex"
ROUND_TIMEOUT_S = 0.5
"""Longest a round may take; past it its reads are forwarded (the owner is busy or gone)."""
APPLY_WAIT_S = 0.2
"""Longest a read waits for this copy to apply up to its index before it is forwarded."""
_OK = grpc.StatusCode.OK.value[0]
_REFUSED = (
    grpc.StatusCode.UNAUTHENTICATED.value[0],
    grpc.StatusCode.PERMISSION_DENIED.value[0],
)


class _Round:
    """One ``ReadIndex`` call to one owner: the partitions it asks, then the answers."""

    __slots__ = ("answer", "partitions")

    def __init__(self) -> None:
        self.partitions: set[int] = set()
        self.answer: dict[int, int] | None = None


class ReadIndex:
    """Rounds of read-index calls from this node, and waits for its copy to catch up.

    Args:
        states: Every partition's state (``applied`` is what a read waits on).
        metadata: What this node sends with its calls (its admin token, if any).
        metrics: Where rounds and reads served here are counted.
    """

    def __init__(
        self,
        states: list[PartitionState],
        metadata: Sequence[tuple[str, str]],
        metrics: ClusterMetrics,
    ) -> None:
        self._states = states
        self._metadata = list(metadata)
        self._metrics = metrics
        self._cv = threading.Condition()
        self._gathering: dict[str, _Round] = {}  # owner address -> its next round
        self._flying: set[str] = set()  # owner addresses with a round in flight
        self._applied = threading.Condition()
        self._waiting = 0  # reads waiting for their copy to apply
        self._warned = False  # an owner refused this node's credentials

    def ready(self, partition: int, address: str) -> bool:
        """Whether this copy of ``partition`` may answer a read now (after waiting).

        ``address``: the owner's, as last read. False: forward the read instead.
        """
        index = self._index(partition, address)
        if index is None or index < 0:
            return False
        return self._wait_applied(self._states[partition], index)

    def _index(self, partition: int, address: str) -> int | None:
        """The owner's read index of ``partition``, from a round that starts after now."""
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        with self._cv:
            round_ = self._gathering.get(address)
            if round_ is None:
                round_ = self._gathering[address] = _Round()
            round_.partitions.add(partition)
            while round_.answer is None:
                if address not in self._flying and self._gathering.get(address) is round_:
                    del self._gathering[address]
                    self._flying.add(address)
                    break  # this thread sends the round
                left = deadline - time.monotonic()
                if left <= 0 or not self._cv.wait(left):
                    return None
            else:
                return round_.answer.get(partition)
        answer = self._ask(address, sorted(round_.partitions))
        with self._cv:
            round_.answer = answer
            self._flying.discard(address)
            self._cv.notify_all()
        return answer.get(partition)

    def _ask(self, address: str, partitions: list[int]) -> dict[int, int]:
        """One ``ReadIndex`` call; {} when it fails (its reads are forwarded)."""
        request = cpb.ReadIndexRequest(partitions=partitions).SerializeToString()
        code, message, body, _ = relay_unary(
            address, METHOD, self._metadata, request, ROUND_TIMEOUT_S, 1 << 20
        )
        self._metrics.read_index_rounds.inc()
        if code != _OK:
            if code in _REFUSED and not self._warned:
                # Not a passing failure: every read through this node is forwarded
                # until the nodes share an admin token. Said once.
                self._warned = True
                event(
                    log,
                    logging.WARNING,
                    "read index refused: reads through this node are forwarded; "
                    "give every node the same --admin-token-file",
                    owner=address,
                    error=message,
                )
            return {}
        sequences = cpb.ReadIndexResponse.FromString(body).sequences
        return dict(zip(partitions, sequences, strict=False))

    def _wait_applied(self, state: PartitionState, index: int) -> bool:
        if state.applied >= index:
            return True
        with self._applied:
            self._waiting += 1
            try:
                return self._applied.wait_for(lambda: state.applied >= index, APPLY_WAIT_S)
            finally:
                self._waiting -= 1

    def advanced(self) -> None:
        """A partition's copy applied more (the applier thread, after each entry)."""
        # Read without the lock: a read that counted itself after this check saw the
        # new sequence in its own check, under the lock.
        if self._waiting:
            with self._applied:
                self._applied.notify_all()


def answer(
    states: list[PartitionState], node_id: str, partitions: Sequence[int], now_ms: int
) -> list[int]:
    """The owner's side: its read index of each partition, or -1 (see the module doc)."""
    out = []
    for partition in partitions:
        state = states[partition]
        record = state.placement
        live = (
            state.serving
            and record is not None
            and record.owner == node_id
            and record.lease_until_ms > now_ms
        )
        out.append(state.applied if live else -1)
    return out
