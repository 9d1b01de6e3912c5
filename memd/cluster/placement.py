"""The placement map: partition -> owner, followers, epoch, lease; and node records.

Both live in one JetStream KV bucket (``partition.N`` and ``node.ID`` keys) and are only
ever changed by compare-and-set on the key's revision, so two nodes that both try to
take a partition cannot both succeed: the second one's expected revision is stale.

Who should own a partition is decided by rendezvous hashing over the live nodes
(highest BLAKE2b of partition and node id first): every node computes the same ranking
from the same registry, so at most one of them tries to claim a free partition, and
the next in rank is the first to take over a lapsed one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Placement:
    """One partition's record.

    Attributes:
        owner: Owner node id.
        epoch: Incremented by every change of owner.
        lease_until_ms: Wall-clock ms until which the owner's lease holds.
        followers: Follower node ids, best failover candidate first.
        seq: The last sequence the owner had applied when it wrote the record (at
            ``lease_until_ms`` minus a lease): a follower that applied it is at most
            that old (follower reads, ``follow.py``); -1 when unknown (a record written
            by a take-over or a hand-over, before the owner caught up).
    """

    owner: str
    epoch: int
    lease_until_ms: int
    followers: tuple[str, ...] = field(default=())
    seq: int = -1

    def encode(self) -> bytes:
        """The record as stored in the bucket."""
        return json.dumps(
            {
                "owner": self.owner,
                "epoch": self.epoch,
                "lease_until_ms": self.lease_until_ms,
                "followers": list(self.followers),
                "seq": self.seq,
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Placement:
        """Read a record from the bucket."""
        d = json.loads(raw)
        return cls(
            d["owner"],
            int(d["epoch"]),
            int(d["lease_until_ms"]),
            tuple(d["followers"]),
            int(d.get("seq", -1)),
        )


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node's registration, renewed every lease tick.

    Attributes:
        address: Its advertised gRPC address.
        seen_ms: Wall-clock ms of its last renewal.
        draining: It owns nothing and takes nothing (drained, still running).
        ready: It has caught up on every partition it follows.
        caught_up: The partitions it follows and has caught up on: a partition is
            handed over (rebalancing) only to a node caught up on it, so the move
            costs a short catch-up, not a replay.
        applied: Per partition it follows, the last sequence it applied (as of
            ``seen_ms``): an owner purges its log only below what every current
            replica applied (``compaction.py``).
    """

    address: str
    seen_ms: int
    draining: bool = False
    ready: bool = True
    caught_up: tuple[int, ...] = ()
    applied: dict[int, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The record as stored in the bucket."""
        return json.dumps(
            {
                "address": self.address,
                "seen_ms": self.seen_ms,
                "draining": self.draining,
                "ready": self.ready,
                "caught_up": list(self.caught_up),
                "applied": {str(p): seq for p, seq in sorted(self.applied.items())},
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> NodeRecord:
        """Read a record from the bucket (records of the first phase lack the flags)."""
        d = json.loads(raw)
        return cls(
            d["address"],
            int(d["seen_ms"]),
            bool(d.get("draining")),
            bool(d.get("ready", True)),
            tuple(int(p) for p in d.get("caught_up", ())),
            {int(p): int(seq) for p, seq in d.get("applied", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Pool:
    """Which nodes may own partitions, as one node read the registry.

    Attributes:
        live: Renewed their registration within the last lease.
        active: Live and not drained: they may take a lapsed partition.
        eligible: Where partitions are dealt, followed and rebalanced to: the active
            nodes. (Not only the ``ready`` ones: a node starts following partitions
            whenever the followers change, and owners would then move partitions away
            from it and back; a hand-over waits instead for the target to be caught up
            on that one partition, ``NodeRecord.caught_up``.)
    """

    live: tuple[str, ...]
    active: tuple[str, ...]
    eligible: tuple[str, ...]

    @classmethod
    def of(cls, nodes: dict[str, NodeRecord], now_ms: int, lease_ms: int) -> Pool:
        """The pool from the registry at ``now_ms``."""
        live = tuple(n for n, r in nodes.items() if now_ms - r.seen_ms <= lease_ms)
        active = tuple(n for n in live if not nodes[n].draining)
        return cls(live, active, active)

    def followers(self, partition: int, owner: str, count: int) -> tuple[str, ...]:
        """The ``count`` best eligible nodes for ``partition`` other than its owner.

        At least the best one when that is not the owner: a hand-over waits for its
        target to catch up as a follower (``moves``), so with one replica (``count`` 0)
        the best node would never get its share. It follows only until it owns the
        partition.
        """
        ranked = rank(partition, list(self.eligible))
        if count == 0 and ranked and ranked[0] != owner:
            count = 1
        return tuple(n for n in ranked if n != owner)[:count]

    def best(self, partition: int, exclude: str = "") -> str | None:
        """The eligible node that should own ``partition``, other than ``exclude``."""
        ranked = [n for n in rank(partition, list(self.eligible)) if n != exclude]
        return ranked[0] if ranked else None


def rank(partition: int, nodes: list[str]) -> list[str]:
    """``nodes`` in rendezvous order for ``partition`` (best owner first)."""

    def score(node: str) -> bytes:
        return hashlib.blake2b(f"{partition}/{node}".encode(), digest_size=8).digest()

    return sorted(nodes, key=score, reverse=True)
