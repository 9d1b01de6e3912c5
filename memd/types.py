"""Plain value types that cross the boundary into ``memd._core``.

The Rust side reads these by attribute name (``#[derive(FromPyObject)]``), so field
names here and in ``rust_core/src/py/types.rs`` must match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal


class Tier(IntEnum):
    """Storage tiers, hottest first. Numbers match ``memd.v1.Tier`` in the proto."""

    UNSPECIFIED = 0
    WORKING = 1
    SHORT_TERM = 2
    LONG_TERM = 3
    ARCHIVE = 4


@dataclass(frozen=True, slots=True)
class NewMemory:
    """One memory to store.

    Attributes:
        key: Unique in its namespace; empty asks the engine for a time-ordered ULID.
        text: Searchable content (UTF-8, at most ``max_text_bytes``).
        value: Opaque bytes returned as stored (at most ``max_value_bytes``).
        embedding: Packed little-endian float32 vector, or ``None``. The first vector
            stored in a namespace fixes its dimension.
        tags: Free-form labels.
        metadata: String map; ``type`` and ``category`` are conventional keys.
        importance: In [0, 1]; ``None`` means 0.5 (or the existing value on update).
        priority: Higher is evicted later; eviction takes the lowest class first.
        ttl_ms: Milliseconds to live from now; 0 never expires; ``None`` uses the
            tier's default TTL.
        tier: Where to store it; ``UNSPECIFIED`` keeps an existing memory's tier and
            puts new ones in the engine's default tier.
    """

    key: str = ""
    text: str = ""
    value: bytes = b""
    embedding: bytes | None = None
    tags: Sequence[str] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    importance: float | None = None
    priority: int = 0
    ttl_ms: int | None = None
    tier: int = Tier.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class TierOptions:
    """Per-tier limits, applied to every namespace.

    Attributes:
        capacity: Maximum memories per namespace in this tier; 0 is unbounded.
        default_ttl_ms: TTL for memories stored without one; 0 never expires.
    """

    capacity: int
    default_ttl_ms: int = 0


def _default_tiers() -> tuple[TierOptions, TierOptions, TierOptions, TierOptions]:
    return (
        TierOptions(capacity=100),
        TierOptions(capacity=1_000),
        TierOptions(capacity=100_000),
        TierOptions(capacity=0),
    )


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How an engine opens its store. Defaults are the daemon's defaults.

    Attributes:
        map_size_bytes: LMDB map size (virtual; the file grows as used). A full map
            raises ``CapacityExceeded``.
        durability: ``"sync"`` fsyncs every commit (group-committed across concurrent
            writers); ``"nosync"`` leaves flushing to the OS plus a periodic sync every
            ``sync_interval_ms``: a process crash loses nothing committed, an OS crash
            may lose the last interval.
        sync_interval_ms: Periodic fsync in ``nosync`` mode.
        flush_interval_ms: How often in-memory access statistics are persisted.
        tiers: WORKING, SHORT_TERM, LONG_TERM, ARCHIVE options, in that order.
        default_tier: Tier for new memories stored without one.
        promote_min_reads: Reads within ``promote_window_ms`` that promote a memory
            one tier up.
        promote_window_ms: The window for ``promote_min_reads``.
        promote_importance: Importance above which any read promotes.
        max_value_bytes: Largest accepted value.
        max_text_bytes: Largest accepted text.
        max_embedding_dim: Largest accepted embedding dimension.
    """

    map_size_bytes: int = 64 << 30
    durability: Literal["sync", "nosync"] = "sync"
    sync_interval_ms: int = 1_000
    flush_interval_ms: int = 1_000
    tiers: tuple[TierOptions, TierOptions, TierOptions, TierOptions] = field(
        default_factory=_default_tiers
    )
    default_tier: int = Tier.SHORT_TERM
    promote_min_reads: int = 3
    promote_window_ms: int = 3_600_000
    promote_importance: float = 0.8
    max_value_bytes: int = 1 << 20
    max_text_bytes: int = 256 << 10
    max_embedding_dim: int = 4_096
