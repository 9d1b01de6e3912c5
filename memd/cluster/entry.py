"""Replicated-log entries: what an owner appends and every replica applies.

An entry is one write, already decided by the owner: the time it is applied at
(``now_ms``) and every key (the owner fills in the keys a Store left empty), so applying
it is a pure function of the store before it. The payload is the request message as the
client sent it (re-encoded when keys were filled); the kind and time travel in NATS
headers, so the payload stays the protobuf message memd already knows how to apply.

Kinds, client writes:
- ``store``: a ``StoreRequest``; ``delete``: a ``DeleteRequest``;
- ``stores``: a ``StoreGroup`` (cluster_service.proto): the Stores an owner gathered
  while its previous append was in flight, applied in one transaction, each refused or
  stored on its own (``group_commit.py``);
- ``drop``: a ``DropNamespaceRequest``; ``clear``: a ``ClearRequest``;
- ``transfer``: a ``TransferRequest`` whose source and target share the partition;
- ``transfer_in``, ``transfer_out``: steps (b) and (c) of a Transfer across partitions,
  a ``TransferInRequest`` on the target's partition and a ``TransferOutEntry`` on the
  source's (cluster_service.proto; ``transfer.py``);
engine effects (the owner's scheduler, or the Sweep and RunLifecycle RPCs):
- ``sweep``: a ``SweepRequest`` (``max_items`` already bounded): remove the memories of
  the partition's namespaces expired at ``now_ms`` (``Engine.sweep(namespaces=...)``);
- ``lifecycle``: a ``RunLifecycleRequest`` naming one namespace, never a dry run: one
  lifecycle pass at ``now_ms``, applied in one transaction with the entry's mark;
- ``touch``: a ``TouchEntry`` (cluster_service.proto): the reads the owner counted and
  the promotions it decided, applied in one transaction with the entry's mark
  (``touch.py``);
and
- ``barrier``: nothing to apply; a new owner appends one on taking a partition over, so
  a deposed owner's next append (expecting the sequence before it) is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

KIND, NOW, EPOCH, NODE = "Memd-Kind", "Memd-Now-Ms", "Memd-Epoch", "Memd-Node"
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
KINDS = frozenset(
    {
        "store",
        "stores",
        "delete",
        "drop",
        "clear",
        "transfer",
        "transfer_in",
        "transfer_out",
        "sweep",
        "lifecycle",
        "touch",
        "barrier",
    }
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry.

    Attributes:
        kind: One of ``KINDS``.
        payload: The serialized request (empty for a barrier).
        now_ms: The time the owner decided it at; every replica applies it at this time.
        epoch: The owner's epoch when it appended the entry.
        node: The owner's node id.
        prev: Read back from the log: the sequence of the partition's entry before
            this one (the append's expected last sequence, which the log checked);
            -1 when unknown. A replica that has not applied ``prev`` misses entries
            (purged by compaction) and must not apply this one.
    """

    kind: str
    payload: bytes
    now_ms: int
    epoch: int
    node: str
    prev: int = field(default=-1, compare=False)  # where it was read, not what it is

    def headers(self, expected_last: int) -> dict[str, str]:
        """NATS headers of the entry, fenced on the subject's last sequence."""
        return {
            KIND: self.kind,
            NOW: str(self.now_ms),
            EPOCH: str(self.epoch),
            NODE: self.node,
            EXPECTED_LAST: str(expected_last),
        }

    @classmethod
    def from_message(cls, headers: dict[str, str] | None, payload: bytes) -> Entry:
        """Decode a message read back from the log.

        Raises:
            ValueError: Not a memd entry (never written by memd).
        """
        h = headers or {}
        kind = h.get(KIND, "")
        if kind not in KINDS:
            raise ValueError(f"not a memd log entry (kind {kind!r})")
        return cls(
            kind,
            payload,
            int(h.get(NOW, "0")),
            int(h.get(EPOCH, "0")),
            h.get(NODE, ""),
            int(h.get(EXPECTED_LAST, "-1")),
        )


def wall_ms() -> int:
    """Wall-clock milliseconds (the time an owner decides an entry at)."""
    return time.time_ns() // 1_000_000
