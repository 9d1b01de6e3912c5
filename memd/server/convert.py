"""Conversions between memd.v1 protobuf messages and engine values.

Store and Retrieve never come here: their messages are decoded and encoded by the
engine in Rust (``rust_core/src/wire.rs``). What remains (List, Stats, admin replies)
is written for speed where it is per item: one comprehension per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from memd import _core
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb


def memory(m: _core.Memory) -> mpb.Memory:
    """A stored memory as a Memory message."""
    # None leaves a field unset; an empty list or dict costs the upb constructor about
    # 1.7 us per memory, nearly half of this function, and most memories have neither.
    return mpb.Memory(
        key=m.key,
        text=m.text,
        value=m.value,
        embedding=m.embedding,
        tags=m.tags or None,
        metadata=m.metadata or None,
        importance=m.importance,
        priority=m.priority,
        ttl_ms=m.ttl_ms,
        tier=cast("mpb.Tier", m.tier),
        namespace=m.namespace,
        expires_at_ms=m.expires_at_ms,
        created_ms=m.created_ms,
        updated_ms=m.updated_ms,
        last_access_ms=m.last_access_ms,
        access_count=m.access_count,
        version=m.version,
    )


def tier_stats(t: _core.TierStats) -> mpb.TierStats:
    """A tier's statistics as a message."""
    return mpb.TierStats(
        tier=cast("mpb.Tier", t.tier),
        count=t.count,
        capacity=t.capacity,
        bytes=t.bytes,
        counters=t.counters,
    )


def stats_response(stats: Sequence[_core.NamespaceStats], info: _core.MapInfo) -> pb.StatsResponse:
    """Per-namespace statistics plus LMDB map usage."""
    return pb.StatsResponse(
        namespaces=[
            mpb.NamespaceStats(
                namespace=s.namespace,
                dimension=s.dimension,
                misses=s.misses,
                tiers=[tier_stats(t) for t in s.tiers],
            )
            for s in stats
        ],
        map_size_bytes=info.map_size,
        map_used_bytes=info.used_bytes,
    )
