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
    """

    owner: str
    epoch: int
    lease_until_ms: int
    followers: tuple[str, ...] = field(default=())

    def encode(self) -> bytes:
        """The record as stored in the bucket."""
        return json.dumps(
            {
                "owner": self.owner,
                "epoch": self.epoch,
                "lease_until_ms": self.lease_until_ms,
                "followers": list(self.followers),
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Placement:
        """Read a record from the bucket."""
        d = json.loads(raw)
        return cls(d["owner"], int(d["epoch"]), int(d["lease_until_ms"]), tuple(d["followers"]))


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node's registration, renewed every lease tick.

    Attributes:
        address: Its advertised gRPC address.
        seen_ms: Wall-clock ms of its last renewal.
    """

    address: str
    seen_ms: int

    def encode(self) -> bytes:
        """The record as stored in the bucket."""
        return json.dumps({"address": self.address, "seen_ms": self.seen_ms}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> NodeRecord:
        """Read a record from the bucket."""
        d = json.loads(raw)
        return cls(d["address"], int(d["seen_ms"]))


def rank(partition: int, nodes: list[str]) -> list[str]:
    """``nodes`` in rendezvous order for ``partition`` (best owner first)."""

    def score(node: str) -> bytes:
        return hashlib.blake2b(f"{partition}/{node}".encode(), digest_size=8).digest()

    return sorted(nodes, key=score, reverse=True)
