"""memd: a memory daemon for AI agents."""

from memd.engine import Engine, pack_embedding, system_clock
from memd.errors import (
    CapacityExceeded,
    EngineClosed,
    InternalError,
    InvalidArgument,
    MemdError,
    NotFound,
    StorageError,
)
from memd.types import (
    CategoryOptions,
    EngineOptions,
    LifecycleOptions,
    NewMemory,
    PolicyOptions,
    SearchFilter,
    SearchQuery,
    SearchWeights,
    Tier,
    TierOptions,
)

__all__ = [
    "CapacityExceeded",
    "CategoryOptions",
    "Engine",
    "EngineClosed",
    "EngineOptions",
    "InternalError",
    "InvalidArgument",
    "LifecycleOptions",
    "MemdError",
    "NewMemory",
    "NotFound",
    "PolicyOptions",
    "SearchFilter",
    "SearchQuery",
    "SearchWeights",
    "StorageError",
    "Tier",
    "TierOptions",
    "pack_embedding",
    "system_clock",
]
