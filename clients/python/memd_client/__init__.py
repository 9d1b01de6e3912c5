"""memd_client: sync and asyncio Python clients of the memd daemon (memd.v1 over gRPC)."""

from memd.errors import (
    AlreadyExists,
    CapacityExceeded,
    DataLoss,
    EngineClosed,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    MemdError,
    NotFound,
    PermissionDenied,
    StorageError,
    Unauthenticated,
)
from memd.types import MemoryHistory, Tier
from memd_client._credentials import TLSConfig
from memd_client._errors import (
    ERROR_OF,
    Cancelled,
    DeadlineExceeded,
    RpcFailed,
    Unavailable,
    Unimplemented,
)
from memd_client._hit_stream import AsyncHitStream, HitStream
from memd_client._ops import TransferResult
from memd_client._types import (
    NO_RETRY,
    BulkResult,
    Hit,
    ItemError,
    Memory,
    NamespaceStats,
    NewMemory,
    RetryPolicy,
    Stats,
    StoreResult,
    TierStats,
    pack_embedding,
    unpack_embedding,
)
from memd_client.aio import AsyncClient
from memd_client.client import Client

__all__ = [
    "ERROR_OF",
    "NO_RETRY",
    "AlreadyExists",
    "AsyncClient",
    "AsyncHitStream",
    "BulkResult",
    "Cancelled",
    "CapacityExceeded",
    "Client",
    "DataLoss",
    "DeadlineExceeded",
    "EngineClosed",
    "FailedPrecondition",
    "Hit",
    "HitStream",
    "InternalError",
    "InvalidArgument",
    "ItemError",
    "MemdError",
    "Memory",
    "MemoryHistory",
    "NamespaceStats",
    "NewMemory",
    "NotFound",
    "PermissionDenied",
    "RetryPolicy",
    "RpcFailed",
    "Stats",
    "StorageError",
    "StoreResult",
    "TLSConfig",
    "Tier",
    "TierStats",
    "TransferResult",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "pack_embedding",
    "unpack_embedding",
]
