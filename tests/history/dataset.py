"""The seeded store of the round-trip tests: 5 000 memories as varied as real ones.

Five namespaces of 1 000, each with its own vector dimension, spread over the four
tiers within the default capacities (so nothing is evicted, here or on import): most
stored with a history (created up to three years ago, idle, read a few times, several
versions, some with a TTL or an explicit expiry still in the future), the rest written
now, a tenth of those twice (version 2) and some with server-made keys. Texts are
Unicode, values arbitrary bytes, some memories have only a value or only a vector.
"""

from __future__ import annotations

import random
import struct
import time
from typing import Any

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

NAMESPACES = ("agent:planner/user:42", "agent:planner/user:7", "team:ops", "ünïcode:ns", "z")
PER_NAMESPACE = 1_000
SEEDED = len(NAMESPACES) * PER_NAMESPACE
# Per namespace: WORKING 50 (capacity 100), SHORT_TERM 400 (1 000), LONG_TERM 350, ARCHIVE 200.
TIERS = (1,) * 50 + (2,) * 400 + (3,) * 350 + (4,) * 200
DAY_MS = 86_400_000
# Importance below consolidation's 0.7 and the refresh policy's 0.8, accesses below
# consolidation's 3 in SHORT_TERM: no lifecycle rule would touch them before 10 minutes.
MAX_IMPORTANCE = 0.65


def memory(rng: random.Random, ns_index: int, i: int, now_ms: int) -> mpb.NewMemory:
    """Memory ``i`` of namespace ``ns_index``."""
    dim = 8 * (ns_index + 1)
    kind = i % 20
    vector = struct.pack(f"<{dim}f", *(rng.random() for _ in range(dim)))
    m = mpb.NewMemory(
        key="" if kind == 19 else f"m{i:04d}-{rng.randrange(10**6)}",
        text="" if kind == 17 else f"mémoire {i}: the user said {rng.choice(WORDS)} ✓",
        value=b"" if kind in (16, 18) else rng.randbytes(rng.choice((0, 3, 600))),
        embedding=b"" if kind == 16 else vector,
        tags=rng.sample(WORDS, rng.randrange(3)),
        metadata={"type": rng.choice(("fact", "event")), "n": str(i)} if kind % 2 else {},
        importance=round(rng.uniform(0, MAX_IMPORTANCE), 3),
        priority=rng.randrange(-2, 3),
        tier=TIERS[i],  # type: ignore[arg-type]
    )
    if kind < 16:
        created = now_ms - 1 - rng.randrange(3 * 365 * DAY_MS)
        updated = created + rng.randrange(now_ms - created)
        past = mpb.MemoryHistory(
            created_ms=created,
            updated_ms=updated,
            last_access_ms=updated + rng.randrange(now_ms - updated + 1),
            access_count=rng.randrange(3 if TIERS[i] == 2 else 50),
            version=rng.randrange(1, 6),
        )
        if kind == 3:
            m.ttl_ms = now_ms - updated + 30 * DAY_MS  # still 30 days to live
        if kind == 5:
            m.ttl_ms = DAY_MS
            past.expires_at_ms = now_ms + 7 * DAY_MS  # an expiry a dedup merge kept
        m.history.CopyFrom(past)
    elif kind == 18:
        m.ttl_ms = 90 * DAY_MS
    return m


WORDS = ["tea", "coffee", "Paris", "meeting", "deadline", "日本語", "naïve", "42", "blue", "🙂"]


def seed(stub: Any) -> None:
    """Store the data set through ``stub`` (a MemoryServiceStub)."""
    rng = random.Random(12)
    now_ms = time.time_ns() // 1_000_000
    for ns_index, ns in enumerate(NAMESPACES):
        batch = [memory(rng, ns_index, i, now_ms) for i in range(PER_NAMESPACE)]
        reply = stub.Store(pb.StoreRequest(namespace=ns, memories=batch, atomic=True), timeout=60)
        # Every tenth plain write is written again: version 2, a later updated_ms.
        again = [m for m in batch[16::20] if m.key]
        stub.Store(pb.StoreRequest(namespace=ns, memories=again, atomic=True), timeout=60)
        assert len(reply.keys) == PER_NAMESPACE
