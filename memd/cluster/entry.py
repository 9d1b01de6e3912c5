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

import base64
import os
import time
from dataclasses import dataclass, field

from memd._pb.v1 import memory_service_pb2 as pb

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

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
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


def fill_keys(request: bytes, now_ms: int) -> tuple[pb.StoreRequest, bytes]:
    """Parse a ``StoreRequest`` and give every item without a key one.

    The engine would make these keys itself, but differently on every replica; keys
    made here are time-ordered like the engine's (48-bit ms time, 80 random bits, in
    Crockford base32: 26 characters) and travel in the entry.

    Returns:
        The parsed request and its serialization (the input itself when no key was
        missing).
    """
    req = pb.StoreRequest.FromString(request)
    missing = [m for m in req.memories if not m.key]
    if not missing:
        return req, request
    for memory, key in zip(missing, new_keys(now_ms, len(missing)), strict=True):
        memory.key = key
    return req, req.SerializeToString()


def new_keys(now_ms: int, n: int) -> list[str]:
    """``n`` ULID-like keys: sortable by creation time, unique by 80 random bits each.

    A ULID is 26 Crockford base-32 characters: 10 for the 48-bit time (with 2 zero bits
    in front), then 16 for the 80 random bits. The 16 are the base32 of 10 random bytes
    (no padding), so one base32 call over ``10 * n`` random bytes makes every key's tail
    at once, mapped to Crockford's alphabet by one ``translate``: a per-character loop
    here cost more than the engine's whole store of the batch.
    """
    time_bits = now_ms & ((1 << 48) - 1)
    head = "".join(_CROCKFORD[(time_bits >> shift) & 31] for shift in range(45, -1, -5))
    tails = base64.b32encode(os.urandom(10 * n)).translate(_TO_CROCKFORD).decode()
    return [head + tails[16 * i : 16 * i + 16] for i in range(n)]


def wall_ms() -> int:
    """Wall-clock milliseconds (the time an owner decides an entry at)."""
    return time.time_ns() // 1_000_000
